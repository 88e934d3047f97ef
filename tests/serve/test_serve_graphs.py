"""Functional models that are not one-image classifiers, served: a batch per input by name in
``{"inputs": ...}``, a batch per output by name back, equal to the model's own outputs; every
mistake a client can make answered with a 4xx naming the input at fault. A functional classifier
with one image input goes through the ordinary image endpoints."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
pytest.importorskip("httpx2")

from fastapi.testclient import TestClient

import glassnet as gn
from glassnet import layers
from glassnet.serve import app as serve_app
from glassnet.serve import create_app, load_for_serving
from tests.serve.conftest import np_to_pil, png

MAX_BATCH = 8


def two_heads() -> gn.Model:
    """Inputs 'a' (3 numbers) and 'b' (2): a regression head 'reg' and a 3-class head 'cls'."""
    gn.set_seed(0)
    a, b = gn.Input((3,), name="a"), gn.Input((2,), name="b")
    hidden = layers.Dense(8, activation="relu")(layers.concatenate([a, b]))
    reg = layers.Dense(1, name="reg")(hidden)
    cls = layers.Dense(3, activation="softmax", name="cls")(hidden)
    return gn.Model([a, b], [reg, cls], name="two_heads")


def residual_block(inputs):
    """Conv2D, then a second Conv2D with its input added back (ResNet's shortcut)."""
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    y = layers.Conv2D(4, 3, padding="same")(x)
    return layers.Add(name="features")([x, y])


def residual_features() -> gn.Model:
    """One image input of any size, its feature maps out: not class scores."""
    gn.set_seed(1)
    image = gn.Input((None, None, 1), name="image")
    return gn.Model(image, residual_block(image), name="residual_features")


def residual_classifier() -> gn.Model:
    """8×8 grey images to 3 logits. The head's bias is [0.2, 0.3, 0.5] and the convolutions have
    none, so a black photo's logits look exactly like probabilities."""
    gn.set_seed(2)
    image = gn.Input((8, 8, 1), name="image")
    blocks = residual_block(image)
    logits = layers.Dense(3, name="logits")(layers.Flatten()(blocks))
    model = gn.Model(image, logits, name="residual_classifier")
    model.get_layer("logits").bias.data[...] = [0.2, 0.3, 0.5]
    model.class_names = ["ant", "bee", "cat"]
    return model


def outputs_of(model: gn.Model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    with gn.no_grad():
        out = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    return [o.numpy() for o in (out if isinstance(out, list) else [out])]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("graphs")
    models = {
        "two_heads": two_heads(),
        "features": residual_features(),
        "classifier": residual_classifier(),
    }
    for name, model in models.items():
        model.save(folder / f"{name}.glassnet")
    return folder, models


@pytest.fixture(scope="module")
def client(saved):
    folder, _ = saved
    with TestClient(create_app(folder / "two_heads.glassnet", max_batch=MAX_BATCH)) as client:
        yield client


def batches(n: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(n, 3)).astype(np.float32),
        rng.normal(size=(n, 2)).astype(np.float32),
    )


def assert_serving(client) -> None:
    xa, xb = batches(1)
    response = client.post("/predict", json={"inputs": {"a": xa.tolist(), "b": xb.tolist()}})
    assert response.status_code == 200, response.text


# ---------------------------------------------------------------------------- answers
def test_model_lists_each_input_and_output_by_name_and_shape(client):
    info = client.get("/model").json()
    assert info["kind"] == "tensors" and info["name"] == "two_heads"
    assert info["inputs"] == [{"name": "a", "shape": [3]}, {"name": "b", "shape": [2]}]
    assert info["outputs"] == [{"name": "reg", "shape": [1]}, {"name": "cls", "shape": [3]}]
    assert info["class_names"] == [] and info["input_shape"] is None
    assert "Concatenate" in info["summary"]


@pytest.mark.parametrize("form", ["by name", "in order"])
def test_answers_are_the_models_own_outputs_by_output_name(client, saved, form):
    xa, xb = batches(5)
    given = (
        {"a": xa.tolist(), "b": xb.tolist()} if form == "by name" else [xa.tolist(), xb.tolist()]
    )
    response = client.post("/predict", json={"inputs": given})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"outputs", "model", "elapsed_ms"} and body["model"] == "two_heads"
    reg, cls = outputs_of(saved[1]["two_heads"], [xa, xb])
    assert list(body["outputs"]) == ["reg", "cls"]
    np.testing.assert_allclose(body["outputs"]["reg"], reg, atol=1e-6)
    np.testing.assert_allclose(body["outputs"]["cls"], cls, atol=1e-6)
    assert np.asarray(body["outputs"]["cls"]).shape == (5, 3)


def test_a_residual_block_model_serves_feature_maps_of_any_size(saved):
    folder, models = saved
    images = np.random.default_rng(3).uniform(0, 1, size=(2, 6, 5, 1)).astype(np.float32)
    with TestClient(create_app(folder / "features.glassnet")) as client:
        info = client.get("/model").json()
        assert info["kind"] == "tensors"
        assert info["inputs"] == [{"name": "image", "shape": [None, None, 1]}]
        assert info["outputs"] == [{"name": "features", "shape": [None, None, 4]}]
        response = client.post("/predict", json={"inputs": {"image": images.tolist()}})
        assert response.status_code == 200, response.text
        (expected,) = outputs_of(models["features"], [images])
        got = np.asarray(response.json()["outputs"]["features"])
        assert got.shape == (2, 6, 5, 4)
        np.testing.assert_allclose(got, expected, atol=1e-6)
        # Any size, but one image's channels are fixed: the culprit and the shape are named.
        wrong = client.post("/predict", json={"inputs": {"image": np.zeros((1, 4, 4, 3)).tolist()}})
        assert wrong.status_code == 422
        assert "input 'image' must have shape (batch, any, any, 1)" in wrong.json()["detail"]


def test_a_functional_image_classifier_goes_through_the_image_endpoints(saved):
    folder, models = saved
    model = models["classifier"]
    rng = np.random.default_rng(4)
    grey = rng.integers(0, 256, size=(8, 8), dtype=np.uint8)
    black = np.zeros((8, 8), np.uint8)
    with TestClient(create_app(folder / "classifier.glassnet")) as client:
        info = client.get("/model").json()
        assert info["kind"] == "image_classifier" and info["input_shape"] == [8, 8, 1]
        assert info["class_names"] == ["ant", "bee", "cat"]
        for picture in (grey, black):
            response = client.post("/predict", files={"file": ("p.png", png(np_to_pil(picture)))})
            assert response.status_code == 200, response.text
            (logits,) = outputs_of(model, [picture[None, ..., None].astype(np.float32)])
            expected = np.exp(logits[0] - logits[0].max())
            expected /= expected.sum()  # logits, read from the graph's last layer: softmaxed
            got = [response.json()["probabilities"][name] for name in ("ant", "bee", "cat")]
            np.testing.assert_allclose(got, expected, atol=1e-6)
        # The black photo's logits look like probabilities; the structure says they are not.
        np.testing.assert_allclose(logits[0], [0.2, 0.3, 0.5], atol=1e-6)
        assert got[2] == pytest.approx(0.3907, abs=1e-4)
        pixels = client.post("/predict/batch", json={"pixels": [grey[..., None].tolist()] * 2})
        assert pixels.status_code == 200 and len(pixels.json()["predictions"]) == 2
        # The tensor form is for models that are not one-image classifiers.
        refused = client.post("/predict", json={"inputs": {"image": [grey[..., None].tolist()]}})
        assert refused.status_code == 422 and '{"pixels": [...]}' in refused.json()["detail"]


@pytest.mark.parametrize(
    ("shape", "last", "kind"),
    [
        ((8, 8, 1), layers.Dense(1), "tensors"),  # one plain number: a regression, not a class
        ((8, 8, 1), layers.Dense(1, activation="sigmoid"), "image_classifier"),  # yes/no
        ((8, 8, 1), layers.Dense(2), "image_classifier"),
        ((4,), layers.Dense(3, activation="softmax"), "tensors"),  # class scores, not of images
    ],
)
def test_one_image_in_is_a_classifier_only_when_class_scores_come_out(tmp_path, shape, last, kind):
    model = gn.Sequential([layers.Input(shape), layers.Flatten(), last])
    model.save(tmp_path / "m.glassnet")
    served = load_for_serving(tmp_path / "m.glassnet")
    assert served.image_classifier == (kind == "image_classifier")
    assert served.inputs == [("input", shape)]
    assert served.outputs == [("output", (last.units,))]


def test_glassnet_serve_says_how_to_send_named_inputs(saved, monkeypatch):
    from typer.testing import CliRunner

    import glassnet.serve
    from glassnet.cli import app as cli

    started = []
    monkeypatch.setattr(glassnet.serve, "run", lambda path, **options: started.append(path))
    folder, _ = saved
    result = CliRunner().invoke(cli, ["serve", str(folder / "two_heads.glassnet")])
    assert result.exit_code == 0, result.output
    assert "'two_heads' (inputs a, b: POST /predict {\"inputs\": ...})" in result.output
    assert started == [folder / "two_heads.glassnet"]


# ---------------------------------------------------------------------------- the schema
def test_openapi_states_each_inputs_name_and_shape_and_the_answer(client):
    schema = client.get("/openapi.json").json()
    assert "/predict/batch" not in schema["paths"] and "/explain" not in schema["paths"]
    predict = schema["paths"]["/predict"]["post"]
    assert set(predict["requestBody"]["content"]) == {"application/json"}
    body = predict["requestBody"]["content"]["application/json"]["schema"]
    by_name, in_order = body["properties"]["inputs"]["anyOf"]
    assert by_name["required"] == ["a", "b"] and by_name["additionalProperties"] is False
    a = by_name["properties"]["a"]
    assert (a["minItems"], a["maxItems"]) == (1, MAX_BATCH)
    assert (a["items"]["minItems"], a["items"]["maxItems"]) == (3, 3)
    assert a["items"]["items"]["type"] == "number"
    assert in_order["prefixItems"] == [by_name["properties"]["a"], by_name["properties"]["b"]]
    answer = predict["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/TensorsPrediction"}
    components = schema["components"]["schemas"]
    assert {"TensorsPrediction", "TensorSpec", "ModelInfo"} <= set(components)
    assert {"413", "415", "422"} <= set(predict["responses"])


# ---------------------------------------------------------------------------- bad input
def _good() -> dict:
    xa, xb = batches(2)
    return {"a": xa.tolist(), "b": xb.tolist()}


BAD_INPUTS = {
    "missing input": ({"inputs": {"a": _good()["a"]}}, 422, "missing input 'b'"),
    "unknown input": ({"inputs": {**_good(), "c": [[1]]}}, 422, "unknown input 'c'"),
    "missing and unknown": (
        {"inputs": {"a": _good()["a"], "B": _good()["b"]}},
        422,
        "missing input 'b'; unknown input 'B'",
    ),
    "wrong shape per sample": (
        {"inputs": {**_good(), "b": [[1.0, 2.0, 3.0]] * 2}},
        422,
        "input 'b' must have shape (batch, 2); received shape (2, 3)",
    ),
    "one sample without its batch": (
        {"inputs": {**_good(), "a": [1.0, 2.0]}},
        422,
        "input 'a' must have shape (batch, 3)",
    ),
    "strings": (
        {"inputs": {**_good(), "a": [["1", "2", "3"]] * 2}},
        422,
        "input 'a' must be nested lists of numbers of shape (batch, 3)",
    ),
    "booleans": (
        {"inputs": {**_good(), "b": [[True, False]] * 2}},
        422,
        "input 'b' must be nested lists of numbers",
    ),
    "null": ({"inputs": {**_good(), "b": [[None, 1]] * 2}}, 422, "input 'b' must be nested"),
    "ragged": ({"inputs": {**_good(), "a": [[1, 2, 3], [1, 2]]}}, 422, "uneven lengths"),
    "batch sizes differ": (
        {"inputs": {**_good(), "b": [[1.0, 2.0]] * 3}},
        422,
        "different numbers of samples ('a' 2, 'b' 3)",
    ),
    "empty batch": ({"inputs": {"a": [], "b": []}}, 422, "input 'a' holds 0 samples"),
    "too many samples": (
        {"inputs": {"a": [[0, 0, 0]] * (MAX_BATCH + 1), "b": [[0, 0]] * (MAX_BATCH + 1)}},
        422,
        f"input 'a' holds {MAX_BATCH + 1} samples; send from 1 to {MAX_BATCH}",
    ),
    "too large for float32": (
        {"inputs": {**_good(), "a": [[1e39, 0, 0]] * 2}},
        422,
        "input 'a' holds numbers beyond",
    ),
    "list of the wrong length": (
        {"inputs": [_good()["a"]]},
        422,
        "a list of 1 batches but the model has 2 inputs (a, b)",
    ),
    "pixels instead of inputs": (
        {"pixels": [[1, 2, 3]]},
        422,
        'send JSON {"inputs": {"a": [...], "b": [...]}} to POST /predict',
    ),
    "inputs that are not batches": ({"inputs": 7}, 422, "inputs: Input should be"),
    "an input that is not a batch": (
        {"inputs": {**_good(), "a": 7}},
        422,
        "inputs.a: Input should be a valid array",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_inputs_get_a_4xx_naming_the_culprit_and_the_server_goes_on(client, case):
    body, status, phrase = BAD_INPUTS[case]
    response = client.post("/predict", json=body)
    assert response.status_code == status, response.text
    assert phrase in response.json()["detail"]
    assert_serving(client)


def test_every_error_message_says_what_the_model_takes(client):
    detail = client.post("/predict", json={"inputs": {"a": [[0, 0, 0]]}}).json()["detail"]
    assert "'a' (batch, 3), 'b' (batch, 2)" in detail


@pytest.mark.parametrize(
    ("send", "status", "phrase"),
    [
        (lambda c: c.post("/predict", files={"file": ("a.png", b"x")}), 415, "files or forms"),
        (
            lambda c: c.post("/predict", content=b"{oops", headers={"content-type": "text/json"}),
            415,
            "files or forms",
        ),
        (
            lambda c: c.post(
                "/predict", content=b"{oops", headers={"content-type": "application/json"}
            ),
            422,
            "Invalid JSON",
        ),
        (lambda c: c.post("/predict/batch", json={"pixels": [[1]]}), 422, "no image batches"),
        (lambda c: c.post("/explain", files={"file": ("a.png", b"x")}), 422, "no image to"),
    ],
)
def test_image_requests_are_told_to_send_the_inputs_form(client, send, status, phrase):
    response = send(client)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert phrase in detail
    assert '{"inputs": {"a": [...], "b": [...]}}' in detail
    assert_serving(client)


def test_more_numbers_than_one_request_may_carry_is_413(client, monkeypatch):
    monkeypatch.setattr(serve_app, "MAX_VALUES", 9)  # 2 samples of 3 + 2 numbers = 10
    response = client.post("/predict", json={"inputs": _good()})
    assert response.status_code == 413
    assert "more than 9 numbers" in response.json()["detail"]
    monkeypatch.undo()
    assert_serving(client)


def test_an_oversized_json_body_is_413_before_it_is_read(saved):
    folder, _ = saved
    with TestClient(create_app(folder / "two_heads.glassnet", max_upload_mb=0.01)) as small:
        rows = [[0.123456789, 0.123456789, 0.123456789]] * 2000  # about 80 kB
        response = small.post("/predict", json={"inputs": {"a": rows, "b": [[0, 0]] * 2000}})
        assert response.status_code == 413
        assert "upload limit" in response.json()["detail"]
        assert_serving(small)


def test_outputs_json_cannot_carry_are_a_422_naming_the_output(client, saved):
    huge = 3e38  # finite in float32, but the hidden layer's sums overflow
    xa, xb = [[huge, huge, huge], [-huge, -huge, -huge]], [[huge, huge], [-huge, -huge]]
    with np.errstate(over="ignore", invalid="ignore"):
        reg, _ = outputs_of(saved[1]["two_heads"], [np.float32(xa), np.float32(xb)])
    assert not np.isfinite(reg).all()  # what the model itself gives
    response = client.post("/predict", json={"inputs": {"a": xa, "b": xb}})
    assert response.status_code == 422, response.text
    assert "output 'reg' of model 'two_heads' is NaN or infinite" in response.json()["detail"]
    assert_serving(client)


# ---------------------------------------------------------------------------- the page
def test_the_page_says_a_named_inputs_model_takes_json_not_photos(saved):
    """In headless chromium (skipped without it): the model line names the inputs and points at
    the JSON form, and the photo picker is disabled."""
    import os

    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.serve.test_browser import CHROMIUM, FLAGS
    from tests.serve.test_live import live_server

    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    folder, _ = saved
    with live_server(folder / "two_heads.glassnet") as url, sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, timeout=60_000)
        except Exception as err:  # a chromium the driver cannot talk to: nothing to test with
            pytest.skip(f"chromium could not be started by playwright: {err}")
        try:
            page = browser.new_page()
            page.goto(url, timeout=30_000)
            page.wait_for_selector("#model-line:has-text('named inputs')", timeout=30_000)
            line = page.inner_text("#model-line")
            disabled = page.is_disabled("#file")
            drop_shown = page.is_visible("#drop")
        finally:
            browser.close()
    assert 'Model "two_heads" takes named inputs, not photos: a (3), b (2).' in line
    assert '{"inputs": {...}}' in line
    assert disabled and not drop_shown
