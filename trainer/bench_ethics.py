"""
Real-data check of the trainer: baseline vs debiased on the manual's public data (ethics-problems).

    python -m trainer.bench_ethics                                   # defaults below: ~5 min in all on 2 cores
    python -m trainer.bench_ethics --epochs 1 --layers 2 --out bench/results/ethics.json

Converts ../shared/data/ethics-problems/{train,test}.json (a JSON list of {sentence, labels:[TA,UD,UI]},
no NER tags) into canonical JSONL in a temporary folder, with `entities` from an identity-term
lexicon of gender words found by substring (longest first, non-overlapping). Then trains a
scratch model in each mode through the real command line (`python -m trainer train`), with
test.json as the validation set, and prints one JSON object: macro/micro F1 on test per mode,
training throughput (samples/s over the optimizer steps' own time) and the debiased/baseline
step-time ratio. Both modes use the same config; debiased mode runs eager attention (it needs the
maps) and two forward passes. Throughput from the full runs suffers from whatever else runs on
the machine, so a probe then alternates short runs of both modes (`--probe-steps` steps,
`--probe-rounds` times) and reports median step times. The data is read in place, never copied
into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Gender identity terms (male and female members of the audit's pairs). Substring matching:
# "남자" also matches inside "남자친구", which the manual's NER-based masking would tag too.
GENDER_TERMS = [
    "남학생",
    "여학생",
    "남자",
    "여자",
    "아들",
    "딸",
    "아버지",
    "어머니",
    "남편",
    "아내",
    "형",
    "누나",
    "오빠",
    "언니",
    "할머니",
    "할아버지",
]

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ethics-problems"


def lexicon_spans(text: str, terms: list[str] = GENDER_TERMS, kind: str = "gender") -> list[dict]:
    """Non-overlapping `[start, end)` spans of `terms` in `text`, longest term first."""
    taken = [False] * len(text)
    spans = []
    for term in sorted(terms, key=len, reverse=True):
        start = text.find(term)
        while start >= 0:
            end = start + len(term)
            if not any(taken[start:end]):
                spans.append({"start": start, "end": end, "type": kind})
                taken[start:end] = [True] * len(term)
            start = text.find(term, start + 1)
    return sorted(spans, key=lambda s: s["start"])


def to_canonical(src: Path, dst: Path, prefix: str) -> dict:
    rows = json.loads(src.read_text(encoding="utf-8"))
    with_entities = 0
    with open(dst, "w", encoding="utf-8") as f:
        for i, r in enumerate(rows):
            spans = lexicon_spans(r["sentence"])
            with_entities += bool(spans)
            f.write(
                json.dumps(
                    {"id": f"{prefix}-{i}", "text": r["sentence"], "labels": r["labels"], "entities": spans},
                    ensure_ascii=False,
                )
                + "\n"
            )
    return {"rows": len(rows), "rows_with_entities": with_entities}


def run_trainer(config: dict, work: Path, name: str) -> tuple[list[dict], float]:
    """`python -m trainer train` on `config`; its events and wall time."""
    path = work / f"{name}.json"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "trainer", "train", "--config", str(path)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        text=True,
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed with exit {proc.returncode}: {events[-1] if events else 'no events'}")
    return events, time.time() - t0


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def run_mode(mode: str, work: Path, base: dict) -> dict:
    """A full training run: test-set F1 after the last epoch, throughput over the steps' own time."""
    events, wall = run_trainer({**base, "mode": mode, "outputDir": str(work / f"out-{mode}")}, work, mode)
    steps = [e for e in events if e["event"] == "step"]
    epochs = [e for e in events if e["event"] == "epoch"]
    done = events[-1]
    step_time = sum(e["step_s"] for e in steps)
    samples = base["epochs"] * done["metrics"]["train_rows"]
    last = epochs[-1]["metrics"]
    # The median step resists bursts of other load on a shared machine; full batches only.
    median_step = median([e["step_s"] for e in steps[:-1]])
    return {
        "macro_f1": last["macro_f1"],
        "micro_f1": last["micro_f1"],
        "f1_per_label": last["f1_per_label"],
        "test_loss": last["loss"],
        "steps": len(steps),
        "step_seconds": round(step_time, 2),
        "samples_per_s": round(samples / step_time, 1),
        "median_step_s": round(median_step, 4),
        "samples_per_s_median": round(base["batchSize"] / median_step, 1),
        "wall_seconds": round(wall, 1),
        "per_epoch": [
            {"epoch": e["epoch"], "macro_f1": e["metrics"]["macro_f1"], "micro_f1": e["metrics"]["micro_f1"]}
            for e in epochs
        ],
        "last_step": {k: steps[-1][k] for k in ("loss", "loss_all", "loss_mask", "loss_debias")},
        "onnx_max_abs_diff": done["metrics"]["onnx_max_abs_diff"],
    }


def probe_throughput(modes: list[str], work: Path, base: dict, steps: int, rounds: int) -> dict:
    """Short runs of each mode, alternating, `rounds` times: other load on the machine then hits
    both modes alike. Median step time over all full steps after the first 5 of each run."""
    times: dict[str, list[float]] = {m: [] for m in modes}
    for r in range(rounds):
        for mode in modes:
            config = {**base, "mode": mode, "maxSteps": steps, "outputDir": str(work / f"probe-{mode}-{r}")}
            events, _ = run_trainer(config, work, f"probe-{mode}-{r}")
            times[mode] += [e["step_s"] for e in events if e["event"] == "step"][5:]
    result = {
        m: {
            "median_step_s": round(median(t), 4),
            "samples_per_s": round(base["batchSize"] / median(t), 1),
            "steps_timed": len(t),
        }
        for m, t in times.items()
    }
    if "baseline" in result and "debiased" in result:
        result["debiased_over_baseline_step_time"] = round(
            result["debiased"]["median_step_s"] / result["baseline"]["median_step_s"], 2
        )
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=8000)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--modes", default="baseline,debiased")
    p.add_argument("--probe-steps", type=int, default=60, help="steps per throughput probe run (0: no probe)")
    p.add_argument("--probe-rounds", type=int, default=3)
    p.add_argument("--out", type=Path, help="also write the result JSON here")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="fairline-ethics-") as tmp:
        work = Path(tmp)
        data = {
            "train": to_canonical(args.data / "train.json", work / "train.jsonl", "train"),
            "test": to_canonical(args.data / "test.json", work / "test.jsonl", "test"),
        }
        base = {
            "trainFile": str(work / "train.jsonl"),
            "validationFile": str(work / "test.jsonl"),
            "model": "scratch",
            "epochs": args.epochs,
            "lr": args.lr,
            "batchSize": args.batch,
            "maxLength": args.max_length,
            "checkpointEvery": 0,
            "keepCheckpoints": 1,
            "logEvery": 20,
            "scratch": {
                "hidden": args.hidden,
                "layers": args.layers,
                "heads": args.heads,
                "intermediate": 4 * args.hidden,
                "vocabSize": args.vocab,
            },
        }
        modes = args.modes.split(",")
        results = {mode: run_mode(mode, work, base) for mode in modes}
        probe = probe_throughput(modes, work, base, args.probe_steps, args.probe_rounds) if args.probe_steps else None
    report = {
        "data": {"path": str(args.data), **data},
        "config": {k: v for k, v in base.items() if k not in ("trainFile", "validationFile")},
        "threads": os.cpu_count(),
        "results": results,
        "throughput_probe": probe,
    }
    if "baseline" in results and "debiased" in results:
        b, d = results["baseline"], results["debiased"]
        report["debiased_over_baseline_step_time"] = {
            "mean": round((d["step_seconds"] / d["steps"]) / (b["step_seconds"] / b["steps"]), 2),
            "median": round(d["median_step_s"] / b["median_step_s"], 2),
        }
    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
