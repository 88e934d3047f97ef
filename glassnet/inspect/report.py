"""``explain``: one HTML page that shows why a model classified one photo as it did.

The page holds the prediction (top-k probabilities), the saliency overlay, every layer's
activations, the first-layer filters and the summary table. The pictures are PNG files beside
``report.html`` (relative links), so the folder opens in any browser with no server, and can be
zipped or copied as a whole.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.inspect._record import leaf_layers
from glassnet.inspect.trace import is_conv
from glassnet.inspect.visual import activations, filters, saliency, unit_range
from glassnet.layers.layer import Layer
from glassnet.models.probabilities import probabilities
from glassnet.models.summary import summary_text

__all__ = ["explain"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
.lead { color: #555; }
.top { display: flex; gap: 2em; align-items: flex-start; flex-wrap: wrap; }
.photo img { width: 192px; height: auto; image-rendering: pixelated; border: 1px solid #ccc; }
table.probs td { padding: 0.2em 0.6em; }
.bar { background: #2471a3; height: 0.9em; display: inline-block; }
figure { margin: 0.6em 0 1.2em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
"""


def _save_photo(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    pixels = unit_range(image)
    pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels[..., :3]
    picture = Image.fromarray((pixels * 255).round().astype(np.uint8))
    scale = max(1, 192 // max(picture.size))
    picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST).save(path)


def _img(src: Path, out_dir: Path, alt: str, caption: str) -> str:
    rel = src.relative_to(out_dir).as_posix()
    return (
        f'<figure><img src="{html.escape(rel)}" alt="{html.escape(alt)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def explain(
    model: Layer,
    image: Any,
    out_dir: str | os.PathLike[str] = "report",
    top_k: int = 3,
    class_names: list[str] | None = None,
    title: str = "",
) -> Path:
    """Write ``out_dir/report.html`` (and its PNGs) explaining the model's answer for one image.

    Args:
        model: a built classifier. image: one image ``(H, W, C)`` as the model takes it (for a
            saved model: ``load_image(path, **model.preprocessing)``).
        top_k: how many classes to list. class_names: defaults to ``model.class_names``.
        title: what to call the image on the page (e.g. its file name).

    Returns:
        The path of ``report.html``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    image = np.asarray(image, np.float32)
    probs = probabilities(np.asarray(model.predict(image[None])).reshape(1, -1), model)[0]
    names = class_names or getattr(model, "class_names", None) or []
    names = [str(n) for n in (names if len(names) == len(probs) else range(len(probs)))]
    order = np.argsort(-probs, kind="stable")[: max(1, top_k)]
    best = int(order[0])

    _save_photo(image, out_dir / "photo.png")
    sal = saliency(model, image, best)
    sal_path = sal.save(out_dir / "saliency.png", f"which pixels made it say '{names[best]}'")
    maps = activations(model, image, out_dir / "activations")
    has_conv = any(is_conv(layer) for _, layer in leaf_layers(model))
    filters_path = filters(model, path=out_dir / "filters.png") if has_conv else None

    rows = "".join(
        f"<tr><td>{html.escape(names[c])}</td><td>{probs[c]:.1%}</td>"
        f'<td><span class="bar" style="width:{max(1, round(200 * probs[c]))}px"></span></td></tr>'
        for c in order
    )
    heading = html.escape(title or "one image")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>glassnet explains: {heading}</title><style>{_CSS}</style></head><body>",
        f"<h1>Why '{html.escape(names[best])}'?</h1>",
        f'<p class="lead">Model <b>{html.escape(model.name)}</b> on {heading}.</p>',
        '<div class="top"><div class="photo"><img src="photo.png" alt="the input image"></div>',
        f'<div><h2>Prediction</h2><table class="probs">{rows}</table></div></div>',
        "<h2>Saliency</h2>",
        "<p>The gradient of the class score with respect to each pixel: bright pixels are "
        "those whose change would move the score most.</p>",
        _img(sal_path, out_dir, "saliency", f"class {names[best]}, score {sal.score:.4g}"),
        "<h2>Activations, layer by layer</h2>",
    ]
    shown = {"feature maps": "one tile per filter", "bars": "one bar per unit"}
    for m in maps:
        what = shown.get(m.kind, m.kind)
        parts.append(_img(m.path, out_dir, m.layer, f"{m.layer}: output {m.shape[1:]}, {what}"))
    if filters_path is not None:
        caption = "what the first convolution looks for: one tile per filter, light = large weight"
        parts += ["<h2>First-layer filters</h2>", _img(filters_path, out_dir, "filters", caption)]
    parts += [
        "<h2>The network</h2>",
        f"<pre>{html.escape(summary_text(model))}</pre>",
        "</body></html>",
    ]
    path = out_dir / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
