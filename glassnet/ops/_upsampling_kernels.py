"""The tuned kernel beside ``ops/upsampling.py``'s textbook bilinear interpolation.

Because the factor s is whole, the 1-D pass needs no gather. Output row i = k·s + r (phase r)
reads the point k + o_r with o_r = (r + 0.5) / s − 0.5, between −½ and ½, the same offset for
every k: phase r blends rows k − 1 and k with weight 1 + o_r on row k (o_r < 0), or rows k
and k + 1 with weight o_r on row k + 1 (o_r ≥ 0). With the image extended by one copy of its
first and last row (the clamping at the edges), each phase is two shifted slices of that
extended image, (1 − w_r)·ext[k + a_r] + w_r·ext[k + a_r + 1] for all k at once: s multiplies
and adds over whole rows. The backward pass adds ``grad · (1 − w_r)`` and ``grad · w_r`` of
each phase into the same two slices of an extended gradient, then folds the two extra rows
back onto the first and last row they copied. The numbers are the textbook form's
(``tests/ops/test_upsampling.py`` compares them on every shape class).
"""

from __future__ import annotations

from typing import Any

from glassnet.backend import get_array_module

__all__ = ["interpolate_phased", "interpolate_phased_backward"]


def _phases(scale: int) -> list[tuple[int, float]]:
    """For each phase r of a whole factor ``scale``: the first of the two rows it blends, as an
    offset into the extended image (0: row k − 1, 1: row k), and the weight of the second."""
    phases = []
    for r in range(scale):
        offset = (r + 0.5) / scale - 0.5
        phases.append((0, 1.0 + offset) if offset < 0 else (1, offset))
    return phases


def _along(axis: int, index: Any) -> tuple[Any, ...]:
    """An index that applies ``index`` to ``axis`` and keeps the axes before it whole."""
    return (slice(None),) * axis + (index,)


def interpolate_phased(x: Any, axis: int, scale: int) -> Any:
    """Linear interpolation with half-pixel centres along ``axis``, enlarged ``scale`` times."""
    xp = get_array_module(x)
    n = x.shape[axis]
    ext = xp.concatenate([x[_along(axis, slice(0, 1))], x, x[_along(axis, slice(n - 1, n))]], axis)
    out = xp.empty((*x.shape[: axis + 1], scale, *x.shape[axis + 1 :]), dtype=x.dtype)
    for r, (a, w) in enumerate(_phases(scale)):
        dst = out[_along(axis + 1, r)]
        xp.multiply(ext[_along(axis, slice(a, a + n))], x.dtype.type(1 - w), out=dst)
        dst += ext[_along(axis, slice(a + 1, a + 1 + n))] * x.dtype.type(w)
    return out.reshape(*x.shape[:axis], n * scale, *x.shape[axis + 1 :])


def interpolate_phased_backward(grad: Any, axis: int, scale: int) -> Any:
    """The gradient of ``interpolate_phased`` with respect to its input."""
    xp = get_array_module(grad)
    n = grad.shape[axis] // scale
    phased = grad.reshape(*grad.shape[:axis], n, scale, *grad.shape[axis + 1 :])
    ext = xp.zeros((*grad.shape[:axis], n + 2, *grad.shape[axis + 1 :]), dtype=grad.dtype)
    for r, (a, w) in enumerate(_phases(scale)):
        g = phased[_along(axis + 1, r)]
        ext[_along(axis, slice(a, a + n))] += g * grad.dtype.type(1 - w)
        ext[_along(axis, slice(a + 1, a + 1 + n))] += g * grad.dtype.type(w)
    gx = ext[_along(axis, slice(1, n + 1))].copy()
    gx[_along(axis, slice(0, 1))] += ext[_along(axis, slice(0, 1))]
    gx[_along(axis, slice(n - 1, n))] += ext[_along(axis, slice(n + 1, n + 2))]
    return gx
