"""LayerNormalization, GroupNormalization and UnitNormalization (glassnet/layers/
normalization.py): the standard layer checks, Keras's weights and parameter counts, parity
with PyTorch's nn.LayerNorm, nn.GroupNorm and F.normalize, save/load, replay and errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import Tensor, layers
from glassnet.gradcheck import gradcheck
from glassnet.models.summary import param_formula
from tests.helpers import FORWARD_TOL, GRAD_TOL
from tests.layers.layer_checks import run_layer_test
from tests.ops.test_per_sample_norm import ref_group_norm, ref_layer_norm, ref_normalize


@pytest.mark.parametrize(
    ("kwargs", "shape", "weights", "params"),
    [
        ({}, (2, 5), 2, 10),
        ({}, (3, 4, 4, 6), 2, 12),
        ({"axis": [1, 2]}, (2, 3, 4), 2, 24),
        ({"center": False}, (2, 5), 1, 5),
        ({"scale": False, "center": False}, (2, 5), 0, 0),
        ({"rms_scaling": True}, (2, 3, 5), 1, 5),
        ({}, (1, 1), 2, 2),  # batch of 1, one feature
    ],
)
def test_layer_normalization_layer_checks(kwargs, shape, weights, params):
    run_layer_test(
        layers.LayerNormalization,
        kwargs,
        input_shape=shape,
        expected_output_shape=shape,
        expected_num_weights=weights,
        expected_num_trainable_weights=weights,
        expected_num_params=params,
    )


@pytest.mark.parametrize(
    ("kwargs", "shape", "weights"),
    [
        ({"groups": 2}, (2, 3, 3, 4), 2),
        ({"groups": -1}, (2, 3, 3, 4), 2),
        ({"groups": 1, "center": False}, (1, 2, 2, 1), 1),
        ({"groups": 3}, (2, 6), 2),
    ],
)
def test_group_normalization_layer_checks(kwargs, shape, weights):
    run_layer_test(
        layers.GroupNormalization,
        kwargs,
        input_shape=shape,
        expected_output_shape=shape,
        expected_num_weights=weights,
        expected_num_params=weights * shape[-1],
    )


@pytest.mark.parametrize(("kwargs", "shape"), [({}, (2, 5)), ({"axis": [1, 2]}, (2, 3, 4))])
def test_unit_normalization_layer_checks(kwargs, shape):
    run_layer_test(layers.UnitNormalization, kwargs, input_shape=shape, expected_num_weights=0)


def test_weights_are_kerass(rng):
    ln = layers.LayerNormalization(axis=[1, 2, 3])
    ln.build((None, 20, 30, 4))
    assert list(ln.state_dict()) == ["gamma", "beta"]
    assert ln.gamma.shape == ln.beta.shape == (20, 30, 4)
    assert param_formula(ln)[0] == 2 * 20 * 30 * 4  # Keras: 2 · prod(normalised axes)
    rms = layers.LayerNormalization(rms_scaling=True, center=True)
    rms.build((None, 7))
    assert list(rms.state_dict()) == ["gamma"]  # Keras: rms_scaling ignores center
    gn_ = layers.GroupNormalization(groups=4)
    gn_.build((None, 5, 5, 8))
    assert list(gn_.state_dict()) == ["gamma", "beta"] and gn_.gamma.shape == (8,)
    assert param_formula(gn_)[0] == 16
    np.testing.assert_array_equal(gn_.gamma.numpy(), np.ones(8, np.float32))


def test_forward_matches_numpy_references(rng):
    x = (1 + 3 * rng.standard_normal((4, 3, 3, 8))).astype(np.float32)
    ln = layers.LayerNormalization(axis=[2, 3], gamma_initializer="random_normal")
    ln.build(x.shape)
    ln.beta.data[...] = rng.standard_normal(ln.beta.shape)
    want = ref_layer_norm(x.astype(np.float64), ln.gamma.numpy(), ln.beta.numpy(), (2, 3), 1e-3)
    np.testing.assert_allclose(ln(x).numpy(), want, **FORWARD_TOL)
    rms = layers.LayerNormalization(rms_scaling=True, epsilon=0.01)
    want = ref_layer_norm(x.astype(np.float64), np.ones(8), None, (3,), 0.01, rms=True)
    np.testing.assert_allclose(rms(x).numpy(), want, **FORWARD_TOL)
    group = layers.GroupNormalization(groups=2, beta_initializer="ones")
    want = ref_group_norm(x.astype(np.float64), 2, np.ones(8), np.ones(8), 1e-3)
    np.testing.assert_allclose(group(x).numpy(), want, **FORWARD_TOL)
    unit = layers.UnitNormalization(axis=[1, 2])
    want = ref_normalize(x.astype(np.float64), (1, 2), 1e-6)
    np.testing.assert_allclose(unit(x).numpy(), want, **FORWARD_TOL)


def test_training_and_inference_agree(rng):
    x = rng.standard_normal((3, 4, 4, 6)).astype(np.float32)
    for layer in (layers.LayerNormalization(), layers.GroupNormalization(3)):
        np.testing.assert_array_equal(layer(x, training=True).numpy(), layer(x).numpy())
        # per sample: one image alone gives what it gives in the batch
        np.testing.assert_allclose(layer(x[1:2]).numpy(), layer(x).numpy()[1:2], atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.LayerNormalization(axis=[1, 2]),
        lambda: layers.LayerNormalization(rms_scaling=True),
        lambda: layers.GroupNormalization(groups=2),
        lambda: layers.UnitNormalization(axis=[1, 2]),
    ],
)
def test_layer_gradients_match_finite_differences(make, rng):
    layer = make()
    x = rng.standard_normal((2, 3, 4))
    layer(x.astype(np.float32))  # build
    for w in layer.weights:
        w.data[...] = rng.standard_normal(w.shape)
    report = gradcheck(lambda t: layer(t), x, params=layer.trainable_weights)
    assert report.passed, f"\n{report}"


# ------------------------------------------------------------------ PyTorch parity
# float32 both sides; FORWARD_TOL (atol 1e-5, rtol 1e-4) outputs, GRAD_TOL (atol 1e-4, rtol
# 1e-3) gradients of sum(out · w).
def _backward(out, w):
    (out * w).sum().backward()


def test_layer_normalization_matches_torch_layernorm(rng, torch):
    x = rng.standard_normal((3, 5, 6)).astype(np.float32)
    w = rng.standard_normal(x.shape).astype(np.float32)
    ours = layers.LayerNormalization(axis=[-2, -1])  # Keras's epsilon 1e-3
    xt = Tensor(x, requires_grad=True)
    ours.build(x.shape)
    ours.gamma.data[...] = rng.standard_normal((5, 6))
    ours.beta.data[...] = rng.standard_normal((5, 6))
    out = ours(xt)
    _backward(out, Tensor(w))
    theirs = torch.nn.LayerNorm((5, 6), eps=1e-3)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.gamma.numpy()))
        theirs.bias.copy_(torch.tensor(ours.beta.numpy()))
    tx = torch.tensor(x, requires_grad=True)
    t_out = theirs(tx)
    _backward(t_out, torch.tensor(w))
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), **GRAD_TOL)
    np.testing.assert_allclose(ours.gamma.grad, theirs.weight.grad.numpy(), **GRAD_TOL)
    np.testing.assert_allclose(ours.beta.grad, theirs.bias.grad.numpy(), **GRAD_TOL)


def test_group_normalization_matches_torch_groupnorm_nchw(rng, torch):
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)  # NHWC
    w = rng.standard_normal(x.shape).astype(np.float32)
    ours = layers.GroupNormalization(groups=3)
    ours.build(x.shape)
    ours.gamma.data[...] = rng.standard_normal(6)
    ours.beta.data[...] = rng.standard_normal(6)
    xt = Tensor(x, requires_grad=True)
    out = ours(xt)
    _backward(out, Tensor(w))
    theirs = torch.nn.GroupNorm(3, 6, eps=1e-3)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.gamma.numpy()))
        theirs.bias.copy_(torch.tensor(ours.beta.numpy()))
    tx = torch.tensor(x, requires_grad=True)
    t_out = theirs(tx.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    _backward(t_out, torch.tensor(w))
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), **GRAD_TOL)
    np.testing.assert_allclose(ours.gamma.grad, theirs.weight.grad.numpy(), **GRAD_TOL)
    np.testing.assert_allclose(ours.beta.grad, theirs.bias.grad.numpy(), **GRAD_TOL)


def test_unit_normalization_matches_torch_normalize(rng, torch):
    x = rng.standard_normal((4, 7)).astype(np.float32)
    x[2] = 0.0  # all zeros stays zeros (the length is taken as at least 1e-6)
    w = rng.standard_normal(x.shape).astype(np.float32)
    xt = Tensor(x, requires_grad=True)
    out = layers.UnitNormalization()(xt)
    _backward(out, Tensor(w))
    tx = torch.tensor(x, requires_grad=True)
    t_out = torch.nn.functional.normalize(tx, dim=-1, eps=1e-6)
    _backward(t_out, torch.tensor(w))
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), **FORWARD_TOL)
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), **GRAD_TOL)
    np.testing.assert_array_equal(out.numpy()[2], 0.0)


# ------------------------------------------------------------------ models
def _model():
    gn.set_seed(0)
    return gn.Sequential(
        [
            layers.Input((6, 6, 4)),
            layers.Conv2D(8, 3, padding="same"),
            layers.GroupNormalization(groups=4),
            layers.LayerNormalization(axis=[1, 2, 3], gamma_regularizer="l2"),
            layers.Conv2D(4, 3),
            layers.LayerNormalization(rms_scaling=True),
            layers.Flatten(),
            layers.UnitNormalization(),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _fit(jit):
    model = _model()
    model.compile(gn.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    model.jit_compile = jit
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((20, 6, 6, 4)).astype(np.float32), rng.integers(0, 3, 20)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False)
    return model, history.history, x


def test_summary_counts_kerass_parameters():
    """Keras: 2·prod(normalised axes) for LayerNormalization (gamma only with rms_scaling),
    2·channels for GroupNormalization, none for UnitNormalization."""
    lines: list[str] = []
    model = _model()
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "2·8 = 16" in text and "2·6·6·8 = 576" in text
    # conv 296, group 16, layer 576, conv 292, rms 4, dense 195
    assert model.count_params() == 296 + 16 + 576 + 292 + 4 + 195
    assert "Total params: 1,379" in text


def test_replayed_training_equals_the_graph_and_learns():
    model, history, x = _fit(True)
    graph, graph_history, _ = _fit(False)
    assert all(entry.tape is not None for entry in model._replays.values())
    assert history == graph_history
    assert history["loss"][-1] < history["loss"][0]
    for a, b in zip(model.get_weights(), graph.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x), graph.predict(x))


def test_save_and_load_model_round_trip(tmp_path, rng):
    model, _, x = _fit(True)
    model.save(tmp_path / "norms.glassnet")
    loaded = gn.load_model(tmp_path / "norms.glassnet")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for a, b in zip(loaded.layers, model.layers, strict=True):
        assert a.get_config() | {"name": None} == b.get_config() | {"name": None}


# ------------------------------------------------------------------ errors
def test_errors_name_the_layer_and_the_culprit(rng):
    x = rng.standard_normal((2, 3, 3, 6)).astype(np.float32)
    with pytest.raises(ValueError, match=r"GroupNormalization .*groups=4 must divide .*\(6\)"):
        layers.GroupNormalization(groups=4)(x)
    with pytest.raises(ValueError, match=r"GroupNormalization .*groups=32 must divide .*\(6\)"):
        layers.GroupNormalization()(x)  # Keras's default of 32 groups needs 32k channels
    with pytest.raises(ValueError, match=r"GroupNormalization: 'groups' must be a positive"):
        layers.GroupNormalization(groups=0)
    with pytest.raises(ValueError, match=r"GroupNormalization .*only the last axis.*axis=1"):
        layers.GroupNormalization(groups=3, axis=1)(x)
    with pytest.raises(ValueError, match=r"LayerNormalization .*'axis' must name .*axis=4"):
        layers.LayerNormalization(axis=4)(x)
    with pytest.raises(ValueError, match=r"LayerNormalization .*'axis' must name .*axis=0"):
        layers.LayerNormalization(axis=0)(x)
    with pytest.raises(TypeError, match=r"LayerNormalization: 'axis' must be an int"):
        layers.LayerNormalization(axis="last")
    with pytest.raises(ValueError, match=r"LayerNormalization: 'epsilon' must be in \(0"):
        layers.LayerNormalization(epsilon=0)
    with pytest.raises(TypeError, match=r"UnitNormalization: 'axis' must be an int"):
        layers.UnitNormalization(axis=None)
    with pytest.raises(ValueError, match=r"UnitNormalization .*'axis' must name .*axis=3"):
        layers.UnitNormalization(axis=3)(x[:, 0])
    ln = layers.LayerNormalization()
    ln(x)
    with pytest.raises(ValueError, match=r"layer_normalization"):
        ln(x[..., :4])  # built for 6 features
