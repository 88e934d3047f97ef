"""Sequential and subclassed models: building, shape errors before data, state, modes."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


def small_cnn(classes: int = 3) -> gn.Sequential:
    return gn.Sequential(
        [
            L.Input((8, 8, 1)),
            L.Conv2D(4, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(classes, activation="softmax"),
        ]
    )


def test_input_first_builds_every_layer_without_data():
    model = small_cnn()
    assert model.built and all(layer.built for layer in model.layers)
    assert model.compute_output_shape((None, 8, 8, 1)) == (None, 3)
    assert model.count_params() == (3 * 3 * 1 + 1) * 4 + (4 * 4 * 4 + 1) * 3
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
    ]


def test_shape_error_surfaces_at_add_naming_the_layer():
    model = gn.Sequential([L.Input((4, 4, 3)), L.Conv2D(8, 3)])
    with pytest.raises(ValueError, match=r"layer 1 \(Conv2D 'too_big'\) cannot take input shape"):
        model.add(L.Conv2D(8, 5, name="too_big"))  # 2×2 left after the first conv
    assert len(model.layers) == 1  # the bad layer was not kept
    with pytest.raises(ValueError, match=r"layer 0 \(Conv2D 'c'\) cannot take input shape"):
        gn.Sequential([L.Conv2D(3, 3, name="c"), L.Flatten()]).build((None, 10))
    with pytest.raises(ValueError, match=r"expects input shape \(None, 28, 28, 1\)"):
        gn.Sequential([L.Input((28, 28, 1)), L.Flatten(), L.Dense(3)]).build((None, 28, 28, 2))


def test_lazy_model_builds_on_first_call():
    model = gn.Sequential([L.Dense(5, activation="relu"), L.Dense(2)])
    assert not model.built
    out = model(np.zeros((3, 7), np.float32))
    assert out.shape == (3, 2) and model.built
    assert model.state_dict()["dense.kernel"].shape == (7, 5)


def test_state_dict_keys_depend_only_on_the_architecture():
    """Two copies of one architecture share keys, whatever their session-wide layer names."""
    a = gn.Sequential([L.Input((3,)), L.Dense(4), L.Dense(2, name="head")])
    b = gn.Sequential([L.Input((3,)), L.Dense(4), L.Dense(2)])
    keys = ["dense.kernel", "dense.bias", "dense_1.kernel", "dense_1.bias"]
    assert list(a.state_dict()) == keys and list(b.state_dict()) == keys
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b.layers[1].kernel.numpy(), a.layers[1].kernel.numpy())


def test_duplicate_names_and_bad_layers_are_refused():
    with pytest.raises(ValueError, match="'x' is already used in this model"):
        gn.Sequential([L.Dense(2, name="x"), L.Dense(2, name="x")])
    with pytest.raises(TypeError, match="expected a layer such as Dense"):
        gn.Sequential([np.zeros(3)])
    with pytest.raises(ValueError, match="an Input can only come first"):
        gn.Sequential([L.Dense(2), L.Input((3,))])


def test_pop_and_add_a_new_head():
    model = small_cnn()
    model.pop()
    model.add(L.Dense(5, activation="softmax", name="new_head"))
    assert model.compute_output_shape((None, 8, 8, 1)) == (None, 5)
    assert model.predict(np.zeros((2, 8, 8, 1))).shape == (2, 5)


def test_load_state_dict_reports_every_problem_at_once():
    model = small_cnn()
    conv, dense = "conv2d", "dense"
    state = model.state_dict()
    state.pop(f"{dense}.bias")
    state[f"{conv}.kernel"] = np.zeros((5, 5, 1, 4), np.float32)
    state["extra.weight"] = np.zeros(1, np.float32)
    with pytest.raises(ValueError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "Missing key(s)" in message and f'"{dense}.bias"' in message
    assert "Unexpected key(s)" in message and '"extra.weight"' in message
    assert f"size mismatch for {conv}.kernel" in message


class Residual(gn.Model):
    """y = x + conv(x): a branch joined back by Add (a ResNet block in miniature)."""

    def __init__(self, channels: int = 2, name: str | None = None):
        super().__init__(name=name)
        self.conv = L.Conv2D(channels, 3, padding="same", activation="relu")
        self.add = L.Add()

    def call(self, x, training=False):
        return self.add([x, self.conv(x)])


class Net(gn.Model):
    def __init__(self):
        super().__init__()
        self.block = Residual()
        self.pool = L.GlobalAveragePooling2D()
        self.head = L.Dense(3, activation="softmax")

    def call(self, x, training=False):
        return self.head(self.pool(self.block(x, training=training)))


def test_subclassed_model_with_a_branch_trains():
    gn.set_seed(0)
    model = Net()
    model.build((None, 6, 6, 2))
    assert set(model.state_dict()) == {
        "block.conv.kernel",
        "block.conv.bias",
        "head.kernel",
        "head.bias",
    }
    x = np.random.default_rng(0).standard_normal((32, 6, 6, 2)).astype(np.float32)
    x[:, :, :, 0] += np.where(np.arange(32) % 2 == 0, 1.0, -1.0)[:, None, None]
    y = np.arange(32) % 2  # the class shows in channel 0's mean: learnable through the block
    model.compile(gn.optimizers.Adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
    first, _ = model.evaluate(x, y)
    model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    loss, accuracy = model.evaluate(x, y)
    assert loss < first * 0.5 and accuracy == 1.0
    assert model.compute_output_shape((None, 6, 6, 2)) == (None, 3)


def test_model_without_call_says_what_to_do():
    class Empty(gn.Model):
        pass

    with pytest.raises(NotImplementedError, match="must define call"):
        Empty()(np.zeros((1, 2)))


def test_train_and_eval_modes_switch_dropout():
    model = gn.Sequential([L.Input((100,)), L.Dropout(0.5)])
    x = np.ones((1, 100), np.float32)
    np.testing.assert_array_equal(model(x).numpy(), x)  # eval by default
    assert model.train() is model and model.layers[0].training
    dropped = model(x).numpy()
    assert (dropped == 0).any() and model.eval() is model
    np.testing.assert_array_equal(model(x).numpy(), x)


def test_nested_sequential():
    inner = gn.Sequential([L.Dense(4, activation="relu"), L.Dense(4)], name="inner")
    outer = gn.Sequential([L.Input((3,)), inner, L.Dense(1)])
    assert outer.compute_output_shape((None, 3)) == (None, 1)
    assert list(outer.state_dict()) == [
        "sequential.dense.kernel",
        "sequential.dense.bias",
        "sequential.dense_1.kernel",
        "sequential.dense_1.bias",
        "dense.kernel",
        "dense.bias",
    ]
