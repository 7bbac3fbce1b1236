"""`/openapi.json` matches behaviour: schemathesis drives every operation; no 5xx, responses
conform to the documented statuses, content types and schemas."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from alphacdn.removebg.openapi import openapi_document
from tests.removebg.helpers import KEY, ThreadServer

schema = schemathesis.openapi.from_dict(openapi_document())


def test_served_document_is_openapi_3(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert {"/v1.0/removebg", "/v1.0/account", "/v2/tasks/create", "/v2/tasks/{task_id}"} <= set(
        document["paths"]
    )


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.filterwarnings("ignore")
def test_api_conforms_to_its_schema(case: schemathesis.Case, server: ThreadServer) -> None:
    # acceptance checks are left out: "exactly one image source" and "a decodable image" are
    # not expressible in the schema, and unknown parameter names are ignored by design
    case.call_and_validate(
        base_url=server.url,
        headers={"X-Api-Key": KEY},
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_headers_conformance,
            checks.response_schema_conformance,
        ],
    )
