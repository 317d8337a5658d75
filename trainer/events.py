"""Progress as JSON lines: one object per line on stdout, for the TypeScript `train` stage.

Events: `step`, `checkpoint`, `epoch`, `done`, `stopped`, `error` (see stages/train/README.md).
`step` and `epoch` events are also appended to `metrics.jsonl` in the output folder. Human-readable
logs go to stderr, so stdout carries nothing but these lines.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import IO, Any

# Events that make up the training record in metrics.jsonl. `cost` (once, after training): trainable
# and total parameters, training seconds and peak memory, for benchmarks that weigh them.
METRIC_EVENTS = ("step", "epoch", "cost")


def _json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON: they become null (the error event says what went wrong)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


class Events:
    """Writes events to `stream` (stdout by default); `enabled` is False on DDP ranks other than 0."""

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream if stream is not None else sys.stdout
        self.enabled = True
        self.stream_open = True
        self.metrics_path: Path | None = None

    def record_metrics_to(self, path: Path) -> None:
        self.metrics_path = path

    def emit(self, event: str, **fields: Any) -> dict:
        record = _json_safe({"event": event, **fields})
        if not self.enabled:
            return record
        line = json.dumps(record, ensure_ascii=False)
        if self.stream_open:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (BrokenPipeError, ValueError):  # the reader is gone: the run goes on, metrics.jsonl too
                self.stream_open = False
                log("stdout is closed: events go to metrics.jsonl and stderr only")
        if not self.stream_open:
            log(line)
        if self.metrics_path is not None and event in METRIC_EVENTS:
            with open(self.metrics_path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        return record


def log(message: str) -> None:
    """A human log line on stderr."""
    print(message, file=sys.stderr, flush=True)
