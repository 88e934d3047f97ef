"""glassnet predict, glassnet serve and inspect.explain give the same probabilities for the same
model and photo, because all three ask ``glassnet.models.probabilities``, which reads the
model's structure. The models here are the ones a rule that looks at the values gets wrong:
logits that happen to be non-negative and sum to 1, for one photo and not the other."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
pytest.importorskip("httpx2")

from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

import glassnet as gn
from glassnet import inspect, layers
from glassnet.cli import app as cli
from glassnet.data import load_image
from glassnet.serve import create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NAMES = ["ant", "bee", "cat"]
#: What the black photo's outputs are (the bias alone): non-negative and summing to 1.
LOOK_LIKE_PROBABILITIES = [0.2, 0.3, 0.5]


def classifier(activation: str | None) -> gn.Sequential:
    """8×8 grey pixels → Dense(3): a black photo gives the bias, a bright one much more."""
    model = gn.Sequential([layers.Input((8, 8, 1)), layers.Flatten(), layers.Dense(3, activation)])
    kernel = np.zeros((64, 3), np.float32)
    kernel[:, 0] = 2 / (64 * 255)  # an all-white photo adds [2, -1, 0] to the bias
    kernel[:, 1] = -1 / (64 * 255)
    model.set_weights([kernel, np.array(LOOK_LIKE_PROBABILITIES, np.float32)])
    model.class_names = NAMES
    return model


def softmax(row):
    e = np.exp(row - row.max())
    return e / e.sum()


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for name, level in (("black", 0), ("bright", 255)):
        path = folder / f"{name}.png"
        Image.fromarray(np.full((8, 8), level, np.uint8)).save(path)
        paths.append(path)
    return paths


def by_cli(model_path, photos):
    args = ["predict", str(model_path), *map(str, photos), "--json", "--top-k", "3"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout)
    return [[_of(a["predictions"], name) for name in NAMES] for a in answers]


def _of(predictions, name):
    return next(p["probability"] for p in predictions if p["class"] == name)


def by_server(model_path, photos):
    with TestClient(create_app(model_path)) as client:
        answers = [
            client.post("/predict", files={"file": (p.name, p.read_bytes(), "image/png")}).json()
            for p in photos
        ]
    return [[a["probabilities"][name] for name in NAMES] for a in answers]


def by_explain(model, photos, folder):
    """The report's percentages (one decimal), read back from its table."""
    rows = []
    for path in photos:
        page = inspect.explain(model, load_image(path, color_mode="grayscale"), folder / path.stem)
        cells = re.findall(r"<tr><td>(\w+)</td><td>([\d.]+)%</td>", page.read_text())
        rows.append([float(dict(cells)[name]) / 100 for name in NAMES])
    return rows


@pytest.mark.parametrize("activation", [None, "relu", "softmax"])
def test_predict_serve_and_explain_agree(activation, photos, tmp_path):
    model = classifier(activation)
    model.save(tmp_path / "model.glassnet")
    outputs = model.predict(np.stack([load_image(p, color_mode="grayscale") for p in photos]))
    if activation == "softmax":  # already probabilities: shown as they are
        expected = outputs
    else:  # logits, even those of the black photo that look like probabilities
        np.testing.assert_allclose(outputs[0], LOOK_LIKE_PROBABILITIES, atol=1e-6)
        expected = np.stack([softmax(row) for row in outputs.astype(np.float64)])
    for n in (1, 2):  # the black photo alone, then in one batch with the bright one
        got = by_cli(tmp_path / "model.glassnet", photos[:n])
        np.testing.assert_allclose(got, expected[:n], atol=2e-6)
    np.testing.assert_allclose(by_server(tmp_path / "model.glassnet", photos), expected, atol=2e-6)
    np.testing.assert_allclose(by_explain(model, photos, tmp_path), expected, atol=6e-4)
