"""The trained model's outputs for the TypeScript side, each checked before the run counts as done:
model.onnx (logits + embedding) against PyTorch, tokenizer.json against the HF tokenizer."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from .errors import ParityError
from .modeling import ExportWrapper


def save_hf(model, tokenizer, out: Path, max_length: int) -> None:
    """config.json + model.safetensors + tokenizer files: `from_pretrained(out)` loads them.

    tokenizer.json is rewritten with truncation at `max_length` and no padding, so a reader that
    only has tokenizer.json (onnxruntime-node + npm `tokenizers`) truncates like the trainer did.
    """
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    path = out / "tokenizer.json"
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.enable_truncation(max_length=max_length)
    tok.save(str(path))


def _export_sample(pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two rows of different length with padding on both: tracing records the attention-mask path.
    (HF skips the mask when it is all ones; a sample without padding would bake that branch in.)"""
    a, b, c, d, e = [i for i in range(2, 10) if i != pad_id][:5]
    mask = torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]])
    ids = torch.tensor([[a, b, c, d, e, pad_id], [a, d, e, pad_id, pad_id, pad_id]])
    return ids, mask


def export_onnx(model, path: Path, pad_id: int, opset: int) -> None:
    """torch.onnx.export (TorchScript-based, dynamo=False) with dynamic batch and sequence axes."""
    wrapper = ExportWrapper(copy.deepcopy(model).cpu().float().eval())
    ids, mask = _export_sample(pad_id)
    axes = {
        "input_ids": {0: "batch", 1: "sequence"},
        "attention_mask": {0: "batch", 1: "sequence"},
        "logits": {0: "batch"},
        "embedding": {0: "batch"},
    }
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing warns about every Python-level constant in HF's mask code; the parity check
        # below is what tells whether the trace is right.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            wrapper,
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits", "embedding"],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )


def onnx_parity(model, path: Path, batches: list[dict[str, torch.Tensor]], tolerance: float) -> dict:
    """Max |ONNX − PyTorch| over the batches' logits (and embeddings); ParityError above tolerance."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    reference = ExportWrapper(copy.deepcopy(model).cpu().float().eval())
    worst_logits = worst_embedding = 0.0
    for batch in batches:
        feeds = {"input_ids": batch["input_ids"].numpy(), "attention_mask": batch["attention_mask"].numpy()}
        logits, embedding = session.run(["logits", "embedding"], feeds)
        with torch.no_grad():
            ref_logits, ref_embedding = reference(batch["input_ids"], batch["attention_mask"])
        worst_logits = max(worst_logits, float(np.abs(logits - ref_logits.numpy()).max()))
        worst_embedding = max(worst_embedding, float(np.abs(embedding - ref_embedding.numpy()).max()))
    if not worst_logits < tolerance:
        raise ParityError(f"ONNX logits differ from PyTorch by {worst_logits:.3g} (tolerance {tolerance:g})")
    return {"onnx_max_abs_diff": worst_logits, "onnx_embedding_max_abs_diff": worst_embedding}


def tokenizer_parity(tokenizer_json: Path, texts: list[str], expected: list[list[int]]) -> dict:
    """tokenizer.json alone (what the TS side loads) yields on every text the ids `expected`, which
    the HF tokenizer gave (truncated at maxLength: trainer/data.py `encode`)."""
    standalone = Tokenizer.from_file(str(tokenizer_json))
    for i, (text, enc) in enumerate(zip(texts, standalone.encode_batch(texts))):
        if enc.ids != expected[i]:
            raise ParityError(f"tokenizer.json gives other ids than the HF tokenizer on text {i}: {text[:80]!r}")
    return {"tokenizer_parity_texts": len(texts)}
