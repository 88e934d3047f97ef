"""Rescaling, Normalization, Resizing and CenterCrop (glassnet/layers/preprocessing.py)."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import Tensor, layers
from glassnet.models import replay
from glassnet.models.summary import summary_rows
from glassnet.ops.resize import resize
from tests.helpers import FORWARD_TOL, assert_gradcheck
from tests.layers.layer_checks import run_layer_test


@pytest.mark.parametrize("kwargs", [{"scale": 1 / 255}, {"scale": 1 / 127.5, "offset": -1.0}])
def test_rescaling_layer_checks(kwargs):
    run_layer_test(
        layers.Rescaling, kwargs, input_shape=(2, 4, 4, 3), expected_output_shape=(2, 4, 4, 3)
    )


def test_rescaling_uint8_pixels_become_float32():
    pixels = np.array([[0, 51, 255]], dtype=np.uint8)
    y = layers.Rescaling(1 / 255)(pixels)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), [[0.0, 0.2, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(
        layers.Rescaling(1 / 127.5, offset=-1)(pixels).numpy(), [[-1, -0.6, 1]], atol=1e-6
    )


@pytest.mark.parametrize(
    "kwargs", [{"scale": "1/255"}, {"scale": 1.0, "offset": None}, {"scale": float("inf")}]
)
def test_rescaling_argument_errors(kwargs):
    with pytest.raises(TypeError, match=r"Rescaling: '(scale|offset)' must be a finite number"):
        layers.Rescaling(**kwargs)


# ------------------------------------------------------------------ Normalization
def test_normalization_keras_documented_examples():
    """The three examples of Keras's docstring, with its printed outputs."""
    layer = layers.Normalization(axis=None)
    layer.adapt(np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32))
    np.testing.assert_allclose(
        layer(np.array([1.0, 2.0, 3.0])).numpy(), [-1.4142135, -0.70710677, 0.0], rtol=1e-6
    )
    data = np.array([[0.0, 7.0, 4.0], [2.0, 9.0, 6.0], [0.0, 7.0, 4.0], [2.0, 9.0, 6.0]])
    layer = layers.Normalization(axis=-1)
    layer.adapt(data)
    np.testing.assert_allclose(layer(np.array([[0.0, 7.0, 4.0]])).numpy(), [[-1.0, -1.0, -1.0]])
    given = layers.Normalization(mean=3.0, variance=2.0)
    np.testing.assert_allclose(
        given(np.array([[1.0], [2.0], [3.0]])).numpy(),
        [[-1.4142135], [-0.70710677], [0.0]],
        rtol=1e-6,
    )
    inverse = layers.Normalization(axis=-1, invert=True)
    inverse.adapt(data)
    np.testing.assert_allclose(inverse(np.array([[-1.0, -1.0, -1.0]])).numpy(), [[0.0, 7.0, 4.0]])


@pytest.mark.parametrize("axis", [-1, (1, 3), 2, None])
def test_normalization_adapt_on_batches_is_numpys_mean_and_variance(rng, axis):
    """Adapting batch by batch (an iterable of (x, y) pairs) gives NumPy's statistics of the
    whole data over every axis but ``axis``; the weights hold them and the output is
    (x − mean) / sqrt(variance)."""
    data = rng.normal(3.0, 2.0, (10, 3, 4, 2))
    layer = layers.Normalization(axis=axis)
    layer.adapt([(data[:4], None), (data[4:7], None), (data[7:], None)])
    keep = () if axis is None else tuple(a % 4 for a in np.atleast_1d(axis))
    over = tuple(a for a in range(4) if a not in keep)
    mean, var = data.mean(axis=over, keepdims=True), data.var(axis=over, keepdims=True)
    np.testing.assert_allclose(layer.mean.numpy(), np.squeeze(mean, over), rtol=1e-5)
    np.testing.assert_allclose(layer.variance.numpy(), np.squeeze(var, over), rtol=1e-5)
    want = (data - mean) / np.sqrt(var)
    np.testing.assert_allclose(layer(data.astype(np.float32)).numpy(), want, rtol=1e-4, atol=1e-5)
    assert [w.requires_grad for w in layer.weights] == [False, False, False]
    assert int(layer.count.item()) == data.size // max(layer.mean.size, 1)


def test_normalization_given_statistics_lie_along_the_kept_axes(rng):
    """A given array with one value per kept index (Keras's layout), here axes 1 and 3."""
    x = rng.standard_normal((2, 3, 4, 2))
    mean, variance = np.arange(6.0).reshape(3, 2), np.arange(1.0, 7.0).reshape(3, 2)
    layer = layers.Normalization(axis=(1, 3), mean=mean, variance=variance)
    want = (x - mean[None, :, None, :]) / np.sqrt(variance[None, :, None, :])
    np.testing.assert_allclose(layer(x).numpy(), want, rtol=1e-6)
    with pytest.raises(ValueError, match=r"normalization.*does not fit the kept axes"):
        layers.Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0])(np.ones((2, 3)))


def test_normalization_a_constant_feature_gives_zero_not_nan():
    layer = layers.Normalization()
    layer.adapt(np.array([[1.0, 5.0], [2.0, 5.0]]))
    np.testing.assert_allclose(layer(np.array([[1.5, 5.0]])).numpy(), [[0.0, 0.0]])


@pytest.mark.parametrize("invert", [False, True])
def test_normalization_gradcheck(rng, invert):
    layer = layers.Normalization(invert=invert)
    layer.adapt(rng.normal(2.0, 3.0, (20, 3)))
    assert_gradcheck(lambda x: layer(x), rng.standard_normal((4, 3)))
    given = layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25], invert=invert)
    assert_gradcheck(lambda x: given(x), rng.standard_normal((1, 3)))


def test_normalization_layer_checks_with_given_statistics():
    run_layer_test(
        layers.Normalization,
        {"mean": [0.5, 1.0], "variance": [2.0, 3.0]},
        input_shape=(2, 3, 2),
        expected_output_shape=(2, 3, 2),
    )


def test_normalization_errors_a_user_can_cause():
    with pytest.raises(RuntimeError, match=r"normalization.*Call adapt\(data\)"):
        layers.Normalization()(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="Normalization: pass both 'mean' and 'variance'"):
        layers.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="Normalization: 'variance' must not be negative"):
        layers.Normalization(mean=1.0, variance=-1.0)
    with pytest.raises(TypeError, match="Normalization: 'axis' must be an integer"):
        layers.Normalization(axis="last")
    with pytest.raises(ValueError, match="axis 0 is the batch"):
        layers.Normalization(axis=0).adapt(np.ones((4, 3)))
    with pytest.raises(ValueError, match="adapt learns 'mean' and 'variance'"):
        layers.Normalization(mean=0.0, variance=1.0).adapt(np.ones((4, 3)))
    with pytest.raises(ValueError, match="holds no samples"):
        layers.Normalization().adapt(np.ones((0, 3)))
    built = layers.Normalization()
    built.build((None, 4))
    with pytest.raises(ValueError, match=r"adapt: the data's kept axes \(1,\) have sizes \(3,\)"):
        built.adapt(np.ones((5, 3)))


def test_normalization_in_a_model_saves_trains_and_replays(tmp_path, monkeypatch):
    """The adapted statistics are weights: saved, loaded, unchanged by training; replayed
    training gives the graph's weights bit for bit; summary counts 2·features."""
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 5.0, (24, 4)).astype(np.float32)
    y = rng.integers(0, 3, 24)

    def train(jit):
        gn.set_seed(0)
        norm = layers.Normalization()
        norm.adapt(x)
        model = gn.Sequential([layers.Input((4,)), norm, layers.Dense(3)])
        model.compile(gn.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        model.jit_compile = jit
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        return model, norm

    graph, _ = train(False)
    replayed = []
    real = replay._replayed
    monkeypatch.setattr(replay, "_replayed", lambda *a: replayed.append(1) or real(*a))
    model, norm = train(True)
    assert replayed and all(entry.tape is not None for entry in model._replays.values())
    for ours, theirs in zip(model.weights, graph.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_allclose(norm.mean.numpy(), x.mean(axis=0), rtol=1e-5)
    rows = [r for r in summary_rows(model) if isinstance(r.layer, layers.Normalization)]
    assert [r.params for r in rows] == [2 * 4 + 1]  # Keras: mean, variance and count
    assert rows[0].formula.startswith("2·4 + 1")
    assert int(norm.count.item()) == len(x)
    model.save(str(tmp_path / "m.glassnet"))
    loaded = gn.load_model(str(tmp_path / "m.glassnet"))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


# ------------------------------------------------------------------ Resizing, CenterCrop
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_resizing_layer_checks(interpolation):
    run_layer_test(
        layers.Resizing,
        {"height": 3, "width": 5, "interpolation": interpolation},
        input_shape=(2, 4, 6, 3),
        expected_output_shape=(2, 3, 5, 3),
    )


def test_resizing_is_the_resize_op_and_crops_to_the_aspect_ratio(rng):
    x = rng.standard_normal((2, 6, 9, 1)).astype(np.float32)
    np.testing.assert_array_equal(
        layers.Resizing(4, 3)(x).numpy(), resize(Tensor(x), (4, 3)).numpy()
    )
    # 6×9 to 2×2: the centred 6×6 window (columns 1..6), then the resize.
    cropped = layers.Resizing(2, 2, crop_to_aspect_ratio=True)(x).numpy()
    np.testing.assert_array_equal(cropped, resize(Tensor(x[:, :, 1:7]), (2, 2)).numpy())
    assert layers.Resizing(6, 9)(x).numpy().tolist() == x.tolist()
    pixels = np.full((1, 2, 2, 1), 200, np.uint8)
    assert layers.Resizing(3, 3)(pixels).dtype == np.float32


def test_resizing_and_center_crop_match_torch(torch, rng):
    x = rng.standard_normal((2, 5, 7, 3)).astype(np.float32)
    xr = torch.tensor(x.transpose(0, 3, 1, 2))
    want = torch.nn.functional.interpolate(
        xr, size=(8, 3), mode="bilinear", align_corners=False, antialias=False
    )
    got = layers.Resizing(8, 3)(x).numpy()
    np.testing.assert_allclose(got, want.numpy().transpose(0, 2, 3, 1), **FORWARD_TOL)


def test_resizing_and_center_crop_gradcheck(rng):
    x = rng.standard_normal((1, 4, 5, 2))
    assert_gradcheck(lambda t: layers.Resizing(3, 7)(t), x)
    assert_gradcheck(lambda t: layers.Resizing(2, 2, crop_to_aspect_ratio=True)(t), x)
    assert_gradcheck(lambda t: layers.CenterCrop(3, 2)(t), x)
    assert_gradcheck(lambda t: layers.CenterCrop(6, 6)(t), x)


def test_center_crop_cuts_the_middle_and_resizes_small_images(rng):
    run_layer_test(
        layers.CenterCrop,
        {"height": 2, "width": 3},
        input_shape=(2, 5, 6, 1),
        expected_output_shape=(2, 2, 3, 1),
    )
    x = rng.standard_normal((1, 5, 6, 2)).astype(np.float32)
    np.testing.assert_array_equal(layers.CenterCrop(2, 3)(x).numpy(), x[:, 1:3, 1:4])
    # Smaller than the target: Keras's smart resize, the centred 4×4 window of a 4×6 image.
    small = x[:, :4]
    got = layers.CenterCrop(8, 8)(small).numpy()
    np.testing.assert_array_equal(got, resize(Tensor(small[:, :, 1:5]), (8, 8)).numpy())


def test_image_layers_errors_a_user_can_cause():
    with pytest.raises(ValueError, match="Resizing: 'interpolation' must be one of"):
        layers.Resizing(2, 2, interpolation="bicubic")
    with pytest.raises(ValueError, match="Resizing: 'height' must be a positive integer"):
        layers.Resizing(0, 2)
    with pytest.raises(ValueError, match="CenterCrop: 'width' must be a positive integer"):
        layers.CenterCrop(2, -1)
    with pytest.raises(ValueError, match=r"center_crop.*4"):
        layers.CenterCrop(2, 2)(np.zeros((3, 3, 1), np.float32))


def test_image_layers_save_and_load(tmp_path, rng):
    model = gn.Sequential(
        [layers.Input((5, 7, 2)), layers.Resizing(6, 6, "nearest"), layers.CenterCrop(4, 3)]
    )
    x = rng.standard_normal((2, 5, 7, 2)).astype(np.float32)
    model.save(str(tmp_path / "m.glassnet"))
    loaded = gn.load_model(str(tmp_path / "m.glassnet"))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [lay.get_config() for lay in loaded.layers] == [lay.get_config() for lay in model.layers]
