"""``run_layer_test``: the checks every layer must pass (after Keras's ``testing.run_layer_test``).

One call builds a layer from its arguments, runs it, and checks: lazy build, output shape
against ``compute_output_shape`` (also with an unknown batch), float32 output, the number of
weights and parameters, ``get_config``/``from_config`` (through JSON) and ``serialize``/
``deserialize`` giving an identical output after ``set_weights``, ``state_dict`` keys, and a
backward pass that gives every input and trainable weight a gradient of its own shape.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from glassnet import Tensor, layers
from glassnet.layers import Layer


def run_layer_test(
    layer_cls: type[Layer],
    init_kwargs: dict[str, Any] | None = None,
    input_shape: tuple[int, ...] | list[tuple[int, ...]] = (2, 3),
    input_data: Any = None,
    expected_output_shape: tuple[int, ...] | None = None,
    expected_num_weights: int = 0,
    expected_num_trainable_weights: int | None = None,
    expected_num_params: int | None = None,
    training: bool = False,
    deterministic: bool = True,
    seed: int = 0,
) -> Layer:
    """Run the standard checks on ``layer_cls(**init_kwargs)``; returns the built layer.

    ``input_shape`` may be a list of shapes for multi-input layers (``Add``). Set
    ``deterministic=False`` for layers whose training output is random (``Dropout``).
    """
    init_kwargs = init_kwargs or {}
    rng = np.random.default_rng(seed)
    multi = isinstance(input_shape, list)
    shapes = input_shape if multi else [input_shape]
    if input_data is None:
        arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    else:
        arrays = list(input_data) if multi else [input_data]
    inputs = arrays if multi else arrays[0]

    layer = layer_cls(**init_kwargs)
    assert not layer.built and layer.weights == [], "weights must not exist before build"

    out = layer(inputs, training=training)
    assert isinstance(out, Tensor)
    assert out.dtype == np.float32, f"output dtype {out.dtype}"
    assert layer.built

    # Shapes: compute_output_shape agrees with the real output, with a known and an unknown batch.
    in_shapes = [tuple(a.shape) for a in arrays]
    arg = in_shapes if multi else in_shapes[0]
    assert tuple(layer.compute_output_shape(arg)) == out.shape
    unknown_batch = [(None, *s[1:]) for s in in_shapes]
    assert tuple(layer.compute_output_shape(unknown_batch if multi else unknown_batch[0])) == (
        None,
        *out.shape[1:],
    )
    assert layer.input_shape == (unknown_batch if multi else unknown_batch[0])
    if expected_output_shape is not None:
        assert out.shape == tuple(expected_output_shape)

    # Weights and parameters.
    assert len(layer.weights) == expected_num_weights
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights
    assert len(layer.trainable_weights) + len(layer.non_trainable_weights) == len(layer.weights)
    if expected_num_params is not None:
        assert layer.count_params() == expected_num_params
    assert all(w.dtype == np.float32 for w in layer.weights)
    state = layer.state_dict()
    assert len(state) == expected_num_weights
    assert all(isinstance(v, np.ndarray) for v in state.values())

    # Config round trips (through JSON: tuples come back as lists) rebuild an identical layer.
    config = layer.get_config()
    assert config["name"] == layer.name and config["trainable"] is True
    text = json.dumps(config)
    clone = layer_cls.from_config(json.loads(text))
    assert type(clone) is layer_cls and not clone.built
    assert json.dumps(clone.get_config()) == text
    payload = json.loads(json.dumps(layers.serialize(layer)))
    assert payload["class_name"] == layer_cls.__name__
    clone2 = layers.deserialize(payload)
    assert type(clone2) is layer_cls and json.dumps(clone2.get_config()) == text
    if deterministic:
        for other in (clone, clone2):
            other(inputs, training=training)
            other.set_weights(layer.get_weights())
            again = other(inputs, training=training)
            np.testing.assert_allclose(again.numpy(), out.numpy(), rtol=1e-6, atol=1e-6)

    # Backward: every input and trainable weight gets a gradient of its own shape and dtype.
    leaves = [Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    layer.zero_grad()
    y = layer(leaves if multi else leaves[0], training=training)
    projection = rng.standard_normal(y.shape).astype(np.float32)
    (y * projection).sum().backward()
    for leaf in leaves:
        assert leaf.grad is not None and leaf.grad.shape == leaf.shape
        assert leaf.grad.dtype == np.float32
    for w in layer.trainable_weights:
        assert w.grad is not None and w.grad.shape == w.shape and w.grad.dtype == np.float32
    for w in layer.non_trainable_weights:
        assert w.grad is None
    layer.zero_grad()
    assert all(w.grad is None for w in layer.weights)

    assert type(layer).__name__ in repr(layer)
    return layer
