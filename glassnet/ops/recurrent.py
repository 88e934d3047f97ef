"""Recurrent cells over a whole sequence, with backpropagation through time (BPTT).

A recurrent layer reads a sequence one step at a time and carries a state ``h`` from step to
step. Each step mixes the new input with the old state through weights that are the same at
every step. The input half of that mixing, ``x_t·W + b``, does not depend on the state, so the
layer computes it for all steps at once with ONE matrix product before the loop; only
``h·U`` (the recurrent half) has to wait for the previous step. These ops take that
projection ``xw = x·W + b`` of shape (batch, time, gates·units) and run the loop.

Why one fused op per cell and not a graph of small ops per step: composed from
getitem/matmul/sigmoid/tanh/mul ops, every step adds graph nodes and every ``xw[:, t]`` slice
copies a full-sequence gradient. Each cell's maths is still written out once, readably, in
``*_step`` (forward) and ``*_step_back`` (backward) below, and checked against finite
differences and PyTorch.

Backward through time: going from the last step to the first, each step receives the gradient
of its output state from two places, the loss at that step and the next step (which used the
state as its ``h_prev``); it turns it into gradients of its gate pre-activations ``dz``. The
weight gradient ``dU = Σ_t h_{t−1}ᵀ·dz_t`` is then one GEMM over all steps at the end.

Activations: ``tanh``, ``sigmoid``, ``relu`` and ``linear``; their derivatives are computed from
their outputs (tanh' = 1 − y², σ' = y·(1 − y), relu' = [y > 0], linear' = 1).
"""

from __future__ import annotations

from typing import Any

from glassnet.autograd import Context, Function
from glassnet.backend import get_array_module
from glassnet.ops.linalg import linear
from glassnet.ops.shape import getitem
from glassnet.tensor import Tensor

__all__ = ["gru", "lstm", "simple_rnn"]

RECURRENT_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")


# ------------------------------------------------------------------ activations on arrays
def apply_activation(name: str, a: Any) -> Any:
    """``a`` through the recurrent activation ``name`` (one of ``RECURRENT_ACTIVATIONS``)."""
    xp = get_array_module(a)
    if name == "tanh":
        return xp.tanh(a)
    if name == "sigmoid":
        # e^−|a| never overflows; for a < 0, σ(a) = e^a / (1 + e^a).
        e = xp.exp(-xp.abs(a))
        return xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
    if name == "relu":
        return a * (a > 0)
    return a  # linear


def _act_grad(name: str, y: Any) -> Any:
    """The activation's derivative, from its output ``y``."""
    if name == "tanh":
        return 1 - y * y
    if name == "sigmoid":
        return y * (1 - y)
    if name == "relu":
        return (y > 0).astype(y.dtype)
    return 1


# ------------------------------------------------------------------ the cells, one step each
def rnn_step(xw_t: Any, h: Any, U: Any, act: str) -> Any:
    """SimpleRNN: h_t = act(x_t·W + b + h_{t−1}·U)."""
    return apply_activation(act, xw_t + h @ U)


def lstm_step(xw_t: Any, h: Any, c: Any, U: Any, act: str, ract: str) -> tuple:
    """LSTM, gates in Keras's order i, f, c, o (σ = recurrent_activation, tanh = activation):

    i = σ(x·W_i + b_i + h·U_i)        how much of the candidate to write
    f = σ(x·W_f + b_f + h·U_f)        how much of the old cell to keep
    g = tanh(x·W_c + b_c + h·U_c)     the candidate cell value
    o = σ(x·W_o + b_o + h·U_o)        how much of the cell to show
    c_t = f·c_{t−1} + i·g
    h_t = o·tanh(c_t)
    """
    u = h.shape[-1]
    z = xw_t + h @ U
    i = apply_activation(ract, z[:, :u])
    f = apply_activation(ract, z[:, u : 2 * u])
    g = apply_activation(act, z[:, 2 * u : 3 * u])
    o = apply_activation(ract, z[:, 3 * u :])
    c_new = f * c + i * g
    tc = apply_activation(act, c_new)
    return o * tc, c_new, (i, f, g, o, tc)


def gru_step(xw_t: Any, h: Any, U: Any, rb: Any, act: str, ract: str) -> tuple:
    """GRU with reset_after=True (Keras 3, cuDNN and PyTorch), gates in Keras's order z, r, h:

    z  = σ(x·W_z + b_z + h·U_z + rb_z)          update gate
    r  = σ(x·W_r + b_r + h·U_r + rb_r)          reset gate
    hh = tanh(x·W_h + b_h + r·(h·U_h + rb_h))   candidate, the reset applied after U
    h_t = z·h_{t−1} + (1 − z)·hh
    """
    u = h.shape[-1]
    hu = h @ U + rb
    z = apply_activation(ract, xw_t[:, :u] + hu[:, :u])
    r = apply_activation(ract, xw_t[:, u : 2 * u] + hu[:, u : 2 * u])
    hu_h = hu[:, 2 * u :]
    hh = apply_activation(act, xw_t[:, 2 * u :] + r * hu_h)
    return z * h + (1 - z) * hh, (z, r, hh, hu_h)


def gru_step_reset_before(xw_t: Any, h: Any, U: Any, act: str, ract: str) -> tuple:
    """GRU with reset_after=False (Keras 2's GRU, the 2014 paper's), one bias row; the reset
    gate scales the old state BEFORE the recurrent product of the candidate:

    z  = σ(x·W_z + b_z + h·U_z)                update gate
    r  = σ(x·W_r + b_r + h·U_r)                reset gate
    hh = tanh(x·W_h + b_h + (r·h_{t−1})·U_h)   candidate
    h_t = z·h_{t−1} + (1 − z)·hh
    """
    u = h.shape[-1]
    hu = h @ U[:, : 2 * u]
    z = apply_activation(ract, xw_t[:, :u] + hu[:, :u])
    r = apply_activation(ract, xw_t[:, u : 2 * u] + hu[:, u:])
    rh = r * h
    hh = apply_activation(act, xw_t[:, 2 * u :] + rh @ U[:, 2 * u :])
    return z * h + (1 - z) * hh, (z, r, hh, rh)


# ------------------------------------------------------------------ the cells' backward steps
def rnn_step_back(dh: Any, h_t: Any, act: str) -> Any:
    """d(pre-activation) of one SimpleRNN step from d(h_t)."""
    return dh * _act_grad(act, h_t)


def lstm_step_back(dh: Any, dc: Any, c_prev: Any, saved: tuple, act: str, ract: str) -> tuple:
    """Given dL/dh_t and dL/dc_t (from this step's output and the next step), return the gate
    pre-activation gradients dz (batch, 4·units) and dL/dc_{t−1}."""
    i, f, g, o, tc = saved
    xp = get_array_module(dh)
    do = dh * tc
    dc = dc + dh * o * _act_grad(act, tc)
    di, df, dg = dc * g, dc * c_prev, dc * i
    dz = xp.concatenate(
        [
            di * _act_grad(ract, i),
            df * _act_grad(ract, f),
            dg * _act_grad(act, g),
            do * _act_grad(ract, o),
        ],
        axis=-1,
    )
    return dz, dc * f


def gru_step_back(dh: Any, h_prev: Any, saved: tuple, act: str, ract: str) -> tuple:
    """Given dL/dh_t, return dxw (batch, 3·units) for x·W + b, dhu (batch, 3·units) for
    h·U + rb, and the direct part of dL/dh_{t−1} (through h_t = z·h_{t−1} + ...)."""
    z, r, hh, hu_h = saved
    xp = get_array_module(dh)
    da_h = dh * (1 - z) * _act_grad(act, hh)
    da_z = dh * (h_prev - hh) * _act_grad(ract, z)
    da_r = da_h * hu_h * _act_grad(ract, r)
    dxw = xp.concatenate([da_z, da_r, da_h], axis=-1)
    dhu = xp.concatenate([da_z, da_r, da_h * r], axis=-1)
    return dxw, dhu, dh * z


def gru_step_reset_before_back(
    dh: Any, h_prev: Any, saved: tuple, U: Any, act: str, ract: str
) -> tuple:
    """Given dL/dh_t, return dxw (batch, 3·units), the pre-activation gradients of z, r and the
    candidate, and dL/dh_{t−1} (directly, through r·h and through h·U_z, h·U_r)."""
    z, r, hh = saved[:3]  # saved[3], r·h_{t−1}, is for dU
    xp = get_array_module(dh)
    u = dh.shape[-1]
    da_h = dh * (1 - z) * _act_grad(act, hh)
    da_z = dh * (h_prev - hh) * _act_grad(ract, z)
    drh = da_h @ U[:, 2 * u :].T  # through (r·h)·U_h
    da_r = drh * h_prev * _act_grad(ract, r)
    dxw = xp.concatenate([da_z, da_r, da_h], axis=-1)
    dh_prev = dh * z + drh * r + dxw[:, : 2 * u] @ U[:, : 2 * u].T
    return dxw, dh_prev


# ------------------------------------------------------------------ the ops
class SimpleRNNOp(Function):
    """The SimpleRNN loop. xw: (B, T, u), h0: (B, u), U: (u, u) -> h over time (B, T, u)."""

    @staticmethod
    def forward(ctx: Context, xw: Any, h0: Any, U: Any, mask: Any, *, activation: str) -> Any:
        xp = get_array_module(xw)
        batch, steps, u = xw.shape
        hs = xp.empty((batch, steps + 1, u), dtype=xw.dtype)  # hs[:, t] is h_{t−1}
        hs[:, 0] = h0
        for t in range(steps):
            h = rnn_step(xw[:, t], hs[:, t], U, activation)
            hs[:, t + 1] = _carry(mask, t, h, hs[:, t])
        ctx.save_for_backward(hs, U)
        ctx.activation, ctx.mask = activation, mask
        return hs[:, 1:]

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple:
        hs, U = ctx.saved
        xp = get_array_module(grad)
        batch, steps, u = grad.shape
        dzs = xp.empty_like(grad)
        dh = xp.zeros((batch, u), dtype=grad.dtype)
        for t in reversed(range(steps)):
            dh, dh_carried = _split(ctx.mask, t, dh + grad[:, t])
            dzs[:, t] = rnn_step_back(dh, hs[:, t + 1], ctx.activation)
            dh = dzs[:, t] @ U.T + dh_carried
        dU = _recurrent_weight_grad(hs[:, :-1], dzs) if ctx.needs_input_grad[2] else None
        return dzs, dh, dU, None


class LSTMOp(Function):
    """The LSTM loop. xw: (B, T, 4u), h0, c0: (B, u), U: (u, 4u) -> (B, T, 2u): h_t and c_t
    side by side on the last axis (an op has one output; the wrapper splits them)."""

    @staticmethod
    def forward(
        ctx: Context,
        xw: Any,
        h0: Any,
        c0: Any,
        U: Any,
        mask: Any,
        *,
        activation: str,
        ract: str,
    ) -> Any:
        xp = get_array_module(xw)
        batch, steps, u4 = xw.shape
        u = u4 // 4
        hcs = xp.empty((batch, steps + 1, 2 * u), dtype=xw.dtype)  # [h_{t−1}, c_{t−1}] at t
        hcs[:, 0, :u], hcs[:, 0, u:] = h0, c0
        gates = xp.empty((batch, steps, 5 * u), dtype=xw.dtype)  # i, f, g, o, tanh(c)
        for t in range(steps):
            h, c, saved = lstm_step(xw[:, t], hcs[:, t, :u], hcs[:, t, u:], U, activation, ract)
            hcs[:, t + 1] = _carry(mask, t, xp.concatenate([h, c], axis=-1), hcs[:, t])
            gates[:, t] = xp.concatenate(saved, axis=-1)
        ctx.save_for_backward(hcs, gates, U)
        ctx.activation, ctx.ract, ctx.mask = activation, ract, mask
        return hcs[:, 1:]

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple:
        hcs, gates, U = ctx.saved
        xp = get_array_module(grad)
        batch, steps, u2 = grad.shape
        u = u2 // 2
        dzs = xp.empty((batch, steps, 4 * u), dtype=grad.dtype)
        dh = xp.zeros((batch, u), dtype=grad.dtype)
        dc = xp.zeros((batch, u), dtype=grad.dtype)
        for t in reversed(range(steps)):
            saved = tuple(gates[:, t, k * u : (k + 1) * u] for k in range(5))
            dh, dh_carried = _split(ctx.mask, t, dh + grad[:, t, :u])
            dc, dc_carried = _split(ctx.mask, t, dc + grad[:, t, u:])
            dzs[:, t], dc = lstm_step_back(dh, dc, hcs[:, t, u:], saved, ctx.activation, ctx.ract)
            dh = dzs[:, t] @ U.T + dh_carried
            dc = dc + dc_carried
        dU = _recurrent_weight_grad(hcs[:, :-1, :u], dzs) if ctx.needs_input_grad[3] else None
        return dzs, dh, dc, dU, None


class GRUOp(Function):
    """The GRU loop (reset_after=True). xw: (B, T, 3u), h0: (B, u), U: (u, 3u), rb: (3u,)
    the recurrent bias -> h over time (B, T, u)."""

    @staticmethod
    def forward(
        ctx: Context,
        xw: Any,
        h0: Any,
        U: Any,
        rb: Any,
        mask: Any,
        *,
        activation: str,
        ract: str,
    ) -> Any:
        rb = get_array_module(xw).zeros(xw.shape[-1], dtype=xw.dtype) if rb is None else rb
        return _gru_loop(ctx, xw, h0, U, activation, ract, mask, gru_step, rb)  # h·U_h + rb_h

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple:
        hs, gates, U = ctx.saved
        xp = get_array_module(grad)
        batch, steps, u = grad.shape
        dxws = xp.empty((batch, steps, 3 * u), dtype=grad.dtype)
        dhus = xp.empty((batch, steps, 3 * u), dtype=grad.dtype)
        dh = xp.zeros((batch, u), dtype=grad.dtype)
        for t in reversed(range(steps)):
            saved = tuple(gates[:, t, k * u : (k + 1) * u] for k in range(4))
            dh, dh_carried = _split(ctx.mask, t, dh + grad[:, t])
            dxws[:, t], dhus[:, t], direct = gru_step_back(
                dh, hs[:, t], saved, ctx.activation, ctx.ract
            )
            dh = direct + dhus[:, t] @ U.T + dh_carried
        dU = _recurrent_weight_grad(hs[:, :-1], dhus) if ctx.needs_input_grad[2] else None
        drb = dhus.sum(axis=(0, 1)) if ctx.needs_input_grad[3] else None
        return dxws, dh, dU, drb, None


class GRUResetBeforeOp(Function):
    """The GRU loop with reset_after=False. xw: (B, T, 3u) = x·W + b, h0: (B, u), U: (u, 3u)
    -> h over time (B, T, u)."""

    @staticmethod
    def forward(
        ctx: Context, xw: Any, h0: Any, U: Any, mask: Any, *, activation: str, ract: str
    ) -> Any:
        return _gru_loop(ctx, xw, h0, U, activation, ract, mask, gru_step_reset_before)  # r·h

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple:
        hs, gates, U = ctx.saved
        xp = get_array_module(grad)
        batch, steps, u = grad.shape
        dxws = xp.empty((batch, steps, 3 * u), dtype=grad.dtype)
        dh = xp.zeros((batch, u), dtype=grad.dtype)
        for t in reversed(range(steps)):
            saved = tuple(gates[:, t, k * u : (k + 1) * u] for k in range(4))
            dh, dh_carried = _split(ctx.mask, t, dh + grad[:, t])
            dxws[:, t], dh = gru_step_reset_before_back(
                dh, hs[:, t], saved, U, ctx.activation, ctx.ract
            )
            dh = dh + dh_carried
        dU = None
        if ctx.needs_input_grad[2]:  # z, r columns see h_{t−1}; the candidate's sees r·h_{t−1}
            dU = xp.concatenate(
                [
                    _recurrent_weight_grad(hs[:, :-1], dxws[..., : 2 * u]),
                    _recurrent_weight_grad(gates[..., 3 * u :], dxws[..., 2 * u :]),
                ],
                axis=-1,
            )
        return dxws, dh, dU, None


def _gru_loop(
    ctx: Context,
    xw: Any,
    h0: Any,
    U: Any,
    activation: str,
    ract: str,
    mask: Any,
    step: Any,
    *bias: Any,
) -> Any:
    """The forward loop of both GRU variants: ``step`` gives h_t and four arrays (z, r, hh and
    what dU needs), kept side by side per step for the backward."""
    xp = get_array_module(xw)
    batch, steps, u3 = xw.shape
    u = u3 // 3
    hs = xp.empty((batch, steps + 1, u), dtype=xw.dtype)
    hs[:, 0] = h0
    gates = xp.empty((batch, steps, 4 * u), dtype=xw.dtype)
    for t in range(steps):
        h, saved = step(xw[:, t], hs[:, t], U, *bias, activation, ract)
        hs[:, t + 1] = _carry(mask, t, h, hs[:, t])
        gates[:, t] = xp.concatenate(saved, axis=-1)
    ctx.save_for_backward(hs, gates, U)
    ctx.activation, ctx.ract, ctx.mask = activation, ract, mask
    return hs[:, 1:]


# ------------------------------------------------------------------ padding masks
# A padding mask (B, T), True at real steps, makes a masked step keep the state it was given
# (Keras's RNN with a mask): state_t = m·step(state_{t−1}) + (1 − m)·state_{t−1}. Its gradient
# splits the same way: the step sees m·dstate, and (1 − m)·dstate passes straight back.
def _carry(mask: Any, t: int, new: Any, old: Any) -> Any:
    if mask is None:
        return new
    return get_array_module(new).where(mask[:, t, None], new, old)


def _split(mask: Any, t: int, grad: Any) -> tuple[Any, Any]:
    """(the gradient the step at t sees, the part that skips it)."""
    if mask is None:
        return grad, 0
    m = mask[:, t, None]
    return grad * m, grad * ~m


def _recurrent_weight_grad(h_prev: Any, dz: Any) -> Any:
    """dU = Σ_t h_{t−1}ᵀ·dz_t, all steps in one GEMM: (B·T, u)ᵀ · (B·T, k·u)."""
    return h_prev.reshape(-1, h_prev.shape[-1]).T @ dz.reshape(-1, dz.shape[-1])


# ------------------------------------------------------------------ functional wrappers
def _check(
    name: str,
    x: Tensor,
    kernel: Tensor,
    recurrent_kernel: Tensor,
    gates: int,
    states: list[Any],
    acts: dict[str, str],
) -> int:
    if x.ndim != 3:
        raise ValueError(
            f"{name}: expected a 3-D input (batch, time, features), received shape "
            f"{tuple(x.shape)}. Add the missing axes (a time axis: x[:, None])."
        )
    u = recurrent_kernel.shape[0] if recurrent_kernel.ndim == 2 else -1
    if kernel.ndim != 2 or kernel.shape[0] != x.shape[-1] or kernel.shape[1] != gates * u:
        raise ValueError(
            f"{name}: kernel {tuple(kernel.shape)} and recurrent_kernel "
            f"{tuple(recurrent_kernel.shape)} do not fit input {tuple(x.shape)}. Expected "
            f"kernel ({x.shape[-1]}, {gates}·units) and recurrent_kernel (units, {gates}·units)."
        )
    if recurrent_kernel.shape != (u, gates * u):
        raise ValueError(
            f"{name}: recurrent_kernel must be (units, {gates}·units). Received "
            f"{tuple(recurrent_kernel.shape)}."
        )
    for state in states:
        if state is not None and tuple(state.shape) != (x.shape[0], u):
            raise ValueError(
                f"{name}: an initial state must have shape (batch, units) = "
                f"{(x.shape[0], u)}. Received {tuple(state.shape)}."
            )
    for arg, value in acts.items():
        if value not in RECURRENT_ACTIVATIONS:
            raise ValueError(
                f"{name}: '{arg}' must be one of {', '.join(RECURRENT_ACTIVATIONS)} (the fused "
                f"loop knows their derivatives). Received: {arg}={value!r}"
            )
    return u


def _mask(name: str, mask: Any, x: Tensor) -> Tensor | None:
    """The padding mask as a bool Tensor (B, T), or None (every step is real). It is an input
    of the op, not an attribute, so that a replayed step (``models.replay``) takes each
    batch's own mask (made by ``token_mask`` from its ids)."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        mask = Tensor(get_array_module(x.data).asarray(mask))
    if tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(
            f"{name}: mask must have shape (batch, time) = {tuple(x.shape[:2])}, True at the "
            f"real steps. Received shape {tuple(mask.shape)}."
        )
    return mask if mask.dtype == bool else mask.astype(bool)


def _zeros_or(state: Any, x: Tensor, u: int) -> Any:
    if state is not None:
        return state
    return get_array_module(x.data).zeros((x.shape[0], u), dtype=x.dtype)


def simple_rnn(
    x: Tensor,
    kernel: Tensor,
    recurrent_kernel: Tensor,
    bias: Tensor | None = None,
    h0: Tensor | None = None,
    activation: str = "tanh",
    mask: Any = None,
) -> Tensor:
    """A fully connected recurrent layer over a sequence: h_t = act(x_t·W + b + h_{t−1}·U).

    ``mask`` (B, T), True at real steps: a masked step (padding) keeps the previous state,
    as Keras's recurrent layers do with ``Embedding(mask_zero=True)``; None: every step counts.

    Shape: x (B, T, in), kernel (in, u), recurrent_kernel (u, u), bias (u,), h0 (B, u) or
    None (zeros) -> every step's state (B, T, u); the last step is the final state.
    """
    u = _check("simple_rnn", x, kernel, recurrent_kernel, 1, [h0], {"activation": activation})
    xw = linear(x, kernel, bias)  # every step's input projection in one GEMM
    return SimpleRNNOp.apply(
        xw,
        _zeros_or(h0, x, u),
        recurrent_kernel,
        _mask("simple_rnn", mask, x),
        activation=activation,
    )


def lstm(
    x: Tensor,
    kernel: Tensor,
    recurrent_kernel: Tensor,
    bias: Tensor | None = None,
    h0: Tensor | None = None,
    c0: Tensor | None = None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    mask: Any = None,
) -> tuple[Tensor, Tensor]:
    """Long short-term memory over a sequence (gates i, f, c, o as Keras; see ``lstm_step``).
    ``mask`` (B, T), True at real steps: a masked step keeps the previous h and c.

    Shape: x (B, T, in), kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u,), h0, c0 (B, u)
    or None (zeros) -> (h over time (B, T, u), c over time (B, T, u)).
    """
    acts = {"activation": activation, "recurrent_activation": recurrent_activation}
    u = _check("lstm", x, kernel, recurrent_kernel, 4, [h0, c0], acts)
    xw = linear(x, kernel, bias)
    hc = LSTMOp.apply(
        xw,
        _zeros_or(h0, x, u),
        _zeros_or(c0, x, u),
        recurrent_kernel,
        _mask("lstm", mask, x),
        activation=activation,
        ract=recurrent_activation,
    )
    return getitem(hc, (Ellipsis, slice(None, u))), getitem(hc, (Ellipsis, slice(u, None)))


def gru(
    x: Tensor,
    kernel: Tensor,
    recurrent_kernel: Tensor,
    bias: Tensor | None = None,
    h0: Tensor | None = None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    reset_after: bool = True,
    mask: Any = None,
) -> Tensor:
    """Gated recurrent unit over a sequence: reset_after=True (see ``gru_step``), or False,
    Keras 2's variant (see ``gru_step_reset_before``). ``mask`` (B, T), True at real steps:
    a masked step keeps the previous state.

    Shape: x (B, T, in), kernel (in, 3u), recurrent_kernel (u, 3u), bias (2, 3u) (Keras's
    layout: row 0 the input bias, row 1 the recurrent bias; (3u,) with reset_after=False) or
    None, h0 (B, u) or None -> every step's state (B, T, u).
    """
    acts = {"activation": activation, "recurrent_activation": recurrent_activation}
    u = _check("gru", x, kernel, recurrent_kernel, 3, [h0], acts)
    mask = _mask("gru", mask, x)
    if not reset_after:
        if bias is not None and tuple(bias.shape) != (3 * u,):
            raise ValueError(
                f"gru: with reset_after=False, bias must have shape ({3 * u},). Received "
                f"{tuple(bias.shape)}."
            )
        return GRUResetBeforeOp.apply(
            linear(x, kernel, bias),
            _zeros_or(h0, x, u),
            recurrent_kernel,
            mask,
            activation=activation,
            ract=recurrent_activation,
        )
    if bias is not None and tuple(bias.shape) != (2, 3 * u):
        raise ValueError(f"gru: bias must have shape (2, {3 * u}). Received {tuple(bias.shape)}.")
    input_bias = None if bias is None else getitem(bias, 0)
    recurrent_bias = None if bias is None else getitem(bias, 1)
    xw = linear(x, kernel, input_bias)
    return GRUOp.apply(
        xw,
        _zeros_or(h0, x, u),
        recurrent_kernel,
        recurrent_bias,
        mask,
        activation=activation,
        ract=recurrent_activation,
    )
