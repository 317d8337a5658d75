"""The losses of the bidirectional-distillation debiasing method (DESIGN.md, "The science").

    L_total  = L_all + L_mask + λ·L_debias
    L_all    = BCE(P(y|x), y)
    L_mask   = a·BCE(P(y|x̂), y) + (1−a)·s·BCE(P_S(y|x̂), P_T(y|x).detach())
    L_debias = mean over layers ℓ of a KL between Â_ℓ (x̂'s attention, the detached target) and A_ℓ

Two presets fix every choice (trainer/config.py `loss`); each choice is also a knob of its own:

- `manual`, the manual's formulas literally: a = α (α weights the gold term), T = 1 (so
  P_T = P_S = P and s = 1), L_debias = mean over layers of the mean over kept (head, query) rows
  of KL(Â ‖ A), both rows restricted to kept keys and renormalised (`debiasNormalisation:
  renormalised`).
- `public`, the authors' public code as it is meant to be (x and x̂ kept apart, unlike the code):
  a = 1−α (α weights the teacher term), P_T = sigmoid(z_x / T) softens the teacher only,
  P_S = sigmoid(z_x̂) (`temperatureScope: teacher`), s = 1 (no T²), and L_debias as their
  `get_valid_attention_probs` + `KLDivLoss` compute it (`debiasNormalisation: public`): dropped
  keys zeroed but rows not renormalised, log(A + 1e-9), each row's KL divided by the number of
  kept rows of its example, then the mean over layers, heads and kept rows.

`temperatureScope: both` with `temperatureSquared: true` is Hinton et al.'s distillation
(P_S = sigmoid(z_x̂ / T), s = T²). P = sigmoid for multilabel (BCE averaged over labels), softmax
(CE) for multiclass. "Kept" positions: attention_mask = 1 and not an entity token.

Per-example weights (hard negatives) enter L_all and L_mask as a weighted mean Σ wᵢℓᵢ / Σ wᵢ;
L_debias is a plain mean over kept attention rows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .data import MULTILABEL

# Probabilities below this are clamped before the log of the renormalised L_debias: a kept key's
# attention can underflow to 0 in float32, and log(0) would make the KL infinite.
ATTENTION_EPS = 1e-12
# What the authors' code adds inside the log of its attention KL (`torch.log(valid_attentions + 1e-9)`).
PUBLIC_ATTENTION_EPS = 1e-9


def per_example_loss(logits: torch.Tensor, targets: torch.Tensor, task: str) -> torch.Tensor:
    """BCE averaged over labels (multilabel) or CE (multiclass); targets may be soft. Shape (B,)."""
    if task == MULTILABEL:
        return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(dim=-1)
    if targets.dim() == 1:
        return F.cross_entropy(logits, targets, reduction="none")
    return -(targets * F.log_softmax(logits, dim=-1)).sum(dim=-1)


def probabilities(logits: torch.Tensor, task: str) -> torch.Tensor:
    return torch.sigmoid(logits) if task == MULTILABEL else torch.softmax(logits, dim=-1)


def weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return (values * weights).sum() / weights.sum()


def loss_all(logits_x: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, task: str) -> torch.Tensor:
    """L_all = BCE(P(y|x), y): the baseline's loss."""
    return weighted_mean(per_example_loss(logits_x, labels, task), weights)


def loss_mask(
    logits_hat: torch.Tensor,
    logits_x: torch.Tensor,
    labels: torch.Tensor,
    weights: torch.Tensor,
    task: str,
    alpha: float,
    temperature: float = 1.0,
    orientation: str = "manual",
    temperature_scope: str = "teacher",
    temperature_squared: bool = False,
) -> torch.Tensor:
    """L_mask: the x̂ pass learns the gold labels and the x pass's (detached) predictions.

    orientation "manual": α weights the gold term; "public": α weights the teacher term.
    temperature_scope "teacher": only the teacher is softened; "both": the student too.
    temperature_squared: the teacher term is multiplied by T² (Hinton et al.).
    """
    teacher = probabilities(logits_x.detach() / temperature, task)
    student = logits_hat / temperature if temperature_scope == "both" else logits_hat
    hard = per_example_loss(logits_hat, labels, task)
    soft = per_example_loss(student, teacher, task) * (temperature**2 if temperature_squared else 1.0)
    gold_weight = alpha if orientation == "manual" else 1.0 - alpha
    return weighted_mean(gold_weight * hard + (1.0 - gold_weight) * soft, weights)


def _restricted(attention: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Attention rows with dropped keys zeroed and the rest renormalised to sum to 1."""
    kept = attention * keep[:, None, None, :].to(attention.dtype)
    return kept / kept.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(kept.dtype).tiny)


def loss_debias(
    attentions_x: tuple[torch.Tensor, ...],
    attentions_hat: tuple[torch.Tensor, ...],
    keep: torch.Tensor,
    per_head: bool = True,
    normalisation: str = "renormalised",
) -> torch.Tensor:
    """L_debias: mean over layers of KL(Â.detach() ‖ A) over kept query and key positions.

    attentions_*: one (B, H, S, S) tensor per layer (query, key in the last two axes);
    keep: (B, S) bool, True at non-padding, non-entity positions. per_head=False compares the
    head-averaged maps instead of each head's. normalisation "renormalised" (the manual's
    distributions): rows restricted to kept keys and renormalised, mean over kept rows;
    "public" (the authors' code): rows restricted but not renormalised, log(A + 1e-9), each row's
    KL divided by its example's number of kept rows, then the mean over kept rows.
    """
    per_layer = []
    kept_rows = keep.sum(dim=-1)  # (B,): kept query rows per example
    for a_x, a_hat in zip(attentions_x, attentions_hat):
        # float32 at least: bf16 maps (autocast) would make the logs and sums coarse.
        dtype = torch.promote_types(a_x.dtype, torch.float32)
        p, q = a_x.to(dtype), a_hat.detach().to(dtype)
        if not per_head:
            p, q = p.mean(dim=1, keepdim=True), q.mean(dim=1, keepdim=True)
        if normalisation == "public":
            keys = keep[:, None, None, :].to(dtype)
            p, q = p * keys, q * keys
            kl = (torch.xlogy(q, q) - q * torch.log(p + PUBLIC_ATTENTION_EPS)).sum(dim=-1)  # (B, H, S)
            kl = kl / kept_rows.clamp_min(1).to(dtype)[:, None, None]
        else:
            p, q = _restricted(p, keep), _restricted(q, keep)
            # Both logs through the same op and clamp, so equal maps give exactly 0 (xlogy's log
            # rounds differently from torch.log); 0·log 0 = 0 for dropped keys.
            log_ratio = torch.log(q.clamp_min(ATTENTION_EPS)) - torch.log(p.clamp_min(ATTENTION_EPS))
            kl = torch.where(q > 0, q * log_ratio, torch.zeros_like(q)).sum(dim=-1)  # (B, H, S)
        # A masked sum, not kl[rows]: boolean indexing's backward is an index_put that the
        # deterministic mode runs through a sort, ~10x slower than the whole model step on CPU.
        rows = keep[:, None, :].expand_as(kl).to(kl.dtype)
        per_layer.append((kl * rows).sum() / rows.sum())
    return torch.stack(per_layer).mean()
