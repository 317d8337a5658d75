"""Helpers of the trainer tests: the demo data as canonical JSONL, and ways to run the trainer's
command line in-process (events parsed) or as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def demo_rows(split: str, multiclass: bool = False) -> list[dict]:
    """data/demo rows as canonical rows, entities from the gender lexicon."""
    from trainer.bench_ethics import lexicon_spans

    rows = []
    for i, r in enumerate(json.loads((DEMO / f"{split}.json").read_text(encoding="utf-8"))):
        labels = r["labels"].index(1) if multiclass else r["labels"]
        rows.append(
            {"id": f"{split}-{i}", "text": r["sentence"], "labels": labels, "entities": lexicon_spans(r["sentence"])}
        )
    return rows


def demo_config(tmp_path: Path, multiclass: bool = False, **overrides) -> dict:
    """A fast config over the demo data (tiny scratch model, 1 epoch of 5 steps) written to tmp_path."""
    suffix = "-mc" if multiclass else ""
    train = write_jsonl(tmp_path / f"train{suffix}.jsonl", demo_rows("train", multiclass))
    valid = write_jsonl(tmp_path / f"valid{suffix}.jsonl", demo_rows("test", multiclass))
    config = {
        "trainFile": str(train),
        "validationFile": str(valid),
        "outputDir": str(tmp_path / "out"),
        "lr": 1e-3,
        "epochs": 1,
        "batchSize": 16,
        "maxLength": 32,
        "logEvery": 0,
        "scratch": {"hidden": 32, "layers": 2, "heads": 2, "intermediate": 64, "vocabSize": 400},
    }
    return {**config, **overrides}


class Run:
    """A finished trainer run: exit code and the JSON events it printed."""

    def __init__(self, code: int, events: list[dict]):
        self.code = code
        self.events = events

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["event"] == kind]

    @property
    def last(self) -> dict:
        return self.events[-1]


def train_in_process(config: dict, tmp_path: Path, resume: Path | None = None, name: str = "config.json") -> Run:
    """`python -m trainer train` in this process: fast (no torch import per run), same code path."""
    from trainer.train import main

    path = tmp_path / name
    path.write_text(json.dumps(config), encoding="utf-8")
    out = io.StringIO()
    argv = ["train", "--config", str(path)] + (["--resume", str(resume)] if resume else [])
    code = main(argv, stdout=out)
    return Run(code, [json.loads(line) for line in out.getvalue().splitlines()])


def trainer_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "trainer", *args]


def spawn(*args: str, env: dict | None = None, stdin=None) -> subprocess.Popen:
    """`python -m trainer ARGS` from the repository root, stdout and stderr piped."""
    return subprocess.Popen(
        trainer_command(*args),
        cwd=ROOT,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
