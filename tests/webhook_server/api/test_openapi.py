"""The OpenAPI document is valid, browsable at /v1/docs, and the live server holds to it: schemathesis generates
requests from it (valid and not) and no answer is a 5xx or departs from the document."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from consentry.sdk.store import consent_events, rights_requests


def test_the_document_is_valid_openapi_and_lists_every_endpoint(api):
    document = api.client.get("/v1/openapi.json").json()
    validate(document)
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/v1/decisions",
        "/v1/decisions/batch",
        "/v1/consents",
        "/v1/calls",
        "/v1/people/proof",
        "/v1/rights-requests",
        "/v1/rights-requests/{request_id}",
    }
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    problem = document["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert "application/problem+json" in problem


def test_the_docs_page_is_served(api):
    page = api.client.get("/v1/docs")
    assert page.status_code == 200
    assert "openapi.json" in page.text


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(api):
    schema = schemathesis.openapi.from_url(api.client.url + "/v1/openapi.json")
    headers = {"Authorization": f"Bearer {api.client.key}"}
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7
    for operation in operations:

        @settings(
            max_examples=50,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @schemathesis_given(operation)
        def run(case):
            case.call_and_validate(base_url=api.client.url, headers=headers, checks=checks)

        run()
    assert api.count(consent_events) >= 0
    assert api.count(rights_requests) >= 1  # valid requests were generated, and answered


def schemathesis_given(operation):
    from hypothesis import given

    return given(case=operation.as_strategy())
