"""The API through FastAPI's TestClient: every endpoint, and every kind of bad input answered
with a clear 4xx (never a 500) after which the server still answers a good request."""

from __future__ import annotations

import base64
import io
import json
import tracemalloc

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
pytest.importorskip("httpx2")

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from glassnet.cli import app as cli
from glassnet.data import load_image
from glassnet.models import load_model
from glassnet.serve import create_app
from tests.serve.conftest import bomb_png


@pytest.fixture(scope="module")
def client(digits_model):
    with TestClient(create_app(digits_model, max_upload_mb=1)) as client:
        yield client


def _file(data: bytes, name: str = "photo.png", kind: str = "image/png") -> dict:
    return {"file": (name, data, kind)}


def _assert_serving(client, photo: bytes) -> None:
    response = client.post("/predict", files=_file(photo))
    assert response.status_code == 200, response.text


# ---------------------------------------------------------------------------- endpoints
def test_health_says_the_model_is_loaded(client):
    assert client.get("/health").json() == {
        "status": "ok",
        "model_loaded": True,
        "model": "digits_cnn",
    }


def test_model_describes_classes_shape_preprocessing_and_summary(client, digits_model):
    info = client.get("/model").json()
    model = load_model(digits_model, compile=False)
    assert info["name"] == "digits_cnn"
    assert info["class_names"] == [str(d) for d in range(10)]
    assert info["input_shape"] == [8, 8, 1]
    assert info["preprocessing"] == model.preprocessing
    assert info["parameters"] == model.count_params()
    assert "Total params" in info["summary"] or "params" in info["summary"].lower()


def test_page_and_its_assets_come_from_the_server_itself(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert 'type="file"' in html and 'accept="image/*"' in html and "capture" in html
    assert '<meta name="viewport"' in html and "<label" in html
    for asset in ("/static/app.js", "/static/style.css"):
        assert asset in html
        assert client.get(asset).status_code == 200
    everything = html + client.get("/static/app.js").text + client.get("/static/style.css").text
    assert "http://" not in everything and "https://" not in everything  # no CDN


def test_openapi_documents_every_endpoint_and_response(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    for path in ("/predict", "/predict/batch", "/explain", "/model", "/health"):
        assert path in schema["paths"]
    predict = schema["paths"]["/predict"]["post"]
    assert set(predict["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert {"Prediction", "ModelInfo", "Health", "Problem"} <= set(schema["components"]["schemas"])
    assert {"413", "415", "422"} <= set(predict["responses"])


def test_a_prediction_over_http_equals_glassnet_predict(
    client, digits_model, digit_photos, tmp_path
):
    """Same file, same model: the server's answer is the command line's (stored preprocessing:
    resize to 8×8, grayscale), for photos of several sizes and colour modes."""
    paths = []
    for i, photo in enumerate(digit_photos[:6]):
        path = tmp_path / f"digit{i}.png"
        path.write_bytes(photo)
        paths.append(path)
    result = CliRunner().invoke(
        cli, ["predict", str(digits_model), *map(str, paths), "--json", "--top-k", "10"]
    )
    assert result.exit_code == 0, result.output
    expected = json.loads(result.output)
    model = load_model(digits_model, compile=False)
    for path, cli_answer in zip(paths, expected, strict=True):
        answer = client.post("/predict?top_k=10", files=_file(path.read_bytes())).json()
        assert answer["label"] == cli_answer["predictions"][0]["class"]
        # One photo at a time against a batch of six: the BLAS may round the last bit
        # differently, so the 6-digit probabilities may differ in their last digit.
        top, cli_top = answer["top_k"], cli_answer["predictions"]
        assert [p["class"] for p in top] == [p["class"] for p in cli_top]
        np.testing.assert_allclose(
            [p["probability"] for p in top], [p["probability"] for p in cli_top], atol=2e-6
        )
        direct = model.predict(load_image(path, **model.preprocessing)[None])[0]
        got = np.array([answer["probabilities"][str(d)] for d in range(10)])
        np.testing.assert_allclose(got, direct, atol=1e-6)
        assert answer["model"] == "digits_cnn" and answer["elapsed_ms"] >= 0


def test_json_pixels_give_what_model_predict_gives(client, digits_model, rng):
    model = load_model(digits_model, compile=False)
    pixels = rng.integers(0, 256, size=(8, 8, 1)).astype(np.float32)
    answer = client.post("/predict", json={"pixels": pixels.tolist()}).json()
    expected = model.predict(pixels[None])[0]
    assert answer["label"] == str(int(expected.argmax()))
    got = np.array([answer["probabilities"][str(d)] for d in range(10)])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert len(answer["top_k"]) == 3 and answer["top_k"][0]["class"] == answer["label"]


def test_batch_answers_each_image_in_order(client, digit_photos):
    files = [("files", (f"{i}.png", p, "image/png")) for i, p in enumerate(digit_photos[:5])]
    batch = client.post("/predict/batch", files=files)
    assert batch.status_code == 200, batch.text
    singles = [client.post("/predict", files=_file(p)).json() for p in digit_photos[:5]]
    predictions = batch.json()["predictions"]
    assert [p["label"] for p in predictions] == [s["label"] for s in singles]
    for p, s in zip(predictions, singles, strict=True):
        for name, prob in s["probabilities"].items():
            # rounded to 6 digits from numbers a batch may round differently in the last bit
            assert p["probabilities"][name] == pytest.approx(prob, abs=2e-6)


def test_batch_of_json_pixels(client, rng):
    pixels = rng.integers(0, 256, size=(3, 8, 8, 1)).tolist()
    response = client.post("/predict/batch", json={"pixels": pixels})
    assert response.status_code == 200 and len(response.json()["predictions"]) == 3


def test_explain_returns_saliency_and_first_layer_activation_pngs(client, digit_photos):
    response = client.post("/explain", files=_file(digit_photos[0]))
    assert response.status_code == 200, response.text
    body = response.json()
    from PIL import Image

    pictures = [body["saliency_png"], *[a["png"] for a in body["activations"]]]
    assert len(body["activations"]) == 2  # the first two layers that draw: both convolutions
    assert [a["kind"] for a in body["activations"]] == ["feature maps", "feature maps"]
    for picture in pictures:
        image = Image.open(io.BytesIO(base64.b64decode(picture)))
        assert image.format == "PNG" and image.width > 100
    assert (
        body["prediction"]["label"]
        == client.post("/predict", files=_file(digit_photos[0])).json()["label"]
    )


# ---------------------------------------------------------------------------- bad input
def _chunks(data: bytes, size: int = 65536):
    for start in range(0, len(data), size):
        yield data[start : start + size]


BIG = b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 2**20)  # 2 MiB; the client's limit is 1 MiB


@pytest.mark.parametrize(
    "how",
    ["declared", "no length (chunked)", "lying length"],
)
def test_oversized_upload_is_413_before_the_body_is_read(client, digit_photos, how):
    if how == "declared":
        response = client.post("/predict", files=_file(BIG))
    elif how == "no length (chunked)":
        response = client.post(
            "/predict", content=_chunks(BIG), headers={"content-type": "application/json"}
        )
    else:  # claims 100 bytes, sends 2 MiB: the counted bytes decide
        response = client.post(
            "/predict",
            content=BIG,
            headers={"content-type": "application/json", "content-length": "100"},
        )
    assert response.status_code == 413, response.text
    assert "upload limit of 1 MiB" in response.json()["detail"]
    _assert_serving(client, digit_photos[0])


def test_the_413_comes_before_the_app_reads_the_body(digits_model):
    """A declared length over the limit is answered without one body message being read."""
    import asyncio

    from glassnet.serve.app import _BodyLimit

    reads, sent = [], []

    async def app(scope, receive, send):  # pragma: no cover - must not be called
        raise AssertionError("the app was called")

    async def receive():
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 10, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "headers": [(b"content-length", b"999999999")]}
    asyncio.run(_BodyLimit(app, max_bytes=1000)(scope, receive, send))
    assert reads == [] and sent[0]["status"] == 413


BAD_INPUTS = {
    "not an image": (
        lambda c: c.post("/predict", files=_file(b"hello, I am text", "notes.png")),
        415,
        "not a PNG, JPEG, BMP, GIF or WebP image",
    ),
    "a PDF named .jpg": (
        lambda c: c.post("/predict", files=_file(b"%PDF-1.4\n...", "cat.jpg", "image/jpeg")),
        415,
        "cat.jpg",
    ),
    "truncated PNG": (
        lambda c: c.post("/predict", files=_file(TRUNCATED, "half.png")),
        400,
        "truncated",
    ),
    "empty file": (lambda c: c.post("/predict", files=_file(b"", "empty.png")), 400, "empty"),
    "decompression bomb": (
        lambda c: c.post("/predict", files=_file(bomb_png(), "bomb.png")),
        400,
        "decompression bomb",
    ),
    "JSON of the wrong shape": (
        lambda c: c.post("/predict", json={"pixels": [[1, 2, 3]]}),
        422,
        "must have shape (8, 8, 1) (height, width, channels); received shape (1, 3)",
    ),
    "ragged JSON": (
        lambda c: c.post("/predict", json={"pixels": [[1, 2], [3]]}),
        422,
        "shape (8, 8, 1)",
    ),
    "JSON of strings": (
        lambda c: c.post("/predict", json={"pixels": [["a"] * 8] * 8}),
        422,
        "not numbers",
    ),
    "JSON without pixels": (
        lambda c: c.post("/predict", json={"image": [1]}),
        422,
        '{"pixels": [...]}',
    ),
    "not JSON at all": (
        lambda c: c.post(
            "/predict", content=b"{oops", headers={"content-type": "application/json"}
        ),
        422,
        "Invalid JSON",
    ),
    "batch of the wrong shape": (
        lambda c: c.post("/predict/batch", json={"pixels": [[1, 2, 3]]}),
        422,
        "(images, 8, 8, 1)",
    ),
    "form without a file field": (
        lambda c: c.post("/predict", files={"photo": ("a.png", b"x", "image/png")}),
        422,
        "field named 'file'",
    ),
    "unsupported content type": (
        lambda c: c.post("/predict", content=b"abc", headers={"content-type": "text/plain"}),
        415,
        "multipart/form-data",
    ),
    "top_k out of range": (
        lambda c: c.post("/predict?top_k=0", json={"pixels": np.zeros((8, 8, 1)).tolist()}),
        422,
        "top_k",
    ),
    "unknown route": (lambda c: c.get("/predictions"), 404, "Not Found"),
    "wrong method": (lambda c: c.get("/predict"), 405, "Method Not Allowed"),
}


def _truncated() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        buffer, format="PNG"
    )
    return buffer.getvalue()[:-400]


TRUNCATED = _truncated()


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gets_a_clear_answer_and_the_server_goes_on(client, digit_photos, case):
    send, status, phrase = BAD_INPUTS[case]
    response = send(client)
    assert response.status_code == status, response.text
    assert phrase in response.json()["detail"]
    _assert_serving(client, digit_photos[1])


def test_a_decompression_bomb_is_refused_without_allocating_it(client):
    tracemalloc.start()
    try:
        response = client.post("/predict", files=_file(bomb_png(), "bomb.png"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 400
    assert "declares 2,500,000,000 pixels" in response.json()["detail"]
    assert peak < 50 * 2**20  # 50,000 × 50,000 grey pixels would be 2.5 GB


def test_a_model_that_stores_no_preprocessing_refuses_other_sizes(tmp_path, digit_photos):
    import glassnet as gn
    from glassnet import layers

    gn.set_seed(0)
    model = gn.Sequential([layers.Input((8, 8, 1)), layers.Flatten(), layers.Dense(3, "softmax")])
    model.save(tmp_path / "plain.glassnet")
    with TestClient(create_app(tmp_path / "plain.glassnet")) as plain:
        response = plain.post("/predict", files=_file(digit_photos[1]))  # 16×16 RGB
        assert response.status_code == 400
        assert "stores no preprocessing to resize with" in response.json()["detail"]
        assert plain.post("/predict", files=_file(digit_photos[0])).status_code == 200


def test_create_app_checks_its_arguments(digits_model):
    with pytest.raises(ValueError, match="max_upload_mb must be positive"):
        create_app(digits_model, max_upload_mb=0)
    with pytest.raises(ValueError, match="batch_window_ms must be 0 or more"):
        create_app(digits_model, batch_window_ms=-1)


# ---------------------------------------------------------------------------- the command
def test_glassnet_serve_reports_a_missing_model_in_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["serve", str(tmp_path / "nope.glassnet")])
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output


def test_glassnet_imports_and_serve_explains_itself_without_fastapi(monkeypatch, digits_model):
    import sys

    for name in [n for n in sys.modules if n.startswith("glassnet.serve")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi now fails
    result = CliRunner().invoke(cli, ["serve", str(digits_model)])
    assert result.exit_code == 1
    assert "pip install 'glassnet[serve]'" in result.output


def test_nothing_outside_serve_imports_it():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['fastapi'] = None\n"
        "import glassnet, glassnet.cli, glassnet.inspect, glassnet.export\n"
        "assert not [m for m in sys.modules if m.startswith('glassnet.serve')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize(
    ("pixels", "phrase"),
    [
        ([[[True]] * 8] * 8, "nested lists of numbers"),  # JSON true is not a pixel
        ([[["7"]] * 8] * 8, "nested lists of numbers"),  # nor is a string
        ([[[1e308]] * 8] * 8, "numbers from 0 to 255"),  # overflowed float32 once: a 500
        ([[[-1.0]] * 8] * 8, "numbers from 0 to 255"),
    ],
)
def test_json_pixels_must_be_numbers_from_0_to_255(client, pixels, phrase, digit_photos):
    response = client.post("/predict", json={"pixels": pixels})
    assert response.status_code == 422 and phrase in response.json()["detail"]
    assert client.post("/predict", files={"file": ("a.png", digit_photos[0])}).status_code == 200


def test_the_published_schema_states_the_exact_pixel_shape(client):
    body = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]
    pixels = body["content"]["application/json"]["schema"]["properties"]["pixels"]
    assert (pixels["minItems"], pixels["maxItems"]) == (8, 8)
    innermost = pixels["items"]["items"]["items"]
    assert innermost == {"type": "number", "minimum": 0, "maximum": 255}
    batch = client.get("/openapi.json").json()["paths"]["/predict/batch"]["post"]["requestBody"]
    files = batch["content"]["multipart/form-data"]["schema"]["properties"]["files"]
    assert files["minItems"] == 1
