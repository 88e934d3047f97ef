"""SpatialDropout2D, GaussianNoise and GaussianDropout (glassnet/layers/regularization.py):
identity at inference, the statistics of their draws in training (fixed seeds), whole
channels dropped, gradients through the same draws, save/load, replay and errors."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import Tensor, layers, ops
from tests.layers.layer_checks import run_layer_test
from tests.models.test_train_threads import (  # noqa: F401 (two_blas_threads: a fixture)
    cnn,
    data,
    in_float64,
    shares_seen,
    train_both,
    two_blas_threads,
)

RANDOM = [
    (layers.SpatialDropout2D, {"rate": 0.3, "seed": 1}, (2, 4, 4, 3)),
    (layers.GaussianNoise, {"stddev": 0.2, "seed": 1}, (3, 5)),
    (layers.GaussianDropout, {"rate": 0.4, "seed": 1}, (3, 2, 5)),
]


@pytest.mark.parametrize(("cls", "kwargs", "shape"), RANDOM)
@pytest.mark.parametrize("training", [False, True])
def test_layer_checks(cls, kwargs, shape, training):
    run_layer_test(
        cls,
        kwargs,
        input_shape=shape,
        expected_output_shape=shape,
        training=training,
        deterministic=not training,
    )


@pytest.mark.parametrize(("cls", "kwargs", "shape"), RANDOM)
def test_inference_is_the_input_itself(cls, kwargs, shape, rng):
    x = Tensor(rng.standard_normal(shape).astype(np.float32))
    assert cls(**kwargs)(x) is x


def test_spatial_dropout_drops_whole_channels(rng):
    x = 1 + rng.random((64, 5, 6, 8), dtype=np.float32)  # no zeros of its own
    out = layers.SpatialDropout2D(0.3, seed=0)(x, training=True).numpy()
    ratio = out / x
    dropped = ratio[:, 0, 0, :] == 0  # (N, C): one decision per image and channel
    np.testing.assert_array_equal(ratio == 0, np.broadcast_to(dropped[:, None, None], x.shape))
    np.testing.assert_allclose(ratio[~(ratio == 0)], 1 / 0.7, rtol=1e-6)
    # 512 decisions with p = 0.3: the count lies within 4 standard deviations (about 41)
    assert abs(dropped.sum() - 0.3 * dropped.size) < 4 * np.sqrt(dropped.size * 0.3 * 0.7)
    assert 0 < dropped.sum(axis=0).min() and dropped.any(axis=1).sum() < 64  # not per batch


def test_gaussian_noise_statistics(rng):
    x = rng.standard_normal((100, 50, 20)).astype(np.float32)
    noise = layers.GaussianNoise(0.3, seed=3)(x, training=True).numpy() - x
    # 100,000 draws: the mean's standard error is 0.3/√1e5 ≈ 1e-3, the std's about 7e-4
    assert abs(noise.mean()) < 5e-3
    assert abs(noise.std() - 0.3) < 4e-3


def test_gaussian_dropout_statistics(rng):
    x = 1 + rng.random((100, 50, 20), dtype=np.float32)
    mask = layers.GaussianDropout(0.2, seed=3)(x, training=True).numpy() / x
    std = np.sqrt(0.2 / 0.8)  # 0.5
    assert abs(mask.mean() - 1) < 5e-3
    assert abs(mask.std() - std) < 6e-3


def test_gradients_use_the_same_draws(rng):
    x = Tensor(rng.standard_normal((4, 3, 3, 2)).astype(np.float32), requires_grad=True)
    for layer in (layers.SpatialDropout2D(0.5, seed=2), layers.GaussianDropout(0.5, seed=2)):
        x.grad = None
        out = layer(x, training=True)
        out.sum().backward()
        np.testing.assert_allclose(x.grad * x.numpy(), out.numpy(), rtol=1e-6, atol=1e-7)
    x.grad = None
    layers.GaussianNoise(0.5, seed=2)(x, training=True).sum().backward()
    np.testing.assert_array_equal(x.grad, 1.0)


def test_seeded_layers_repeat_and_unseeded_follow_manual_seed(rng):
    x = rng.standard_normal((2, 3, 3, 4)).astype(np.float32)
    for cls, kwargs, _ in RANDOM:
        a = cls(**kwargs)(x, training=True).numpy()
        b = cls(**kwargs)(x, training=True).numpy()
        np.testing.assert_array_equal(a, b)
        unseeded = {k: v for k, v in kwargs.items() if k != "seed"}
        gn.set_seed(7)
        c = cls(**unseeded)(x, training=True).numpy()
        gn.set_seed(7)
        np.testing.assert_array_equal(cls(**unseeded)(x, training=True).numpy(), c)


def test_odd_shapes(rng):
    one = rng.standard_normal((1, 2, 2, 1)).astype(np.float32)
    out = layers.SpatialDropout2D(0.5, seed=4)(one, training=True).numpy()
    assert np.all(out == 0) or np.allclose(out, 2 * one)
    x = Tensor(one)
    assert layers.GaussianNoise(0.0)(x, training=True) is x  # no noise: no op at all


# ------------------------------------------------------------------ models
def _model():
    gn.set_seed(0)
    return gn.Sequential(
        [
            layers.Input((6, 6, 3)),
            layers.GaussianNoise(0.1),
            layers.Conv2D(6, 3, activation="relu"),
            layers.SpatialDropout2D(0.25, seed=5),
            layers.Flatten(),
            layers.GaussianDropout(0.3, seed=6),
            layers.Dense(3, activation="softmax"),
        ]
    )


def _fit(jit):
    model = _model()
    model.compile(gn.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    model.jit_compile = jit
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((20, 6, 6, 3)).astype(np.float32), rng.integers(0, 3, 20)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False)
    return model, history.history, x


def test_replayed_training_draws_as_the_graph_does():
    """The draws happen inside the ops, so the replayed steps draw afresh, the very numbers
    the graph draws on every batch (same generators, same order)."""
    model, history, x = _fit(True)
    graph, graph_history, _ = _fit(False)
    assert all(entry.tape is not None for entry in model._replays.values())
    assert history == graph_history
    for a, b in zip(model.get_weights(), graph.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x), graph.predict(x))


def test_save_and_load_model_round_trip(tmp_path):
    model, _, x = _fit(True)
    model.save(tmp_path / "noisy.glassnet")
    loaded = gn.load_model(tmp_path / "noisy.glassnet")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for a, b in zip(loaded.layers, model.layers, strict=True):
        assert a.get_config() | {"name": None} == b.get_config() | {"name": None}


@pytest.mark.usefixtures("two_blas_threads")
def test_two_cores_equal_the_whole_batch_in_order(monkeypatch):
    """Trained a share of the batch per core, the random layers draw the whole batch's
    numbers (each share takes its rows) and the per-sample normalizations need nothing from
    the other share: the steps equal the whole batch's in order. In float64, so "equal" can
    be told from float32's rounding."""

    def model() -> gn.Sequential:
        return in_float64(
            cnn(
                layers.GaussianNoise(0.2, seed=1),
                layers.SpatialDropout2D(0.3, seed=2),
                layers.GroupNormalization(3),
                layers.LayerNormalization(axis=[1, 2, 3]),
                layers.GaussianDropout(0.3, seed=3),
                layers.UnitNormalization(),
            )
        )

    x, y = data()
    x = gn.Tensor(x.astype(np.float64))
    threaded, in_order = model(), model()
    seen = shares_seen(monkeypatch)
    train_both(threaded, in_order, x, y, 5, rel=1e-12)
    assert seen == [2, 2, 2]  # 37 samples: shares of 19 and 18
    for a, b in zip(threaded.get_weights(), in_order.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ errors
def test_errors_name_the_layer_and_the_culprit(rng):
    with pytest.raises(ValueError, match=r"SpatialDropout2D: 'rate' must be in \[0.0, 1.0\)"):
        layers.SpatialDropout2D(1.0)
    with pytest.raises(ValueError, match=r"SpatialDropout2D: .*data_format='channels_first'"):
        layers.SpatialDropout2D(0.5, data_format="channels_first")
    with pytest.raises(ValueError, match=r"GaussianNoise: 'stddev' must be in \[0.0, 1.0\]"):
        layers.GaussianNoise(1.5)
    with pytest.raises(ValueError, match=r"GaussianDropout: 'rate' must be in \[0.0, 1.0\)"):
        layers.GaussianDropout(-0.1)
    with pytest.raises(TypeError, match=r"GaussianDropout: 'seed' must be a non-negative integer"):
        layers.GaussianDropout(0.1, seed="x")
    with pytest.raises(ValueError, match=r"spatial_dropout2d"):
        layers.SpatialDropout2D(0.5)(rng.standard_normal((2, 3, 4)).astype(np.float32))
    with pytest.raises(ValueError, match=r"dropout: noise_shape .*=\(1, 1, 3\)"):
        ops.dropout(Tensor(np.ones((2, 4, 3), np.float32)), 0.5, noise_shape=(1, 1, 3))
    with pytest.raises(ValueError, match=r"gaussian_noise: stddev .* stddev=-1"):
        ops.gaussian_noise(Tensor(np.ones(3, np.float32)), -1)
