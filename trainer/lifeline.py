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


def exit_when_stdin_closes(fd: int = 0) -> threading.Thread:
    """Starts a daemon thread that sends SIGTERM to this process once `fd` (stdin) reaches end-of-file.

    It reads the raw file descriptor, not sys.stdin: a daemon thread blocked inside a buffered
    reader holds that reader's lock, and interpreter shutdown then aborts the process."""

    def watch() -> None:
        try:
            while os.read(fd, 65536):
                pass  # the parent writes nothing; anything read is ignored
        except OSError:
            pass  # a closed or invalid descriptor means the same: the parent is gone
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="parent-lifeline", daemon=True)
    thread.start()
    return thread
