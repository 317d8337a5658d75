"""`python -m trainer train --config CONFIG.json [--resume CHECKPOINT_DIR]` (see trainer/train.py)."""

import os
import sys


def _events_stream():
    """stdout is the event channel, so nothing else may write to it: the events get a private copy
    of file descriptor 1, and fd 1 itself (Python prints, C++ and Rust libraries) goes to stderr."""
    events = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    sys.stdout.flush()
    os.dup2(2, 1)
    return events


if __name__ == "__main__":
    if os.environ.get("FAIRLINE_TRAINER_WATCH_STDIN") == "1":
        # Spawned by the train stage: never outlive the worker (see trainer/lifeline.py).
        from .lifeline import die_with_parent, exit_when_stdin_closes

        die_with_parent()
        exit_when_stdin_closes()
    stream = _events_stream()
    from .train import main

    sys.exit(main(sys.argv[1:], stdout=stream))
