"""Puts the repository root on sys.path, so the tests import the `trainer` package as
`python -m trainer` does (pytest runs them from trainer/tests without an __init__.py)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The test models are tiny: one thread is faster than two, and it keeps the suite's timing steady
# when other processes share the cores (OpenMP threads spin-wait badly when oversubscribed).
import torch  # noqa: E402

torch.set_num_threads(1)
