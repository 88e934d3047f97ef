"""The Layer base class (glassnet/layers/layer.py): naming, lazy build, sub-layer tracking,
weights, freezing, state dicts, modes, configs and the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from glassnet import Tensor, layers, ops
from glassnet.layers import Layer


class Block(Layer):
    """A user layer holding sub-layers as attributes, in a list and in a dict."""

    def __init__(self, filters=4, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self.conv = layers.Conv2D(filters, 3, padding="same")
        self.bn = layers.BatchNormalization()
        self.drop = layers.Dropout(0.5, seed=0)
        self.heads = [layers.Dense(2), layers.Dense(3)]
        self.extra = {"proj": layers.Dense(1)}

    def call(self, x, training=False):
        x = self.drop(self.bn(self.conv(x)))
        return self.heads[0](ops.global_avg_pool2d(x))


class Scale(Layer):
    """The smallest possible user layer: one weight, no training argument in call."""

    def build(self, input_shape):
        self.factor = self.add_weight("factor", (input_shape[-1],), "ones")

    def call(self, x):
        return x * self.factor


@pytest.fixture
def block():
    model = Block(name="block")
    model(np.zeros((2, 5, 5, 3), np.float32))
    model.heads[1].build((None, 4))
    model.extra["proj"].build((None, 4))
    return model


# ------------------------------------------------------------------ names
def test_automatic_names_are_keras_snake_case_and_unique():
    layers.clear_session()
    assert layers.Dense(1).name == "dense"
    assert layers.Dense(1).name == "dense_1"
    assert layers.Dense(1, name="head").name == "head"
    assert layers.Dense(1).name == "dense_2"
    expected = {
        layers.Conv2D(1, 1): "conv2d",
        layers.BatchNormalization(): "batch_normalization",
        layers.MaxPool2D(): "max_pooling2d",
        layers.GlobalAveragePooling2D(): "global_average_pooling2d",
        layers.ReLU(): "re_lu",
        layers.LeakyReLU(): "leaky_re_lu",
        layers.Input((3,)): "input_layer",
        Scale(): "scale",
    }
    for layer, name in expected.items():
        assert layer.name == name
    assert layers.BatchNormalization().name == "batch_normalization_1"
    layers.clear_session()
    assert layers.Dense(1).name == "dense"


@pytest.mark.parametrize("name", ["", "a.b", "a/b", 3])
def test_bad_names(name):
    with pytest.raises(ValueError, match="'name' must be a non-empty string without"):
        layers.Dense(1, name=name)


# ------------------------------------------------------------------ build
def test_lazy_build():
    dense = layers.Dense(3)
    assert not dense.built and dense.weights == [] and dense.input_shape is None
    assert not hasattr(dense, "kernel")
    with pytest.raises(ValueError, match=r"Dense '\w+': count_params\(\) needs the weights"):
        dense.count_params()
    dense(np.zeros((5, 4)))
    assert dense.built and dense.input_shape == (None, 4) and dense.count_params() == 15
    kernel = dense.kernel
    dense(np.zeros((2, 4)))
    assert dense.kernel is kernel  # built once


def test_manual_build_records_shape_and_checks_it():
    dense = layers.Dense(3, name="d")
    dense.build((8, 4))
    assert dense.built and dense.input_shape == (None, 4)
    conv = layers.Conv2D(2, 3, name="c")
    with pytest.raises(ValueError, match=r"Conv2D 'c': expected a 4-D input"):
        conv.build((None, 784))
    assert not conv.built
    with pytest.raises(ValueError, match="a shape must be a tuple of non-negative integers"):
        layers.Dense(1).build((None, -4))


def test_weightless_layers_count_zero_params_unbuilt():
    assert layers.Flatten().count_params() == 0
    assert layers.ReLU().get_weights() == []


def test_base_call_must_be_written():
    with pytest.raises(NotImplementedError, match="Layer must implement call"):
        Layer()(np.zeros((1, 2)))


# ------------------------------------------------------------------ inputs
def test_inputs_are_converted_to_float32_tensors():
    scale = Scale()
    assert scale([[1, 2], [3, 4]]).dtype == np.float32
    assert scale(np.ones((1, 2), np.uint8)).dtype == np.float32
    assert scale(np.ones((1, 2), np.float64)).dtype == np.float32
    x64 = Tensor(np.ones((1, 2)))  # Tensors keep their dtype (gradient checks run in float64)
    assert x64.dtype == np.float64 and scale(x64).dtype == np.float64
    with pytest.raises(TypeError, match=r"Scale '.*': expected a Tensor or an array of numbers"):
        scale("pixels")


# ------------------------------------------------------------------ tracking
def test_sub_layers_are_tracked_through_attributes_lists_and_dicts(block):
    keys = [key for key, _ in block.named_children()]
    assert keys == ["conv", "bn", "drop", "heads.0", "heads.1", "extra.proj"]
    assert list(block.state_dict()) == [
        "conv.kernel",
        "conv.bias",
        "bn.gamma",
        "bn.beta",
        "bn.moving_mean",
        "bn.moving_variance",
        "heads.0.kernel",
        "heads.0.bias",
        "heads.1.kernel",
        "heads.1.bias",
        "extra.proj.kernel",
        "extra.proj.bias",
    ]
    assert [path for path, _ in block.named_layers()][:3] == ["", "conv", "bn"]
    assert len(block.weights) == 12 and len(block.trainable_weights) == 10
    assert len(block.non_trainable_weights) == 2
    assert block.count_params() == (27 * 4 + 4) + 16 + (8 + 2) + (12 + 3) + (4 + 1)
    assert [k for k, _ in block.named_parameters()][:2] == ["conv.kernel", "conv.bias"]
    assert block.parameters() == block.trainable_weights


def test_list_appended_after_assignment_and_untracking():
    class Stack(Layer):
        def __init__(self):
            super().__init__()
            self.items = []
            self.items.append(layers.Dense(2, name="first"))
            self.items.append(layers.Dense(2, name="second"))

        def call(self, x, training=False):
            for item in self.items:
                x = item(x)
            return x

    stack = Stack()
    stack(np.zeros((1, 3)))
    assert [k for k, _ in stack.named_children()] == ["items.0", "items.1"]
    assert len(stack.weights) == 4
    stack.items = "gone"
    assert stack.children() == [] and stack.weights == []


def test_nested_and_shared_layers_appear_once():
    class Outer(Layer):
        def __init__(self):
            super().__init__()
            self.inner = Block(name="inner")
            self.alias = self.inner  # the same layer twice: its weights count once

        def call(self, x, training=False):
            return self.inner(x)

    outer = Outer()
    outer(np.zeros((1, 4, 4, 3)))
    assert [k for k in outer.state_dict()][:2] == ["inner.conv.kernel", "inner.conv.bias"]
    assert len(outer.weights) == len(outer.inner.weights)
    assert "(inner): Block(" in repr(outer)


def test_assigning_a_layer_before_super_init_is_an_error():
    class Early(Layer):
        def __init__(self):
            self.dense = layers.Dense(1)
            super().__init__()

    with pytest.raises(RuntimeError, match=r"call super\(\).__init__\(\) at the start"):
        Early()

    class PlainFirst(Layer):
        def __init__(self):
            self.units = 3  # plain values may come before super().__init__()
            super().__init__()

    assert PlainFirst().units == 3


def test_tied_weights_count_once():
    class Tied(Layer):
        def __init__(self):
            super().__init__()
            self.encode = layers.Dense(4, use_bias=False)
            self.decode = layers.Dense(4, use_bias=False)

        def call(self, x, training=False):
            return self.decode(self.encode(x))

    tied = Tied()
    tied(np.ones((1, 4)))
    tied.decode.kernel = tied.encode.kernel  # the same Tensor in two layers
    assert list(tied.state_dict()) == ["encode.kernel"] and tied.count_params() == 16


def test_input_spec_of_a_user_layer():
    class Pixels(Layer):
        def __init__(self):
            super().__init__(name="pixels")
            self.input_spec = layers.InputSpec(ndim=2, axes={-1: 3})

        def call(self, x, training=False):
            return x

    with pytest.raises(ValueError, match=r"Pixels 'pixels': input axis -1 must be 3, as when the "):
        Pixels()(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"expected a 2-D input, received input shape \(3,\)"):
        Pixels()(np.zeros(3))


def test_weights_stay_tensors_and_add_weight_checks():
    scale = Scale(name="s")
    scale(np.ones((1, 2)))
    with pytest.raises(TypeError, match="'factor' is a weight and must stay a Tensor"):
        scale.factor = np.ones(2)
    with pytest.raises(ValueError, match="cannot add weight 'factor'"):
        scale.add_weight("factor", (2,))
    with pytest.raises(ValueError, match="weight names must be Python identifiers"):
        scale.add_weight("a.b", (2,))
    with pytest.raises(ValueError, match="needs a fully known shape"):
        scale.add_weight("w", (None, 2))
    with pytest.raises(ValueError, match="weight 'v' needs an initializer"):
        scale.add_weight("v", (2,), initializer=None)
    with pytest.raises(ValueError, match=r"the initializer of weight 'v' returned shape \(3,\)"):
        scale.add_weight("v", (2,), initializer=lambda shape, dtype: np.zeros(3))
    w = scale.add_weight("w", (2, 3), initializer=lambda shape, dtype: np.full(shape, 7.0))
    assert w.dtype == np.float32 and scale.w is w and float(w.data[0, 0]) == 7.0
    assert w.name == "s/w"
    del scale.w
    assert len(scale.weights) == 1


# ------------------------------------------------------------------ freezing
def test_trainable_false_freezes_and_true_restores():
    dense = layers.Dense(2, trainable=False)
    dense(np.ones((1, 3)))
    assert dense.trainable_weights == [] and len(dense.non_trainable_weights) == 2
    assert not dense.kernel.requires_grad and dense.parameters() == []
    x = Tensor(np.ones((1, 3), np.float32), requires_grad=True)
    dense(x).sum().backward()
    assert dense.kernel.grad is None and x.grad is not None  # gradients still flow through
    dense.trainable = True
    assert dense.trainable_weights == [dense.kernel, dense.bias]
    with pytest.raises(TypeError, match="'trainable' must be True or False"):
        dense.trainable = 0


def test_freezing_a_parent_freezes_the_tree(block):
    block.trainable = False
    assert block.trainable_weights == [] and not block.conv.trainable
    assert block.get_config()["trainable"] is False
    assert "trainable=False" in repr(block.conv)
    block.trainable = True
    assert len(block.trainable_weights) == 10  # moving statistics stay non-trainable
    block.conv.trainable = False
    assert len(block.trainable_weights) == 8


# ------------------------------------------------------------------ weights in and out
def test_get_and_set_weights():
    dense = layers.Dense(2, name="d")
    dense.build((None, 3))
    kernel_data = dense.kernel.data
    weights = dense.get_weights()
    weights[0][...] = 5  # get_weights returns copies
    assert not np.any(dense.kernel.numpy() == 5)
    dense.set_weights([np.ones((3, 2)), np.arange(2.0)])
    assert dense.kernel.data is kernel_data  # copied in place: optimizers keep their tensors
    assert dense.kernel.dtype == np.float32 and dense.bias.numpy().tolist() == [0.0, 1.0]
    with pytest.raises(
        ValueError,
        match=r"Dense 'd': set_weights\(\) received 1 arrays but the "
        r"layer has 2 weights \(kernel \(3, 2\), bias \(2,\)\)",
    ):
        dense.set_weights([np.ones((3, 2))])
    with pytest.raises(
        ValueError,
        match=r"(?s)weight 'kernel' has shape \(3, 2\) but received an "
        r"array of shape \(2, 3\).*weight 'bias' has shape \(2,\) but received",
    ):
        dense.set_weights([np.ones((2, 3)), np.ones(3)])
    assert dense.bias.numpy().tolist() == [0.0, 1.0]  # nothing copied on error
    with pytest.raises(
        ValueError, match=r"set_weights\(\) needs the weights, but 'u' is not built"
    ):
        layers.Dense(2, name="u").set_weights([])


def test_state_dict_round_trip(block, rng):
    state = {key: rng.standard_normal(value.shape) for key, value in block.state_dict().items()}
    result = block.load_state_dict(state)
    assert result == ([], []) and result.missing_keys == [] and result.unexpected_keys == []
    for key, value in block.state_dict().items():
        np.testing.assert_allclose(value, state[key], rtol=1e-6)
        assert value.dtype == np.float32
    state["conv.kernel"][...] = 0
    assert not np.all(block.conv.kernel.numpy() == 0)  # state_dict returns copies


def test_load_state_dict_reports_every_problem_at_once():
    dense = layers.Dense(2, name="d")
    dense.build((None, 3))
    before = dense.get_weights()
    bad = {"kernel": np.zeros((4, 2)), "extra": np.zeros(1), "other": np.zeros(2)}
    message = (
        r"Error\(s\) in loading state_dict for Dense 'd':\n\tMissing key\(s\) in state_dict: "
        r'"bias"\n\tUnexpected key\(s\) in state_dict: "extra", "other"\n\tsize mismatch for '
        r"kernel: copying a weight with shape \(4, 2\) from the state dict, the shape in the "
        r"current layer is \(3, 2\)"
    )
    with pytest.raises(ValueError, match=message):
        dense.load_state_dict(bad)
    np.testing.assert_array_equal(dense.get_weights()[0], before[0])  # nothing loaded
    with pytest.raises(ValueError, match="size mismatch for kernel"):
        dense.load_state_dict(bad, strict=False)  # shapes must match even when not strict
    missing, unexpected = dense.load_state_dict({"kernel": np.ones((3, 2)), "x": 1}, strict=False)
    assert missing == ["bias"] and unexpected == ["x"]
    np.testing.assert_array_equal(dense.kernel.numpy(), np.ones((3, 2)))


def test_load_state_dict_into_unbuilt_layer_says_so():
    with pytest.raises(ValueError, match=r"(?s)Unexpected key.*the layer is not built"):
        layers.Dense(2).load_state_dict({"kernel": np.ones((3, 2)), "bias": np.ones(2)})


def test_zero_grad_clears_the_tree(block):
    out = block(Tensor(np.ones((1, 5, 5, 3), np.float32)), training=True)
    out.sum().backward()
    assert block.conv.kernel.grad is not None
    block.zero_grad()
    assert all(w.grad is None for w in block.weights)


# ------------------------------------------------------------------ modes
def test_train_and_eval_recurse_and_return_self(block):
    assert block.train() is block
    assert all(layer.training for _, layer in block.named_layers())
    assert block.eval() is block
    assert not any(layer.training for _, layer in block.named_layers())


def test_mode_switches_dropout_and_batch_norm_inside_a_block(block):
    x = np.random.default_rng(0).standard_normal((4, 5, 5, 3)).astype(np.float32)
    block.eval()
    before = block.bn.moving_mean.numpy().copy()
    a, b = block(x).numpy(), block(x).numpy()
    np.testing.assert_array_equal(a, b)  # inference: deterministic, statistics untouched
    np.testing.assert_array_equal(block.bn.moving_mean.numpy(), before)
    block.train()
    c = block(x).numpy()
    assert not np.allclose(a, c)
    assert not np.array_equal(block.bn.moving_mean.numpy(), before)


def test_explicit_training_reaches_sub_layers_called_without_it(block):
    x = np.ones((2, 5, 5, 3), np.float32)
    block.eval()
    before = block.bn.moving_mean.numpy().copy()
    block(x, training=True)  # Block.call does not pass training on: the context does
    assert not np.array_equal(block.bn.moving_mean.numpy(), before)
    block.train()
    after = block.bn.moving_mean.numpy().copy()
    block(x, training=False)
    np.testing.assert_array_equal(block.bn.moving_mean.numpy(), after)
    block.bn.eval()  # PyTorch style: a sub-layer's own mode holds when nothing is passed
    block(x)
    np.testing.assert_array_equal(block.bn.moving_mean.numpy(), after)


# ------------------------------------------------------------------ shapes of user layers
def test_compute_output_shape_fallback_runs_call():
    assert Scale().compute_output_shape((None, 5)) == (None, 5)
    block = Block().train()
    assert block.compute_output_shape((None, 6, 6, 3)) == (None, 2)
    assert block.built
    assert not block.bn.moving_mean.numpy().any()  # ran in inference mode: stats untouched
    # an unknown size (a sequence's steps) stays unknown where the output follows it
    assert Scale().compute_output_shape((None, None, 5)) == (None, None, 5)

    class Pairs(Layer):  # works only on an even number of steps
        def call(self, x):
            return ops.reshape(x, (x.shape[0], x.shape[1] // 2, 2 * x.shape[2]))

    assert Pairs().compute_output_shape((None, 4, 5)) == (None, 2, 10)
    with pytest.raises(ValueError, match="cannot infer the output shape.*compute_output_shape"):
        Pairs().compute_output_shape((None, None, 5))

    class Flat(Layer):  # the output's rank depends on the unknown size
        def call(self, x):
            return x[0, 0] if x.shape[1] == 2 else x

    with pytest.raises(ValueError, match="rank follows the unknown sizes"):
        Flat().compute_output_shape((None, None, 5))


# ------------------------------------------------------------------ config and registry
def test_user_layer_config_is_captured_automatically():
    block = Block(filters=8, name="b8")
    config = block.get_config()
    assert config == {"name": "b8", "trainable": True, "filters": 8}
    clone = layers.deserialize(json.loads(json.dumps(layers.serialize(block))))
    assert isinstance(clone, Block) and clone.conv.filters == 8 and clone.name == "b8"


def test_user_layer_with_non_json_arguments_must_write_get_config():
    class Wrapper(Layer):
        def __init__(self, inner, name=None):
            super().__init__(name=name)
            self.inner = inner

        def call(self, x, training=False):
            return self.inner(x)

    with pytest.raises(NotImplementedError, match=r"Implement get_config\(\)"):
        Wrapper(layers.Dense(1)).get_config()
    assert repr(Wrapper(layers.Dense(1), name="w")).startswith("Wrapper(\n  name='w'\n")

    class Varargs(Layer):
        def __init__(self, *sizes):
            super().__init__()
            self.sizes = sizes

        def call(self, x, training=False):
            return x

    with pytest.raises(NotImplementedError, match="cannot save the constructor arguments"):
        Varargs(1, 2).get_config()


def test_keras_style_kwargs_are_captured():
    class Widened(Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def call(self, x, training=False):
            return x

    layer = Widened(3, name="wide", trainable=False)
    assert layer.get_config() == {"name": "wide", "trainable": False, "units": 3}
    clone = Widened.from_config(layer.get_config())
    assert clone.units == 3 and clone.name == "wide" and not clone.trainable


def test_deepcopy_keeps_weights_and_config():
    import copy

    dense = layers.Dense(2, name="d")
    dense(np.ones((1, 3)))
    twin = copy.deepcopy(dense)
    assert twin.kernel is not dense.kernel
    np.testing.assert_array_equal(twin.kernel.numpy(), dense.kernel.numpy())
    assert twin.get_config() == dense.get_config()


def test_from_config_sets_name_and_trainable_for_short_signatures():
    class Short(Layer):
        def __init__(self, units=2):
            super().__init__()
            self.units = units

        def call(self, x, training=False):
            return x

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    layer = Short.from_config({"name": "s1", "trainable": False, "units": 3})
    assert layer.name == "s1" and layer.trainable is False and layer.units == 3
    with pytest.raises(ValueError, match="'name' must be a non-empty string"):
        Short.from_config({"name": "a.b"})


def test_registry_get_serialize_deserialize():
    assert layers.get("Dense") is layers.Dense
    assert layers.get(layers.Dense) is layers.Dense
    assert layers.get(f"{__name__}.Block") is Block  # user subclasses register themselves
    assert layers.get("Scale") is Scale  # and under their class name while it is unambiguous
    with pytest.raises(ValueError, match=r"Unknown layer class: 'Dence'. Known layers: .*Dense"):
        layers.get("Dence")
    with pytest.raises(ValueError, match="Unknown layer class"):
        layers.deserialize({"class_name": "os.system", "config": {}})
    with pytest.raises(ValueError, match="expected a dict with 'class_name'"):
        layers.deserialize("Dense")
    with pytest.raises(TypeError, match="layers.serialize: expected a Layer"):
        layers.serialize("Dense")
    payload = layers.serialize(layers.Dense(3, activation="softmax", name="out"))
    assert payload == {
        "class_name": "Dense",
        "config": {
            "name": "out",
            "trainable": True,
            "units": 3,
            "activation": "softmax",
            "use_bias": True,
            "kernel_initializer": "glorot_uniform",
            "bias_initializer": "zeros",
            "kernel_regularizer": None,  # Keras's Dense config names these even when unset
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        },
    }


def test_user_class_named_like_a_builtin_keeps_both():
    class Dense(Layer):  # a user's own "Dense"
        def call(self, x, training=False):
            return x

    assert layers.get("Dense") is layers.Dense
    payload = layers.serialize(Dense())
    assert payload["class_name"].endswith(".Dense") and payload["class_name"] != "Dense"
    assert type(layers.deserialize(payload)) is Dense


def _make_twin(tag):
    class Twin(Layer):
        def call(self, x, training=False):
            return x

    return Twin


def test_two_user_classes_with_one_name_need_their_full_names():
    first, second = _make_twin("a"), _make_twin("b")
    assert first is not second and first.__qualname__ == second.__qualname__  # redefinition
    assert layers.get("Twin") is second  # the newest definition of the same class wins

    class Twin(Layer):  # a different class (another qualified name) with the same name
        def call(self, x, training=False):
            return x

    with pytest.raises(ValueError, match="Layer class name 'Twin' is ambiguous"):
        layers.get("Twin")
    for cls in (second, Twin):
        payload = layers.serialize(cls())
        assert payload["class_name"] == f"{cls.__module__}.{cls.__qualname__}"
        assert type(layers.deserialize(payload)) is cls


def test_repr_shows_non_default_arguments():
    assert repr(layers.Dense(10, activation="relu", name="d")) == (
        "Dense(units=10, activation='relu', name='d')"
    )
    assert repr(layers.Conv2D(8, 3, padding="same", name="c")) == (
        "Conv2D(filters=8, kernel_size=(3, 3), padding='same', name='c')"
    )
    text = repr(Block(name="blk"))
    assert text.startswith("Block(\n  name='blk'\n  (conv): Conv2D(filters=4")
    assert "(heads.1): Dense(units=3" in text and text.endswith("\n)")


# ------------------------------------------------------------------ Keras's layer extras
class _KL(Layer):
    """A user layer adding a term to the loss from its call (Keras's add_loss)."""

    def call(self, x):
        self.add_loss(0.5 * ops.mean(x * x))
        return x


def test_add_loss_terms_are_the_latest_calls_and_join_the_training_loss():
    import glassnet

    layer = _KL()
    assert layer.losses == []
    layer(np.full((2, 2), 2.0, np.float32))
    layer(np.ones((2, 2), np.float32))
    assert len(layer.losses) == 1 and layer.losses[0].item() == pytest.approx(0.5)
    inputs = glassnet.Input((3,))
    model = glassnet.Model(inputs, _KL()(layers.Dense(3)(inputs)))
    model.compile("sgd", "mse")
    x, y = np.ones((4, 3), np.float32), np.zeros((4, 3), np.float32)
    # the loss fit reports is mse + the term, and the term's gradient trains the weights too
    mse = float(np.mean(model.predict(x, verbose=0) ** 2))
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(1.5 * mse, rel=1e-5)
    with pytest.raises(ValueError, match="add_loss takes a scalar.*shape \\(2,\\)"):
        layer.add_loss(Tensor(np.ones(2)))


def test_compute_mask_and_call_mask_argument_of_user_layers():
    """Keras: a layer's compute_mask gives its output's mask; a call with a ``mask`` argument
    receives the input's mask; supports_masking passes it on."""

    class Halve(Layer):
        def call(self, x):
            return x[:, ::2]

        def compute_mask(self, inputs, mask=None):
            return None if mask is None else mask[:, ::2]

    class Masked(Layer):
        def call(self, x, mask=None):
            self.seen = mask
            return x * 1.0

    x = Tensor(np.ones((1, 4, 2), np.float32))
    x._keras_mask = Tensor(np.array([[True, False, True, False]]))
    halved = Halve()(x)
    assert halved._keras_mask.numpy().tolist() == [[True, True]]
    masked = Masked()
    out = masked(x)
    assert masked.seen is x._keras_mask and out._keras_mask is None  # not supports_masking
    assert Halve()(np.ones((1, 4, 2), np.float32))._keras_mask is None
    # the shape fallback gives a mask-taking call a mask of real steps
    assert Masked().compute_output_shape((None, None, 2)) == (None, None, 2)


def test_a_user_layer_called_with_a_tuple_gets_a_list():
    """Keras's ``Sampling()((z_mean, z_log_var))``: a tuple of tensors is several inputs."""

    class Mix(Layer):
        def call(self, inputs):
            a, b = inputs
            return a + 2 * b

    a, b = np.ones((2, 3), np.float32), np.ones((2, 3), np.float32)
    assert Mix()((a, b)).numpy().tolist() == [[3.0] * 3] * 2
    import glassnet

    i, j = glassnet.Input((3,)), glassnet.Input((3,))
    model = glassnet.Model([i, j], Mix()((i, j)))
    assert model.output_shape == (None, 3)
    np.testing.assert_array_equal(model.predict([a, b], verbose=0), 3 * a)


def test_assign_and_assign_add_update_a_weight_in_place():
    """Keras's Variable.assign / assign_add / assign_sub on a non-trainable weight."""
    total = Tensor(np.zeros(2, np.float32))
    assert total.assign_add(np.ones(2)) is total
    total.assign_add(Tensor(np.array([1.0, 2.0])))
    total.assign_sub(0.5)
    assert total.dtype == np.float32 and total.numpy().tolist() == [1.5, 2.5]
    total.assign(7)
    assert total.numpy().tolist() == [7.0, 7.0]
    with pytest.raises(ValueError, match=r"assign: the value's shape \(3,\) does not match"):
        total.assign(np.ones(3))
