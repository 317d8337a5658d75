"""The losses of the bidirectional-distillation debiasing method (DESIGN.md, "The science").

    L_total  = L_all + L_mask + λ·L_debias
    L_all    = BCE(P(y|x), y)
    L_mask   = α·BCE(P(y|x̂), y) + (1−α)·T²·BCE(P_T(y|x̂), P_T(y|x).detach())     (alphaOrientation "manual")
               (1−α)·BCE(P(y|x̂), y) + α·T²·BCE(P_T(y|x̂), P_T(y|x).detach())      (alphaOrientation "public")
    L_debias = mean over layers ℓ of mean over kept queries q (and heads h) of
               KL( Â_ℓ[h,q,·].detach() ‖ A_ℓ[h,q,·] ),  both restricted to kept keys and renormalised

P(y|x) = sigmoid(logits) for multilabel (BCE averaged over labels), softmax (CE) for multiclass.
P_T = sigmoid(logits / T) (softmax(logits / T)): the temperature softens the teacher term only, and
the T² factor keeps its gradient on the scale of the hard term (Hinton et al. 2015). T = 1 gives
the manual's formula exactly. A = attention of the x pass (the prediction), Â = attention of the
x̂ pass (the detached target). "Kept" positions: attention_mask = 1 and not an entity token.

Per-example weights (hard negatives) enter L_all and L_mask as a weighted mean Σ wᵢℓᵢ / Σ wᵢ;
L_debias is a plain mean over kept attention rows.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .data import MULTILABEL

# Probabilities below this are clamped before the log of L_debias: a kept key's attention can
# underflow to 0 in float32, and log(0) would make the KL infinite.
ATTENTION_EPS = 1e-12


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


def loss_mask(logits_hat: torch.Tensor, logits_x: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor,
              task: str, alpha: float, temperature: float = 1.0, orientation: str = "manual") -> torch.Tensor:
    """L_mask: the x̂ pass learns the gold labels and the x pass's (detached) predictions."""
    teacher = probabilities(logits_x.detach() / temperature, task)
    hard = per_example_loss(logits_hat, labels, task)
    soft = per_example_loss(logits_hat / temperature, teacher, task) * temperature**2
    gold_weight = alpha if orientation == "manual" else 1.0 - alpha
    return weighted_mean(gold_weight * hard + (1.0 - gold_weight) * soft, weights)


def _restricted(attention: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Attention rows with dropped keys zeroed and the rest renormalised to sum to 1."""
    kept = attention * keep[:, None, None, :].to(attention.dtype)
    return kept / kept.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(kept.dtype).tiny)


def loss_debias(attentions_x: tuple[torch.Tensor, ...], attentions_hat: tuple[torch.Tensor, ...],
                keep: torch.Tensor, per_head: bool = True) -> torch.Tensor:
    """L_debias: mean over layers of KL(Â.detach() ‖ A) over kept query and key positions.

    attentions_*: one (B, H, S, S) tensor per layer (query, key in the last two axes);
    keep: (B, S) bool, True at non-padding, non-entity positions. per_head=False compares the
    head-averaged maps instead of each head's.
    """
    per_layer = []
    for a_x, a_hat in zip(attentions_x, attentions_hat):
        # float32 at least: bf16 maps (autocast) would make the logs and sums coarse.
        dtype = torch.promote_types(a_x.dtype, torch.float32)
        p, q = a_x.to(dtype), a_hat.detach().to(dtype)
        if not per_head:
            p, q = p.mean(dim=1, keepdim=True), q.mean(dim=1, keepdim=True)
        p, q = _restricted(p, keep), _restricted(q, keep)
        kl = (torch.xlogy(q, q) - q * torch.log(p.clamp_min(ATTENTION_EPS))).sum(dim=-1)  # (B, H, S)
        # A masked sum, not kl[rows]: boolean indexing's backward is an index_put that the
        # deterministic mode runs through a sort, ~10x slower than the whole model step on CPU.
        rows = keep[:, None, :].expand_as(kl).to(kl.dtype)
        per_layer.append((kl * rows).sum() / rows.sum())
    return torch.stack(per_layer).mean()
