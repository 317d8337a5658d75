"""The reference the TypeScript inference engine is held to: the trainer's PyTorch model (the HF
files in its output folder) on the same texts, tokenized as the trainer tokenizes them
(trainer/data.py: truncation=True, max_length) and batched with dynamic right padding, in eval mode.

    python test/inference/torch_predict.py MODEL_DIR TEXTS_JSON --max-length N --task multilabel|multiclass

Prints {"logits": [[...]], "probabilities": [[...]]} in the texts' order; probabilities are the
trainer's (trainer/losses.py: sigmoid or softmax of the float32 logits).
"""

from __future__ import annotations

import argparse
import json
import sys

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

# Rows per forward pass: several batches, so the reference itself runs with dynamic padding.
BATCH = 16


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("texts_json")
    parser.add_argument("--max-length", type=int, required=True)
    parser.add_argument("--task", choices=["multilabel", "multiclass"], required=True)
    args = parser.parse_args()

    with open(args.texts_json, encoding="utf-8") as f:
        texts = json.load(f)
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir, use_fast=True)
    model = AutoModelForSequenceClassification.from_pretrained(args.model_dir).float().eval()
    logits_out, probs_out = [], []
    with torch.no_grad():
        for start in range(0, len(texts), BATCH):
            batch = tokenizer(
                texts[start : start + BATCH],
                truncation=True,
                max_length=args.max_length,
                padding=True,
                return_tensors="pt",
            )
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
            probs = torch.sigmoid(logits) if args.task == "multilabel" else torch.softmax(logits, dim=-1)
            logits_out.extend(logits.tolist())
            probs_out.extend(probs.tolist())
    json.dump({"logits": logits_out, "probabilities": probs_out}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
