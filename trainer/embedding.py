"""Sentence-embedding mode (`"mode": "embedding"`): a bi-encoder trained with
MultipleNegativesRankingLoss on (anchor, positive, hard negatives) rows.

    python -m trainer train --config run.json   # with "mode": "embedding"

Rows are canonical JSONL (pipeline/dataset.ts): `text` is the anchor, `pair.text` the positive,
`meta.negatives` (optional) a list of hard-negative texts for this anchor. The model:

    e(x)  = normalize( Σ_t mask_t · h_t(x) / Σ_t mask_t )     mean over real tokens, then L2 norm

The loss of a batch of B anchors a_i, positives p_i and the batch's explicit negatives n_1..n_M
(every anchor's hard negatives, pooled: each is a candidate for every anchor, as in
sentence-transformers):

    candidates c = [p_1 … p_B, n_1 … n_M]
    s_ij = scale · cos(a_i, c_j)
    L    = (1/B) Σ_i −log( exp(s_ii) / Σ_j exp(s_ij) )          cross-entropy, target j = i

so every other anchor's positive is an in-batch negative. `scale` (20 by default) is the inverse
temperature. The output folder is a sentence-transformers model: `SentenceTransformer(dir)` loads
it and embeds as this trainer did (modules.json: Transformer at the root, 1_Pooling mean,
2_Normalize), plus model.onnx with one output, `embedding` [batch, dim] (mean-pooled,
normalised), checked against PyTorch.

What is left out on purpose: checkpoints and resume (a run is minutes; a retry starts over) and
multi-process training (in-batch negatives would need a gather across processes).
"""

from __future__ import annotations

import copy
import json
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer, BertModel, get_linear_schedule_with_warmup

from .config import TrainConfig, effective_loss
from .data import canonical_lines, file_sha256
from .errors import ConfigError, DataError, NanLossError, ParityError
from .events import Events, log

# Files of the sentence-transformers layout (sentence_transformers 5.x reads these).
POOLING_DIR = "1_Pooling"
NORMALIZE_DIR = "2_Normalize"
PARITY_TEXTS = 256  # ONNX and tokenizer parity run on at most this many texts


# -----------------------------------------------------------------------------------------------
# the model and the loss


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token vectors over the attention mask (padding excluded): [B, T, d] -> [B, d]."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class Embedder(torch.nn.Module):
    """encoder -> mean pooling -> L2 normalisation: what the ONNX model and sentence-transformers compute."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return torch.nn.functional.normalize(mean_pool(hidden, attention_mask), p=2, dim=-1)


def mnrl_loss(anchors: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor, scale: float) -> torch.Tensor:
    """MultipleNegativesRankingLoss: cross-entropy over scale·cos(anchor_i, candidates), candidates =
    every positive of the batch then every explicit negative ([M, d], M may be 0); the target of
    anchor i is its own positive, column i. Inputs need not be normalised: cos normalises."""
    a = torch.nn.functional.normalize(anchors, p=2, dim=-1)
    c = torch.nn.functional.normalize(torch.cat([positives, negatives], dim=0), p=2, dim=-1)
    scores = scale * a @ c.T
    return torch.nn.functional.cross_entropy(scores, torch.arange(len(a), device=a.device))


# -----------------------------------------------------------------------------------------------
# data


@dataclass
class PairRow:
    id: str
    anchor: str
    positive: str
    negatives: list[str]


def read_pair_rows(path: str | Path) -> list[PairRow]:
    """Canonical JSONL pair rows; a malformed one is a DataError naming the file, line and id."""
    rows = []
    for line_no, raw, fail in canonical_lines(path, "text (the anchor)"):
        pair = raw.get("pair")
        if not isinstance(pair, dict) or not isinstance(pair.get("text"), str) or not pair["text"]:
            fail("embedding mode needs pair.text (the positive) on every row")
        meta = raw.get("meta") if isinstance(raw.get("meta"), dict) else {}
        negatives = meta.get("negatives", [])
        if not isinstance(negatives, list) or not all(isinstance(n, str) and n for n in negatives):
            fail("meta.negatives must be a list of non-empty texts")
        rows.append(PairRow(raw["id"], raw["text"], pair["text"], list(negatives)))
    if not rows:
        raise DataError("the file has no rows", str(path))
    return rows


def batches_of(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """A seeded permutation cut into batches. No length grouping: a batch's rows are each other's
    negatives, and grouping by length would make them look-alikes by length, not by chance."""
    order = np.random.default_rng([seed, epoch]).permutation(n).tolist()
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def tokenize(tokenizer, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
    return tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt")


# -----------------------------------------------------------------------------------------------
# building and saving


def build_encoder(cfg: TrainConfig, texts: list[str]):
    """(encoder without a head, tokenizer): a pretrained folder or hub id, or a tiny scratch BERT."""
    from .modeling import _load_failure, scratch_bert_config, tokenizer_kwargs, train_wordpiece

    if cfg.model == "scratch":
        tokenizer = train_wordpiece(texts, cfg.scratch.vocab_size, cfg.max_length)
        config = scratch_bert_config(cfg, tokenizer)
        return BertModel(config, add_pooling_layer=False), tokenizer
    source = str(Path(cfg.model).expanduser()) if Path(cfg.model).expanduser().exists() else cfg.model
    try:
        config = AutoConfig.from_pretrained(source)
        tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True, **tokenizer_kwargs(config.model_type))
        encoder = AutoModel.from_pretrained(source, config=config, add_pooling_layer=False)
    except (OSError, ValueError, TypeError) as e:
        raise _load_failure(source, e) from None
    if tokenizer.pad_token_id is None:
        raise ConfigError("model", f"{source!r}'s tokenizer has no padding token")
    if tokenizer.model_max_length > 100_000:
        tokenizer.model_max_length = cfg.max_length
    return encoder, tokenizer


def save_sentence_transformers(model: Embedder, tokenizer, out: Path, cfg: TrainConfig) -> None:
    """The sentence-transformers folder layout: the encoder and tokenizer at the root (module 0),
    mean pooling (1_Pooling), normalisation (2_Normalize), and the text prefix as the default prompt."""
    from sentence_transformers import __version__ as st_version

    from .export import save_hf

    save_hf(model.encoder, tokenizer, out, cfg.max_length)
    dim = model.encoder.config.hidden_size
    (out / POOLING_DIR).mkdir(exist_ok=True)
    (out / NORMALIZE_DIR).mkdir(exist_ok=True)
    # Normalize has no settings; a file keeps the folder when the store copies files, not folders.
    (out / NORMALIZE_DIR / "README.md").write_text("L2 normalisation (no settings).\n", encoding="utf-8")
    files = {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": POOLING_DIR, "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": NORMALIZE_DIR, "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": cfg.max_length, "do_lower_case": False},
        f"{POOLING_DIR}/config.json": {
            "word_embedding_dimension": dim,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,  # the prefix is part of the text the mean runs over, as in training
        },
        "config_sentence_transformers.json": {
            "__version__": {"sentence_transformers": st_version, "pytorch": torch.__version__},
            "model_type": "SentenceTransformer",
            "prompts": {"text": cfg.text_prefix} if cfg.text_prefix else {},
            "default_prompt_name": "text" if cfg.text_prefix else None,
            "similarity_fn_name": "cosine",
        },
    }
    for name, content in files.items():
        (out / name).write_text(json.dumps(content, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def export_embedding_onnx(model: Embedder, path: Path, pad_id: int, opset: int) -> None:
    """model.onnx: (input_ids, attention_mask) -> embedding [batch, dim], mean-pooled and normalised."""
    from .export import _export_sample

    wrapper = copy.deepcopy(model).cpu().float().eval()
    ids, mask = _export_sample(pad_id)
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    axes["embedding"] = {0: "batch"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            wrapper,
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )


def embed(model: Embedder, tokenizer, texts: list[str], max_length: int, batch_size: int) -> torch.Tensor:
    """Normalised embeddings of `texts` (float32, CPU), in order; the model in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            enc = tokenize(tokenizer, texts[start : start + batch_size], max_length)
            out.append(model(enc["input_ids"].to(device), enc["attention_mask"].to(device)).float().cpu())
    return torch.cat(out) if out else torch.zeros((0, model.encoder.config.hidden_size))


def embedding_parity(model: Embedder, tokenizer, path: Path, texts: list[str], cfg: TrainConfig) -> dict:
    """Max |ONNX − PyTorch| over the embeddings of `texts` (padded batches); ParityError above tolerance."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    reference = copy.deepcopy(model).cpu().float().eval()
    worst = 0.0
    for start in range(0, len(texts), 16):
        enc = tokenize(tokenizer, texts[start : start + 16], cfg.max_length)
        (onnx_out,) = session.run(
            ["embedding"], {"input_ids": enc["input_ids"].numpy(), "attention_mask": enc["attention_mask"].numpy()}
        )
        with torch.no_grad():
            ref = reference(enc["input_ids"], enc["attention_mask"]).numpy()
        worst = max(worst, float(np.abs(onnx_out - ref).max()))
    if not worst < cfg.parity_tolerance:
        raise ParityError(f"ONNX embeddings differ from PyTorch by {worst:.3g} (tolerance {cfg.parity_tolerance:g})")
    return {"onnx_embedding_max_abs_diff": worst, "embedding_dimension": model.encoder.config.hidden_size}


# -----------------------------------------------------------------------------------------------
# the run


def prefixed(cfg: TrainConfig, texts: list[str]) -> list[str]:
    return [cfg.text_prefix + t for t in texts]


def batch_loss(model: Embedder, tokenizer, rows: list[PairRow], cfg: TrainConfig, device) -> torch.Tensor:
    """One forward over anchors, positives and negatives (one padded batch each) and the MNRL loss."""
    parts = []
    for texts in (
        [r.anchor for r in rows],
        [r.positive for r in rows],
        [n for r in rows for n in r.negatives],
    ):
        if not texts:
            parts.append(torch.zeros((0, model.encoder.config.hidden_size), device=device))
            continue
        enc = tokenize(tokenizer, prefixed(cfg, texts), cfg.max_length)
        parts.append(model(enc["input_ids"].to(device), enc["attention_mask"].to(device)).float())
    return mnrl_loss(parts[0], parts[1], parts[2], cfg.scale)


def validation_metrics(model: Embedder, tokenizer, rows: list[PairRow], cfg: TrainConfig, device) -> dict:
    """Mean MNRL loss over validation batches and recall@1 of each anchor's positive among all positives."""
    model.eval()
    with torch.no_grad():
        losses = [
            batch_loss(model, tokenizer, rows[i : i + cfg.batch_size], cfg, device).item()
            for i in range(0, len(rows), cfg.batch_size)
        ]
    a = embed(model, tokenizer, prefixed(cfg, [r.anchor for r in rows]), cfg.max_length, cfg.batch_size * 2)
    p = embed(model, tokenizer, prefixed(cfg, [r.positive for r in rows]), cfg.max_length, cfg.batch_size * 2)
    top = (a @ p.T).argmax(dim=1)
    recall1 = float((top == torch.arange(len(rows))).float().mean())
    return {"loss": float(np.mean(losses)), "recall_at_1": recall1, "examples": len(rows)}


def train_embedding(cfg: TrainConfig, resume: Path | None, events: Events, stop) -> dict:
    """The embedding run, end to end: data, model, MNRL training, the sentence-transformers folder,
    ONNX with parity. Emits the same events as the classifier trainer (start, step, epoch, done)."""
    from .train import (
        CONFIG_FILE,
        METRICS_FILE,
        _json,
        autocast,
        build_optimizer,
        make_deterministic,
        pick_device,
        Dist,
    )
    from .export import tokenizer_parity

    if resume is not None:
        raise ConfigError("--resume", "embedding mode writes no checkpoints, so it cannot resume: run it again")
    t_start = time.time()
    events.emit("phase", name="setup", step=0)
    device = pick_device(cfg, Dist())
    make_deterministic(cfg.seed, device)
    ctx = autocast(cfg, device)

    train_rows = read_pair_rows(cfg.train_file)
    valid_rows = read_pair_rows(cfg.validation_file) if cfg.validation_file else []
    digests = {"train": file_sha256(cfg.train_file)}
    texts = [t for r in train_rows for t in (r.anchor, r.positive, *r.negatives)]
    encoder, tokenizer = build_encoder(cfg, prefixed(cfg, texts))
    model = Embedder(encoder).to(device)
    n_batches = math.ceil(len(train_rows) / cfg.batch_size)
    total_steps = n_batches * cfg.epochs if cfg.max_steps == 0 else min(n_batches * cfg.epochs, cfg.max_steps)
    negatives = sum(len(r.negatives) for r in train_rows)
    n_params = sum(p.numel() for p in model.parameters())
    log(
        f"embedding, {type(encoder).__name__} {n_params / 1e6:.2f}M params, {len(train_rows)} pairs "
        f"({negatives} explicit negatives), {len(valid_rows)} validation pairs, {total_steps} steps on {device}"
    )
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics_file = out / METRICS_FILE
    metrics_file.write_text("", encoding="utf-8")  # exists even for 0 epochs: the train stage uploads it
    loss = effective_loss(cfg)
    (out / CONFIG_FILE).write_text(_json(cfg.to_json() | {"effectiveLoss": loss}), encoding="utf-8")
    events.record_metrics_to(metrics_file)
    events.emit(
        "start",
        mode=cfg.mode,
        loss=loss,
        task="embedding",
        rows=len(train_rows),
        negatives=negatives,
        step=0,
        of=total_steps,
        epochs=cfg.epochs,
        device=str(device),
        processes=1,
        parameters=n_params,
        data_sha256=digests,
    )
    optimizer = build_optimizer(model, cfg)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, math.ceil(cfg.warmup_ratio * total_steps), max(total_steps, 1)
    )
    step, t_loop, last_metrics = 0, time.time(), None
    stop.deferred = True
    for epoch in range(cfg.epochs):
        if step >= total_steps:
            break
        model.train()
        epoch_loss = epoch_steps = 0
        for idx in batches_of(len(train_rows), cfg.batch_size, cfg.seed, epoch):
            t_step = time.time()
            with ctx:
                total = batch_loss(model, tokenizer, [train_rows[i] for i in idx], cfg, device)
            value = total.item()
            if not math.isfinite(value):
                raise NanLossError(step + 1, "loss", value)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            max_norm = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
            grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))
            optimizer.step()
            scheduler.step()
            step += 1
            epoch_loss, epoch_steps = epoch_loss + value, epoch_steps + 1
            events.emit(
                "step",
                epoch=epoch + 1,
                step=step,
                of=total_steps,
                loss=value,
                lr=scheduler.get_last_lr()[0],
                grad_norm=grad_norm,
                step_s=round(time.time() - t_step, 5),
                elapsed_s=round(time.time() - t_loop, 3),
            )
            if cfg.log_every and step % cfg.log_every == 0:
                log(f"step {step}/{total_steps} loss {value:.4f}")
            if stop.signum is not None:
                from .errors import Stopped

                raise Stopped(stop.signum, step, None)
            if step >= total_steps:
                break
        epoch_metrics = {"train_loss": epoch_loss / max(epoch_steps, 1)}
        if valid_rows:
            last_metrics = validation_metrics(model, tokenizer, valid_rows, cfg, device)
            epoch_metrics |= last_metrics
        events.emit("epoch", epoch=epoch + 1, step=step, metrics=epoch_metrics)
    stop.deferred = False
    train_seconds = time.time() - t_loop

    final = {"step": step, "train_rows": len(train_rows), "train_seconds": round(train_seconds, 3)}
    if valid_rows:
        final |= last_metrics or validation_metrics(model, tokenizer, valid_rows, cfg, device)
    model = model.cpu().float().eval()
    events.emit("phase", name="export", step=step)
    save_sentence_transformers(model, tokenizer, out, cfg)
    export_embedding_onnx(model, out / "model.onnx", tokenizer.pad_token_id, cfg.onnx_opset)
    parity_texts = prefixed(cfg, [r.anchor for r in (valid_rows or train_rows)][:PARITY_TEXTS])
    final |= embedding_parity(model, tokenizer, out / "model.onnx", parity_texts, cfg)
    expected = [list(ids) for ids in tokenizer(parity_texts, truncation=True, max_length=cfg.max_length)["input_ids"]]
    final |= tokenizer_parity(out / "tokenizer.json", parity_texts, expected)
    outputs = {
        "dir": str(out.resolve()),
        "onnx": str((out / "model.onnx").resolve()),
        "tokenizer": str((out / "tokenizer.json").resolve()),
        "hf_model": str(out.resolve()),
        "metrics": str(metrics_file.resolve()),
        "config": str((out / CONFIG_FILE).resolve()),
        "checkpoint": None,
    }
    result = events.emit("done", outputs=outputs, metrics=final)
    log(f"done in {time.time() - t_start:.1f}s: {out}")
    return result
