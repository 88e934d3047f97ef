"""Which pixels belong to the shape? A small U-Net segments generated images.

Classification gives one answer per image; *segmentation* gives one per pixel. A U-Net
(Ronneberger, Fischer and Brox, 2015) does it in two halves:

    32×32 ─ conv ─────────────────────────────── concat ─ conv ─ 1×1 conv → mask
             └ pool ─ 16×16 conv ─────── concat ─ conv ┘ up
                       └ pool ─ 8×8 conv ┘ up

going down, convolutions and ``MaxPooling2D`` trade resolution for context (is this blob a
disc?); going up, ``Conv2DTranspose`` doubles the size again, and ``layers.concatenate`` joins
each level's early features (exactly *where* the edges are) to the upsampled ones. The skip
connections make it a graph, so it is written with the functional API.

The data is generated: on a noisy background, a filled disc or rectangle of random size,
place and brightness, in two of the three colour channels; the target is 1 on the shape's
pixels and 0 elsewhere. The loss is binary cross-entropy on every pixel, and the score is
the intersection over union (IoU) of the predicted and the true masks on a validation set of
new images: 1 is perfect, and marking the whole image scores the shape's share of it.

Run it:  python examples/unet_segmentation.py  [--epochs 8]
"""

from __future__ import annotations

import argparse

import numpy as np

import glassnet as gn
from glassnet import layers

SIZE = 32


def make_images(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` noisy images (count, 32, 32, 3) with one disc or rectangle each, and their
    masks (count, 32, 32, 1): 1.0 on the shape."""
    rows, cols = np.mgrid[:SIZE, :SIZE]
    images = rng.normal(0.0, 0.3, (count, SIZE, SIZE, 3)).astype(np.float32)
    masks = np.zeros((count, SIZE, SIZE, 1), np.float32)
    for image, mask in zip(images, masks, strict=True):
        cy, cx = rng.integers(8, SIZE - 8, 2)
        if rng.random() < 0.5:
            radius = rng.integers(4, 9)
            inside = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2
        else:
            hy, hx = rng.integers(3, 8, 2)
            inside = (abs(rows - cy) <= hy) & (abs(cols - cx) <= hx)
        channels = rng.choice(3, 2, replace=False)
        image[inside[..., None] & np.isin(np.arange(3), channels)] += rng.uniform(0.6, 1.0)
        mask[inside, 0] = 1.0
    return images, masks


def conv_block(x, filters: int, name: str):
    """Two 3×3 convolutions with ReLU, "same" padding: the U-Net's unit at every level."""
    x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv1")(x)
    return layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv2")(x)


def build(filters: int = 8) -> gn.Model:
    """The U-Net: two levels down, a bottom, two levels up with skip connections."""
    inputs = gn.Input((SIZE, SIZE, 3), name="image")
    down1 = conv_block(inputs, filters, "down1")  # 32×32
    down2 = conv_block(layers.MaxPooling2D(name="pool1")(down1), 2 * filters, "down2")  # 16×16
    bottom = conv_block(layers.MaxPooling2D(name="pool2")(down2), 4 * filters, "bottom")  # 8×8
    up2 = layers.Conv2DTranspose(2 * filters, 2, strides=2, name="up2")(bottom)  # 16×16
    up2 = conv_block(layers.concatenate([up2, down2], name="skip2"), 2 * filters, "decode2")
    up1 = layers.Conv2DTranspose(filters, 2, strides=2, name="up1")(up2)  # 32×32
    up1 = conv_block(layers.concatenate([up1, down1], name="skip1"), filters, "decode1")
    mask = layers.Conv2D(1, 1, activation="sigmoid", name="mask")(up1)
    return gn.Model(inputs, mask, name="unet")


def iou(predicted: np.ndarray, true: np.ndarray) -> float:
    """Intersection over union of two boolean masks, over the whole set."""
    return float(np.logical_and(predicted, true).sum() / np.logical_or(predicted, true).sum())


def main(epochs: int = 8, train: int = 512, seed: int = 0, verbose: bool = True) -> dict:
    """Train on ``train`` generated images; returns the losses, the validation IoU and the
    model."""
    gn.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x_train, y_train = make_images(train, rng)
    x_val, y_val = make_images(128, rng)
    model = build()
    model.compile(gn.optimizers.Adam(0.003), "binary_crossentropy")
    if verbose:
        model.summary()
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=2 if verbose else 0)
    predicted = model.predict(x_val) > 0.5
    score = iou(predicted, y_val > 0.5)
    everything = iou(np.ones_like(predicted), y_val > 0.5)
    if verbose:
        print(f"Validation IoU: {score:.3f} (marking every pixel would score {everything:.3f})")
    return {"loss": history.history["loss"], "iou": score, "baseline": everything, "model": model}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    main(epochs=parser.parse_args().epochs)
