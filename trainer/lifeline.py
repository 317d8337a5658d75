"""Tie a child process's life to its parent's: the TypeScript worker that spawned it.

A worker can die without a chance to clean up (SIGKILL, OOM killer, a lost machine). Its
children must not train on as orphans, holding a GPU and writing checkpoints nobody reads:
- on Linux, PR_SET_PDEATHSIG asks the kernel to send SIGTERM when the parent exits;
- everywhere, the parent keeps our stdin open and never writes to it, so end-of-file on stdin
  means the parent is gone: a watcher thread then sends SIGTERM to this process.
SIGTERM takes the usual path (the trainer checkpoints at the end of its step and exits).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time


def die_with_parent() -> None:
    """Linux: receive SIGTERM when the parent process exits (prctl PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except OSError:
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


_acked = {"step": -1, "closed": False}
_ack_changed = threading.Condition()


def exit_when_stdin_closes(fd: int = 0) -> threading.Thread:
    """Starts a daemon thread that reads `fd` (stdin) until end-of-file, then sends SIGTERM to this
    process. The parent writes only checkpoint acknowledgements (`ack STEP` lines, see
    wait_for_ack); anything else is ignored.

    It reads the raw file descriptor, not sys.stdin: a daemon thread blocked inside a buffered
    reader holds that reader's lock, and interpreter shutdown then aborts the process."""

    def watch() -> None:
        pending = b""
        try:
            while chunk := os.read(fd, 65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    parts = line.split()
                    if len(parts) == 2 and parts[0] == b"ack" and parts[1].isdigit():
                        with _ack_changed:
                            _acked["step"] = max(_acked["step"], int(parts[1]))
                            _ack_changed.notify_all()
        except OSError:
            pass  # a closed or invalid descriptor means the same: the parent is gone
        with _ack_changed:
            _acked["closed"] = True
            _ack_changed.notify_all()
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="parent-lifeline", daemon=True)
    thread.start()
    return thread


def acks_enabled() -> bool:
    """Whether the parent acknowledges each checkpoint once it is durable (the train stage does)."""
    return os.environ.get("FAIRLINE_TRAINER_ACK_CHECKPOINTS") == "1"


def wait_for_ack(step: int, should_stop, timeout_s: float = 600.0) -> bool:
    """Blocks until the parent acknowledges the checkpoint of `step` (uploaded, so a retry can
    resume from it), the parent goes away, `should_stop()` turns true, or `timeout_s` passes.
    Training waits so that it never runs more than one checkpoint interval ahead of the last
    durable checkpoint. Returns whether the acknowledgement came."""
    deadline = time.monotonic() + timeout_s
    with _ack_changed:
        while _acked["step"] < step and not _acked["closed"]:
            if should_stop() or time.monotonic() > deadline:
                return False
            _ack_changed.wait(0.2)
        return _acked["step"] >= step
