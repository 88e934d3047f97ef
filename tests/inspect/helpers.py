"""Small models and PNG checks shared by the inspect tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import glassnet as gn
from glassnet import layers


def png_size_and_spread(path: Path) -> tuple[tuple[int, int], float]:
    """``((width, height), standard deviation of the pixels)``: a blank image has 0 spread."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
        return image.size, float(pixels.std())


def small_cnn(channels: int = 1, seed: int = 0) -> gn.Sequential:
    """8×8 images → Conv2D(4) → pool → Dense(8) → Dense(3, softmax), built."""
    gn.set_seed(seed)
    return gn.Sequential(
        [
            layers.Input((8, 8, channels)),
            layers.Conv2D(4, 3, padding="same", activation="relu", name="conv"),
            layers.MaxPooling2D(2, name="pool"),
            layers.Flatten(name="flatten"),
            layers.Dense(8, activation="relu", name="hidden"),
            layers.Dense(3, activation="softmax", name="output"),
        ],
        name="small",
    )
