"""load_image (formats, orientation, conversions, resizing, errors, decompression bombs) and
image_dataset_from_directory / ImageDataset (classes, labels, splits, shuffling, streaming,
clean stops, the decoded-image cache, training with fit)."""

from __future__ import annotations

import gc
import io
import json
import os
import resource
import struct
import threading
import time
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

import glassnet as gn
from glassnet import layers
from glassnet.data import (
    IMAGE_EXTENSIONS,
    DatasetError,
    DatasetWarning,
    ImageDataset,
    ImageLoadError,
    ImageTooLargeError,
    image_dataset_from_directory,
    load_image,
)
from glassnet.data import images as images_module

# A DatasetWarning a test does not expect (with pytest.warns) fails it.
pytestmark = pytest.mark.filterwarnings("error::glassnet.data.DatasetWarning")


# ---------------------------------------------------------------------------- helpers
def save(path, pixels, fmt=None, **kwargs):
    """Write ``pixels`` (an array or a PIL image) to ``path``, making folders as needed."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    image.save(path, fmt, **kwargs)
    return str(path)


def solid(h, w, color):
    return np.full((h, w, len(color)), color, dtype=np.uint8)


def png_bytes(width, height, bit_depth=8, color_type=2, raw=b""):
    """A PNG written by hand: lets a header declare any size (Pillow would refuse to write a
    50,000 × 50,000 image) and writes 16-bit RGB, which Pillow cannot save."""

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def make_folder(root, counts, size=(6, 5)):
    """One sub-folder per class; image ``i`` of class ``c`` is filled with ``40 * c + i``,
    so a batch's pixels tell which file (and class) each row came from."""
    for c, (name, n) in enumerate(counts.items()):
        for i in range(n):
            save(root / name / f"{i:03d}.png", np.full((*size, 3), 40 * c + i, np.uint8))
    return root


def pixel_ids(x):
    return x[:, 0, 0, 0].astype(int)


def data_threads():
    return [t for t in threading.enumerate() if t.name.startswith("glassnet-data")]


@pytest.fixture
def pets(tmp_path):
    return make_folder(tmp_path / "pets", {"cats": 12, "dogs": 9, "owls": 7})


@pytest.fixture
def decode_counter(monkeypatch):
    """Counts calls of the decoder every dataset uses (thread-safe)."""
    calls = []
    real = images_module.decode_image

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(images_module, "decode_image", counting)
    return calls


# ---------------------------------------------------------------------------- load_image
@pytest.mark.parametrize(
    "ext, fmt, kwargs, tol",
    [
        (".png", "PNG", {}, 0),
        (".jpg", "JPEG", {"quality": 95}, 3),
        (".bmp", "BMP", {}, 0),
        (".gif", "GIF", {}, 0),
        (".webp", "WEBP", {"lossless": True}, 0),
    ],
)
def test_every_format_loads_as_float32_hwc(tmp_path, ext, fmt, kwargs, tol):
    path = save(tmp_path / f"a{ext}", solid(12, 16, (200, 40, 90)), fmt, **kwargs)
    x = load_image(path)
    assert x.shape == (12, 16, 3)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x[6, 8], [200, 40, 90], atol=tol)
    assert IMAGE_EXTENSIONS == (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".webp")


def test_content_decides_not_the_extension(tmp_path):
    path = save(tmp_path / "really_a_png.jpg", solid(4, 4, (1, 2, 3)), "PNG")
    np.testing.assert_array_equal(load_image(path)[0, 0], [1, 2, 3])


def test_exif_orientation_is_applied(tmp_path):
    # Stored 40 wide × 20 high, left half red, right half blue. Orientation 6 says "turn 90°
    # clockwise to display": the image shows 20 wide × 40 high, red on top, blue below.
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = (255, 0, 0)
    stored[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = save(tmp_path / "phone.jpg", stored, "JPEG", quality=95, exif=exif.tobytes())
    x = load_image(path)
    assert x.shape == (40, 20, 3)
    np.testing.assert_allclose(x[5, 10], [255, 0, 0], atol=8)
    np.testing.assert_allclose(x[35, 10], [0, 0, 255], atol=8)
    # Resizing happens after orienting: the target is height × width as displayed.
    assert load_image(path, image_size=(8, 4)).shape == (8, 4, 3)
    # PNG keeps EXIF too (Orientation 3: turn 180°).
    exif[0x0112] = 3
    png = save(tmp_path / "upside_down.png", stored, exif=exif.tobytes())
    np.testing.assert_array_equal(load_image(png)[0, 0], [0, 0, 255])
    # Unrotated when the tag is absent.
    plain = save(tmp_path / "plain.jpg", stored, "JPEG", quality=95)
    assert load_image(plain).shape == (20, 40, 3)


def test_grayscale_and_rgb_conversions(tmp_path):
    gray = save(tmp_path / "g.png", np.full((3, 3), 77, np.uint8))
    x = load_image(gray)
    assert x.shape == (3, 3, 3)
    np.testing.assert_array_equal(x[0, 0], [77, 77, 77])
    red = save(tmp_path / "r.png", solid(3, 3, (255, 0, 0)))
    g = load_image(red, color_mode="grayscale")
    assert g.shape == (3, 3, 1)
    assert g[0, 0, 0] == 76  # ITU-R 601-2 luma: 0.299 · 255
    assert load_image(red, color_mode="rgba")[0, 0].tolist() == [255, 0, 0, 255]


def test_palette_bilevel_and_cmyk(tmp_path):
    palette = Image.new("P", (4, 4))
    palette.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    palette.putpixel((1, 2), 1)
    x = load_image(save(tmp_path / "p.png", palette))
    np.testing.assert_array_equal(x[2, 1], [10, 200, 30])
    np.testing.assert_array_equal(x[0, 0], [0, 0, 0])
    bilevel = Image.new("1", (4, 4), 1)
    np.testing.assert_array_equal(load_image(save(tmp_path / "b.bmp", bilevel))[0, 0], [255] * 3)
    cyan = Image.new("CMYK", (8, 8), (255, 0, 0, 0))
    np.testing.assert_allclose(
        load_image(save(tmp_path / "c.jpg", cyan, quality=95))[4, 4], [0, 255, 255], atol=8
    )


def test_transparency_is_composited_on_white(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)  # black under full transparency ...
    rgba[0, 0] = (255, 0, 0, 255)  # ... except one opaque red pixel
    rgba[1, 1] = (0, 0, 0, 128)  # and a half-transparent black one
    path = save(tmp_path / "t.png", rgba)
    x = load_image(path)
    assert x.shape == (2, 2, 3)
    np.testing.assert_array_equal(x[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(x[0, 1], [255, 255, 255])  # not black: white behind
    np.testing.assert_allclose(x[1, 1], [127, 127, 127], atol=1)
    assert load_image(path, color_mode="grayscale")[0, 1, 0] == 255
    np.testing.assert_array_equal(load_image(path, color_mode="rgba")[0, 1], [0, 0, 0, 0])
    la = Image.fromarray(np.array([[[50, 0], [50, 255]]], np.uint8), "LA")
    np.testing.assert_array_equal(load_image(save(tmp_path / "la.png", la))[0, :, 0], [255, 50])
    gif = Image.new("P", (2, 1))
    gif.putpalette([9, 9, 9, 200, 0, 0] + [0] * 762)
    gif.putpixel((1, 0), 1)
    path = save(tmp_path / "t.gif", gif, transparency=0)
    np.testing.assert_array_equal(load_image(path)[0], [[255, 255, 255], [200, 0, 0]])


def test_sixteen_bit_images_are_scaled_to_eight(tmp_path):
    levels = np.array([[0, 257 * 100, 65535]], np.uint16)
    path = save(tmp_path / "g16.png", levels)
    assert Image.open(path).mode in ("I;16", "I")  # Pillow before 10.1 opens it as "I"
    np.testing.assert_array_equal(load_image(path, color_mode="grayscale")[0, :, 0], [0, 100, 255])
    # 16-bit RGB (Pillow cannot write it): one pixel (65535, 32896, 0), big-endian.
    raw = b"\x00" + struct.pack(">HHH", 65535, 32896, 0)
    path = tmp_path / "rgb16.png"
    path.write_bytes(png_bytes(1, 1, bit_depth=16, color_type=2, raw=raw))
    np.testing.assert_array_equal(load_image(path)[0, 0], [255, 128, 0])


def test_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in [(255, 0, 0), (0, 0, 255)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(path).n_frames == 2
    np.testing.assert_array_equal(load_image(path)[0, 0], [255, 0, 0])


def test_resize_and_crop_to_aspect_ratio(tmp_path):
    thirds = np.zeros((10, 30, 3), np.uint8)
    thirds[:, :10], thirds[:, 10:20], thirds[:, 20:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    path = save(tmp_path / "wide.png", thirds)
    stretched = load_image(path, image_size=(5, 5), interpolation="nearest")
    assert stretched.shape == (5, 5, 3)
    assert {tuple(p) for p in stretched[2].tolist()} >= {(255, 0, 0), (0, 0, 255)}
    cropped = load_image(path, image_size=(5, 5), crop_to_aspect_ratio=True)
    np.testing.assert_array_equal(cropped, np.broadcast_to([0, 255, 0], (5, 5, 3)))
    assert load_image(path, image_size=(20, 7), interpolation="bicubic").shape == (20, 7, 3)
    tall = load_image(path, image_size=(40, 10), crop_to_aspect_ratio=True)
    assert tall.shape == (40, 10, 3)  # a 10 × 2.5 box of the middle (green) third
    np.testing.assert_array_equal(tall[20, 5], [0, 255, 0])


def test_large_jpeg_decoded_at_reduced_scale_still_matches(tmp_path):
    # A photo much bigger than the target is decoded at 1/2..1/8 scale by libjpeg first.
    gradient = np.linspace(0, 255, 800, dtype=np.float32)
    pixels = np.stack([np.tile(gradient, (600, 1))] * 3, axis=-1).astype(np.uint8)
    path = save(tmp_path / "big.jpg", pixels, quality=95)
    small = load_image(path, image_size=(30, 40))
    full = np.asarray(Image.open(path).convert("RGB").resize((40, 30), Image.BILINEAR))
    assert small.shape == (30, 40, 3)
    np.testing.assert_allclose(small, full, atol=6)


def test_bytes_and_file_objects(tmp_path):
    path = save(tmp_path / "a.png", solid(3, 4, (5, 6, 7)))
    data = open(path, "rb").read()
    np.testing.assert_array_equal(load_image(data), load_image(path))
    np.testing.assert_array_equal(load_image(io.BytesIO(data)), load_image(path))
    with pytest.raises(ImageLoadError, match="cannot load image '<bytes>'"):
        load_image(b"not an image")


@pytest.mark.parametrize(
    "content, match",
    [
        (b"hello, I am a text file\n", "'.*bad.jpg': not a PNG, JPEG, BMP, GIF or WebP.*text"),
        (b"", "bad.jpg': the file is empty"),
        (b"%PDF-1.7 ...", "it is a PDF document"),
        (b"II*\x00" + bytes(60), "a TIFF image, which is not supported"),
        (b"\x00\x00\x00\x18ftypheic" + bytes(20), "HEIC photo; convert it to JPEG"),
        (b"<!DOCTYPE html><html>", "web page"),
    ],
)
def test_not_an_image_is_named(tmp_path, content, match):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError, match=match) as info:
        load_image(path)
    assert isinstance(info.value, ValueError)
    assert info.value.path == str(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file_is_named(tmp_path, rng, fmt):
    noise = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    full = save(tmp_path / f"full.{fmt.lower()}", noise, fmt)
    cut = tmp_path / f"cut.{fmt.lower()}"
    data = open(full, "rb").read()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match=f"'{cut}': the file is truncated") as info:
        load_image(cut)
    assert info.value.kind == "corrupt"


def test_corrupt_pixel_data_is_named(tmp_path, rng):
    data = bytearray(
        open(save(tmp_path / "ok.png", rng.integers(0, 256, (64, 64, 3), np.uint8)), "rb").read()
    )
    start = data.index(b"IDAT") + 200
    data[start : start + 60] = bytes(b ^ 0x55 for b in data[start : start + 60])
    (tmp_path / "bad.png").write_bytes(bytes(data))
    with pytest.raises(ImageLoadError, match="bad.png': corrupt PNG data \\(OSError: "):
        load_image(tmp_path / "bad.png")
    (tmp_path / "head.png").write_bytes(bytes(data[:30]) + bytes(100))
    with pytest.raises(ImageLoadError, match="head.png': corrupt PNG file: its header cannot"):
        load_image(tmp_path / "head.png")
    (tmp_path / "bmw.bmp").write_text("BMW 320i, 1998, blue")
    with pytest.raises(ImageLoadError, match="bmw.bmp': not a PNG.*looks like text"):
        load_image(tmp_path / "bmw.bmp")


def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="cannot load image '.*nothing.png': no such file"):
        load_image(tmp_path / "nothing.png")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": (0, 5)}, r"'image_size' must be \(height, width\), two positive"),
        ({"image_size": 64}, "Received: image_size=64"),
        ({"color_mode": "bgr"}, "'color_mode' must be one of 'rgb', 'grayscale' or 'rgba'"),
        ({"interpolation": "cubic"}, "'interpolation' must be one of 'nearest', 'bilinear'"),
    ],
)
def test_load_image_argument_errors(tmp_path, kwargs, match):
    path = save(tmp_path / "a.png", solid(2, 2, (0, 0, 0)))
    with pytest.raises(ValueError, match=match):
        load_image(path, **kwargs)


def test_decompression_bomb_is_refused_from_the_header(tmp_path):
    # 50,000 × 50,000 RGB would be 7.5 GB decoded; the file is under 100 bytes.
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bytes(50_000, 50_000))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageTooLargeError, match=r"'.*bomb.png'.*2,500,000,000 pixels") as info:
        load_image(path, image_size=(64, 64))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 100 * 1024  # nothing near the 7.5 GB was allocated
    assert "MAX_IMAGE_PIXELS" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert info.value.kind == "too_large"
    assert info.value.pixels == 2_500_000_000


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_image_over_the_limit_is_refused_even_where_pillow_only_warns(tmp_path, monkeypatch):
    path = save(tmp_path / "big.png", solid(12, 12, (1, 1, 1)))  # 144 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow warns for 100–200
    with pytest.raises(ImageTooLargeError, match=r"12 × 12 = 144 pixels, more than the limit"):
        load_image(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert load_image(path).shape == (12, 12, 3)


# ---------------------------------------------------------------------------- folders
def test_classes_sorted_labels_and_nested_folders(tmp_path):
    root = make_folder(tmp_path / "d", {"b_dogs": 3, "a_cats": 2})
    save(root / "b_dogs" / "deeper" / "x.png", np.full((6, 5, 3), 45, np.uint8))
    save(root / "b_dogs" / ".hidden.png", np.full((6, 5, 3), 1, np.uint8))
    save(root / ".trash" / "x.png", np.full((6, 5, 3), 1, np.uint8))
    save(root / "__MACOSX" / "b_dogs" / "x.png", np.full((6, 5, 3), 1, np.uint8))
    ds = image_dataset_from_directory(root, image_size=(6, 5), shuffle=False, batch_size=4)
    assert ds.class_names == ["a_cats", "b_dogs"]  # sorted: a_cats is 0, b_dogs 1
    assert [os.path.relpath(p, root) for p in ds.file_paths] == [
        "a_cats/000.png",
        "a_cats/001.png",
        "b_dogs/000.png",
        "b_dogs/001.png",
        "b_dogs/002.png",
        "b_dogs/deeper/x.png",
    ]
    assert ds.labels.tolist() == [0, 0, 1, 1, 1, 1]
    assert ds.labels.dtype == np.int64
    x, y = ds.as_arrays()
    # make_folder filled by *creation* order (b_dogs first = 40·0); labels follow sorted names.
    assert pixel_ids(x).tolist() == [40, 41, 0, 1, 2, 45]
    assert y.tolist() == [0, 0, 1, 1, 1, 1]


def test_label_modes(pets):
    kwargs = {"image_size": (6, 5), "shuffle": False, "batch_size": 32}
    _, y = next(iter(image_dataset_from_directory(pets, **kwargs)))
    assert y.dtype == np.int64
    assert y.shape == (28,)
    _, y = next(iter(image_dataset_from_directory(pets, label_mode="categorical", **kwargs)))
    assert y.dtype == np.float32
    assert y.shape == (28, 3)
    np.testing.assert_array_equal(y[:12], np.tile([1, 0, 0], (12, 1)))
    np.testing.assert_array_equal(y.sum(axis=1), 1)
    two = ["dogs", "cats"]
    x, y = next(iter(image_dataset_from_directory(pets, "inferred", "binary", two, **kwargs)))
    assert y.dtype == np.float32
    assert y.shape == (21, 1)
    assert y[:, 0].tolist() == [0.0] * 9 + [1.0] * 12  # class_names order: dogs 0, cats 1
    assert pixel_ids(x).tolist()[:9] == list(range(40, 49))
    x, y = next(iter(image_dataset_from_directory(pets, label_mode=None, **kwargs)))
    assert y is None
    assert x.shape == (28, 6, 5, 3)


def test_label_mode_errors(pets):
    with pytest.raises(ValueError, match="label_mode='binary' needs exactly 2 classes"):
        image_dataset_from_directory(pets, label_mode="binary")
    with pytest.raises(ValueError, match="'label_mode' must be 'int', 'categorical', 'binary'"):
        image_dataset_from_directory(pets, label_mode="sparse")
    with pytest.raises(ValueError, match=r"Expected some of \['cats', 'dogs', 'owls'\]"):
        image_dataset_from_directory(pets, class_names=["cats", "lions"])
    with pytest.raises(ValueError, match="'class_names' can only be given with labels='inferred'"):
        image_dataset_from_directory(pets, labels=None, class_names=["cats"])


def test_color_modes_and_preprocessing_dict(pets):
    ds = image_dataset_from_directory(
        pets, color_mode="grayscale", image_size=(4, 3), crop_to_aspect_ratio=True
    )
    x, _ = next(iter(ds))
    assert x.shape[1:] == (4, 3, 1)
    assert x.dtype == np.float32
    assert ds.preprocessing == {
        "image_size": [4, 3],
        "color_mode": "grayscale",
        "crop_to_aspect_ratio": True,
        "interpolation": "bilinear",
    }
    json.dumps(ds.preprocessing)  # JSON-safe: a model stores it
    # The dataset and load_image(**preprocessing) prepare a file identically.
    x, _ = ds.as_arrays()
    np.testing.assert_array_equal(x[0], load_image(ds.file_paths[0], **ds.preprocessing))
    rgba = image_dataset_from_directory(pets, color_mode="rgba", image_size=(4, 3))
    assert next(iter(rgba))[0].shape[1:] == (4, 3, 4)


def test_any_size_is_resized(tmp_path):
    root = tmp_path / "d"
    save(root / "a" / "1.png", solid(100, 10, (1, 1, 1)))
    save(root / "a" / "2.jpg", solid(7, 300, (2, 2, 2)))
    save(root / "b" / "1.gif", solid(1, 1, (3, 3, 3)))
    x, _ = image_dataset_from_directory(root, image_size=(16, 16)).as_arrays()
    assert x.shape == (3, 16, 16, 3)


def test_labels_none_and_explicit_labels(tmp_path):
    flat = tmp_path / "flat"
    for i in range(5):
        save(flat / f"{i}.png", np.full((3, 3, 3), i, np.uint8))
    ds = image_dataset_from_directory(flat, labels=None, image_size=(3, 3), shuffle=False)
    x, y = next(iter(ds))
    assert y is None
    assert pixel_ids(x).tolist() == [0, 1, 2, 3, 4]
    ds = image_dataset_from_directory(flat, labels=[1, 0, 1, 2, 0], image_size=(3, 3))
    x, y = next(iter(ds))
    assert dict(zip(pixel_ids(x).tolist(), y.tolist(), strict=True)) == {
        0: 1,
        1: 0,
        2: 1,
        3: 2,
        4: 0,
    }
    assert ds.class_names == ["0", "1", "2"]
    with pytest.raises(ValueError, match="'labels' has 2 entries but '.*flat' holds 5 image"):
        image_dataset_from_directory(flat, labels=[0, 1])
    with pytest.raises(ValueError, match="'labels' must be 'inferred', None, or a list"):
        image_dataset_from_directory(flat, labels="folders")


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p / "missing", "the image folder '.*missing' does not exist"),
        (lambda p: make_folder(p / "d", {"a": 1}) / "a" / "000.png", "is a file, not a folder"),
        (lambda p: (p / "d").mkdir() or p / "d", "no class folders in '.*d'. Put each class"),
        (lambda p: (p / "d" / "a").mkdir(parents=True) or p / "d", "class folder.* are empty"),
        (lambda p: make_folder(p / "d", {"only": 3}), "single class folder \\('only'\\)"),
    ],
)
def test_folder_errors_name_the_folder(tmp_path, make, match):
    with pytest.raises(DatasetError, match=match):
        image_dataset_from_directory(make(tmp_path))


def test_loose_images_hint(tmp_path):
    save(tmp_path / "d" / "1.png", solid(2, 2, (0, 0, 0)))
    with pytest.raises(DatasetError, match=r"holds 1 image\(s\) directly; .* labels=None"):
        image_dataset_from_directory(tmp_path / "d")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": 0}, "'batch_size' must be a positive integer. Received: batch_size=0"),
        ({"workers": -1}, "'workers' must be a non-negative integer"),
        ({"image_size": (64,)}, "'image_size' must be \\(height, width\\)"),
        ({"validation_split": 0.2, "subset": "training"}, "needs a 'seed' \\(e.g. seed=123\\)"),
        ({"validation_split": 0.2}, "'subset' and 'validation_split' go together"),
        ({"subset": "training", "seed": 1}, "'subset' and 'validation_split' go together"),
        ({"validation_split": 1.5, "subset": "both", "seed": 1}, "must be between 0 and 1"),
        ({"validation_split": 0.2, "subset": "test", "seed": 1}, "'subset' must be 'training'"),
        ({"seed": -3}, "'seed' must be a non-negative integer"),
    ],
)
def test_argument_errors(pets, kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_dataset_from_directory(pets, **kwargs)


# ---------------------------------------------------------------------------- the split
def _ids(ds):
    return set(pixel_ids(ds.as_arrays()[0]).tolist())


def test_validation_split_is_disjoint_complementary_and_repeatable(pets):
    common = {"validation_split": 0.25, "seed": 3, "image_size": (6, 5), "batch_size": 5}
    train = image_dataset_from_directory(pets, subset="training", **common)
    val = image_dataset_from_directory(pets, subset="validation", **common)
    assert (train.num_samples, val.num_samples) == (21, 7)  # int(0.25 · 28) = 7 (Keras's count)
    assert not set(train.file_paths) & set(val.file_paths)
    everything = image_dataset_from_directory(pets, image_size=(6, 5))
    assert set(train.file_paths) | set(val.file_paths) == set(everything.file_paths)
    both = image_dataset_from_directory(pets, subset="both", **common)
    assert isinstance(both, tuple)
    assert set(both[0].file_paths) == set(train.file_paths)
    assert set(both[1].file_paths) == set(val.file_paths)
    assert _ids(both[1]) == _ids(val)  # labels travel with their files
    again = image_dataset_from_directory(pets, subset="validation", **common)
    assert again.file_paths == val.file_paths
    other = image_dataset_from_directory(pets, subset="validation", **{**common, "seed": 8})
    assert set(other.file_paths) != set(val.file_paths)
    # Unshuffled subsets keep the same files, in sorted order.
    flat = image_dataset_from_directory(pets, subset="validation", shuffle=False, **common)
    assert flat.file_paths == sorted(val.file_paths)


def test_split_leaving_no_validation_images(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    with pytest.raises(DatasetError, match=r"validation_split=0.1 of 4 images .* leaves no valid"):
        image_dataset_from_directory(root, validation_split=0.1, subset="both", seed=1)


# ---------------------------------------------------------------------------- epochs
def _orders(ds, epochs):
    return [pixel_ids(np.concatenate([x for x, _ in ds])).tolist() for _ in range(epochs)]


def test_reshuffles_every_epoch_and_a_seed_repeats_the_orders(pets):
    kwargs = {"image_size": (6, 5), "batch_size": 8, "seed": 3}
    first = _orders(image_dataset_from_directory(pets, **kwargs), 3)
    assert len({tuple(o) for o in first}) == 3  # a new order every epoch
    assert all(sorted(o) == sorted(first[0]) for o in first)  # each epoch sees every image once
    assert _orders(image_dataset_from_directory(pets, **kwargs), 3) == first
    fixed = image_dataset_from_directory(pets, image_size=(6, 5), batch_size=8, shuffle=False)
    assert _orders(fixed, 2)[0] == _orders(fixed, 2)[1] == sorted(first[0])
    gn.set_seed(5)
    unseeded = _orders(image_dataset_from_directory(pets, image_size=(6, 5)), 2)
    gn.set_seed(5)
    assert _orders(image_dataset_from_directory(pets, image_size=(6, 5)), 2) == unseeded


def test_batches_labels_and_len(pets):
    ds = image_dataset_from_directory(pets, image_size=(6, 5), batch_size=8, seed=0)
    batches = list(ds)
    assert len(ds) == len(batches) == 4
    assert [len(x) for x, _ in batches] == [8, 8, 8, 4]
    for x, y in batches:
        assert x.dtype == np.float32
        assert x.shape[1:] == (6, 5, 3)
        np.testing.assert_array_equal(y, pixel_ids(x) // 40)  # each label matches its image
        assert x.min() >= 0 and x.max() <= 255


def test_streams_instead_of_decoding_everything_up_front(tmp_path, decode_counter):
    root = make_folder(tmp_path / "d", {"a": 20, "b": 20})
    ds = image_dataset_from_directory(
        root, image_size=(6, 5), batch_size=2, workers=2, check=False, seed=0
    )
    it = iter(ds)
    assert decode_counter == []  # nothing happens until the first batch is asked for
    next(it)
    time.sleep(0.2)  # give the threads every chance to run ahead
    # At most workers + 1 batches are decoded or waiting, plus the one handed out.
    assert len(decode_counter) <= (2 + 2) * 2 < 40
    it.close()
    assert len(list(ds)) == 20
    assert ds.workers == 2


def test_workers_zero_decodes_in_the_calling_thread(pets, decode_counter):
    ds = image_dataset_from_directory(pets, image_size=(6, 5), batch_size=5, workers=0)
    it = iter(ds)
    next(it)
    assert len(decode_counter) == 5
    assert not data_threads()
    it.close()


def test_abandoned_iteration_leaves_no_thread(pets):
    ds = image_dataset_from_directory(pets, image_size=(6, 5), batch_size=2, workers=3)
    for _ in ds:
        assert data_threads()  # decoding ahead in the background
        break
    gc.collect()
    assert not data_threads()
    it = iter(ds)
    next(it)
    it.close()
    assert not data_threads()
    for _ in ds:  # a full epoch also ends its threads
        pass
    assert not data_threads()


def test_error_in_a_worker_reaches_the_caller_and_stops_the_threads(pets):
    (pets / "cats" / "005.png").write_bytes(b"broken")
    ds = image_dataset_from_directory(
        pets, image_size=(6, 5), batch_size=2, shuffle=False, check=False
    )
    with pytest.raises(ImageLoadError, match="cats/005.png': not a PNG"):
        for _ in ds:
            pass
    assert not data_threads()


def test_take_and_as_arrays(pets):
    ds = image_dataset_from_directory(pets, image_size=(6, 5), batch_size=4, seed=1)
    small = ds.take(2)
    assert small.num_samples == 8
    assert small.file_paths == ds.file_paths[:8]
    x, y = small.as_arrays()
    assert x.shape == (8, 6, 5, 3)
    assert y.tolist() == ds.labels[:8].tolist()
    assert pixel_ids(x).tolist() == pixel_ids(ds.as_arrays()[0][:8]).tolist()
    with pytest.raises(ValueError, match="'num_batches' must be a positive integer"):
        ds.take(0)


def test_image_dataset_from_a_file_list(pets):
    paths = sorted(str(p) for p in pets.glob("*/*.png"))[:6]
    ds = ImageDataset(paths, [0, 0, 1, 1, 0, 1], ["x", "y"], image_size=(6, 5), shuffle=False)
    assert ds.num_samples == 6
    assert "6 images, 2 classes" in repr(ds)
    assert next(iter(ds))[1].tolist() == [0, 0, 1, 1, 0, 1]
    with pytest.raises(ValueError, match="got 6 files but labels of shape \\(2,\\)"):
        ImageDataset(paths, [0, 1], ["x", "y"])
    with pytest.raises(ValueError, match="label_mode='int' needs labels"):
        ImageDataset(paths)


# ---------------------------------------------------------------------------- the cache
def test_cache_is_written_atomically_then_reused(tmp_path, decode_counter):
    root = make_folder(tmp_path / "d", {"a": 6, "b": 5})
    cache = tmp_path / "cache"
    kwargs = {"image_size": (6, 5), "batch_size": 4, "cache": cache, "check": False, "seed": 2}
    ds = image_dataset_from_directory(root, **kwargs)
    it = iter(ds)
    next(it)
    assert list(cache.glob("*.npy")) == []  # only a temporary file while the pass runs
    assert len(list(cache.glob("*.tmp"))) == 1
    rest = list(it)
    assert len(rest) == 2
    (npy,) = cache.glob("*.npy")
    assert not list(cache.glob("*.tmp"))
    assert len(decode_counter) == 11
    stored = np.load(npy, allow_pickle=False)
    assert stored.dtype == np.uint8
    assert stored.shape == (11, 6, 5, 3)
    uncached = image_dataset_from_directory(root, **{**kwargs, "cache": None}).as_arrays()[0]
    decode_counter.clear()
    epoch2 = np.concatenate([x for x, _ in ds])
    assert decode_counter == []  # the second epoch decodes nothing
    assert sorted(pixel_ids(epoch2).tolist()) == sorted(pixel_ids(uncached).tolist())
    np.testing.assert_array_equal(ds.as_arrays()[0], uncached)
    # A new run with the same files and settings reuses it from its first epoch.
    again = image_dataset_from_directory(root, **kwargs)
    list(again)
    assert decode_counter == []


def test_stale_cache_is_not_reused_and_is_replaced(tmp_path, decode_counter):
    root = make_folder(tmp_path / "d", {"a": 3, "b": 3})
    cache = tmp_path / "cache"
    kwargs = {"image_size": (6, 5), "cache": cache, "check": False, "shuffle": False}
    list(image_dataset_from_directory(root, **kwargs))
    (old,) = cache.glob("*.npy")
    changed = root / "a" / "000.png"
    save(changed, np.full((6, 5, 3), 222, np.uint8))
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    decode_counter.clear()
    x, _ = image_dataset_from_directory(root, **kwargs).as_arrays()
    assert len(decode_counter) == 6
    assert x[0, 0, 0, 0] == 222  # the new pixels, not the cached ones
    (new,) = cache.glob("*.npy")  # the stale file was deleted
    assert new != old
    decode_counter.clear()
    other_size = image_dataset_from_directory(root, **{**kwargs, "image_size": (3, 3)})
    list(other_size)
    assert len(decode_counter) == 6  # different settings: a different cache


def test_abandoned_first_pass_leaves_no_cache(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 4, "b": 4})
    cache = tmp_path / "cache"
    ds = image_dataset_from_directory(root, image_size=(6, 5), batch_size=2, cache=cache)
    for _ in ds:
        break
    gc.collect()
    assert list(cache.glob("images-*")) == []  # (the doctor's memo, check-*.json, stays)


def test_cache_true_uses_the_glassnet_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GLASSNET_CACHE_DIR", str(tmp_path / "home-cache"))
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    list(image_dataset_from_directory(root, image_size=(6, 5), cache=True))
    assert len(list((tmp_path / "home-cache").glob("images-*.npy"))) == 1
    with pytest.raises(TypeError, match="'cache' must be None, True or a folder path"):
        image_dataset_from_directory(root, image_size=(6, 5), cache=3)


def test_corrupt_cache_file_is_rebuilt_with_a_warning(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    kwargs = {"image_size": (6, 5), "cache": tmp_path / "c", "shuffle": False}
    list(image_dataset_from_directory(root, **kwargs))
    (npy,) = (tmp_path / "c").glob("*.npy")
    npy.write_bytes(b"garbage")
    ds = image_dataset_from_directory(root, **kwargs)
    with pytest.warns(DatasetWarning, match="image cache .* is unreadable"):
        x, _ = ds.as_arrays()
    assert pixel_ids(x).tolist() == [0, 1, 40, 41]
    assert np.load(npy, allow_pickle=False).shape == (4, 6, 5, 3)


# ---------------------------------------------------------------------------- the doctor
def test_loader_skips_unreadable_files_with_a_warning(pets):
    (pets / "cats" / "notes.jpg").write_text("shopping list")
    data = (pets / "dogs" / "001.png").read_bytes()
    (pets / "dogs" / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.warns(DatasetWarning, match=r"skipped 2 unreadable file\(s\)") as record:
        ds = image_dataset_from_directory(pets, image_size=(6, 5))
    message = str(record[0].message)
    assert "cats/notes.jpg" in message
    assert "dogs/cut.png" in message
    assert ds.num_samples == 28
    assert not any(p.endswith(("notes.jpg", "cut.png")) for p in ds.file_paths)
    assert len(ds.report.skipped_files) == 2
    with pytest.raises(DatasetError, match=r"2 unreadable image file\(s\) \(strict=True\)"):
        image_dataset_from_directory(pets, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clean = make_folder(pets.parent / "clean", {"a": 2, "b": 2})
        image_dataset_from_directory(clean, image_size=(6, 5))  # no warning when clean


# ---------------------------------------------------------------------------- training
def test_fit_trains_on_an_image_dataset(pets):
    train, val = image_dataset_from_directory(
        pets, image_size=(6, 5), batch_size=8, validation_split=0.25, subset="both", seed=0
    )
    gn.set_seed(0)
    model = gn.Sequential(
        [
            layers.Input((6, 5, 3)),
            layers.Rescaling(1 / 255),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert np.isfinite(history.history["val_loss"]).all()
    assert not data_threads()
    # the model keeps what it needs to load photos later exactly as in training
    assert model.class_names == train.class_names
    assert model.preprocessing == train.preprocessing
    unlabelled = image_dataset_from_directory(pets, image_size=(6, 5), label_mode=None)
    assert model.predict(unlabelled).shape == (28, 3)


def test_early_stop_mid_epoch_stops_the_threads(pets):
    ds = image_dataset_from_directory(pets, image_size=(6, 5), batch_size=2, workers=2)

    class StopAfterTwoBatches(gn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    model = gn.Sequential([layers.Input((6, 5, 3)), layers.Flatten(), layers.Dense(3)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(ds, epochs=3, verbose=0, callbacks=[StopAfterTwoBatches()])
    gc.collect()
    assert not data_threads()
