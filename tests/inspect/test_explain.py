"""glassnet explain MODEL IMAGE: a self-contained HTML report whose pictures all exist."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from glassnet import inspect
from glassnet.cli import app

from .helpers import png_size_and_spread, small_cnn


class Page(HTMLParser):
    """Collects image sources, headings and table rows."""

    def __init__(self):
        super().__init__()
        self.images, self.headings, self.rows, self.pre = [], [], 0, 0
        self._tag = None

    def handle_starttag(self, tag, attrs):
        self._tag = tag
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        self.rows += tag == "tr"
        self.pre += tag == "pre"

    def handle_data(self, data):
        if self._tag in ("h1", "h2") and data.strip():
            self.headings.append(data.strip())


def read_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def test_explain_command_writes_a_report_with_every_picture(tmp_path, rng):
    model = small_cnn()
    model.class_names = ["cat", "dog", "human"]
    model.preprocessing = {"image_size": [8, 8], "color_mode": "grayscale"}
    model.save(tmp_path / "m.glassnet")
    Image.fromarray(rng.integers(0, 256, (20, 16), dtype=np.uint8)).save(tmp_path / "cat.png")
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app, ["explain", str(tmp_path / "m.glassnet"), str(tmp_path / "cat.png"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "report.html" in result.output
    page = read_page(out / "report.html")
    assert page.headings[0].startswith("Why '")
    for section in ("Prediction", "Saliency", "Activations, layer by layer", "First-layer filters"):
        assert section in page.headings
    assert page.rows == 3 and page.pre == 1  # top-3 classes, the summary table
    expected = {"photo.png", "saliency.png", "filters.png", "activations/00_conv.png"}
    expected |= {"activations/03_hidden.png", "activations/04_output.png"}
    assert set(page.images) == expected
    for src in page.images:
        assert not src.startswith(("/", "http")), src  # relative: opens without a server
        _, spread = png_size_and_spread(out / src)
        assert spread > 0, src
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "hidden (Dense)" in text  # the summary


def test_a_model_without_convolutions_gets_no_filter_section(tmp_path, rng):
    import glassnet as gn
    from glassnet import layers

    gn.set_seed(0)
    mlp = gn.Sequential([layers.Input((4, 4, 1)), layers.Flatten(), layers.Dense(5)])
    path = inspect.explain(mlp, rng.uniform(0, 255, (4, 4, 1)), tmp_path, top_k=10)
    page = read_page(path)
    assert "First-layer filters" not in page.headings
    assert page.rows == 5  # top_k is capped by the number of classes
    assert all((tmp_path / src).exists() for src in page.images)


def test_explain_reports_a_missing_image_in_one_line(tmp_path):
    model = small_cnn()
    model.save(tmp_path / "m.glassnet")
    result = CliRunner().invoke(app, ["explain", str(tmp_path / "m.glassnet"), "nope.png"])
    assert result.exit_code == 1
    assert "nope.png" in result.output
