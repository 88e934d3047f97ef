"""The load benchmark runs (a short run; the real one is run by hand with --write): the mix of
good and bad requests gets only the expected answers — no 5xx, no dropped connection."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx2")


def test_a_short_load_run_has_no_errors(digits_model):
    from benchmarks import serve_load

    result = serve_load.main(
        ["--model", str(digits_model), "--requests", "80", "--clients", "4", "--max-seconds", "60"]
    )
    assert result["requests"] == 80
    assert result["server_errors"] == 0 and result["dropped"] == 0 and result["wrong"] == 0
