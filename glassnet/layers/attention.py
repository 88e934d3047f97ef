"""Attention layers: ``MultiHeadAttention`` (the transformer's), ``Attention`` (Luong's dot
product) and ``AdditiveAttention`` (Bahdanau's), with Keras 3's arguments, weights and masks.

Each query position takes a weighted average of the values; the weights, one softmax per
query, say how well that query matches each key (``glassnet/ops/attention.py``). Masks say
which keys may be looked at: padding (from ``Embedding(mask_zero=True)``, carried on the
tensor as ``_keras_mask``), a causal mask (no looking ahead) or an explicit
``attention_mask``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from glassnet import constraints, initializers, ops, regularizers
from glassnet.checks import check_bool, check_positive_int, check_range, check_seed
from glassnet.layers.layer import Layer
from glassnet.layers.node import call_symbolic, is_symbolic
from glassnet.tensor import Tensor

__all__ = ["AdditiveAttention", "Attention", "MultiHeadAttention"]


def _mask_tensor(mask: Any) -> Tensor | None:
    """A mask given as an array or list becomes a bool Tensor; Tensors pass through."""
    if mask is None or isinstance(mask, Tensor):
        return mask
    return Tensor(np.asarray(mask).astype(bool))


def _seeded(where: str, seed: Any) -> tuple[int | None, np.random.Generator | None]:
    """The seed, and the layer's own generator for its dropout when seeded (else the
    engine's is used)."""
    seed = check_seed(where, seed)
    return seed, None if seed is None else np.random.default_rng(seed)


def _check_rate(where: str, rate: Any) -> float:
    return float(check_range(where, "dropout", rate, ("in [0, 1)", lambda r: 0 <= r < 1)))


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al., 2017), Keras 3's layer with its weight layout.

    Each of ``num_heads`` heads projects the query, key and value sequences to ``key_dim``
    (values: ``value_dim``) numbers per step, lets every query step take the softmax-weighted
    average of the value steps, weighted by (q·k)/√key_dim, and the heads' results are
    projected back to the query's width (or ``output_shape``). Called as
    ``mha(query, value, key=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)``; ``key`` defaults to ``value``, so
    ``mha(x, x)`` is self-attention.

    Masks: ``attention_mask`` (batch, queries, keys), True (or 1) where a query may attend to
    a key; the ``_keras_mask`` of ``query`` and ``value`` (from ``Embedding(mask_zero=True)``,
    or ``query_mask=``/``value_mask=``/``key_mask=``) hide padded steps; ``use_causal_mask``
    hides the keys after each query. As in Keras, a query step with no key left (a padded
    one) gets the softmax of logits all lowered alike; the output carries the query's mask
    on, so the layers after it leave those steps out.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head's query and key projections.
        value_dim: size of each head's value projection (default ``key_dim``).
        dropout: fraction of the attention weights dropped in training.
        use_bias: whether the four projections have biases.
        output_shape: the output's last axis (default the query's).
        attention_axes: only None (attention over the sequence axis) is supported.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
        kernel_constraint, bias_constraint: for all four projections, as in ``Dense``.
        seed: an int for the dropout's own generator, or None for the engine's.

    Shape:
        query ``(batch, queries, query_dim)``, value ``(batch, keys, value_dim_in)``, key
        ``(batch, keys, key_dim_in)``. Output ``(batch, queries, output_shape or query_dim)``;
        attention scores ``(batch, num_heads, queries, keys)``. Weights ``query_kernel
        (query_dim, heads, key_dim)``, ``query_bias (heads, key_dim)``, likewise ``key_*`` and
        ``value_*`` (value_dim), ``output_kernel (heads, value_dim, out)``, ``output_bias
        (out,)``.
    """

    _multi_input = True
    supports_masking = True
    trains_in_shares = True  # see Layer.trains_in_shares: per sample, dropout takes the share
    #: One call's keyword arguments (masks, flags) are that call's input, not configuration.
    run_state = Layer.run_state | {"_call_args"}

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape: int | None = None,
        attention_axes: Any = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(name=name, trainable=trainable, activity_regularizer=activity_regularizer)
        where = "MultiHeadAttention"
        self.seed, self._rng = _seeded(where, seed)
        self.num_heads = check_positive_int(where, "num_heads", num_heads)
        self.key_dim = check_positive_int(where, "key_dim", key_dim)
        self.value_dim = (
            self.key_dim if value_dim is None else check_positive_int(where, "value_dim", value_dim)
        )
        self.dropout = _check_rate(where, dropout)
        self.use_bias = check_bool(where, "use_bias", use_bias)
        if isinstance(output_shape, (list, tuple)) and len(output_shape) == 1:
            output_shape = output_shape[0]
        self.output_shape = (
            None
            if output_shape is None
            else check_positive_int(where, "output_shape", output_shape)
        )
        if attention_axes is not None:
            raise ValueError(
                f"{where}: attention_axes={attention_axes!r} is not supported: glassnet attends "
                "over the sequence axis of (batch, steps, features) inputs only (Keras's default, "
                "attention_axes=None). Reshape the input to (batch, steps, features)."
            )
        self.attention_axes = None
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        # Shared by the four projections (Keras hands them to each of its four EinsumDense).
        self._keep_weight_options(
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        self._call_args: dict[str, Any] = {}

    # ---------------------------------------------------------------- weights
    def build(self, input_shape: Any) -> None:
        shapes = self._check_input_shape(input_shape)
        query, value = shapes[0], shapes[1]
        key = shapes[2] if len(shapes) > 2 else value
        out = self.output_shape or query[-1]
        heads, kd, vd = self.num_heads, self.key_dim, self.value_dim
        for part, dim, size in (
            ("query", query[-1], kd),
            ("key", key[-1], kd),
            ("value", value[-1], vd),
        ):
            self._projection(part, (dim, heads, size), (heads, size))
        self._projection("output", (heads, vd, out), (out,))

    def _set_weight_option(self, key: str, value: Any) -> Any:
        """``kernel_regularizer=`` and the like apply to all four projections' weights (and,
        set after build, from the next step on, as for any layer)."""
        kind = "regularizer" if key.endswith("_regularizer") else "constraint"
        module = regularizers if kind == "regularizer" else constraints
        value = self._option(key, module, value)
        which = key.removesuffix(f"_{kind}")  # "kernel" or "bias"
        for part in _PARTS:
            name = f"{part}_{which}"
            weight = self.__dict__.get(name)
            if weight is None:
                continue
            if kind == "constraint":
                weight.constraint = value
            elif value is None:
                self._weight_regularizers.pop(name, None)
            else:
                self._weight_regularizers[name] = value
        return value

    def _projection(self, part: str, kernel: tuple[int, ...], bias: tuple[int, ...]) -> None:
        setattr(
            self,
            f"{part}_kernel",
            self.add_weight(
                f"{part}_kernel",
                kernel,
                self.kernel_initializer,
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            ),
        )
        b = None
        if self.use_bias:
            b = self.add_weight(
                f"{part}_bias",
                bias,
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        setattr(self, f"{part}_bias", b)

    def _check_input_shape(self, input_shape: Any) -> Any:
        shapes = super()._check_input_shape(input_shape)
        if len(shapes) not in (2, 3):
            raise ValueError(
                f"{self._where}: expects query and value (and optionally key). Received "
                f"{len(shapes)} inputs."
            )
        names = ("query", "value", "key")
        for label, shape in zip(names, shapes, strict=False):
            if len(shape) != 3 or shape[-1] is None:
                raise ValueError(
                    f"{self._where}: {label} must be 3-D (batch, steps, features) with a known "
                    f"last axis. Received {label} shape {shape}."
                )
        if len(shapes) == 3 and shapes[1][1] is not None and shapes[2][1] is not None:
            if shapes[1][1] != shapes[2][1]:
                raise ValueError(
                    f"{self._where}: key and value must have the same number of steps. Received "
                    f"value {shapes[1]} and key {shapes[2]}."
                )
        if self.built:
            expected = {
                "query": self.query_kernel.shape[0],
                "value": self.value_kernel.shape[0],
                "key": self.key_kernel.shape[0],
            }
            for label, shape in zip(names, shapes, strict=False):
                if shape[-1] != expected[label]:
                    raise ValueError(
                        f"{self._where}: {label} has {shape[-1]} features but the layer was built "
                        f"for {expected[label]}. Received {label} shape {shape}."
                    )
        return shapes

    # ---------------------------------------------------------------- the forward pass
    def __call__(  # type: ignore[override]
        self,
        query: Any,
        value: Any = None,
        key: Any = None,
        query_mask: Any = None,
        value_mask: Any = None,
        key_mask: Any = None,
        attention_mask: Any = None,
        return_attention_scores: bool = False,
        training: bool | None = None,
        use_causal_mask: bool = False,
    ) -> Any:
        """Attend from ``query`` (batch, queries, dim) to ``value`` (batch, keys, dim_v)
        through ``key`` (default ``value``); see the class docstring for the masks. Returns the
        output, or ``(output, scores)`` with ``return_attention_scores``."""
        if isinstance(query, (list, tuple)) and value is None:  # a functional model's call
            query, value, *rest = query
            key = rest[0] if rest else None
        if value is None:
            raise TypeError(
                f"{self._where}: needs a value sequence: call it as mha(query, value), or "
                "mha(x, x) for self-attention."
            )
        inputs = [query, value] if key is None else [query, value, key]
        masks = {
            "query_mask": query_mask,
            "value_mask": value_mask,
            "key_mask": key_mask,
            "attention_mask": attention_mask,
        }
        if is_symbolic([inputs, list(masks.values())]):
            return self._record(inputs, masks, return_attention_scores, use_causal_mask)
        self._call_args = {
            "query_mask": query_mask,
            "value_mask": value_mask,
            "key_mask": key_mask,
            "attention_mask": _mask_tensor(attention_mask),
            "scores": check_bool(self._where, "return_attention_scores", return_attention_scores),
            "causal": check_bool(self._where, "use_causal_mask", use_causal_mask),
        }
        try:
            return super().__call__(inputs, training=training)
        finally:
            self._call_args = {}

    def _record(self, inputs: list[Any], masks: dict[str, Any], scores: bool, causal: bool) -> Any:
        """The call on KerasTensors: a node whose keyword tensors are the masks given and whose
        flags are the switches, with the scores as a second output when asked for."""
        flags = {
            "return_attention_scores": check_bool(self._where, "return_attention_scores", scores),
            "use_causal_mask": check_bool(self._where, "use_causal_mask", causal),
        }
        self._call_args = {"scores": flags["return_attention_scores"]}
        try:
            return call_symbolic(self, inputs, masks, {k: v for k, v in flags.items() if v})
        finally:
            self._call_args = {}

    def call(self, inputs: list[Tensor], training: bool = False) -> Any:
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        args = self._call_args
        query_mask = _given(args.get("query_mask"), query)
        value_mask = _given(args.get("value_mask"), value)
        key_mask = _given(args.get("key_mask"), key if len(inputs) > 2 else None)
        mask = ops.attention_mask(
            query.shape[1],
            value.shape[1],
            attention=args.get("attention_mask"),
            query_mask=query_mask,
            key_mask=value_mask,
            causal=args.get("causal", False),
        )
        if mask is not None and key_mask is not None:
            mask = ops.attention_mask(
                query.shape[1], value.shape[1], attention=mask, key_mask=key_mask
            )
        q = self._project(query, "query")  # (batch, heads, queries, key_dim)
        k = self._project(key, "key")
        v = self._project(value, "value")
        q = q * (1.0 / math.sqrt(self.key_dim))  # Keras scales the query before the product
        logits = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2)))  # (batch, heads, queries, keys)
        heads_mask = None if mask is None else ops.expand_dims(mask, 1)
        scores = ops.masked_softmax(logits, heads_mask)
        weights = ops.dropout(scores, self.dropout, training=training, rng=self._rng)
        context = ops.matmul(weights, v)  # (batch, heads, queries, value_dim)
        context = ops.transpose(context, (0, 2, 1, 3))
        batch, steps = context.shape[0], context.shape[1]
        context = ops.reshape(context, (batch, steps, self.num_heads * self.value_dim))
        out_dim = self.output_kernel.shape[-1]
        kernel = ops.reshape(self.output_kernel, (self.num_heads * self.value_dim, out_dim))
        output = ops.linear(context, kernel, self.output_bias)
        output._keras_mask = query_mask
        return [output, scores] if args.get("scores") else output

    def _project(self, x: Tensor, part: str) -> Tensor:
        """x (batch, steps, dim) through the (dim, heads, size) kernel: (batch, heads, steps,
        size), Keras's einsum "abc,cde->abde" followed by moving the heads forward."""
        kernel = getattr(self, f"{part}_kernel")
        bias = getattr(self, f"{part}_bias")
        dim, heads, size = kernel.shape
        flat_kernel = ops.reshape(kernel, (dim, heads * size))
        flat_bias = None if bias is None else ops.reshape(bias, (heads * size,))
        y = ops.linear(x, flat_kernel, flat_bias)
        y = ops.reshape(y, (x.shape[0], x.shape[1], heads, size))
        return ops.transpose(y, (0, 2, 1, 3))

    def compute_output_shape(self, input_shape: Any) -> Any:
        shapes = self._check_input_shape(input_shape)
        query, value = shapes[0], shapes[1]
        output = (*query[:-1], self.output_shape or query[-1])
        if self._call_args.get("scores"):  # recording a call with return_attention_scores
            return [output, (query[0], self.num_heads, query[1], value[1])]
        return output

    def summary_formula(self) -> str:
        """Keras's count: three input projections (dim·heads·size + heads·size each) and the
        output projection (heads·value_dim·out + out)."""
        bias = self.use_bias
        parts = []
        for part in _PARTS:
            kernel = getattr(self, f"{part}_kernel").shape
            term = "·".join(str(n) for n in kernel)
            if bias:
                b = getattr(self, f"{part}_bias").shape
                term = f"({term} + {'·'.join(str(n) for n in b)})"
            parts.append(term)
        return " + ".join(parts)

    def summary_macs(self, input_shape: Any) -> int:
        """The four projections (each step's dim·heads·size), then per head Tq·Tk·key_dim for
        the scores and Tq·Tk·value_dim for the weighted values."""
        shapes = [tuple(s) for s in input_shape]
        tq, tk = shapes[0][1], shapes[1][1]
        if tq is None or tk is None:
            return 0
        macs = tq * self.query_kernel.size + tk * (self.key_kernel.size + self.value_kernel.size)
        macs += tq * self.output_kernel.size
        macs += self.num_heads * tq * tk * (self.key_dim + self.value_dim)
        return int(macs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "dropout": self.dropout,
                "seed": self.seed,
                "use_bias": self.use_bias,
                "output_shape": self.output_shape,
                "attention_axes": self.attention_axes,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
            }
        )
        return config


_PARTS = ("query", "key", "value", "output")


def _given(mask: Any, x: Any) -> Tensor | None:
    """The mask passed for an input, else the one the input carries (``_keras_mask``)."""
    if mask is not None:
        return _mask_tensor(mask)
    return getattr(x, "_keras_mask", None) if isinstance(x, Tensor) else None


def _mask_pair(where: str, mask: Any) -> list[Any]:
    """``mask=[query_mask, value_mask]`` (either may be None), checked."""
    if not isinstance(mask, (list, tuple)) or len(mask) != 2:
        raise ValueError(
            f"{where}: mask must be a list [query_mask, value_mask] (either may be None). "
            f"Received {type(mask).__name__}."
        )
    return list(mask)


class _BaseDenseAttention(Layer):
    """Shared by ``Attention`` and ``AdditiveAttention``: inputs ``[query, value]`` or
    ``[query, value, key]``, masks ``[query_mask, value_mask]``, Keras 3's semantics."""

    _multi_input = True
    supports_masking = True
    trains_in_shares = True  # see Layer.trains_in_shares: per sample, dropout takes the share
    run_state = Layer.run_state | {"_call_args"}

    def __init__(
        self, dropout: float, seed: int | None, *, name: str | None, trainable: bool
    ) -> None:
        super().__init__(name=name, trainable=trainable)
        self.dropout = _check_rate(type(self).__name__, dropout)
        self.seed, self._rng = _seeded(type(self).__name__, seed)
        self._call_args: dict[str, Any] = {}

    def __call__(  # type: ignore[override]
        self,
        inputs: Any,
        mask: Any = None,
        training: bool | None = None,
        return_attention_scores: bool = False,
        use_causal_mask: bool = False,
    ) -> Any:
        """Attend from ``inputs[0]`` (query) to ``inputs[1]`` (value) through ``inputs[2]``
        (key, default the value); ``mask=[query_mask, value_mask]`` (default: the inputs'
        ``_keras_mask``). Returns the output, or ``(output, scores)``."""
        if is_symbolic([inputs, mask]):
            flags = {
                "return_attention_scores": check_bool(
                    self._where, "return_attention_scores", return_attention_scores
                ),
                "use_causal_mask": check_bool(self._where, "use_causal_mask", use_causal_mask),
            }
            self._call_args = {"scores": flags["return_attention_scores"]}
            try:
                given = {} if mask is None else {"mask": _mask_pair(self._where, mask)}
                return call_symbolic(self, inputs, given, {k: v for k, v in flags.items() if v})
            finally:
                self._call_args = {}
        self._call_args = {
            "mask": mask,
            "scores": check_bool(self._where, "return_attention_scores", return_attention_scores),
            "causal": check_bool(self._where, "use_causal_mask", use_causal_mask),
        }
        try:
            return super().__call__(inputs, training=training)
        finally:
            self._call_args = {}

    def _check_input_shape(self, input_shape: Any) -> Any:
        shapes = super()._check_input_shape(input_shape)
        if len(shapes) not in (2, 3):
            raise ValueError(
                f"{self._where}: expects [query, value] or [query, value, key]. Received "
                f"{len(shapes)} inputs."
            )
        for label, shape in zip(("query", "value", "key"), shapes, strict=False):
            if len(shape) != 3:
                raise ValueError(
                    f"{self._where}: {label} must be 3-D (batch, steps, features). Received "
                    f"{label} shape {shape}."
                )
        query, value = shapes[0], shapes[1]
        key = shapes[2] if len(shapes) > 2 else value
        if query[-1] != key[-1] and None not in (query[-1], key[-1]):
            raise ValueError(
                f"{self._where}: query and key must have the same last axis to be compared. "
                f"Received query {query} and key {key}."
            )
        return shapes

    def call(self, inputs: list[Tensor], training: bool = False) -> Any:
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        args = self._call_args
        given = None if args.get("mask") is None else _mask_pair(self._where, args["mask"])
        query_mask = _given(given[0] if given else None, query)
        value_mask = _given(given[1] if given else None, value)
        scores = self._scores(query, key)  # (batch, queries, keys)
        mask = ops.attention_mask(
            query.shape[1], key.shape[1], key_mask=value_mask, causal=args.get("causal", False)
        )
        weights = ops.masked_softmax(scores, mask)
        dropped = ops.dropout(weights, self.dropout, training=training, rng=self._rng)
        result = ops.matmul(dropped, value)
        if query_mask is not None:
            rows = ops.attention_mask(query.shape[1], 1, query_mask=query_mask)  # (b, q, 1)
            result = ops.mul(result, rows)
        result._keras_mask = query_mask
        return [result, weights] if args.get("scores") else result

    def _scores(self, query: Tensor, key: Tensor) -> Tensor:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Any) -> Any:
        shapes = self._check_input_shape(input_shape)
        output = (*shapes[0][:-1], shapes[1][-1])
        if self._call_args.get("scores"):  # recording a call with return_attention_scores
            return [output, (shapes[0][0], shapes[0][1], shapes[1][1])]
        return output


class Attention(_BaseDenseAttention):
    """Dot-product (Luong-style) attention, Keras 3's ``Attention``.

    scores = query·keyᵀ (times a learnt ``scale`` with ``use_scale``), or with
    ``score_mode="concat"`` scores_ij = c · Σ tanh(scale·(q_i + k_j)), c a learnt scalar; the
    value-masked keys (and with ``use_causal_mask`` the later ones) are left out of the softmax,
    the weights average the values, and padded query steps give zeros.

    Args:
        use_scale: learn a scalar ``scale`` (initialised to 1) multiplying the scores.
        score_mode: "dot" or "concat".
        dropout: fraction of the attention weights dropped in training.
        seed: an int for the dropout's own generator, or None for the engine's.

    Shape:
        query ``(batch, Tq, dim)``, value ``(batch, Tv, dim_v)``, key ``(batch, Tv, dim)``.
        Output ``(batch, Tq, dim_v)``; scores ``(batch, Tq, Tv)``.
    """

    _config_keys = ("use_scale", "score_mode", "dropout", "seed")

    def __init__(
        self,
        use_scale: bool = False,
        score_mode: str = "dot",
        dropout: float = 0.0,
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(dropout, seed, name=name, trainable=trainable)
        self.use_scale = check_bool("Attention", "use_scale", use_scale)
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                f"Attention: score_mode must be 'dot' or 'concat'. Received "
                f"score_mode={score_mode!r}."
            )
        self.score_mode = score_mode

    def build(self, input_shape: Any) -> None:
        self._check_input_shape(input_shape)
        self.scale = self.add_weight("scale", (), "ones") if self.use_scale else None
        self.concat_score_weight = None
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight("concat_score_weight", (), "ones")

    def _scores(self, query: Tensor, key: Tensor) -> Tensor:
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.transpose(key, (0, 2, 1)))
            return scores * self.scale if self.scale is not None else scores
        pairs = ops.expand_dims(query, 2) + ops.expand_dims(key, 1)  # (b, q, k, dim)
        if self.scale is not None:
            pairs = pairs * self.scale
        return ops.sum(ops.tanh(pairs), axis=-1) * self.concat_score_weight


class AdditiveAttention(_BaseDenseAttention):
    """Additive (Bahdanau-style) attention, Keras 3's ``AdditiveAttention``.

    scores_ij = Σ_d scale_d · tanh(q_id + k_jd), ``scale`` a learnt vector of the query's width
    (initialised Glorot-uniform) with ``use_scale``, else 1; then as ``Attention``.

    Args:
        use_scale: learn the ``scale`` vector.
        dropout: fraction of the attention weights dropped in training.
        seed: an int for the dropout's own generator, or None for the engine's.

    Shape:
        query ``(batch, Tq, dim)``, value ``(batch, Tv, dim_v)``, key ``(batch, Tv, dim)``.
        Output ``(batch, Tq, dim_v)``; scores ``(batch, Tq, Tv)``. Weight ``scale (dim,)``.
    """

    _config_keys = ("use_scale", "dropout", "seed")

    def __init__(
        self,
        use_scale: bool = True,
        dropout: float = 0.0,
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__(dropout, seed, name=name, trainable=trainable)
        self.use_scale = check_bool("AdditiveAttention", "use_scale", use_scale)

    def build(self, input_shape: Any) -> None:
        shapes = self._check_input_shape(input_shape)
        dim = shapes[0][-1]
        self.scale = self.add_weight("scale", (dim,), "glorot_uniform") if self.use_scale else None

    def _scores(self, query: Tensor, key: Tensor) -> Tensor:
        pairs = ops.tanh(ops.expand_dims(query, 2) + ops.expand_dims(key, 1))  # (b, q, k, dim)
        if self.scale is not None:
            pairs = pairs * self.scale
        return ops.sum(pairs, axis=-1)
