"""/v1/openapi.json: a valid OpenAPI 3.1 document that describes the app truthfully.

Schemathesis (from PyPI) generates requests from the app's own document and checks
every answer against it, in-process over WSGI, with a valid read-write API key.
Operations on a check run twice: once against random UUIDs, once pinned to a real
check that has pings, so that the success responses are exercised too. The channel
operations run in developer mode, where nothing can ever be sent to a real service.

(Schemathesis' own ``pytest.from_fixture(...).parametrize()`` does not run under the
pytest in this venv, so the operations are driven through ``as_strategy`` instead.)
"""

from __future__ import annotations

from typing import Any

import falcon
import falcon.inspect
import jsonschema_rs
import pytest
import schemathesis
import webtest
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_headers_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance
from schemathesis.specs.openapi.definitions import OPENAPI_31

from pingd import errors
from pingd.service import Service

HIGH_LIMIT = {"api__burst": 100000, "api__rate_per_second": 100000.0}
BASE_URL = "https://hc.example.org"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
EXAMPLES_PER_OPERATION = 25
PUBLIC = {("GET", "/v1/status"), ("GET", "/v1/openapi.json")}


@pytest.fixture
def api(make_app: Any) -> webtest.TestApp:
    return make_app(server__base_url=BASE_URL, **HIGH_LIMIT)


@pytest.fixture
def document(api: webtest.TestApp) -> dict[str, Any]:
    response = api.get("/v1/openapi.json", status=200)
    assert response.content_type == "application/json"
    doc: dict[str, Any] = response.json
    return doc


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def walk(node: Any) -> list[Any]:
    """Every dict and list inside a JSON value, the value included."""
    found = [node]
    if isinstance(node, dict):
        for value in node.values():
            found += walk(value)
    elif isinstance(node, list):
        for value in node:
            found += walk(value)
    return found


def documented_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def routed_operations(app: falcon.App[Any, Any]) -> set[tuple[str, str]]:
    return {
        (method.method, route.path)
        for route in falcon.inspect.inspect_routes(app)
        if route.path.startswith("/v1")
        for method in route.methods
        if not method.internal
    }


# -- the document ------------------------------------------------------------------------


def test_it_serves_a_valid_openapi_3_1_document(document: dict[str, Any]) -> None:
    validator = jsonschema_rs.validator_for(OPENAPI_31)

    problems = [str(error) for error in validator.iter_errors(document)]

    assert problems == []
    assert document["openapi"].startswith("3.1.")
    assert document["servers"] == [{"url": BASE_URL}]
    for name, schema in document["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name
    for node in walk(document):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            resolve(document, node["$ref"])


def test_it_documents_every_route_the_app_has_under_v1(
    api: webtest.TestApp, document: dict[str, Any]
) -> None:
    routed = routed_operations(api.app)

    assert ("GET", "/v1/checks/{check_uuid}/pings/{n}/body") in routed
    assert documented_operations(document) == routed


def test_it_documents_who_needs_a_key(document: dict[str, Any]) -> None:
    assert document["security"] == [{"ApiKey": []}, {"Bearer": []}]
    for method, path in documented_operations(document):
        operation = document["paths"][path][method.lower()]
        if (method, path) in PUBLIC:
            assert operation["security"] == [{}], path
            assert "403" not in operation["responses"], path
        else:
            assert "security" not in operation, path
            assert "403" in operation["responses"], (method, path)


def test_it_documents_every_error_code_the_code_raises(document: dict[str, Any]) -> None:
    documented = set(document["components"]["schemas"]["Error"]["properties"]["errorCode"]["enum"])
    raised = {"INVALID_JSON", "MISSING_BODY"}
    pending = [errors.PingdError]
    while pending:
        cls = pending.pop()
        raised.add(cls.code)
        pending += cls.__subclasses__()
    # Only the Healthchecks-compatible face (/api/, /projects/) answers 401, and only the
    # command line and `pingd serve` report a mistake in the config files' declarations.
    raised.discard(errors.Unauthorized.code)
    raised.discard(errors.DeclarationError.code)

    assert raised <= documented


def test_it_documents_the_status_codes_of_every_operation(document: dict[str, Any]) -> None:
    for method, path in documented_operations(document):
        responses = document["paths"][path][method.lower()]["responses"]
        assert {"405", "429", "500"} <= set(responses), (method, path)
        assert "Retry-After" in responses["429"]["headers"], (method, path)
        if method in ("POST", "PATCH") and "requestBody" in document["paths"][path][method.lower()]:
            assert {"400", "413", "422"} <= set(responses), (method, path)
        if "{check_uuid}" in path:
            assert "404" in responses, (method, path)


def test_it_accepts_whole_numbers_that_the_document_calls_integers(
    api: webtest.TestApp, service: Service, document: dict[str, Any]
) -> None:
    # JSON Schema's "integer" is any number with a zero fractional part, 3600.0 included;
    # Schemathesis generates such values for "timeout" and "grace" as valid input.
    body = {"name": "Whole", "timeout": 3600.0, "grace": 600.0}
    assert jsonschema_rs.validator_for(document["components"]["schemas"]["CheckCreate"]).is_valid(
        body
    )

    response = api.post_json(
        "/v1/checks",
        body,
        headers={"X-Api-Key": service.create_api_key("k")},
        expect_errors=True,
    )

    assert response.status_int == 201, response.text
    assert (response.json["data"]["timeout"], response.json["data"]["grace"]) == (3600, 600)


# -- Schemathesis ------------------------------------------------------------------------


def fuzz(strategy: Any, headers: dict[str, str]) -> None:
    """Send the cases of one strategy, checking each answer against the document."""

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def test_it_answers_as_its_openapi_document_says(api: webtest.TestApp, service: Service) -> None:
    key = service.create_api_key("schemathesis")
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", api.app)
    failures: list[str] = []
    runs = 0

    def real_check() -> dict[str, Any]:
        """A check with a start/success pair (one with a body) and a flip."""
        check = service.create_check(name="Fuzzed", tags="fuzz", timeout=3600)
        api.get(f"/ping/{check.uuid}/start", status=200)
        api.post(f"/ping/{check.uuid}", b"body of ping 2", status=200)
        return {"check_uuid": check.uuid, "n": 2}

    operations = [result.ok() for result in schema.get_all_operations()]
    # Schemathesis leaves out the operation that serves the document itself.
    fuzzed = {(op.method.upper(), op.path) for op in operations}
    assert fuzzed == routed_operations(api.app) - {("GET", "/v1/openapi.json")}
    for operation in operations:
        headers = {"X-Api-Key": key}
        if operation.path.startswith("/v1/channels"):
            headers["X-Developer-Mode"] = "true"
        variants: list[tuple[GenerationMode, dict[str, Any] | None]] = [
            (GenerationMode.POSITIVE, None),
            (GenerationMode.NEGATIVE, None),
        ]
        if "{check_uuid}" in operation.path:
            pinned = real_check()
            if operation.path.endswith("/resume"):
                service.pause_check(service.get_check(pinned["check_uuid"]).id)
            if "{n}" not in operation.path:
                del pinned["n"]
            variants.append((GenerationMode.POSITIVE, pinned))

        for mode, path_parameters in variants:
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

            label = f"{operation.label} [{mode.value}{', real check' if path_parameters else ''}]"
            try:
                fuzz(strategy, headers)
            except Unsatisfiable:
                continue  # nothing to make negative (an operation without inputs)
            except Exception as ex:  # a failed check: collect it, report all at the end
                failures.append(f"{label}:\n{ex}")
            runs += 1

    assert not failures, "\n\n".join(failures)
    assert runs >= 2 * len(operations)
