"""Check backpropagation against calculus: compare autograd's gradients with finite differences.

The derivative of f at x is about (f(x + ε) − f(x − ε)) / 2ε. ``gradcheck`` computes that in
float64 for every input number (or along random directions for big inputs) and compares it with
what ``backward()`` returns. A learner can use it on any function they write, or on a whole
small model, to see that backpropagation is "just the chain rule".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassnet.tensor import Tensor, no_grad


@dataclass
class InputCheck:
    """The verdict for one input: the largest absolute and relative error, and pass/fail."""

    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    passed: bool
    method: str


@dataclass
class GradcheckReport:
    """Per-input results of ``gradcheck``; truthy when every input passed. ``print`` it."""

    checks: list[InputCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every input's analytic gradient matched finite differences."""
        return all(c.passed for c in self.checks)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [f"{'input':<24}{'shape':<18}{'max abs err':>12}{'max rel err':>12}  result"]
        for c in self.checks:
            verdict = "pass" if c.passed else "FAIL"
            lines.append(
                f"{c.name:<24}{c.shape!s:<18}{c.max_abs_error:>12.2e}{c.max_rel_error:>12.2e}"
                f"  {verdict} ({c.method})"
            )
        return "\n".join(lines)


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Any,
    params: Iterable[Tensor] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_elements: int = 2048,
    directions: int = 8,
    seed: int = 0,
    raise_on_failure: bool = False,
) -> GradcheckReport:
    """Compare ``fn``'s autograd gradients with float64 central differences.

    Args:
        fn: takes ``inputs`` as Tensors and returns a Tensor of any shape. The check uses the
            scalar ``sum(fn(*inputs) * r)`` for a fixed random ``r``, which tests every output.
        inputs: arrays or Tensors; each is copied to float64 and checked.
        params: extra tensors that ``fn`` uses (e.g. ``model.parameters()``); converted to
            float64 during the check, checked too, and restored afterwards.
        eps, atol, rtol: step and tolerances (PyTorch's gradcheck defaults).
        max_elements: inputs up to this size are checked element by element; larger ones
            along ``directions`` random directions (Chainer's directional check).
        raise_on_failure: raise ``ValueError`` carrying the report if any input fails.

    Returns:
        A ``GradcheckReport``; ``bool(report)`` is True when all inputs passed.

    Example:
        >>> print(gradcheck(lambda x: (x * x).sum(), np.array([1.0, 2.0])))
    """
    rng = np.random.default_rng(seed)
    tensors = [
        Tensor(np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64), True)
        for x in inputs
    ]
    names = [f"input {i}" for i in range(len(tensors))]
    param_list = list(params or [])
    originals = [(p.data, p.requires_grad, p.grad) for p in param_list]
    for i, p in enumerate(param_list):
        p.data = p.data.astype(np.float64)
        p.requires_grad, p.grad = True, None
        names.append(p.name or f"param {i}")
    checked = tensors + param_list
    try:
        out = fn(*tensors)
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor, it returned {type(out)}.")
        projection = rng.standard_normal(out.shape)

        def scalar() -> float:
            with no_grad():
                return float((np.asarray(fn(*tensors).data, dtype=np.float64) * projection).sum())

        out.backward(projection)
        report = GradcheckReport()
        for name, t in zip(names, checked, strict=True):
            analytic = np.zeros(t.shape) if t.grad is None else np.asarray(t.grad, np.float64)
            report.checks.append(
                _check_one(
                    name, t, analytic, scalar, eps, atol, rtol, max_elements, directions, rng
                )
            )
    finally:
        for p, (data, requires_grad, grad) in zip(param_list, originals, strict=True):
            p.data, p.requires_grad, p.grad = data, requires_grad, grad
    if raise_on_failure and not report.passed:
        raise ValueError(f"gradcheck failed:\n{report}")
    return report


def _check_one(
    name: str,
    t: Tensor,
    analytic: np.ndarray,
    scalar: Callable[[], float],
    eps: float,
    atol: float,
    rtol: float,
    max_elements: int,
    directions: int,
    rng: np.random.Generator,
) -> InputCheck:
    data = t.data  # float64, changed in place and restored
    if data.size <= max_elements:
        numeric = np.zeros(data.shape)
        for i in np.ndindex(data.shape):  # indexes in place, whatever the memory layout
            keep = data[i]
            data[i] = keep + eps
            up = scalar()
            data[i] = keep - eps
            down = scalar()
            data[i] = keep
            numeric[i] = (up - down) / (2 * eps)
        got, want, method = analytic.reshape(-1), numeric.reshape(-1), "every element"
    else:
        dirs = rng.standard_normal((directions, *data.shape))
        want = np.empty(directions)
        keep = data.copy()
        for k, d in enumerate(dirs):
            data[...] = keep + eps * d
            up = scalar()
            data[...] = keep - eps * d
            down = scalar()
            want[k] = (up - down) / (2 * eps)
        data[...] = keep
        got = np.array([(analytic * d).sum() for d in dirs])
        method = f"{directions} random directions"
    abs_err = np.abs(got - want)
    rel_err = abs_err / np.maximum(np.abs(want), 1e-12)
    passed = bool(np.all(abs_err <= atol + rtol * np.abs(want)))
    return InputCheck(
        name=name,
        shape=tuple(data.shape),
        max_abs_error=float(abs_err.max(initial=0.0)),
        max_rel_error=float(rel_err.max(initial=0.0)),
        passed=passed,
        method=method,
    )
