"""The built-in pretrained encoders next to the scratch model: build (wheels → dequantise → write)
time, file sizes, load time, and training samples per second on the CPU.

    python bench/pretrained.py [--threads 2] [--steps 6] [--batch 16] [--max-length 64]

- build: `trainer.pretrained.build` into a fresh temporary folder (wheels from the local wheel
  cache, as after the first build; `wheels_s` is the sha256 check of the cached wheels).
- load: `AutoModelForSequenceClassification.from_pretrained` + `AutoTokenizer.from_pretrained`
  on the built folder (page cache warm: the build just wrote it).
- training: the trainer's baseline step as train.py runs it (forward on a length-grouped batch of
  demo sentences padded to the batch's longest, BCE, backward, gradient clipping, AdamW step),
  `--steps` steps after one warm-up step; samples/s = batch ÷ median step time.
The scratch model is the trainer's default size (hidden 64, 2 layers) with its WordPiece learned
from the demo text. Writes bench/results/pretrained-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from trainer import pretrained
    from trainer.modeling import train_wordpiece
    from trainer.tests.support import demo_rows

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    texts = [r["text"] for r in demo_rows("train")] + [r["text"] for r in demo_rows("test")]
    labels = [r["labels"] for r in demo_rows("train")] + [r["labels"] for r in demo_rows("test")]
    results: dict = {
        "settings": vars(args),
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpus": os.cpu_count(),
            "loadavg_start": os.getloadavg(),
        },
    }

    def train_rate(model, tokenizer) -> dict:
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=3e-5)
        times = []
        for step in range(args.steps + 1):
            start = (step * args.batch) % len(texts)
            batch_texts = (texts + texts)[start : start + args.batch]
            batch_labels = torch.tensor((labels + labels)[start : start + args.batch], dtype=torch.float32)
            enc = tokenizer(batch_texts, truncation=True, max_length=args.max_length, padding=True, return_tensors="pt")
            t = time.perf_counter()
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch_labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if step > 0:  # the first step allocates optimizer state
                times.append(time.perf_counter() - t)
        step_s = statistics.median(times)
        return {
            "step_s_median": step_s,
            "step_s": times,
            "samples_per_s": args.batch / step_s,
            "tokens_per_batch": int(enc["input_ids"].shape[1]),
        }

    rows = []
    for name in ["scratch", *sorted(pretrained.pins())]:
        print(f"== {name}", file=sys.stderr)
        row: dict = {"model": name}
        if name == "scratch":
            tokenizer = train_wordpiece(texts, 2000, args.max_length)
            from transformers import BertConfig

            config = BertConfig(
                vocab_size=len(tokenizer),
                hidden_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=128,
                pad_token_id=tokenizer.pad_token_id,
                num_labels=3,
                problem_type="multi_label_classification",
            )
            model = AutoModelForSequenceClassification.from_config(config)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                event = pretrained.build(name, Path(tmp) / name, pretrained.default_cache_dir() / "wheels")
                row["build"] = event["timings"]
                row["bytes"] = event["bytes"]
                t = time.perf_counter()
                tokenizer = AutoTokenizer.from_pretrained(event["path"])
                model = AutoModelForSequenceClassification.from_pretrained(
                    event["path"], num_labels=3, problem_type="multi_label_classification"
                )
                row["load_s"] = time.perf_counter() - t
        row["parameters"] = sum(p.numel() for p in model.parameters())
        row["training"] = train_rate(model, tokenizer)
        rows.append(row)
        del model

    results["environment"]["loadavg_end"] = os.getloadavg()
    results["results"] = rows
    print(
        f"\n{'model':<24}{'params':>12}{'build s':>10}{'dequant s':>11}{'safetensors MB':>16}{'load s':>8}{'train samples/s':>17}"
    )
    for r in rows:
        build = r.get("build", {})
        mb = r.get("bytes", {}).get("model.safetensors", 0) / 1e6
        print(
            f"{r['model']:<24}{r['parameters']:>12,}{build.get('total_s', float('nan')):>10.1f}{build.get('dequantise_s', float('nan')):>11.1f}"
            f"{mb:>16.1f}{r.get('load_s', float('nan')):>8.2f}{r['training']['samples_per_s']:>17.1f}"
        )
    print(f"load average {results['environment']['loadavg_start']} -> {results['environment']['loadavg_end']}")
    out = ROOT / "bench" / "results" / f"pretrained-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
