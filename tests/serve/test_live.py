"""A real uvicorn server on 127.0.0.1 (a free port), hit by many clients at once: every
concurrent answer succeeds and equals the answer to the same request sent alone — with and
without micro-batching — and an oversized upload over a real socket gets its 413."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
httpx = pytest.importorskip("httpx2")
uvicorn = pytest.importorskip("uvicorn")

from glassnet.serve import create_app  # noqa: E402
from tests.serve.conftest import free_socket  # noqa: E402

CLIENTS = 24


@contextlib.contextmanager
def live_server(model_path, **options):
    """Run ``create_app(model_path, **options)`` under uvicorn in a background thread; yields
    the base URL and stops the server (within seconds) on exit."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(model_path, **options), log_level="warning", lifespan="on", timeout_keep_alive=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        assert not thread.is_alive(), "the server did not stop"


def _predict(url: str, photo: bytes) -> dict:
    with httpx.Client(timeout=30) as client:
        response = client.post(f"{url}/predict?top_k=10", files={"file": ("d.png", photo)})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("batch_window_ms", [0, 20])
def test_concurrent_requests_all_succeed_and_match_sequential_answers(
    digits_model, digit_photos, batch_window_ms, monkeypatch
):
    from glassnet.serve.app import ServedModel

    sizes: list[int] = []
    original = ServedModel.predict

    def counting(self, batch):
        sizes.append(len(batch))
        return original(self, batch)

    monkeypatch.setattr(ServedModel, "predict", counting)
    with live_server(digits_model, batch_window_ms=batch_window_ms) as url:
        sequential = [_predict(url, photo) for photo in digit_photos]
        jobs = [digit_photos[i % len(digit_photos)] for i in range(CLIENTS)]
        barrier = threading.Barrier(CLIENTS, timeout=30)

        def together(photo: bytes) -> dict:
            barrier.wait()  # all clients send at the same moment
            return _predict(url, photo)

        with ThreadPoolExecutor(CLIENTS) as pool:
            sizes.clear()
            answers = list(pool.map(together, jobs, timeout=120))
        assert httpx.get(f"{url}/health").json()["model_loaded"]
    assert sum(sizes) == CLIENTS
    if batch_window_ms:  # requests arriving together went through the model together
        assert max(sizes) > 1 and len(sizes) < CLIENTS
    else:
        assert set(sizes) == {1}
    for i, answer in enumerate(answers):
        alone = sequential[i % len(digit_photos)]
        assert answer["label"] == alone["label"]
        for name, p in alone["probabilities"].items():
            assert answer["probabilities"][name] == pytest.approx(p, abs=1e-5)


def test_oversized_upload_over_a_real_socket_is_413_and_the_server_goes_on(
    digits_model, digit_photos
):
    with live_server(digits_model, max_upload_mb=0.25) as url:
        big = b"\x89PNG\r\n\x1a\n" + b"\0" * (2**20)
        with httpx.Client(timeout=30) as client:
            response = client.post(f"{url}/predict", files={"file": ("big.png", big)})
            assert response.status_code == 413
            assert "upload limit of 0.25 MiB" in response.json()["detail"]

            def chunks():
                for _ in range(16):
                    yield b"\0" * 65536

            response = client.post(
                f"{url}/predict", content=chunks(), headers={"content-type": "application/json"}
            )
            assert response.status_code == 413
        assert _predict(url, digit_photos[0])["model"] == "digits_cnn"
