"""Schemathesis on a model that takes named inputs: the schema rewritten for the loaded model
(its input names and exact shapes, the ``{"outputs": ...}`` answer) and the server agree —
generated valid and invalid requests get no 5xx and answers that conform to the schema, and
what the schema calls invalid is refused with a 4xx."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
schemathesis = pytest.importorskip("schemathesis")

from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from glassnet.serve import create_app  # noqa: E402
from tests.serve.test_serve_graphs import two_heads  # noqa: E402


@pytest.fixture(scope="module")
def graph_schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("graph-schema") / "two_heads.glassnet"
    two_heads().save(path)
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20261206,
            "phases": {"stateful": {"enabled": False}},
            "generation": {"max-examples": 25},
        }
    )
    return schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(path, max_batch=4), config=config
    )


schema = schemathesis.pytest.from_fixture("graph_schema")


@schema.parametrize()
def test_every_operation_answers_within_the_rewritten_schema(case):
    # positive_data_acceptance is left out: the schema cannot say that every input holds the
    # same number of samples, so a generated "valid" body may rightly be refused (422).
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
