"""Checks shared by op and layer tests (after Chainer's FunctionTestCase)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from glassnet import Tensor
from glassnet.gradcheck import gradcheck

# Tolerances for float32 comparisons against PyTorch (tinygrad's defaults).
FORWARD_TOL = {"atol": 1e-5, "rtol": 1e-4}
GRAD_TOL = {"atol": 1e-4, "rtol": 1e-3}


def assert_gradcheck(fn: Callable[..., Tensor], *arrays: Any, **kwargs: Any) -> None:
    """Backward of ``fn`` equals float64 central differences for every input."""
    report = gradcheck(fn, *arrays, **kwargs)
    assert report.passed, f"\n{report}"


def run_float32(fn: Callable[..., Tensor], *arrays: np.ndarray) -> tuple[np.ndarray, list]:
    """Run ``fn`` on float32 leaf tensors, backprop ``out.sum()`` and check nothing upcast.

    Returns the output and the input gradients (None where an input got none).
    """
    tensors = [Tensor(np.asarray(a, dtype=np.float32), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    assert out.dtype == np.float32, f"forward upcast to {out.dtype}"
    out.sum().backward()
    grads = []
    for t in tensors:
        if t.grad is not None:
            assert t.grad.dtype == np.float32, f"backward upcast to {t.grad.dtype}"
            assert t.grad.shape == t.shape
        grads.append(t.grad)
    return out.numpy(), grads


def torch_run(torch: Any, fn: Callable[..., Any], *arrays: np.ndarray) -> tuple[np.ndarray, list]:
    """The same as ``run_float32`` for a PyTorch function: output and grads of ``out.sum()``."""
    tensors = [torch.tensor(np.asarray(a, dtype=np.float32), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out.sum().backward()
    grads = [None if t.grad is None else t.grad.numpy() for t in tensors]
    return out.detach().numpy(), grads
