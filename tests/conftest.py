"""Shared fixtures: a seeded random generator and PyTorch as an optional reference."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator seeded with 0: tests never touch NumPy's global random state."""
    return np.random.default_rng(0)


@pytest.fixture
def torch():
    """PyTorch, or skip the test cleanly when it is not installed (it is a test-only reference)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch
