"""The recipe ``glassnet train`` follows on a folder of photos, from scratch, in its parts.

A network alone does not learn what photos hold from a couple of thousand examples; the way
it is trained matters as much. The recipe, the defaults of ``glassnet train``:

* ``photo_cnn`` (four blocks of two convolutions with batch normalization) on photos loaded
  at 112×112 pixels, seeing a 96×96 crop of each, for ``EPOCHS`` passes over nine tenths of
  the photos (``VALIDATION_SPLIT`` of them held out to pick the best epoch);
* augmentation (``photo_augmentation``): a random 96×96 crop (the centre one at inference)
  and a left–right flip, so every epoch shows each photo a little differently;
* AdamW, Adam with decoupled weight decay (``photo_optimizer``), its rate following the
  one-cycle schedule (``schedules.one_cycle``): a warm-up to twice the optimizer's default
  rate, then a long cosine descent to almost nothing at the last step;
* label smoothing 0.1 in the cross-entropy (``photo_loss``), so the network is not pushed
  towards certainties it cannot have on a small dataset;
* early stopping (``photo_early_stopping``) once the validation accuracy has stalled for a
  third of the run, putting back the best weights;
* optionally, test-time augmentation (``predict_with_flips``): each photo and its mirror
  image are classified and the probabilities averaged.

Each part is an ordinary glassnet object, so a script can take the recipe apart, change one
lever and measure (``benchmarks/photos.py`` trains the same recipe in PyTorch too).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from glassnet import losses, optimizers
from glassnet.callbacks import EarlyStopping
from glassnet.layers import (
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomResizedCrop,
)
from glassnet.layers.layer import Layer
from glassnet.optimizers import schedules

__all__ = [
    "CROP_FRACTION",
    "EPOCHS",
    "IMAGE_SIZE",
    "LABEL_SMOOTHING",
    "PEAK_FACTOR",
    "SCHEDULES",
    "VALIDATION_SPLIT",
    "WEIGHT_DECAY",
    "crop_size",
    "photo_augmentation",
    "photo_early_stopping",
    "photo_loss",
    "photo_optimizer",
    "predict_with_flips",
]

#: Pixels on each side photos are loaded at; the network sees a crop of ``CROP_FRACTION``
#: of that (96 of 112): enough to tell a cat from a dog, few enough for two CPU cores.
IMAGE_SIZE = 112
#: The side of the random crop (the centre one at inference), as a share of the photo's side.
CROP_FRACTION = 6 / 7
#: Passes over the photos when no time budget is given.
EPOCHS = 20
#: The share of the photos held out to pick the best epoch and to report on: a tenth, so the
#: network learns from nine photos in ten (with a couple of thousand photos, every one counts).
VALIDATION_SPLIT = 0.1
#: The one-cycle schedule's peak, as a multiple of the optimizer's default learning rate.
PEAK_FACTOR = 2.0
#: AdamW's decoupled weight decay λ (θ ← θ − η·λ·θ each step).
WEIGHT_DECAY = 0.05
#: The share ε of the target spread evenly over the classes.
LABEL_SMOOTHING = 0.1
#: How the learning rate may change over the run.
SCHEDULES = ("one-cycle", "constant")


def photo_augmentation(seed: int | None = None, crop: int | None = None) -> list[Layer]:
    """The augmentation layers for photos of raw 0–255 pixels, active only in training.

    From scratch (``crop``, an int): ``RandomCrop(crop, crop)`` — a random square of the photo,
    the centre one at inference — and ``RandomFlip("horizontal")`` (the sky stays up). The
    network sees ``crop``-pixel images; a crop of six sevenths of the side moves each photo by
    up to a seventh of its size every epoch without changing its scale. For a pretrained
    network of a fixed input size (``crop=None``, ``glassnet.transfer``): ``RandomResizedCrop``
    (35–100 % of the area, resized back), the flip, ``RandomBrightness(0.1)`` and
    ``RandomContrast(0.1)``. ``seed`` (an int) gives each layer its own generator, so a run
    repeats exactly; None draws from the engine's."""

    def own(offset: int) -> int | None:
        return None if seed is None else seed + offset

    if crop is not None:
        return [
            RandomCrop(crop, crop, seed=own(0), name="random_crop"),
            RandomFlip("horizontal", seed=own(1), name="random_flip"),
        ]
    return [
        RandomResizedCrop(seed=own(0), name="random_resized_crop"),
        RandomFlip("horizontal", seed=own(1), name="random_flip"),
        RandomBrightness(0.1, value_range=(0, 255), seed=own(2), name="random_brightness"),
        RandomContrast(0.1, value_range=(0, 255), seed=own(3), name="random_contrast"),
    ]


def crop_size(image_size: int) -> int:
    """The side of the random crop the network sees from ``image_size``-pixel photos."""
    return max(1, round(image_size * CROP_FRACTION))


def photo_optimizer(
    name: str = "adamw",
    total_steps: int = 1,
    learning_rate: float | None = None,
    schedule: str = "one-cycle",
) -> optimizers.Optimizer:
    """The optimizer ``name`` (Keras's names: ``"adamw"``, ``"adam"``, ``"sgd"``, ...) for a
    run of ``total_steps`` updates, with AdamW's weight decay set to ``WEIGHT_DECAY``.

    With ``schedule="one-cycle"`` the rate follows ``schedules.one_cycle`` peaking at
    ``learning_rate``, or at ``PEAK_FACTOR`` times the optimizer's default rate when None;
    with ``"constant"`` it stays at ``learning_rate`` (or the optimizer's default).
    """
    if schedule not in SCHEDULES:
        raise ValueError(
            f"photo_optimizer: unknown schedule {schedule!r}. Choose one of {', '.join(SCHEDULES)}."
        )
    opt = optimizers.get(name)
    if isinstance(opt, optimizers.AdamW):
        opt.weight_decay = WEIGHT_DECAY
    if schedule == "one-cycle":
        peak = learning_rate if learning_rate is not None else PEAK_FACTOR * opt.learning_rate
        opt.learning_rate = schedules.one_cycle(peak, total_steps)
    elif learning_rate is not None:
        opt.learning_rate = learning_rate
    return opt


def photo_loss(label_smoothing: float = LABEL_SMOOTHING) -> losses.Loss:
    """Sparse categorical cross-entropy (integer labels, softmax outputs) with
    ``label_smoothing``."""
    return losses.SparseCategoricalCrossentropy(label_smoothing=label_smoothing)


def photo_early_stopping(
    epochs: int, patience: int | None = None, monitor: str = "val_accuracy"
) -> EarlyStopping:
    """Stop once ``monitor`` has not improved for ``patience`` epochs (None: a third of
    ``epochs``, at least 5), counted from halfway through the run, putting the best epoch's
    weights back. The one-cycle schedule makes its largest gains in the last epochs, as the
    rate falls, while in the first half its high rates make the validation accuracy jump
    about; stopping is for runs that have really stalled."""
    if patience is None:
        patience = max(5, math.ceil(epochs / 3))
    return EarlyStopping(
        monitor=monitor,
        patience=patience,
        restore_best_weights=True,
        start_from_epoch=epochs // 2,
    )


def predict_with_flips(model: Any, x: Any) -> np.ndarray:
    """Test-time augmentation: the mean of ``model``'s outputs for the images ``x`` and for
    their mirror images (left–right), which often scores a little better than either alone.

    Shape: x ``(batch, height, width, channels)`` → ``(batch, classes)``.
    """
    x = np.asarray(x)
    plain = np.asarray(model.predict_on_batch(x))
    mirrored = np.asarray(model.predict_on_batch(np.ascontiguousarray(x[:, :, ::-1])))
    return (plain + mirrored) / 2
