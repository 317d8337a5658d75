"""One small exception per way a training run can end badly, each with its event kind and exit code.

The TypeScript `train` stage reads the `kind` of the last `error` event (and the exit code) to
decide whether a retry can help: config and data errors are permanent, NaN is permanent for the
same config, OOM may pass on a bigger machine, `internal` is anything else.
"""

from __future__ import annotations


class TrainerError(Exception):
    """Base class: `kind` goes into the error event, `exit_code` is the process's exit status."""

    kind = "internal"
    exit_code = 1

    def __init__(self, message: str, **context):
        super().__init__(message)
        self.message = message
        self.context = {k: v for k, v in context.items() if v is not None}


class ConfigError(TrainerError):
    """The config names an unknown key, a bad value, or a file that is not there. `key` says which."""

    kind = "config"
    exit_code = 2

    def __init__(self, key: str, message: str):
        super().__init__(message, key=key)


class DataError(TrainerError):
    """A dataset row is malformed: `path`, 1-based `line` and the row's `id` (when it has one) say where."""

    kind = "data"
    exit_code = 2

    def __init__(self, message: str, path: str | None = None, line: int | None = None, row_id: str | None = None):
        super().__init__(message, path=path, line=line, id=row_id)


class NanLossError(TrainerError):
    """A loss term became NaN or infinite; `step` and `term` say when and which."""

    kind = "nan"
    exit_code = 3

    def __init__(self, step: int, term: str, value: float):
        super().__init__(f"loss term {term} is {value} at step {step}", step=step, term=term)


class OutOfMemory(TrainerError):
    """The device (or host) ran out of memory; a smaller batchSize or maxLength may fit."""

    kind = "oom"
    exit_code = 4


class ParityError(TrainerError):
    """The exported ONNX model or tokenizer.json disagrees with the PyTorch model or HF tokenizer."""

    kind = "internal"
    exit_code = 1


class Stopped(Exception):
    """SIGTERM/SIGINT arrived; the run ends with exit code 128 + signal number (not an error event)."""

    def __init__(self, signum: int, step: int | None = None, checkpoint: str | None = None):
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum
        self.step = step
        self.checkpoint = checkpoint
