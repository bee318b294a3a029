"""Schemathesis against the app's own OpenAPI spec: whatever a client sends, no 5xx, and every
response matches its documented status codes and content types. Examples are bounded so it stays fast
(random strings rarely form a valid instant, so few requests reach a real computation)."""

from __future__ import annotations

import pytest

import schemathesis  # noqa: E402  a declared dev dependency: missing is a failure, never a skip
from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    status_code_conformance,
)
from schemathesis.checks import not_a_server_error  # noqa: E402


from btcstress.api import create_app  # noqa: E402

# The spec is loaded when this module is imported, before fixtures exist: the app is built on a
# store path that does not exist yet, and the fixture below points it at the snapshot store (the
# app opens the store per request, never at creation).
# Schemathesis' ASGI client sends Host: testserver; the app answers only to the names it is given.
HOSTS = ["127.0.0.1", "localhost", "testserver"]
app = create_app("not-yet.duckdb", config={}, cache_size=64, token=None, allowed_hosts=HOSTS)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
# The same API with writes on (a token): every endpoint, the write endpoints included, on a copy of the store.
TOKEN = "fuzz-token"
writable = create_app("not-yet.duckdb", config={}, cache_size=64, token=TOKEN, allowed_hosts=HOSTS)
write_schema = schemathesis.openapi.from_asgi("/openapi.json", writable)


@pytest.fixture(autouse=True)
def _on_the_snapshot(snapshot_db):
    app.state.service.db = snapshot_db


@pytest.fixture(scope="module")
def store_copy(snapshot_db, tmp_path_factory):
    import shutil
    path = tmp_path_factory.mktemp("writable") / "copy.duckdb"
    shutil.copyfile(snapshot_db, path)
    return path


@schema.parametrize()
@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_makes_the_api_fail(case):
    case.call_and_validate(checks=[not_a_server_error, status_code_conformance, content_type_conformance])


@write_schema.parametrize()
@settings(max_examples=8, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_makes_the_api_fail_with_writes_on(case, store_copy):
    writable.state.service.db = store_copy
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance])
