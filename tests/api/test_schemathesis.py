"""Property-based requests over the whole OpenAPI document (schemathesis): no input, however
odd, makes the API answer 5xx, and every error is a problem document. Bounded: a few examples
per operation, as an editor with a valid token."""

from __future__ import annotations

import warnings

import hypothesis
import pytest
from hypothesis import HealthCheck
from tests.api.conftest import World

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis

MAX_EXAMPLES = 12


@pytest.mark.slow
def test_no_server_error_for_any_generated_request(world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", world.client.app)
    auth = world.headers("Acme", "editor")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        strategy = operation.as_strategy()

        @hypothesis.given(case=strategy)
        @hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                             derandomize=True, phases=[hypothesis.Phase.generate],
                             suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            response = case.call(headers={**dict(case.headers or {}), **auth})
            where = f"{case.method} {case.formatted_path} -> {response.status_code}"
            if response.status_code >= 500:
                failures.append(f"{where}: {response.text[:300]}")
            elif response.status_code >= 400:
                assert response.headers["content-type"][0] == "application/problem+json", where

        run()
    assert not failures, "\n".join(failures[:20])
