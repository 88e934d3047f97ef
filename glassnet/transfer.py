"""Transfer learning: a network pretrained elsewhere, fine-tuned on your own photos.

``fine_tune("resnet18.onnx", train_ds, val_ds)`` does in one call what ``glassnet train PHOTOS
--from resnet18.onnx`` does:

1. ``load_pretrained``: the network, from an ONNX file (``import_onnx``) or a saved glassnet
   model (``load_model``).
2. ``cut_head``: its classifier (the last ``Dense``, and the softmax after it) is cut off,
   leaving a *backbone* that turns an image into a feature vector ``(batch, features)``.
3. A new head, ``Dense(len(class_names), "softmax")``, for the folder's classes.
4. The backbone is frozen, so its features never change: they are computed once for every
   training and validation image (``extract_features``) and the head is trained on those
   cached features for all the epochs. Running the backbone is nearly all the cost of a
   step, so this is what makes pretrained training quick on a CPU.
5. Optionally (``unfreeze=N``) the last N blocks of the backbone train together with the head,
   on the images, at a lower learning rate, so that the features themselves adapt to the
   photos. BatchNormalization layers stay frozen in inference mode then, as Keras advises:
   a few photos per batch give statistics too noisy to replace the pretrained ones.

Preprocessing is part of the model: a network expects its pixels the way it was trained on
them, and glassnet's images arrive as 0–255. ``preprocessing="imagenet"`` (the default for an
ONNX file) puts ``Rescaling(1/255)`` and ImageNet's ``Normalization`` in front, which is what
torchvision's networks expect; ``"unit"`` only rescales to [0, 1]; ``"none"`` adds nothing
(the default for a glassnet model, which already holds its own). Images are channels-last,
``(batch, height, width, channels)``, even for a network exported from PyTorch's NCHW (see
``glassnet.export.onnx_import``).

The result is one ordinary glassnet model, ``[augmentation] → preprocessing → backbone →
head``, which ``glassnet evaluate``, ``predict`` and ``serve`` take like any other.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassnet import optimizers
from glassnet.applications.photo_recipe import photo_augmentation
from glassnet.callbacks import Callback, History, PredictProgress
from glassnet.export.onnx_import import OnnxGraph, import_onnx
from glassnet.layers import (
    Activation,
    Add,
    BatchNormalization,
    Dense,
    Dropout,
    Input,
    Layer,
    Normalization,
    Rescaling,
    Softmax,
)
from glassnet.models import Model, Sequential, load_model
from glassnet.models.functional import Functional

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PREPROCESSING",
    "FineTuned",
    "backbone_blocks",
    "cut_head",
    "extract_features",
    "fine_tune",
    "load_pretrained",
    "preprocessing_layers",
    "unfreeze_last",
]

#: ImageNet's per-channel mean and standard deviation of pixels in [0, 1] (RGB), which
#: torchvision's pretrained networks expect their inputs normalised by.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: The choices of ``preprocessing``: "auto" is "imagenet" for an ONNX file, "none" for a
#: glassnet model.
PREPROCESSING = ("auto", "imagenet", "unit", "none")

# Layers that may follow the classifier's Dense and go with it when the head is cut.
_AFTER_HEAD = (Activation, Softmax, Dropout)


# ---------------------------------------------------------------------------- loading
def load_pretrained(path: str | os.PathLike[str]) -> Model:
    """The network in ``path``: an ONNX file (``.onnx``, imported with ``import_onnx``) or a
    glassnet model saved with ``model.save`` (a folder or zip, read with ``load_model``).

    Raises:
        FileNotFoundError: nothing is at ``path``.
        ValueError: the file is neither, naming it and saying how to make one (a PyTorch
            ``.pt``/``.pth`` checkpoint is a pickle, which glassnet never loads).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_pretrained: no such file or folder: '{path}'.")
    if path.lower().endswith(".onnx"):
        return import_onnx(path)
    if os.path.isdir(path) or zipfile.is_zipfile(path):
        return load_model(path, compile=False)
    raise ValueError(
        f"load_pretrained: '{path}' is neither an ONNX file (.onnx) nor a glassnet model (a "
        f"folder or zip saved by model.save). A PyTorch checkpoint (.pt, .pth) is a pickle, "
        f"which glassnet never loads: export the network with torch.onnx.export(net.eval(), "
        f"torch.randn(1, 3, 224, 224), 'net.onnx', dynamo=False) and pass 'net.onnx'."
    )


def _top_layers(model: Model) -> list[str]:
    """The names and types of the last few layers (or ONNX nodes) of ``model``, for messages."""
    if isinstance(model, OnnxGraph):
        names = [
            type(model.parts[n["index"]]).__name__ if n["op"] == "layer" else n["op"]
            for n in model.nodes
        ]
    else:
        names = [f"{layer.name} ({type(layer).__name__})" for layer in model.layers]
    return names[-4:]


def _no_head(model: Model, why: str) -> ValueError:
    return ValueError(
        f"cut_head: cannot find the classifier head of '{model.name}': {why}. Its last layers "
        f"are {', '.join(_top_layers(model))}. A head is a Dense layer on a feature vector, "
        f"optionally followed by a softmax; cut the network yourself with "
        f"Model(model.input, layer.output) at the features you want, then call fine_tune "
        f"with that model."
    )


def cut_head(model: Model) -> Model:
    """``model`` without its classifier: a backbone whose output is the feature vector that the
    last ``Dense`` layer classified, ``(batch, features)``. The backbone shares its layers (and
    weights) with ``model``.

    Works on a ``Sequential`` (a nested model at its end is cut inside), a functional ``Model``
    and an ``OnnxGraph``. The head is the last Dense and whatever follows it, which may only be
    a softmax (``Activation``/``Softmax``) or a ``Dropout``.

    Raises:
        ValueError: no such head, naming the model's last layers and what to do instead.
    """
    if isinstance(model, OnnxGraph):
        backbone: Model = _cut_graph(model)
    elif isinstance(model, Sequential):
        backbone = _cut_sequential(model)
    elif isinstance(model, Functional):
        backbone = _cut_functional(model)
    else:
        raise _no_head(model, f"a {type(model).__name__} is not a Sequential, functional or ONNX")
    shape = tuple(backbone.compute_output_shape(model.input_shape))
    if len(shape) != 2:
        raise _no_head(model, f"the Dense layer's input has shape {shape}, not (batch, features)")
    return backbone


def _cut_sequential(model: Sequential) -> Model:
    layers = list(model.layers)
    dense = [i for i, layer in enumerate(layers) if isinstance(layer, Dense)]
    if not dense and layers and isinstance(layers[-1], Model):
        inner = cut_head(layers[-1])  # a whole network at the end of a Sequential
        return Sequential([Input(model.input_shape[1:]), *layers[:-1], inner], name="backbone")
    if not dense:
        raise _no_head(model, "it has no Dense layer")
    after = layers[dense[-1] + 1 :]
    if not all(isinstance(layer, _AFTER_HEAD) for layer in after):
        raise _no_head(model, f"layer '{after[0].name}' follows its last Dense layer")
    if dense[-1] == 0:
        raise _no_head(model, "its Dense layer is its first layer, leaving no backbone")
    return Sequential([Input(model.input_shape[1:]), *layers[: dense[-1]]], name="backbone")


def _cut_functional(model: Functional) -> Model:
    layers = list(model.layers)
    dense = [i for i, layer in enumerate(layers) if isinstance(layer, Dense)]
    if not dense:
        raise _no_head(model, "it has no Dense layer")
    after = layers[dense[-1] + 1 :]
    if not all(isinstance(layer, _AFTER_HEAD) for layer in after):
        raise _no_head(model, f"layer '{after[0].name}' follows its last Dense layer")
    return Model(model.input, layers[dense[-1]].input, name="backbone")


def _cut_graph(model: OnnxGraph) -> OnnxGraph:
    """The graph's nodes up to its last Dense, with the parts they use renumbered."""
    nodes = model.nodes
    heads = [
        i
        for i, n in enumerate(nodes)
        if n["op"] == "layer" and isinstance(model.parts[n["index"]], Dense)
    ]
    if not heads:
        raise _no_head(model, "its graph has no Gemm/MatMul (Dense) node")
    head = heads[-1]
    for node in nodes[head + 1 :]:
        part = model.parts[node["index"]] if node["op"] == "layer" else None
        if node["op"] != "identity" and not isinstance(part, _AFTER_HEAD):
            kind = type(part).__name__ if part is not None else node["op"]
            raise _no_head(model, f"a {kind} node follows its last Dense node")
    kept = nodes[:head]
    used = sorted({n["index"] for n in kept if n["op"] == "layer"})
    renumber = {old: new for new, old in enumerate(used)}
    kept = [n | {"index": renumber[n["index"]]} if n["op"] == "layer" else dict(n) for n in kept]
    backbone = OnnxGraph(
        kept,
        [model.parts[i] for i in used],
        {k: v.tolist() for k, v in model.constants.items()},
        input_name=model.input_name,
        output_name=nodes[head]["inputs"][0],
        name="backbone",
    )
    backbone.build(model.input_shape)
    return backbone


# ---------------------------------------------------------------------------- the new model
def preprocessing_layers(preprocessing: str, channels: int = 3) -> list[Layer]:
    """The layers that turn 0–255 pixels into what a pretrained network expects.

    ``"imagenet"``: ``Rescaling(1/255)`` then ``Normalization`` by ImageNet's mean and std (RGB,
    torchvision's networks); ``"unit"``: ``Rescaling(1/255)`` only (pixels in [0, 1]);
    ``"none"``: nothing (a network that takes 0–255, as glassnet's own saved models do).
    """
    if preprocessing not in PREPROCESSING[1:]:
        raise ValueError(
            f"preprocessing_layers: preprocessing must be one of {PREPROCESSING[1:]}. "
            f"Received: preprocessing={preprocessing!r}"
        )
    if preprocessing == "none":
        return []
    layers: list[Layer] = [Rescaling(1 / 255, name="rescaling")]
    if preprocessing == "imagenet":
        if channels != 3:
            raise ValueError(
                f"preprocessing_layers: ImageNet's normalisation is for RGB images but the "
                f"network takes {channels} channel(s). Use preprocessing='unit' or 'none'."
            )
        variance = [s * s for s in IMAGENET_STD]
        layers.append(Normalization(mean=list(IMAGENET_MEAN), variance=variance, name="imagenet"))
    return layers


def _augmentation(seed: int) -> list[Layer]:
    """The photo recipe's random crops, flips and colour changes, as ``glassnet train
    --augment`` adds them; they act only while training."""
    return photo_augmentation(seed)


def backbone_blocks(backbone: Model) -> list[list[Layer]]:
    """The backbone's blocks, first to last, as ``unfreeze_last`` counts them: each a list of
    the layers with weights it holds.

    In a glassnet model a block is a top-level layer with weights, with the BatchNormalization
    after it (a ResNet's residual block is one; a network nested whole is looked into). In an
    imported ONNX graph, which has no blocks of its own, a block is the stretch of layers
    ending at a skip connection's ``Add`` (a residual block), or a single layer with weights
    where there are none.
    """
    if isinstance(backbone, OnnxGraph):
        blocks: list[list[Layer]] = [[]]
        for node in backbone.nodes:
            if node["op"] != "layer":
                continue
            part = backbone.parts[node["index"]]
            if part.weights and part not in blocks[-1]:
                blocks[-1].append(part)
            if isinstance(part, Add):
                blocks.append([])
        blocks = [b for b in blocks if b]
        if not any(isinstance(p, Add) for p in backbone.parts):
            blocks = [[layer] for b in blocks for layer in b]
        return blocks
    weighted = [layer for layer in backbone.layers if layer.weights]
    if len(weighted) == 1 and isinstance(weighted[0], Model):
        return backbone_blocks(weighted[0])
    blocks = []
    for layer in weighted:
        if isinstance(layer, BatchNormalization) and blocks:
            blocks[-1].append(layer)  # it normalises the layer before: one block with it
        else:
            blocks.append([layer])
    return blocks


def unfreeze_last(backbone: Model, blocks: int) -> list[Layer]:
    """Freeze ``backbone`` but its last ``blocks`` blocks (``backbone_blocks``), whose weights
    then train; BatchNormalization layers stay frozen (inference mode, pretrained statistics).
    Returns the layers unfrozen."""
    found = backbone_blocks(backbone)
    if blocks < 0 or blocks > len(found):
        raise ValueError(
            f"unfreeze_last: the backbone '{backbone.name}' has {len(found)} blocks; cannot "
            f"unfreeze {blocks}. Pass a number from 0 to {len(found)}."
        )
    backbone.trainable = False
    opened = [layer for block in found[len(found) - blocks :] for layer in block]
    for layer in opened:
        layer.trainable = True
        for _, sub in layer.named_layers():
            if isinstance(sub, BatchNormalization):
                sub.trainable = False
    return opened


# ---------------------------------------------------------------------------- training
def extract_features(model: Model, ds: Any, verbose: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``model``'s outputs (the features) and the labels for every image of ``ds``, in file
    order, with a progress bar: ``(features (N, F), labels (N,))``."""
    outputs, labels = [], []
    with PredictProgress(verbose, len(ds)) as bar:
        for xb, yb in ds.in_order():
            outputs.append(model.predict_on_batch(xb))
            labels.append(np.asarray(yb))
            bar.advance(len(xb))
    return np.concatenate(outputs), np.concatenate(labels).astype(np.int64)


class _KeepBest(Callback):
    """Save ``model`` to ``path`` whenever the accuracy beats the best so far (or ties it
    with a lower loss), across both phases: the head on features, then the unfrozen blocks."""

    def __init__(self, model: Model, path: str | os.PathLike[str] | None, monitor: str) -> None:
        super().__init__()
        self.target, self.path, self.monitor = model, path, monitor
        self.loss_key = "val_loss" if monitor.startswith("val_") else "loss"
        self.best = (-np.inf, -np.inf)
        self.best_phase = ""
        self.phase = ""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        score = (logs[self.monitor], -logs.get(self.loss_key, np.inf))
        if score > self.best and np.isfinite(score[1]):
            self.best, self.best_phase = score, f"{self.phase} epoch {epoch + 1}"
            if self.path is not None:
                self.target.save(self.path)


@dataclass
class FineTuned:
    """What ``fine_tune`` made: the ``model`` (backbone + new head), the ``histories`` of its
    phases (``"head"``, and ``"unfrozen"`` with ``unfreeze``), the ``backbone`` and ``head``
    within it, the layers unfrozen, and the best score's epoch (``best``)."""

    model: Model
    backbone: Model
    head: Dense
    histories: dict[str, History] = field(default_factory=dict)
    unfrozen: list[Layer] = field(default_factory=list)
    monitor: str = "val_accuracy"
    best: str = ""
    best_accuracy: float = float("nan")


def _check_images(where: str, network: Model, ds: Any) -> tuple[int, int, int]:
    """The network's ``(height, width, channels)``, which ``ds``'s images must have."""
    shape = tuple(network.input_shape[1:])
    if len(shape) != 3 or None in shape:
        raise ValueError(
            f"{where}: the network '{network.name}' takes inputs of shape {shape}, not images "
            f"(height, width, channels) of a fixed size."
        )
    have = (*ds.image_size, ds.channels)
    if have != shape:
        raise ValueError(
            f"{where}: the network takes {shape[0]}×{shape[1]} images with {shape[2]} "
            f"channel(s) but the dataset gives {have[0]}×{have[1]} with {have[2]}. Load the "
            f"images at image_size=({shape[0]}, {shape[1]}) (glassnet train: --image-size "
            f"{shape[0]}), or export the network for {have[0]}×{have[1]} images."
        )
    return shape  # type: ignore[return-value]


def fine_tune(
    pretrained: str | os.PathLike[str] | Model,
    train_ds: Any,
    val_ds: Any = None,
    *,
    epochs: int = 10,
    learning_rate: float = 1e-3,
    unfreeze: int = 0,
    unfreeze_epochs: int = 3,
    unfreeze_learning_rate: float | None = None,
    preprocessing: str = "auto",
    augment: bool = False,
    out: str | os.PathLike[str] | None = None,
    seed: int = 0,
    verbose: int = 1,
    callbacks: Iterable[Callback] = (),
) -> FineTuned:
    """Fine-tune a pretrained network on labelled images: new head, frozen backbone, features
    computed once, then optionally the last ``unfreeze`` blocks (see the module docstring).

    Args:
        pretrained: an ONNX file, a saved glassnet model, or a glassnet ``Model``.
        train_ds, val_ds: ``ImageDataset``s with integer labels (``image_dataset_from_directory``),
            at the network's image size; ``val_ds`` may be None.
        epochs: passes of the head over the cached features.
        learning_rate: Adam's, for the head.
        unfreeze: the number of blocks at the end of the backbone (``backbone_blocks``) to train
            with the head afterwards, on the images; 0 for none.
        unfreeze_epochs: passes over the images with those blocks unfrozen.
        unfreeze_learning_rate: Adam's for that phase; default ``learning_rate / 10``, so the
            pretrained weights move a little, not the large first steps a fresh head takes.
        preprocessing: "auto", "imagenet", "unit" or "none" (``preprocessing_layers``).
        augment: random crops, flips and colour changes in front of the model, which act in the
            unfreeze phase only: the cached features are of the images as they are.
        out: where to save the model whenever the validation accuracy (the training accuracy
            without ``val_ds``) is the best so far; None saves nothing.
        seed: makes the head's initial weights and the augmentation repeat.
        verbose: 0 silent, 1 progress bars, 2 a line per epoch.
        callbacks: more callbacks for both phases' ``fit``.

    Returns:
        A ``FineTuned``; its ``model`` takes images ``(batch, height, width, channels)`` of 0–255
        pixels and returns class probabilities ``(batch, classes)``.
    """
    import glassnet as gn

    where = "fine_tune"
    if preprocessing not in PREPROCESSING:
        raise ValueError(
            f"{where}: preprocessing must be one of {PREPROCESSING}. "
            f"Received: preprocessing={preprocessing!r}"
        )
    from_file = not isinstance(pretrained, Model)
    network = load_pretrained(pretrained) if from_file else pretrained
    if preprocessing == "auto":
        onnx = from_file and os.fspath(pretrained).lower().endswith(".onnx")
        preprocessing = "imagenet" if onnx else "none"
    shape = _check_images(where, network, train_ds)
    if val_ds is not None:
        _check_images(where, network, val_ds)
    if augment and not unfreeze:
        warnings.warn(
            f"{where}: augment=True has no effect without unfreeze: the frozen backbone's "
            f"features are computed once, from the images as they are. Pass unfreeze=N to "
            f"train the last blocks on augmented images.",
            stacklevel=2,
        )
    classes = list(train_ds.class_names)
    backbone = cut_head(network)
    backbone.trainable = False
    gn.set_seed(seed)
    front = preprocessing_layers(preprocessing, shape[2])
    features_of = Sequential([Input(shape), *front, backbone], name="features")
    width = int(features_of.compute_output_shape((None, *shape))[-1])
    head = Dense(len(classes), activation="softmax", name="predictions")
    model = Sequential(
        [Input(shape), *(_augmentation(seed) if augment else []), *front, backbone, head],
        name=f"{network.name}_fine_tuned",
    )
    model.class_names = classes
    model.preprocessing = train_ds.preprocessing
    model.compile(optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", ["accuracy"])
    monitor = "val_accuracy" if val_ds is not None else "accuracy"
    keep = _KeepBest(model, out, monitor)
    result = FineTuned(model, backbone, head, monitor=monitor)

    # Phase 1: the backbone runs once per image; the head trains on what it gave.
    if verbose:
        print(f"Features of the {train_ds.num_samples} training images (computed once):")
    x, y = extract_features(features_of, train_ds, verbose)
    validation = None
    if val_ds is not None:
        if verbose:
            print(f"Features of the {val_ds.num_samples} validation images:")
        validation = extract_features(features_of, val_ds, verbose)
    head_model = Sequential([Input((width,)), head], name="head")
    head_model.compile(
        optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", ["accuracy"]
    )
    keep.phase = "head"
    result.histories["head"] = head_model.fit(
        x,
        y,
        batch_size=train_ds.batch_size,
        epochs=epochs,
        validation_data=validation,
        verbose=verbose,
        callbacks=[keep, *callbacks],
    )

    # Phase 2: the last blocks learn too, on the images, slowly.
    if unfreeze:
        result.unfrozen = unfreeze_last(backbone, unfreeze)
        rate = learning_rate / 10 if unfreeze_learning_rate is None else unfreeze_learning_rate
        model.compile(optimizers.Adam(rate), "sparse_categorical_crossentropy", ["accuracy"])
        keep.phase = "unfrozen"
        result.histories["unfrozen"] = model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=unfreeze_epochs,
            verbose=verbose,
            callbacks=[keep, *callbacks],
        )
    if out is not None and not os.path.exists(out):  # no epoch had a finite loss
        model.save(out)
    result.best, result.best_accuracy = keep.best_phase, float(keep.best[0])
    return result
