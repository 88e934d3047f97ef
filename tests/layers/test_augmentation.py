"""Augmentation layers (glassnet/layers/augmentation.py): RandomFlip, RandomTranslation,
RandomCrop, RandomResizedCrop, RandomRotation, RandomZoom, RandomBrightness, RandomContrast."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

import glassnet as gn
from glassnet import Tensor, layers
from glassnet.backend import manual_seed
from glassnet.models import checkpoint
from glassnet.ops.image import affine_sample
from tests.helpers import assert_gradcheck
from tests.layers.layer_checks import run_layer_test

# One instance of each layer with arguments that always change an image in training.
LAYERS = {
    "RandomFlip": (layers.RandomFlip, {}),
    "RandomTranslation": (layers.RandomTranslation, {"height_factor": 0.3, "width_factor": 0.3}),
    "RandomRotation": (layers.RandomRotation, {"factor": 0.2}),
    "RandomZoom": (layers.RandomZoom, {"height_factor": 0.4, "width_factor": 0.4}),
    "RandomBrightness": (layers.RandomBrightness, {"factor": 0.3, "value_range": (-10, 10)}),
    "RandomContrast": (layers.RandomContrast, {"factor": 0.5}),
    "RandomCrop": (layers.RandomCrop, {"height": 5, "width": 6}),
    "RandomResizedCrop": (layers.RandomResizedCrop, {"scale": (0.3, 0.6)}),
}
SAME_SHAPE = [name for name in LAYERS if name != "RandomCrop"]


def make(name, **extra):
    cls, kwargs = LAYERS[name]
    return cls(**kwargs, **extra)


def images(rng, shape=(4, 7, 9, 3)):
    return rng.standard_normal(shape).astype(np.float32)


def square(n=4, channels=1):
    """One n×n image whose pixels are 0, 1, 2, ... row by row (each channel offset by 100)."""
    plane = np.arange(n * n, dtype=np.float32).reshape(n, n)
    return np.stack([plane + 100 * c for c in range(channels)], axis=-1)[None]


# ------------------------------------------------------------------ the layer contract
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_checks_inference_and_training(name):
    cls, kwargs = LAYERS[name]
    out_shape = (2, 5, 6, 3) if name == "RandomCrop" else (2, 7, 9, 3)
    run_layer_test(cls, kwargs, input_shape=(2, 7, 9, 3), expected_output_shape=out_shape)
    run_layer_test(
        cls,
        {**kwargs, "seed": 4},
        input_shape=(2, 7, 9, 3),
        expected_output_shape=out_shape,
        training=True,
        deterministic=False,
    )


@pytest.mark.parametrize("name", SAME_SHAPE)
def test_identity_at_inference(name, rng):
    x = Tensor(images(rng))
    layer = make(name)
    assert layer(x) is x
    assert layer(x, training=False) is x
    assert layer.eval()(x) is x


@pytest.mark.parametrize("name", list(LAYERS))
def test_training_changes_images(name, rng):
    x = images(rng)
    y = make(name, seed=0)(x, training=True).numpy()
    if name == "RandomCrop":
        assert y.shape == (4, 5, 6, 3)
        assert not np.array_equal(y, x[:, 1:6, 1:7])  # not the centre crop of every image
    else:
        assert y.shape == x.shape and not np.allclose(y, x)
    assert make(name, seed=0).train()(x).numpy().shape == y.shape  # train() mode works too


@pytest.mark.parametrize("name", list(LAYERS))
def test_seed_repeats_and_generator_advances(name, rng):
    x = images(rng)
    a = make(name, seed=7)(x, training=True).numpy()
    b = make(name, seed=7)(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    layer = make(name, seed=7)
    first, second = layer(x, training=True).numpy(), layer(x, training=True).numpy()
    assert not np.array_equal(first, second)
    assert isinstance(layer._rng, np.random.Generator)  # what checkpoints save


@pytest.mark.parametrize("name", list(LAYERS))
def test_seed_none_follows_manual_seed(name, rng):
    x = images(rng)
    manual_seed(3)
    a = make(name)(x, training=True).numpy()
    manual_seed(3)
    b = make(name)(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    assert make(name)._rng is None


@pytest.mark.parametrize("name", list(LAYERS))
def test_dtypes(name, rng):
    x = images(rng, (1, 8, 8, 2))
    for training in (False, True):
        assert make(name, seed=0)(x, training=training).dtype == np.float32
        y = make(name, seed=0)(Tensor(x.astype(np.float64)), training=training)
        assert y.dtype == np.float64
        pixels = (np.abs(x) * 50).astype(np.uint8)
        assert make(name, seed=0)(pixels, training=training).dtype == np.float32
        assert make(name, seed=0)(Tensor(pixels), training=training).dtype == np.float32


@pytest.mark.parametrize("name", list(LAYERS))
def test_shapes_and_input_check(name, rng):
    layer = make(name)
    out = (None, 5, 6, 3) if name == "RandomCrop" else (None, 10, 12, 3)
    assert layer.compute_output_shape((None, 10, 12, 3)) == out
    if name != "RandomCrop":
        assert layer.compute_output_shape((2, None, None, 1)) == (2, None, None, 1)
    with pytest.raises(ValueError, match=r"expected a 4-D input \(batch, height, width"):
        layer(np.zeros((7, 9, 3), np.float32), training=True)


def test_gradients_flow_through_the_sampler(rng):
    """Not needed for augmentation, but a random layer placed anywhere keeps the graph whole."""
    theta = 0.4
    cos, sin = np.cos(theta), np.sin(theta)
    matrices = np.array([[[cos, -sin, 1.3], [sin, cos, -0.7]], [[1.2, 0.1, -0.5], [0, 0.8, 0.9]]])
    for fill_mode in ("reflect", "wrap", "constant", "nearest"):
        assert_gradcheck(
            lambda x, fill_mode=fill_mode: affine_sample(
                x, matrices, (4, 6), fill_mode=fill_mode, fill_value=2.0
            ),
            rng.standard_normal((2, 5, 4, 2)),
        )


# ------------------------------------------------------------------ the sampler vs SciPy
SCIPY_MODES = {"reflect": "reflect", "wrap": "grid-wrap", "nearest": "nearest"}


def scipy_affine(image, matrix, out_hw, order, mode, cval):
    """Independent reference: ndimage.map_coordinates per channel at the matrix's points."""
    rows, cols = np.mgrid[0 : out_hw[0], 0 : out_hw[1]].astype(np.float64)
    src_x = matrix[0, 0] * cols + matrix[0, 1] * rows + matrix[0, 2]
    src_y = matrix[1, 0] * cols + matrix[1, 1] * rows + matrix[1, 2]
    scipy_mode = SCIPY_MODES.get(mode, "grid-constant")
    return np.stack(
        [
            ndimage.map_coordinates(
                image[..., c], [src_y, src_x], order=order, mode=scipy_mode, cval=cval
            )
            for c in range(image.shape[-1])
        ],
        axis=-1,
    )


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_affine_sample_matches_scipy(fill_mode, interpolation, rng):
    x = rng.standard_normal((3, 6, 7, 2))
    angles = rng.uniform(-np.pi, np.pi, 3)
    scales = rng.uniform(0.5, 2.5, 3)
    matrices = np.stack(
        [
            [[s * np.cos(a), -s * np.sin(a), tx], [s * np.sin(a), s * np.cos(a), ty]]
            for a, s, tx, ty in zip(angles, scales, *rng.uniform(-9, 9, (2, 3)), strict=True)
        ]
    )
    y = affine_sample(Tensor(x), matrices, (5, 8), interpolation, fill_mode, 1.5).numpy()
    assert y.shape == (3, 5, 8, 2) and y.dtype == np.float64
    order = 1 if interpolation == "bilinear" else 0
    for b in range(3):
        expected = scipy_affine(x[b], matrices[b], (5, 8), order, fill_mode, 1.5)
        np.testing.assert_allclose(y[b], expected, atol=1e-4)


# ------------------------------------------------------------------ hand-made images
@pytest.mark.parametrize(
    ("fill_mode", "first_column"),
    [
        ("constant", [-1, -1, -1, -1]),
        ("reflect", [0, 4, 8, 12]),
        ("wrap", [3, 7, 11, 15]),
        ("nearest", [0, 4, 8, 12]),
    ],
)
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_translation_by_one_pixel(fill_mode, first_column, interpolation):
    """width_factor 0.25 of 4 pixels moves the content one pixel right; column 0 is filled."""
    x = square(4)
    layer = layers.RandomTranslation(0.0, (0.25, 0.25), fill_mode, interpolation, fill_value=-1.0)
    y = layer(x, training=True).numpy()[0, :, :, 0]
    np.testing.assert_allclose(y[:, 1:], x[0, :, :3, 0], atol=1e-6)
    np.testing.assert_allclose(y[:, 0], first_column, atol=1e-6)
    # and one pixel up: the last row is filled
    y = layers.RandomTranslation((-0.25, -0.25), 0.0, fill_mode, fill_value=-1.0)(x, True)
    np.testing.assert_allclose(y.numpy()[0, :3, :, 0], x[0, 1:, :, 0], atol=1e-6)


def test_half_pixel_shift_blends_with_the_fill():
    x = square(4)
    y = layers.RandomTranslation(0, (0.125, 0.125), "constant", fill_value=10.0)(x, True)
    row = y.numpy()[0, 0, :, 0]
    np.testing.assert_allclose(row, [0.5 * 10 + 0.5 * 0, 0.5, 1.5, 2.5], atol=1e-6)
    y = layers.RandomTranslation(0, (0.125, 0.125), "wrap")(x, True)  # 3 wraps round to column 0
    np.testing.assert_allclose(y.numpy()[0, 0, :, 0], [1.5, 0.5, 1.5, 2.5], atol=1e-6)


@pytest.mark.parametrize(("factor", "turns"), [(0.25, 1), (-0.25, -1), (0.5, 2)])
def test_rotation_by_quarter_turns_is_rot90(factor, turns):
    """Positive factors turn counter-clockwise, like np.rot90."""
    x = np.concatenate([square(5, 3), square(5, 3)[:, ::-1]])
    y = layers.RandomRotation((factor, factor))(x, training=True).numpy()
    np.testing.assert_allclose(y, np.rot90(x, turns, axes=(1, 2)), atol=1e-4)


def test_half_turn_of_a_rectangle_and_corners_of_an_eighth_turn():
    x = np.arange(24, dtype=np.float32).reshape(1, 4, 6, 1)
    y = layers.RandomRotation((0.5, 0.5))(x, training=True).numpy()
    np.testing.assert_allclose(y, x[:, ::-1, ::-1], atol=1e-4)
    y = layers.RandomRotation((0.125, 0.125), "constant", fill_value=-5.0)(
        np.ones((1, 9, 9, 1)), training=True
    )
    corners = y.numpy()[0, [0, 0, -1, -1], [0, -1, 0, -1], 0]
    np.testing.assert_allclose(corners, -5.0)  # the corners now show what was outside
    assert y.numpy()[0, 4, 4, 0] == pytest.approx(1.0)  # the centre stays


def test_zoom_sign_convention():
    x = square(4)
    # -0.5 zooms in 2×: output pixel x shows input point 1.5 + 0.5·(x − 1.5)
    y = layers.RandomZoom((-0.5, -0.5))(x, training=True).numpy()[0, :, :, 0]
    coords = 0.75 + 0.5 * np.arange(4)
    np.testing.assert_allclose(y, 4 * coords[:, None] + coords[None, :], atol=1e-5)
    # +1 zooms out 2×: the image shrinks to half size in the middle, the rest is fill
    y = layers.RandomZoom((1.0, 1.0), fill_mode="constant", fill_value=-1.0)(
        np.ones((1, 9, 9, 1)), training=True
    ).numpy()[0, :, :, 0]
    assert y[4, 4] == 1.0 and y[0, 0] == -1.0 and y[4, 0] == -1.0
    # width_factor zooms the width alone
    y = layers.RandomZoom((0.0, 0.0), (-0.5, -0.5))(x, training=True).numpy()[0, :, :, 0]
    np.testing.assert_allclose(y, 4 * np.arange(4)[:, None] + coords[None, :], atol=1e-5)


def test_zoom_without_width_factor_keeps_the_aspect_ratio():
    ramp = np.broadcast_to(np.arange(9.0), (9, 9))  # columns 0..8, the same on every row
    x = np.stack([ramp, ramp.T], axis=-1)[None].repeat(6, axis=0)
    y = layers.RandomZoom((-0.5, -0.1), seed=2)(x, training=True).numpy()
    # zooming in by z about the centre 4 shows column 4 + z·(c − 4): read z off both ramps
    zoom_x = (y[:, 0, 8, 0] - y[:, 0, 0, 0]) / 8
    zoom_y = (y[:, 8, 0, 1] - y[:, 0, 0, 1]) / 8
    assert np.all((zoom_x >= 0.5) & (zoom_x <= 0.9)) and np.unique(zoom_x).size == 6
    np.testing.assert_allclose(zoom_x, zoom_y, atol=1e-5)
    y = layers.RandomZoom((-0.5, -0.1), (-0.5, -0.1), seed=2)(x, training=True).numpy()
    assert not np.allclose(y[:, 0, 8, 0] - y[:, 0, 0, 0], y[:, 8, 0, 1] - y[:, 0, 0, 1])


# ------------------------------------------------------------------ flips
@pytest.mark.parametrize(
    ("mode", "outcomes"),
    [
        ("horizontal", [(False, False), (False, True)]),
        ("vertical", [(False, False), (True, False)]),
        ("horizontal_and_vertical", [(False, False), (False, True), (True, False), (True, True)]),
    ],
)
def test_flip_modes(mode, outcomes, rng):
    x = images(rng, (1, 5, 6, 2)).repeat(64, axis=0)
    y = layers.RandomFlip(mode, seed=0)(x, training=True).numpy()
    seen = set()
    for image in y:
        for up_down, left_right in outcomes:
            expected = x[0, ::-1] if up_down else x[0]
            expected = expected[:, ::-1] if left_right else expected
            if np.array_equal(image, expected):
                seen.add((up_down, left_right))
                break
        else:
            pytest.fail("an image was changed by something other than the allowed flips")
    assert seen == set(outcomes)  # every outcome happens in 64 tosses


def test_horizontal_flip_is_reversed_columns(rng):
    x = images(rng, (8, 3, 4, 1))
    y = layers.RandomFlip("horizontal", seed=5)(x, training=True).numpy()
    flipped = np.array([np.array_equal(y[i], x[i, :, ::-1]) for i in range(8)])
    assert flipped.any() and not flipped.all()
    np.testing.assert_array_equal(y[flipped], x[flipped][:, :, ::-1])
    np.testing.assert_array_equal(y[~flipped], x[~flipped])


# ------------------------------------------------------------------ brightness and contrast
def test_brightness_formula_against_numpy(rng):
    x = rng.uniform(0, 255, (3, 4, 5, 3)).astype(np.float32)
    y = layers.RandomBrightness((0.1, 0.1))(x, training=True).numpy()
    np.testing.assert_allclose(y, np.clip(x + 0.1 * 255, 0, 255), rtol=1e-6)
    y = layers.RandomBrightness((-0.5, -0.5), value_range=(0, 1))(x / 255, training=True)
    np.testing.assert_allclose(y.numpy(), np.clip(x / 255 - 0.5, 0, 1), atol=1e-6)


def test_brightness_one_random_shift_per_image(rng):
    x = rng.uniform(40, 60, (16, 4, 4, 3)).astype(np.float32)
    y = layers.RandomBrightness(0.1, seed=1)(x, training=True).numpy()
    delta = (y - x).reshape(16, -1)
    np.testing.assert_allclose(delta, delta[:, :1].repeat(48, axis=1), atol=1e-4)
    assert np.all(np.abs(delta) <= 25.5 + 1e-4) and np.unique(delta[:, 0].round(3)).size == 16
    assert (delta[:, 0] < 0).any() and (delta[:, 0] > 0).any()
    y = layers.RandomBrightness((-1, -1), value_range=(255, 0))(x, training=True)
    np.testing.assert_array_equal(y.numpy(), 0.0)  # −1 is black (value_range sorted)


def test_contrast_formula_against_numpy(rng):
    x = rng.standard_normal((16, 5, 4, 3)) * 3 + 2  # any range, negative values too
    y = layers.RandomContrast((0.4, 0.3), seed=2)(Tensor(x), training=True).numpy()
    mean = x.mean(axis=(1, 2), keepdims=True)  # per image, per channel
    # one factor per image: recover it by least squares, then the formula must hold exactly
    c = ((y - mean) * (x - mean)).sum(axis=(1, 2, 3)) / ((x - mean) ** 2).sum(axis=(1, 2, 3))
    assert np.all((c >= 0.6) & (c <= 1.3)) and c.min() < 0.9 and c.max() > 1.1
    np.testing.assert_allclose(y, (x - mean) * c[:, None, None, None] + mean, atol=1e-10)


def test_contrast_extremes_and_clipping(rng):
    x = rng.uniform(0, 1, (2, 3, 3, 2)).astype(np.float32)
    y = layers.RandomContrast((0.0, 0.0))(x, training=True).numpy()  # factor exactly 1
    np.testing.assert_allclose(y, x, atol=1e-6)
    y = layers.RandomContrast((0.0, 9.0), value_range=(0, 1), seed=0)(x, training=True)
    assert y.numpy().min() >= 0 and y.numpy().max() <= 1
    assert np.any(y.numpy() == 0) and np.any(y.numpy() == 1)


# ------------------------------------------------------------------ RandomCrop
def test_crop_training_takes_a_random_window_per_image(rng):
    x = images(rng, (32, 7, 9, 2))
    y = layers.RandomCrop(4, 5, seed=0)(x, training=True).numpy()
    assert y.shape == (32, 4, 5, 2) and y.dtype == np.float32
    offsets = []
    for b in range(32):
        found = [
            (i, j)
            for i in range(4)
            for j in range(5)
            if np.array_equal(y[b], x[b, i : i + 4, j : j + 5])
        ]
        assert len(found) == 1
        offsets.append(found[0])
    assert len(set(offsets)) > 5  # positions differ between the images of one batch
    assert {i for i, _ in offsets} == {0, 1, 2, 3}  # the last position is reachable too


@pytest.mark.parametrize(
    ("in_hw", "top", "left"), [((7, 9), 1, 1), ((8, 6), 1, 0), ((9, 10), 2, 2)]
)
def test_crop_inference_takes_the_centre(in_hw, top, left, rng):
    x = images(rng, (2, *in_hw, 3))
    y = layers.RandomCrop(5, 6)(x).numpy()
    np.testing.assert_array_equal(y, x[:, top : top + 5, left : left + 6])
    same = Tensor(x[:, :5, :6])
    assert layers.RandomCrop(5, 6)(same) is same
    assert layers.RandomCrop(5, 6, seed=0)(same, training=True) is same


def test_crop_of_a_small_image_resizes_the_largest_centred_window(rng):
    # Target 4×8 (aspect 1:2) from 3×4: the largest 1:2 window is 2×4 at row 0 (Keras: int(0.5)).
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4, 1)
    for training in (False, True):
        y = layers.RandomCrop(4, 8, seed=0)(x, training=training).numpy()[0, :, :, 0]
        # TF-style half-pixel bilinear resize of rows 0..1 (2→4) and columns 0..3 (4→8)
        src_r = np.clip((np.arange(4) + 0.5) * 0.5 - 0.5, 0, 1)
        src_c = np.clip((np.arange(8) + 0.5) * 0.5 - 0.5, 0, 3)
        np.testing.assert_allclose(y, 4 * src_r[:, None] + src_c[None, :], atol=1e-5)
    y = layers.RandomCrop(12, 3)(np.full((2, 10, 20, 3), 7.0, np.float32))
    assert y.shape == (2, 12, 3, 3)
    np.testing.assert_allclose(y.numpy(), 7.0)


def test_crop_output_shape_is_fixed():
    crop = layers.RandomCrop(5, 6)
    assert crop.compute_output_shape((None, 32, 32, 3)) == (None, 5, 6, 3)
    assert crop.compute_output_shape((2, None, None, 1)) == (2, 5, 6, 1)
    for shape in [(1, 5, 6, 1), (2, 30, 40, 3), (1, 3, 3, 2), (1, 2, 50, 1)]:
        for training in (False, True):
            assert crop(np.ones(shape), training=training).shape == crop.compute_output_shape(shape)


# ------------------------------------------------------------------ models
def augmented_model():
    return gn.Sequential(
        [
            layers.Input((8, 8, 3)),
            layers.RandomFlip("horizontal", seed=1),
            layers.RandomTranslation(0.1, (-0.2, 0.1), fill_mode="constant", fill_value=0.5),
            layers.RandomRotation(0.05, interpolation="nearest", seed=2),
            layers.RandomZoom((-0.2, 0.1), 0.1, fill_mode="wrap", seed=3),
            layers.RandomBrightness(0.1, value_range=(0, 1)),
            layers.RandomContrast((0.2, 0.3), value_range=(0, 1), seed=4),
            layers.RandomCrop(6, 6, seed=5),
        ]
    )


def test_predict_leaves_images_untouched_except_the_centre_crop(rng):
    x = rng.uniform(0, 1, (5, 8, 8, 3)).astype(np.float32)
    model = augmented_model()
    np.testing.assert_array_equal(model.predict(x, batch_size=2), x[:, 1:7, 1:7])
    assert model.compute_output_shape((None, 8, 8, 3)) == (None, 6, 6, 3)
    assert not np.allclose(model(x, training=True).numpy(), x[:, 1:7, 1:7])


def test_save_load_fit_with_augmentation(tmp_path, rng):
    gn.set_seed(0)
    x = rng.uniform(0, 1, (16, 8, 8, 3)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype(np.int64)
    model = augmented_model()
    model.add(layers.Flatten())
    model.add(layers.Dense(2, activation="softmax"))
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model.save(tmp_path / "augmented.glassnet")
    loaded = gn.load_model(tmp_path / "augmented.glassnet")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for old, new in zip(model.children(), loaded.children(), strict=True):
        assert type(new) is type(old)
        assert json.dumps(new.get_config()) == json.dumps(old.get_config())
    # the seeded layers' generators are part of a training checkpoint (5 + the engine's)
    assert len(checkpoint._generators(model)) == 6


def test_config_round_trip_keeps_pairs_and_defaults():
    layer = layers.RandomZoom((-0.3, 0.2), None, "nearest", "nearest", 9, 0.5, name="zoom")
    config = layer.get_config()
    assert config == {
        "name": "zoom",
        "trainable": True,
        "height_factor": (-0.3, 0.2),
        "width_factor": None,
        "fill_mode": "nearest",
        "interpolation": "nearest",
        "seed": 9,
        "fill_value": 0.5,
    }
    clone = layers.deserialize(json.loads(json.dumps(layers.serialize(layer))))
    assert clone.get_config() == config
    assert repr(layers.RandomFlip("vertical", name="f")) == "RandomFlip(mode='vertical', name='f')"
    assert layers.RandomBrightness(0.2).get_config()["value_range"] == (0.0, 255.0)
    assert layers.RandomContrast((0.1, 0.2)).get_config()["factor"] == (0.1, 0.2)


# ------------------------------------------------------------------ argument errors
ERRORS = [
    (layers.RandomFlip, {"mode": "diagonal"}, ValueError, r"RandomFlip: 'mode' must be one of"),
    (layers.RandomFlip, {"mode": 1}, TypeError, r"'mode' must be one of .*Received: mode=1"),
    (layers.RandomFlip, {"seed": 1.5}, TypeError, r"RandomFlip: 'seed' must be a non-negative"),
    (layers.RandomFlip, {"seed": -1}, ValueError, r"'seed' must be a non-negative integer"),
    (layers.RandomFlip, {"seed": True}, TypeError, r"'seed' must be"),
    (
        layers.RandomTranslation,
        {"height_factor": 1.5, "width_factor": 0.1},
        ValueError,
        r"RandomTranslation: 'height_factor' must be a number or a pair \(lower, upper\) of "
        r"numbers in \[-1.0, 1.0\] .*Received: height_factor=1.5",
    ),
    (
        layers.RandomTranslation,
        {"height_factor": 0.1, "width_factor": (0.1, 0.2, 0.3)},
        TypeError,
        r"'width_factor' must be a number or a pair",
    ),
    (
        layers.RandomTranslation,
        {"height_factor": 0.1, "width_factor": "0.1"},
        TypeError,
        r"Received: width_factor='0.1'",
    ),
    (
        layers.RandomTranslation,
        {"height_factor": 0.1, "width_factor": 0.1, "fill_mode": "mirror"},
        ValueError,
        r"RandomTranslation: 'fill_mode' must be one of 'reflect', 'wrap', 'constant', "
        r"'nearest'. Received: fill_mode='mirror'",
    ),
    (
        layers.RandomTranslation,
        {"height_factor": 0.1, "width_factor": 0.1, "interpolation": "bicubic"},
        ValueError,
        r"'interpolation' must be one of 'bilinear', 'nearest'",
    ),
    (
        layers.RandomTranslation,
        {"height_factor": 0.1, "width_factor": 0.1, "fill_value": None},
        TypeError,
        r"RandomTranslation: 'fill_value' must be a finite number",
    ),
    (
        layers.RandomRotation,
        {"factor": (-0.5, 1.2)},
        ValueError,
        r"RandomRotation: 'factor' must be .*fractions of a full turn.*Received: "
        r"factor=\(-0.5, 1.2\)",
    ),
    (layers.RandomRotation, {"factor": float("nan")}, TypeError, r"'factor' must be a number"),
    (layers.RandomRotation, {"factor": True}, TypeError, r"Received: factor=True"),
    (layers.RandomRotation, {"factor": 0.1, "seed": "1"}, TypeError, r"'seed' must be"),
    (
        layers.RandomZoom,
        {"height_factor": -1.1},
        ValueError,
        r"RandomZoom: 'height_factor' must be .*negative zooms in",
    ),
    (
        layers.RandomZoom,
        {"height_factor": 0.1, "width_factor": [2, 0]},
        ValueError,
        r"'width_factor' must be .*Received: width_factor=\[2, 0\]",
    ),
    (layers.RandomZoom, {"height_factor": 0.1, "fill_mode": None}, TypeError, r"'fill_mode'"),
    (layers.RandomCrop, {"height": 0, "width": 3}, ValueError, r"RandomCrop: 'height' must be"),
    (layers.RandomCrop, {"height": 3, "width": 2.5}, TypeError, r"'width' must be a positive"),
    (layers.RandomCrop, {"height": 3, "width": 3, "seed": 0.5}, TypeError, r"'seed' must be"),
    (
        layers.RandomBrightness,
        {"factor": 2},
        ValueError,
        r"RandomBrightness: 'factor' must be a number or a pair .*Received: factor=2",
    ),
    (
        layers.RandomBrightness,
        {"factor": 0.1, "value_range": (0, 0)},
        ValueError,
        r"RandomBrightness: 'value_range' must be a pair \(low, high\) of two different",
    ),
    (
        layers.RandomBrightness,
        {"factor": 0.1, "value_range": 255},
        ValueError,
        r"Received: value_range=255",
    ),
    (
        layers.RandomContrast,
        {"factor": 1.5},
        ValueError,
        r"RandomContrast: 'factor' must be a number in \[0, 1\] or a pair .*Received: factor=1.5",
    ),
    (layers.RandomContrast, {"factor": -0.1}, ValueError, r"Received: factor=-0.1"),
    (layers.RandomContrast, {"factor": (1.2, 0.5)}, ValueError, r"lower in \[0, 1\]"),
    (layers.RandomContrast, {"factor": (0.2, -0.5)}, ValueError, r"upper >= 0"),
    (layers.RandomContrast, {"factor": None}, TypeError, r"'factor' must be a number"),
    (
        layers.RandomContrast,
        {"factor": 0.1, "value_range": (0, "1")},
        ValueError,
        r"RandomContrast: 'value_range' must be a pair",
    ),
]


ERRORS += [
    (layers.RandomResizedCrop, {"scale": (0.5, 1.5)}, ValueError, r"'scale' must be a pair"),
    (layers.RandomResizedCrop, {"scale": (0.8, 0.5)}, ValueError, r"lower <= upper <= 1.0"),
    (layers.RandomResizedCrop, {"scale": 0.5}, ValueError, r"Received: scale=0.5"),
    (layers.RandomResizedCrop, {"ratio": (0, 1)}, ValueError, r"'ratio' must be a pair .*0 <"),
]


@pytest.mark.parametrize(("cls", "kwargs", "error", "match"), ERRORS)
def test_argument_errors(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


# ------------------------------------------------------------------ RandomResizedCrop
def test_resized_crop_of_the_whole_image_is_the_image(rng):
    x = images(rng, (3, 8, 10, 2))
    whole = layers.RandomResizedCrop(scale=(1.0, 1.0), ratio=(10 / 8, 10 / 8), seed=0)
    np.testing.assert_allclose(whole(Tensor(x), training=True).data, x, atol=1e-5)


def test_resized_crop_stretches_a_window_of_the_drawn_area(rng):
    """On a ramp (pixel value = column), a window of a quarter of the area with the image's
    own shape is half the width, stretched ×2: the output ramp rises by ½ per pixel, and
    starts anywhere the window fits."""
    ramp = np.broadcast_to(np.arange(16, dtype=np.float32)[None, None, :, None], (64, 16, 16, 1))
    crop = layers.RandomResizedCrop(scale=(0.25, 0.25), ratio=(1.0, 1.0), seed=3)
    out = crop(Tensor(np.ascontiguousarray(ramp)), training=True).data
    # Within half a pixel of the border the sampler repeats the edge pixel (as resize does).
    np.testing.assert_allclose(np.diff(out, axis=2)[:, :, 1:-1], 0.5, atol=1e-4)
    np.testing.assert_allclose(np.diff(out, axis=1), 0.0, atol=1e-4)
    # The window's left edge sits in [0, 8]; its second output pixel reads left + 3/4 - 1/2.
    starts = out[:, 0, 1, 0] - 0.25
    assert starts.min() >= 0 - 1e-4 and starts.max() <= 8 + 1e-4
    assert starts.max() - starts.min() > 4  # the position varies from image to image


def test_resized_crop_is_in_the_photo_recipe_and_saves(tmp_path, rng):
    from glassnet.applications.photo_recipe import photo_augmentation

    model = gn.Sequential([layers.Input((12, 12, 3)), *photo_augmentation(seed=1)])
    model.save(tmp_path / "aug.glassnet")
    again = gn.load_model(tmp_path / "aug.glassnet")
    assert again.layers[0].get_config()["scale"] == [0.35, 1.0]
    x = rng.uniform(0, 255, (2, 12, 12, 3)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x), x)  # inference: the photo as it is
