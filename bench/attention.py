"""What the debiasing terms did to a run's models, measured on their own training rows.

For every trained model of a run (its `huggingface` bundle) and the rows its ner-mask stage masked,
this prints, per model:

- L_debias on held-fixed weights: the manual's attention KL between x̂ and x (trainer/losses.py,
  the same function training minimised), per layer and overall, over the rows that have a mask;
- the prediction shift |P(y|x) − P(y|x̂)| (mean over rows and labels) that L_mask trains down;
- for one example: its tokens, which of them are masked, and the last layer's [CLS] attention
  (head mean) over the tokens for x and x̂.

A debiased model whose L_debias and shift are far below the baseline's did what its loss asked;
whether that lowers reactivity to identity terms is the audit's question, not this script's.

    ~/.cache/fairline/venv/*/bin/python bench/attention.py --manifest file:///…/manifest.json [--rows 256] [--example 0]

Only the file store: the manifest's and bundles' URIs must be file:// (runs on the default local
stack). The models are loaded in eval mode (no dropout), on CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from trainer.data import MULTILABEL, LabelSpec, collate, encode, read_rows  # noqa: E402
from trainer.losses import loss_debias, probabilities  # noqa: E402
from trainer.modeling import AttentionMaps, tokenizer_kwargs  # noqa: E402


def local_path(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        sys.exit(f"{uri}: only file:// URIs (the local file store) can be read here")
    return Path(unquote(parsed.path))


def materialise(bundle_uri: str, into: Path) -> Path:
    """The bundle's files as a folder of symlinks into the file store (nothing copied)."""
    bundle = json.loads(local_path(bundle_uri).read_text())
    into.mkdir(parents=True)
    for name, ref in bundle["files"].items():
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(local_path(ref["uri"]))
    return into


def measure(folder: Path, rows, batch_size: int, example: int) -> dict:
    model = AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, use_fast=True, **tokenizer_kwargs(model.config.model_type))
    task = MULTILABEL if model.config.problem_type == "multi_label_classification" else "multiclass"
    spec = LabelSpec(task=task, num_labels=model.config.num_labels, names=[])
    data = encode(rows, tokenizer, max_length=64)
    maps = AttentionMaps(model)
    per_layer_sum, shift_sum, n = None, 0.0, 0
    shown = None
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            idx = list(range(start, min(start + batch_size, len(rows))))
            batch = collate(data, idx, spec, tokenizer.pad_token_id, tokenizer.mask_token_id)
            out_x, att_x = maps(lambda: model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]))
            out_h, att_h = maps(lambda: model(input_ids=batch["input_ids_hat"], attention_mask=batch["attention_mask"]))
            keep = batch["attention_mask"].bool() & ~batch["entity_mask"]
            layers = torch.stack([loss_debias((a,), (h,), keep) for a, h in zip(att_x, att_h)]) * len(idx)
            per_layer_sum = layers if per_layer_sum is None else per_layer_sum + layers
            p_x, p_h = probabilities(out_x.logits, task), probabilities(out_h.logits, task)
            shift_sum += (p_x - p_h).abs().mean(dim=-1).sum().item()
            n += len(idx)
            if shown is None and start <= example < start + len(idx):
                k = example - start
                width = int(batch["attention_mask"][k].sum())
                shown = {
                    "tokens": tokenizer.convert_ids_to_tokens(batch["input_ids"][k][:width]),
                    "masked": batch["entity_mask"][k][:width].tolist(),
                    "cls_x": att_x[-1][k].mean(dim=0)[0][:width].tolist(),
                    "cls_hat": att_h[-1][k].mean(dim=0)[0][:width].tolist(),
                    "p_x": p_x[k].tolist(),
                    "p_hat": p_h[k].tolist(),
                }
    maps.remove()
    per_layer = (per_layer_sum / n).tolist()
    return {
        "l_debias": sum(per_layer) / len(per_layer),
        "per_layer": per_layer,
        "shift": shift_sum / n,
        "rows": n,
        "example": shown,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", required=True, help="a run's manifest.json (file:// URI or path)")
    ap.add_argument("--rows", type=int, default=256, help="masked rows to measure (the first N that have a mask)")
    ap.add_argument("--example", type=int, default=0, help="which of those rows to show token by token")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    manifest_path = local_path(args.manifest) if "://" in args.manifest else Path(args.manifest)
    stages = json.loads(manifest_path.read_text())["stages"]
    masks = [s for s in stages if s.get("uses") == "ner-mask" and s.get("outputs", {}).get("dataset")]
    models = [s for s in stages if s.get("uses") == "train" and s.get("outputs", {}).get("huggingface")]
    if not masks or not models:
        sys.exit(f"{manifest_path}: needs a ner-mask stage's dataset and at least one train stage's huggingface bundle")
    rows = [r for r in read_rows(local_path(masks[0]["outputs"]["dataset"]["uri"])) if r.spans][: args.rows]
    if not rows:
        sys.exit("the masked dataset has no row with a mask")
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="fairline-attention-") as tmp:
        results = {}
        for stage in models:
            folder = materialise(stage["outputs"]["huggingface"]["uri"], Path(tmp) / stage["id"])
            results[stage["id"]] = measure(folder, rows, args.batch_size, args.example)
    print(f"{len(rows)} masked training rows of {manifest_path}")
    print("model | L_debias (manual KL, mean over layers) | per layer | |P(y|x) − P(y|x̂)| (mean over rows, labels)")
    for name, r in results.items():
        layers = " ".join(f"{v:.4f}".replace("-0.0000", "0.0000") for v in r["per_layer"])  # float noise below 0
        print(f"{name} | {r['l_debias']:.5f} | {layers} | {r['shift']:.5f}")
    for name, r in results.items():
        e = r["example"]
        if not e:
            continue
        print(
            f"\nexample {args.example}, {name}: P(y|x) {[round(p, 3) for p in e['p_x']]} → P(y|x̂) {[round(p, 3) for p in e['p_hat']]}"
        )
        print("token | masked | last-layer [CLS] attention, x | x̂")
        for tok, m, a, b in zip(e["tokens"], e["masked"], e["cls_x"], e["cls_hat"]):
            print(f"{tok} | {'yes' if m else ''} | {a:.3f} | {b:.3f}")


if __name__ == "__main__":
    main()
