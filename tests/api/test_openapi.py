"""The published OpenAPI document, and the API fuzzed against it in-process (WSGI).

Schemathesis generates valid and invalid requests for every operation from the document and
checks that the app never answers 5xx and that every answer matches the documented status
codes, content type and response schema.
"""

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from portal import accounts, clients
from portal.accounts import tokens
from portal.extensions import db
from portal.maintenance import get_or_create_state
from portal.maintenance.changes import update_state
from tests.conftest import ADMIN_EMAIL, login

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_document_is_public_and_describes_the_contract(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    ingest = paths["/api/v1/events"]["post"]
    assert set(ingest["responses"]) >= {"202", "400", "401", "413"}
    assert set(paths["/api/v1/events/{event_id}"]["get"]["responses"]) >= {"200", "401", "404"}
    assert "get" in paths["/api/v1/maintenance"]
    assert paths["/api/v1/events"]["get"]["security"] == [{"Token": []}]
    for path in (
        "/api/v1/events/{event_id}/replay",
        "/api/v1/deliveries/{delivery_id}/retry",
        "/api/v1/workflows/{workflow_id}/resume",
    ):
        assert set(paths[path]["post"]["responses"]) >= {"200", "401", "403", "404", "409"}
    assert paths["/healthz"]["get"]["security"] == []
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "details"]


def test_document_loads_as_a_valid_schema(app: Flask):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = {op.ok().label for op in schema.get_all_operations()}
    assert "POST /api/v1/events" in operations
    assert "GET /api/v1/events/{event_id}" in operations


@pytest.fixture()
def api_key(app: Flask) -> str:
    """A real key of a fresh client, with one stored event so GET /events/{id} can find it."""
    with app.app_context():
        _client, key = clients.create_client("Fuzz")
        db.session.commit()
    response = app.test_client().post(
        "/api/v1/events",
        json={"type": "seed", "payload": {"n": 1}},
        headers={"X-API-Key": key},
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    return key


TOKEN_OPERATIONS = [
    "GET /api/v1/events",
    "POST /api/v1/events/{event_id}/replay",
    "POST /api/v1/deliveries/{delivery_id}/retry",
    "POST /api/v1/workflows/{workflow_id}/resume",
]
OPERATIONS = [
    "POST /api/v1/events",
    "GET /api/v1/events/{event_id}",
    *TOKEN_OPERATIONS,
    "GET /api/v1/maintenance",
    "PATCH /api/v1/maintenance",
    "GET /healthz",
    "GET /api/v1/openapi.json",
]


# Negative mode needs something to break: only the operations that take input get it.
FUZZ_CASES = [(label, GenerationMode.POSITIVE) for label in OPERATIONS] + [
    ("POST /api/v1/events", GenerationMode.NEGATIVE),
    ("GET /api/v1/events/{event_id}", GenerationMode.NEGATIVE),
    ("PATCH /api/v1/maintenance", GenerationMode.NEGATIVE),
    ("GET /api/v1/events", GenerationMode.NEGATIVE),
    ("POST /api/v1/events/{event_id}/replay", GenerationMode.NEGATIVE),
]


@pytest.mark.parametrize(("label", "mode"), FUZZ_CASES)
def test_api_conforms_to_its_document(app: Flask, api_key: str, label: str, mode):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema.find_operation_by_label(label)
    assert operation is not None, label
    checks = list(CHECKS)
    headers = {"X-API-Key": api_key}
    if label.endswith("/api/v1/maintenance"):
        # a token that may change it; processing paused, so ?wait=paused answers at once
        with app.app_context():
            admin = accounts.find_user(ADMIN_EMAIL)
            _token, secret = tokens.create(
                admin, "fuzz", ["maintenance:read", "maintenance:write"], 1, None
            )
            update_state(
                get_or_create_state(),
                None,
                enabled=True,
                restrict_event_processor=True,
                bypass_roles=accounts.find_roles(["Administrator"]),
                bypass_groups=accounts.find_groups(["Administrators"]),
            )
            db.session.commit()
        headers = {"Authorization": f"Bearer {secret}"}
    if label in TOKEN_OPERATIONS:
        with app.app_context():
            admin = accounts.find_user(ADMIN_EMAIL)
            _token, secret = tokens.create(admin, "fuzz", ["events:read", "events:write"], 1, None)
            db.session.commit()
        headers = {"Authorization": f"Bearer {secret}"}
    if label == "POST /api/v1/events" and mode == GenerationMode.POSITIVE:
        checks.append(positive_data_acceptance)  # every valid event or batch is stored

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=50,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # report the first failure, do not shrink
    )
    def call(case) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    call()


def test_garbage_keys_and_bodies_get_json_4xx(app: Flask, api_key: str):
    client = app.test_client()
    cases = [
        ({"X-API-Key": "nope"}, b'{"type": "x"}', 401),
        ({}, b'{"type": "x"}', 401),
        ({"X-API-Key": api_key}, b"{not json", 400),
        ({"X-API-Key": api_key}, b"[]", 400),
        ({"X-API-Key": api_key}, b'{"events": []}', 400),
        ({"X-API-Key": api_key}, b'{"events": [{"type": "ok"}, {"payload": {}}]}', 400),
    ]
    for headers, body, status in cases:
        response = client.post(
            "/api/v1/events",
            data=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert response.status_code == status, (body, response.get_data(as_text=True))
        error = response.get_json()
        assert isinstance(error["error"], str)
        assert isinstance(error["details"], list)


def test_a_batch_over_the_limit_is_rejected(app: Flask, api_key: str):
    events = [{"type": "bulk", "payload": {"i": i}} for i in range(1001)]
    response = app.test_client().post(
        "/api/v1/events", json={"events": events}, headers={"X-API-Key": api_key}
    )
    assert response.status_code in (400, 413)
    assert set(response.get_json()) >= {"error", "details"}


def test_an_oversized_body_gets_413_json(app: Flask, api_key: str):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    body = b'{"type": "big", "payload": {"blob": "' + b"x" * 4096 + b'"}}'
    response = app.test_client().post(
        "/api/v1/events",
        data=body,
        headers={"X-API-Key": api_key, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert set(response.get_json()) >= {"error", "details"}


def test_a_blocked_session_gets_the_documented_503(app: Flask, client, make_user):
    make_user("blocked@example.com", roles=("Viewer",))
    login(client, "blocked@example.com")
    with app.app_context():
        update_state(get_or_create_state(), None, enabled=True, message="Back soon.")
        db.session.commit()

    response = client.get("/api/v1/maintenance", headers={"Accept": "application/json"})

    assert response.status_code == 503
    assert response.get_json()["message"] == "Back soon."
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema.find_operation_by_label("GET /api/v1/maintenance")
    documented = [check for check in CHECKS if check is not not_a_server_error]
    operation.Case().validate_response(response, checks=documented)
