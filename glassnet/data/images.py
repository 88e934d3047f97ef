"""One image file → one array a model can take: decode, orient, convert, resize.

``load_image`` is the single function that does it. Training (image folders), ``glassnet
predict`` and the server all call it with the preprocessing settings a model stores, so a photo
is prepared exactly the same way when the model learns from it and when it is asked about it.

The steps, in order:

1. **Open** with Pillow, accepting only PNG, JPEG, BMP, GIF and WebP *by content* (a ``.jpg``
   that is really a PNG loads; a ``.jpg`` that is text, a PDF or a TIFF does not). Pillow's
   decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``) is checked from the header,
   before any pixel is decoded.
2. **Orient** by the EXIF Orientation tag (``PIL.ImageOps.exif_transpose``): phones store
   photos sideways and record how to turn them.
3. **Convert** to the colour mode asked for. Transparent pixels are composited on **white**
   (what a browser shows on a white page) instead of dropping the alpha channel, because the
   colour stored under a fully transparent pixel is arbitrary — often black — and would teach
   the model a background nobody sees. 16-bit images are scaled to 8 bits (65535 → 255);
   palette, bilevel, grey+alpha and CMYK images are converted; an animated GIF or WebP gives
   its first frame.
4. **Resize** to ``image_size`` with the chosen filter, optionally cropping the largest centred
   box of the target aspect ratio first (``crop_to_aspect_ratio``, Keras's ``smart_resize``
   rule) so nothing is stretched.

Pixels stay 0–255 (as Keras returns them); scale them inside the model with
``layers.Rescaling(1 / 255)`` so a saved model takes raw pixels.
"""

from __future__ import annotations

import io
import math
import os
import re
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps

from glassnet.checks import is_int

__all__ = [
    "COLOR_MODES",
    "IMAGE_EXTENSIONS",
    "INTERPOLATIONS",
    "ImageLoadError",
    "ImageTooLargeError",
    "decode_image",
    "inspect_image",
    "load_image",
]

#: File name endings read as images (compared in lower case).
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".webp")

# The Pillow decoders a file may be opened with, whatever its name. Restricting them keeps
# exotic formats (EPS, which runs Ghostscript; PSD; ...) out of a server that takes uploads.
_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")

#: Channels per ``color_mode``.
COLOR_MODES = {"rgb": 3, "grayscale": 1, "rgba": 4}

#: Keras's interpolation names → Pillow's resampling filters.
INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "area": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
    "lanczos3": Image.Resampling.LANCZOS,
}

_EXIF_ORIENTATION = 0x0112
_JPEG = ("JPEG", "MPO")  # MPO: the multi-picture JPEG many cameras and phones write
# How each supported format's files begin: a file that starts like one but will not open is
# a damaged image, not "not an image".
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"RIFF", "WebP"),
)
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")

ImageSource = str | os.PathLike | bytes | BinaryIO


class ImageLoadError(ValueError):
    """A file that cannot become an image: not an image, corrupt, truncated, or too large.

    Attributes:
        path: the file (or ``"<bytes>"`` for data given in memory).
        reason: what is wrong, in words.
        kind: ``"not_image"``, ``"corrupt"`` (also truncated or empty), ``"too_large"`` or
            ``"missing"`` (the dataset doctor sorts files by it).
    """

    def __init__(self, path: str, reason: str, kind: str = "corrupt") -> None:
        self.path, self.reason, self.kind = path, reason, kind
        super().__init__(f"cannot load image '{path}': {reason}")


class ImageTooLargeError(ImageLoadError):
    """The header declares more pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` (a possible
    decompression bomb: a small file that would expand to gigabytes). Nothing was decoded."""

    def __init__(self, path: str, pixels: int | None, size: tuple[int, int] | None = None) -> None:
        self.pixels = pixels
        limit = Image.MAX_IMAGE_PIXELS
        declared = f"{size[0]} × {size[1]} = " if size else ""
        count = f"{declared}{pixels:,} pixels" if pixels is not None else "too many pixels"
        super().__init__(
            path,
            f"the image declares {count}, more than the limit of {limit:,} "
            "(PIL.Image.MAX_IMAGE_PIXELS), so it was not decoded (a possible decompression "
            "bomb). If the image is genuine, raise PIL.Image.MAX_IMAGE_PIXELS.",
            kind="too_large",
        )


# ---------------------------------------------------------------------------- public
def load_image(
    path: ImageSource,
    image_size: tuple[int, int] | list[int] | None = None,
    color_mode: str = "rgb",
    crop_to_aspect_ratio: bool = False,
    interpolation: str = "bilinear",
) -> np.ndarray:
    """Read one image file as model input: float32 ``(height, width, channels)``, 0–255.

    The one function that turns a file into pixels — training, ``glassnet predict`` and the
    server all use it, with the settings in ``ImageDataset.preprocessing`` (which a model
    stores), so every path prepares an image identically. See the module docstring for the
    steps (EXIF orientation, white behind transparency, 16 → 8 bits, first GIF frame).

    Args:
        path: a file path, the file's bytes, or a binary file object (an upload).
        image_size: ``(height, width)`` to resize to, or None to keep the image's own size.
        color_mode: ``"rgb"`` (3 channels), ``"grayscale"`` (1) or ``"rgba"`` (4).
        crop_to_aspect_ratio: crop the largest centred box with the aspect ratio of
            ``image_size`` before resizing, instead of stretching.
        interpolation: the resize filter: ``"bilinear"``, ``"nearest"``, ``"bicubic"``,
            ``"area"``, ``"hamming"`` or ``"lanczos3"``.

    Raises:
        ImageLoadError (a ValueError): the file is missing, not a PNG/JPEG/BMP/GIF/WebP image,
            corrupt or truncated; ``ImageTooLargeError`` for a possible decompression bomb.

    Shape:
        ``(height, width, channels)``, float32 holding whole numbers 0–255.

    Example::

        x = load_image("cat.jpg", image_size=(64, 64))  # (64, 64, 3) float32
        model.predict(x[None])
    """
    size, color_mode, resample = check_preprocessing(
        "load_image", image_size, color_mode, interpolation, allow_no_size=True
    )
    pixels = decode_image(path, size, color_mode, bool(crop_to_aspect_ratio), resample)
    return pixels.astype(np.float32)


def decode_image(
    source: ImageSource,
    image_size: tuple[int, int] | None,
    color_mode: str,
    crop_to_aspect_ratio: bool,
    resample: int,
) -> np.ndarray:
    """``load_image`` without argument checks, returning uint8 ``(H, W, C)`` — what the image
    datasets decode and cache (a quarter of float32's size; the values are the same)."""
    name = _name(source)
    image = _open(source, name)
    try:
        if image.format in _JPEG:
            orientation = _orientation(image)  # the EXIF block sits in the header
            if image_size is not None:
                _draft(image, image_size, crop_to_aspect_ratio, orientation)
            _load(image, name)
        else:
            # Decode first: PNG and WebP may keep EXIF after the pixels, and Pillow's getexif
            # would decode them itself, swallowing a decoding error.
            _load(image, name)
            orientation = _orientation(image)
        oriented = _apply_orientation(image, orientation)
        converted = _convert(oriented, color_mode)
        if image_size is not None:
            converted = _resize(converted, image_size, crop_to_aspect_ratio, resample)
        pixels = np.asarray(converted, dtype=np.uint8)
    finally:
        image.close()
    return pixels[..., None] if pixels.ndim == 2 else pixels


def inspect_image(source: ImageSource) -> dict[str, Any]:
    """Open and fully decode an image to prove it is sound, cheaply; for the dataset doctor.

    JPEGs are decoded at 1/8 scale (libjpeg still reads every byte, so truncation and broken
    data are found). Returns ``{"width", "height", "mode", "format"}`` as displayed (after EXIF
    orientation); raises ``ImageLoadError`` like ``load_image``.
    """
    name = _name(source)
    image = _open(source, name)
    try:
        width, height, mode, fmt = image.width, image.height, image.mode, image.format
        if fmt in _JPEG:
            image.draft(None, (max(1, image.width // 8), max(1, image.height // 8)))
        _load(image, name)  # before getexif, as in decode_image
        if _orientation(image) in (5, 6, 7, 8):  # stored turned by 90°
            width, height = height, width
    finally:
        image.close()
    return {"width": width, "height": height, "mode": mode, "format": fmt}


def check_preprocessing(
    what: str,
    image_size: Any,
    color_mode: Any,
    interpolation: Any,
    allow_no_size: bool = False,
) -> tuple[tuple[int, int] | None, str, int]:
    """Validate the preprocessing arguments; returns ``(size, color_mode, pillow filter)``."""
    size = None
    if image_size is not None or not allow_no_size:
        valid = (
            isinstance(image_size, (tuple, list))
            and len(image_size) == 2
            and all(is_int(n) and n > 0 for n in image_size)
        )
        if not valid:
            raise ValueError(
                f"{what}: 'image_size' must be (height, width), two positive integers. "
                f"Received: image_size={image_size!r}"
            )
        size = (int(image_size[0]), int(image_size[1]))
    if color_mode not in COLOR_MODES:
        raise ValueError(
            f"{what}: 'color_mode' must be one of 'rgb', 'grayscale' or 'rgba'. "
            f"Received: color_mode={color_mode!r}"
        )
    if interpolation not in INTERPOLATIONS:
        names = ", ".join(repr(k) for k in INTERPOLATIONS)
        raise ValueError(
            f"{what}: 'interpolation' must be one of {names}. "
            f"Received: interpolation={interpolation!r}"
        )
    return size, color_mode, INTERPOLATIONS[interpolation]


def model_preprocessing(model: Any) -> tuple[dict[str, Any], bool]:
    """How to load images for ``model``: ``(keyword arguments of load_image, resizes)``.

    A model trained by ``glassnet train`` stores them (``model.preprocessing``), so images are
    loaded exactly as in training. Any other model gets its input shape's colour mode and no
    resizing (``resizes`` False): images of another size are an error, not silently stretched.
    Raises ``ValueError`` for a model that does not take images.
    """
    stored = getattr(model, "preprocessing", None)
    if stored:
        settings = dict(stored)
        if settings.get("image_size") is not None:
            settings["image_size"] = tuple(settings["image_size"])
        return settings, settings.get("image_size") is not None
    shape = getattr(model, "input_shape", None)
    modes = {channels: mode for mode, channels in COLOR_MODES.items()}
    if shape is None or len(shape) != 4 or shape[3] not in modes:
        raise ValueError(
            f"model '{model.name}' takes input shape {shape}, not images (height, width, 1, 3 "
            "or 4 channels)."
        )
    return {"color_mode": modes[shape[3]]}, False


# ---------------------------------------------------------------------------- steps
def _name(source: ImageSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return str(getattr(source, "name", None) or "<bytes>")


def _open(source: ImageSource, name: str) -> Image.Image:
    """Pillow's lazy open (reads the header only) with every failure named after the file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
    try:
        image = Image.open(source, formats=_FORMATS)
    except Image.DecompressionBombError as err:  # over 2× the limit: Pillow refuses
        match = re.search(r"\((\d+) pixels\)", str(err))
        raise ImageTooLargeError(name, int(match.group(1)) if match else None) from None
    except FileNotFoundError:
        raise ImageLoadError(name, "no such file", kind="missing") from None
    except IsADirectoryError:
        raise ImageLoadError(name, "it is a folder, not a file", kind="missing") from None
    except Image.UnidentifiedImageError:
        raise ImageLoadError(name, *_not_an_image(source)) from None
    except MemoryError:
        raise
    except Exception as err:  # a broken header: Pillow raises many kinds (SyntaxError, ...)
        raise ImageLoadError(name, *_not_an_image(source, err)) from None
    limit = Image.MAX_IMAGE_PIXELS
    # Between 1× and 2× the limit Pillow only warns; glassnet refuses (the server relies on it).
    if limit and image.width * image.height > limit:
        size = image.size
        image.close()
        raise ImageTooLargeError(name, size[0] * size[1], size)
    return image


def _load(image: Image.Image, name: str) -> None:
    """Decode every pixel now, so a truncated or corrupt file fails here, named."""
    try:
        image.load()
    except MemoryError:
        raise
    except Exception as err:
        text = str(err)
        if "truncated" in text:
            reason = f"the file is truncated ({text})"
        else:
            reason = f"corrupt {image.format or 'image'} data ({_describe(err)})"
        raise ImageLoadError(name, reason) from None


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # unreadable EXIF must not cost the photo: keep it as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _apply_orientation(image: Image.Image, orientation: int) -> Image.Image:
    if orientation == 1:
        return image
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # as above: a malformed EXIF block leaves the image as stored
        return image


def _draft(image: Image.Image, size: tuple[int, int], crop: bool, orientation: int) -> None:
    """Let libjpeg decode a big photo at 1/2, 1/4 or 1/8 scale when the target is small: much
    faster, and the result keeps at least twice the target size for the final filter."""
    height, width = size
    shown_w, shown_h = image.size
    turned = orientation in (5, 6, 7, 8)
    if turned:
        shown_w, shown_h = shown_h, shown_w
    left, top, right, bottom = (
        _crop_box(shown_w, shown_h, height, width) if crop else (0, 0, shown_w, shown_h)
    )
    need_w = math.ceil(2 * width * shown_w / (right - left))
    need_h = math.ceil(2 * height * shown_h / (bottom - top))
    image.draft(image.mode, (need_h, need_w) if turned else (need_w, need_h))


def _convert(image: Image.Image, color_mode: str) -> Image.Image:
    if image.mode in _SIXTEEN_BIT_MODES:  # Pillow's own conversion would clip at 255
        wide = np.asarray(image).astype(np.int64)
        image = Image.fromarray(((np.clip(wide, 0, 65535) + 128) // 257).astype(np.uint8))
    if color_mode == "rgba":
        return image if image.mode == "RGBA" else image.convert("RGBA")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    target = "RGB" if color_mode == "rgb" else "L"
    return image if image.mode == target else image.convert(target)


def _crop_box(width: int, height: int, target_h: int, target_w: int) -> tuple[int, int, int, int]:
    """The largest centred box with the target's aspect ratio (Keras's ``smart_resize``)."""
    crop_h = min(height, int(width * target_h / target_w))
    crop_w = min(width, int(height * target_w / target_h))
    crop_h, crop_w = max(crop_h, 1), max(crop_w, 1)
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return left, top, left + crop_w, top + crop_h


def _resize(image: Image.Image, size: tuple[int, int], crop: bool, resample: int) -> Image.Image:
    height, width = size
    if crop:
        box = _crop_box(image.width, image.height, height, width)
        if box != (0, 0, image.width, image.height):
            # Crop first (Keras's order): resizing with Pillow's box= would let the filter
            # reach pixels outside the box.
            image = image.crop(box)
    if image.size == (width, height):
        return image
    return image.resize((width, height), resample)


# ---------------------------------------------------------------------------- messages
def _describe(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _not_an_image(source: Any, err: BaseException | None = None) -> tuple[str, str]:
    """(reason, kind) for content Pillow does not recognise, saying what it is: users rename
    files, browsers save web pages as .jpg, phones produce HEIC. An empty file is "corrupt"."""
    head = b""
    try:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as f:
                head = f.read(64)
        elif hasattr(source, "seek"):
            source.seek(0)
            head = source.read(64)
    except OSError:
        pass
    supported = "not a PNG, JPEG, BMP, GIF or WebP image"
    if not head:
        return "the file is empty (0 bytes)", "corrupt"
    for magic, fmt in _SIGNATURES:
        if head.startswith(magic) and _looks_like(fmt, head):
            detail = f" ({_describe(err)})" if err is not None else ""
            return f"corrupt {fmt} file: its header cannot be read{detail}", "corrupt"
    for magic, what in (
        (b"%PDF", "a PDF document"),
        (b"II*\x00", "a TIFF image, which is not supported"),
        (b"MM\x00*", "a TIFF image, which is not supported"),
        (b"\x00\x00\x01\x00", "an ICO icon, which is not supported"),
    ):
        if head.startswith(magic):
            return f"{supported}: it is {what}", "not_image"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return f"{supported}: it is a HEIC photo; convert it to JPEG", "not_image"
    if head[4:12] == b"ftypavif":
        return f"{supported}: it is an AVIF image; convert it to JPEG or PNG", "not_image"
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html")):
        return f"{supported}: it is a web page (HTML)", "not_image"
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return f"{supported}: it looks like text", "not_image"
    return supported, "not_image"


def _looks_like(fmt: str, head: bytes) -> bool:
    if fmt == "WebP":
        return head[8:12] == b"WEBP"
    if fmt == "BMP":  # "BM" also starts plain text; BMP's reserved header bytes are zero
        return head[6:10] == bytes(4)
    return True
