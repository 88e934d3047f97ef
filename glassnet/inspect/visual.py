"""Pictures of what a network learnt and computed: first-layer filters, every layer's
activations for one input, and saliency ("which pixels made it say cat").

Everything is drawn on a standalone ``matplotlib.figure.Figure`` (no pyplot, no GUI backend)
and saved as a PNG with a predictable size: a grid of ``n`` tiles is ``cols·cell`` pixels wide
and ``rows·cell + HEADER`` high, where ``(rows, cols) = grid_shape(n)``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.inspect._record import as_batch, leaf_layers, record_calls
from glassnet.inspect.trace import is_conv, is_dense
from glassnet.layers.layer import Layer
from glassnet.tensor import Tensor, no_grad

__all__ = [
    "HEADER",
    "ActivationImage",
    "Saliency",
    "activations",
    "filters",
    "grid_shape",
    "saliency",
]

DPI = 100
#: Pixels above a grid for its title.
HEADER = 40
PathLike = str | os.PathLike[str]


def new_figure(width_px: int, height_px: int) -> Any:
    """A standalone matplotlib ``Figure`` of about ``width_px`` × ``height_px`` pixels."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)


def save_figure(fig: Any, path: PathLike, dpi: int = DPI) -> Path:
    """Write ``fig`` to ``path`` (creating its folder) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def grid_shape(n: int) -> tuple[int, int]:
    """``(rows, cols)`` of the grid that shows ``n`` tiles: as square as possible."""
    cols = max(1, math.ceil(math.sqrt(n)))
    return max(1, math.ceil(n / cols)), cols


def unit_range(a: np.ndarray) -> np.ndarray:
    """``a`` mapped linearly onto [0, 1] for display, from min(a, 0) to max(a, 0) (all zeros if
    ``a`` is all zeros)."""
    a = np.asarray(a, np.float64)
    low, high = a.min(initial=0.0), a.max(initial=0.0)
    return (a - low) / (high - low) if high > low else np.zeros_like(a)


def _title(fig: Any, text: str, height: int, fontsize: float = 11.0) -> None:
    """``text`` centred in the ``HEADER`` pixels at the top of a figure ``height`` pixels high."""
    fig.text(0.5, 1 - (HEADER / 2) / height, text, ha="center", va="center", fontsize=fontsize)


def _label(ax: Any, text: str, fontsize: float) -> None:
    """``text`` in the top-left corner of a tile, white on translucent black."""
    box = {"facecolor": "black", "alpha": 0.5, "pad": 1, "lw": 0}
    style = {"va": "top", "ha": "left", "color": "white", "bbox": box}
    ax.text(0.02, 0.98, text, transform=ax.transAxes, fontsize=fontsize, **style)


def image_grid(
    tiles: list[np.ndarray],
    labels: list[str],
    path: PathLike,
    title: str,
    cmap: str = "gray",
    cell: int = 96,
) -> Path:
    """Save ``tiles`` (2-D, or (h, w, 3) in [0, 1]) as one PNG grid with a label on each."""
    rows, cols = grid_shape(len(tiles))
    width, height = cols * cell, rows * cell + HEADER
    fig = new_figure(width, height)
    # About 0.83·fontsize pixels per character at 100 dpi: shrink long titles to fit.
    _title(fig, title, height, min(11.0, (width - 8) / (0.83 * max(len(title), 1))))
    for k, (tile, label) in enumerate(zip(tiles, labels, strict=True)):
        r, c = divmod(k, cols)  # each tile keeps 2 pixels free on every side
        left, bottom = (c * cell + 2) / width, ((rows - 1 - r) * cell + 2) / height
        ax = fig.add_axes((left, bottom, (cell - 4) / width, (cell - 4) / height))
        ax.imshow(tile, cmap=None if tile.ndim == 3 else cmap, interpolation="nearest")
        ax.set_axis_off()
        _label(ax, label, 7)
    return save_figure(fig, path)


def _conv_layer(model: Layer, layer: Any) -> Layer:
    convs = [(path, lay) for path, lay in leaf_layers(model) if is_conv(lay) and lay.built]
    if layer is None:
        if not convs:
            raise ValueError(
                f"filters: model '{model.name}' has no built Conv2D layer. Filters are the "
                f"weights of a convolution; build the model (call it on an input) first."
            )
        return convs[0][1]
    for path, lay in convs:
        if layer is lay or layer in (lay.name, path):
            return lay
    names = ", ".join(lay.name for _, lay in convs) or "none"
    raise ValueError(f"filters: no built Conv2D layer {layer!r}. Conv2D layers: {names}.")


def filters(
    model: Layer, layer: Any = None, path: PathLike = "filters.png", cell: int = 64
) -> Path:
    """Save a convolution's learnt filters as an image grid, one tile per filter.

    Three-channel filters are drawn in colour (each filter stretched to the full range on its
    own, as AlexNet's first layer is usually shown); one-channel filters in grey (light =
    large weight); filters over more channels as the mean over their input channels.

    Args:
        layer: the Conv2D layer (name or object); the first one by default.
        path: the PNG to write. cell: pixels per tile.

    Returns:
        The PNG's path: ``grid_shape(filters)`` tiles of ``cell`` pixels, plus ``HEADER``.
    """
    conv = _conv_layer(model, layer)
    kernel = np.asarray(conv.kernel.data, np.float64)  # (kh, kw, in, filters)
    kh, kw, cin, count = kernel.shape
    shown = kernel if cin == 3 else kernel.mean(axis=2)  # (kh, kw, 3, filters) or (kh, kw, filters)
    tiles = [unit_range(shown[..., f]) for f in range(count)]
    how = "colour" if cin == 3 else ("grey" if cin == 1 else f"mean over {cin} channels")
    title = f"{conv.name}: {count} filters, {kh}×{kw}×{cin} ({how})"
    return image_grid(tiles, [str(f) for f in range(count)], path, title, "gray", cell)


@dataclass
class ActivationImage:
    """One picture written by ``activations``: which layer, what kind of plot, where."""

    layer: str
    kind: str  # "feature maps", "bars" or "heatmap"
    shape: tuple[int, ...]
    path: Path


def _bars(values: np.ndarray, title: str, path: PathLike) -> Path:
    fig = new_figure(640, 300)
    ax = fig.add_axes((0.09, 0.16, 0.88, 0.7))
    colors = ["#c0392b" if v < 0 else "#2471a3" for v in values]
    ax.bar(np.arange(len(values)), values, color=colors, width=0.85)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlabel("unit")
    ax.set_ylabel("activation")
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def _heatmap(values: np.ndarray, title: str, path: PathLike) -> Path:
    fig = new_figure(640, 320)
    ax = fig.add_axes((0.09, 0.15, 0.78, 0.7))
    image = ax.imshow(values, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xlabel("unit")
    ax.set_ylabel("time step")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, cax=fig.add_axes((0.89, 0.15, 0.02, 0.7)))
    return save_figure(fig, path)


def activations(
    model: Layer, x: Any, out_dir: PathLike = ".", max_maps: int = 64, cell: int = 64
) -> list[ActivationImage]:
    """Run ``model`` on one input and save what each layer computed.

    Conv layers' feature maps become an image grid (one tile per filter, up to ``max_maps``);
    the ``(1, units)`` outputs of Dense (and other weighted) layers a bar chart (640×300 px);
    sequence outputs ``(1, T, U)`` (recurrent layers) a time × unit heatmap (640×320 px).
    Files are named ``NN_<layer>.png``.

    Returns:
        One ``ActivationImage`` per picture, in call order.
    """
    batch = as_batch(model, x, "activations")
    out_dir = Path(out_dir)
    with no_grad(), record_calls(model) as calls:
        model(Tensor(batch), training=False)
    images = []
    for i, call in enumerate(calls):
        out = np.asarray(call.output.data, np.float64)
        name, path = call.layer.name, out_dir / f"{i:02d}_{call.layer.name}.png"
        if out.ndim == 4 and is_conv(call.layer):
            channels = min(out.shape[-1], max_maps)
            tiles = [out[0, ..., c] for c in range(channels)]
            more = f", first {channels} of {out.shape[-1]}" if channels < out.shape[-1] else ""
            title = f"{name}: {out.shape[-1]} feature maps of {out.shape[1]}×{out.shape[2]}{more}"
            image_grid(tiles, [str(c) for c in range(channels)], path, title, "viridis", cell)
            kind = "feature maps"
        elif out.ndim == 2 and (is_dense(call.layer) or call.layer.weights):
            _bars(out[0], f"{name}: {out.shape[1]} units", path)
            kind = "bars"
        elif out.ndim == 3:
            _heatmap(out[0], f"{name}: {out.shape[1]} time steps × {out.shape[2]} units", path)
            kind = "heatmap"
        else:
            continue
        images.append(ActivationImage(name, kind, tuple(out.shape), path))
    return images


@dataclass
class Saliency:
    """The gradient of one class score with respect to every input number.

    ``gradient`` has the input's shape ``(H, W, C)``; ``map`` is ``max |gradient|`` over the
    channels, ``(H, W)``: how much a small change of each pixel would move the score.
    """

    class_index: int
    score: float
    gradient: np.ndarray
    map: np.ndarray
    image: np.ndarray

    def save(self, path: PathLike, title: str = "") -> Path:
        """Draw photo, saliency and the saliency over the photo (768×(256+HEADER) px)."""
        cell = 256
        height = cell + HEADER
        fig = new_figure(3 * cell, height)
        _title(fig, title or f"saliency of class {self.class_index}", height)
        photo = unit_range(self.image)
        photo = photo[..., 0] if photo.shape[-1] == 1 else photo[..., :3]
        heat = unit_range(self.map)
        for k, label in enumerate(("photo", "saliency", "overlay")):
            ax = fig.add_axes((k / 3 + 0.005, 0.01, 1 / 3 - 0.01, cell / height - 0.02))
            ax.set_axis_off()
            image, cmap = (heat, "hot") if k == 1 else (photo, "gray")
            ax.imshow(image, cmap=cmap, interpolation="nearest")
            if k == 2:  # opaque where the saliency is high, see-through where it is low
                from matplotlib import colormaps

                rgba = colormaps["hot"](heat)
                rgba[..., 3] = 0.85 * heat
                ax.imshow(rgba, interpolation="nearest")
            _label(ax, label, 8)
        return save_figure(fig, path)


def saliency(
    model: Layer, x: Any, class_index: int | None = None, path: PathLike | None = None
) -> Saliency:
    """The gradient of a class score with respect to the input pixels (Simonyan et al. 2013).

    The score is the class's logit when the model ends in softmax or sigmoid (probabilities
    saturate, so their gradients fade as the model grows sure), else the output itself.

    Args:
        x: one input, with or without the batch axis of one.
        class_index: the class to explain; the predicted class by default.
        path: also save the picture there (see ``Saliency.save``).
    """
    batch = as_batch(model, x, "saliency")
    inputs = Tensor(batch, requires_grad=True)
    out = model(inputs, training=False)
    scores = out
    logits = getattr(out, "_logits", None)
    if logits is not None and logits[0] in ("softmax", "sigmoid"):
        scores = logits[1]
    flat = scores.reshape((1, -1))
    if class_index is None:
        class_index = int(np.argmax(np.asarray(out.data).reshape(-1)))
    if not 0 <= class_index < flat.shape[1]:
        raise ValueError(
            f"saliency: class_index must be in 0..{flat.shape[1] - 1}. Received: "
            f"class_index={class_index}"
        )
    score = flat[0, class_index]
    score.backward()
    for weight in model.weights:  # the gradients belong to this explanation, not to training
        weight.grad = None
    gradient = np.asarray(inputs.grad, np.float64)[0]
    result = Saliency(
        class_index=class_index,
        score=float(score.data),
        gradient=gradient,
        map=np.abs(gradient).max(axis=-1) if gradient.ndim == 3 else np.abs(gradient),
        image=batch[0],
    )
    if path is not None:
        result.save(path)
    return result
