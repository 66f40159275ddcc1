"""Property tests of the /v1 API from its own OpenAPI document: no input gives a 500."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from linkguard.bootstrap import build_state
from linkguard.web import create_app
from tests.web.conftest import make_settings


def _app():  # type: ignore[no-untyped-def]
    import tempfile  # noqa: PLC0415

    return create_app(build_state(make_settings(Path(tempfile.mkdtemp()),
                                                rate_limit_api="100000/1")))


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())
KEY = "Bearer " + "v" * 32


@schema.include(path_regex="^/v1/").parametrize()
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_v1_never_answers_500(case: schemathesis.Case) -> None:
    auth = {"Authorization": KEY}
    response = case.call(headers=auth)
    assert response.status_code < 500, response.text
    case.validate_response(response, headers=auth)


@schema.include(path_regex="^/v1/").parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_v1_without_a_key_is_never_answered(case: schemathesis.Case) -> None:
    case.headers = {k: v for k, v in (case.headers or {}).items()
                    if k.lower() != "authorization"}
    response = case.call()
    assert response.status_code in (400, 401, 405, 422), response.text
