"""The ingestion API: authentication, validation, idempotency, reading events back."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import login, make_app
from tests.events_support import api_key, events_by_id, post_events, set_restriction
from tests.maintenance_helpers import set_maintenance


def test_single_event_is_stored_and_queued(app, client):
    key = api_key(app)
    response = post_events(client, key, {"type": "door.opened", "payload": {"door": 3}})
    assert response.status_code == 202
    body = response.get_json()
    assert body == {
        "accepted": 1,
        "duplicates": 0,
        "event_ids": body["event_ids"],
        "processing": "running",
    }
    detail = client.get(f"/api/v1/events/{body['event_ids'][0]}", headers={"X-API-Key": key})
    assert detail.status_code == 200
    event = detail.get_json()
    assert event["type"] == "door.opened"
    assert event["payload"] == {"door": 3}
    assert event["status"] == "queued"
    assert event["received_at"].endswith("Z")
    assert event["processed_at"] is None
    assert event["deliveries"] == []


def test_duplicates_stored_once_and_answered_in_request_order(app, client):
    key = api_key(app)
    first = post_events(client, key, {"type": "a", "source_id": "s1"}).get_json()
    batch = {
        "events": [
            {"type": "a", "source_id": "s1"},  # already stored
            {"type": "b", "source_id": "s2"},
            {"type": "b", "source_id": "s2"},  # repeated within the batch
            {"type": "c"},
        ]
    }
    body = post_events(client, key, batch).get_json()
    assert body["accepted"] == 2
    assert body["duplicates"] == 2
    ids = body["event_ids"]
    assert ids[0] == first["event_ids"][0]
    assert ids[1] == ids[2]
    assert len(set(ids)) == 3
    assert len(events_by_id(app)) == 3


def test_source_ids_are_per_client(app, client):
    key_a, key_b = api_key(app), api_key(app, "Other")
    first = post_events(client, key_a, {"type": "a", "source_id": "same"}).get_json()
    second = post_events(client, key_b, {"type": "a", "source_id": "same"}).get_json()
    assert second["accepted"] == 1
    assert first["event_ids"] != second["event_ids"]


def test_concurrent_requests_with_the_same_source_ids_store_each_once(app):
    key = api_key(app)
    batch = {"events": [{"type": "t", "source_id": f"dup-{i}"} for i in range(50)]}

    def send(_):
        return post_events(app.test_client(), key, batch)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(send, range(12)))
    assert [r.status_code for r in responses] == [202] * 12
    answers = [r.get_json() for r in responses]
    assert sum(a["accepted"] for a in answers) == 50
    assert len({tuple(a["event_ids"]) for a in answers}) == 1
    assert len(events_by_id(app)) == 50


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "gp_wrong"}, {"X-API-Key": ""}])
def test_missing_or_wrong_key_is_401_json(client, headers):
    response = client.post("/api/v1/events", json={"type": "a"}, headers=headers)
    assert response.status_code == 401
    assert set(response.get_json()) == {"error", "details"}


def test_invalid_event_rejects_whole_batch_naming_index_and_field(app, client):
    key = api_key(app)
    batch = {"events": [{"type": "ok"}, {"type": "ok", "payload": [1]}, {"payload": {}}]}
    response = post_events(client, key, batch)
    assert response.status_code == 400
    body = response.get_json()
    assert {"index": 1, "field": "payload"}.items() <= body["details"][0].items()
    assert {"index": 2, "field": "type"}.items() <= body["details"][1].items()
    assert events_by_id(app) == {}


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("not json", "application/json", 400),
        ('{"type": "a"', "application/json", 400),
        ("", "application/json", 400),
        ('{"type": "a"}', "text/plain", 400),
        ('{"type": "a"}', "application/x-www-form-urlencoded", 400),
        ("[1, 2]", "application/json", 400),
        ('"text"', "application/json", 400),
        ('{"events": []}', "application/json", 400),
        ('{"events": {}}', "application/json", 400),
        ('{"events": [], "type": "a"}', "application/json", 400),
        ('{"type": "a", "payload": NaN}', "application/json", 400),
        ('{"type": "a", "colour": "red"}', "application/json", 400),
        ('{"type": "a", "source_id": 5}', "application/json", 400),
        ('{"type": "' + "x" * 201 + '"}', "application/json", 400),
        ("[" * 100_000, "application/json", 400),
        (b"\xff\xfe{", "application/json", 400),
    ],
)
def test_malformed_bodies_get_a_json_4xx(app, client, data, content_type, status):
    key = api_key(app)
    response = client.post(
        "/api/v1/events", data=data, content_type=content_type, headers={"X-API-Key": key}
    )
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error", "details"}


def test_too_many_events_is_413(app, client):
    key = api_key(app)
    response = post_events(client, key, {"events": [{"type": "a"}] * 1001})
    assert response.status_code == 413
    assert response.get_json()["error"]


def test_too_large_body_is_413_json(db_path, tmp_path):
    small = make_app(db_path, tmp_path / "small", MAX_CONTENT_LENGTH=2000)
    key = api_key(small)
    response = post_events(small.test_client(), key, {"type": "a", "payload": {"x": "y" * 5000}})
    assert response.status_code == 413
    assert set(response.get_json()) == {"error", "details"}


def test_wrong_method_and_unknown_path_are_json(client):
    assert client.delete("/api/v1/events").status_code == 405
    assert set(client.delete("/api/v1/events").get_json()) == {"error", "details"}
    assert client.get("/api/v1/events").status_code == 401  # the list needs a token
    assert client.get("/api/v1/nothing").get_json()["error"]


junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["type", "payload", "source_id", "events", "x"]) | st.text(max_size=5),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=junk | st.binary(max_size=60).map(lambda raw: raw))
def test_junk_never_gets_a_5xx(app, client, body):
    key = getattr(app, "_junk_key", None) or api_key(app)
    app._junk_key = key
    data = body if isinstance(body, bytes) else json.dumps(body)
    response = client.post(
        "/api/v1/events", data=data, content_type="application/json", headers={"X-API-Key": key}
    )
    assert response.status_code < 500
    if response.status_code != 202:
        assert 400 <= response.status_code < 500
        assert set(response.get_json()) == {"error", "details"}


def test_event_of_another_client_is_404(app, client):
    key_a, key_b = api_key(app), api_key(app, "Other")
    event_id = post_events(client, key_a, {"type": "a"}).get_json()["event_ids"][0]
    response = client.get(f"/api/v1/events/{event_id}", headers={"X-API-Key": key_b})
    assert response.status_code == 404
    assert set(response.get_json()) == {"error", "details"}
    assert client.get("/api/v1/events/999999", headers={"X-API-Key": key_a}).status_code == 404
    assert client.get(f"/api/v1/events/{event_id}").status_code == 401


def test_ingestion_continues_while_processing_is_paused(app, client):
    key = api_key(app)
    set_restriction(app, True)
    response = post_events(client, key, {"type": "a"})
    assert response.status_code == 202
    assert response.get_json()["processing"] == "paused"


def test_maintenance_state_needs_a_key_or_a_session(app, client):
    assert client.get("/api/v1/maintenance").status_code == 401
    key = api_key(app)
    state = client.get("/api/v1/maintenance", headers={"X-API-Key": key}).get_json()
    assert state["enabled"] is False
    # a key sees what callers need, not who may still sign in (SPEC §5)
    assert set(state) == {
        "enabled",
        "restrict_event_processor",
        "processing",
        "message",
        "scheduled_start",
        "expected_end",  # informational, as the banner shows it (issue 19)
        "in_flight",  # how quiet the gateway is (issue 18)
        "version",  # the ETag's value, for scripts that read the body only
    }
    login(client)
    as_admin = client.get("/api/v1/maintenance").get_json()
    assert as_admin["enabled"] is False
    assert {"bypass_roles", "bypass_groups", "changed_by", "changed_at"} <= set(as_admin)


def test_full_batch_ids_follow_request_order(app, client):
    key = api_key(app)
    post_events(client, key, {"events": [{"type": "x", "source_id": "s-7"}]})
    batch = [{"type": "t", "payload": {"n": i}, "source_id": f"s-{i}"} for i in range(1000)]
    body = post_events(client, key, {"events": batch}).get_json()
    assert (body["accepted"], body["duplicates"]) == (999, 1)
    stored = events_by_id(app)
    assert [stored[event_id].source_id for event_id in body["event_ids"]] == [
        f"s-{i}" for i in range(1000)
    ]
    assert stored[body["event_ids"][500]].payload == {"n": 500}


@pytest.mark.parametrize("size", [1, 3, 255, 257, 513, 999])
def test_batches_of_any_size_keep_request_order(app, client, size):
    """Batches are stored in several statements of fixed sizes; ids and rows stay in order."""
    key = api_key(app)
    stored_first = post_events(client, key, {"type": "x", "source_id": "k-2"}).get_json()
    batch = [
        {"type": f"t{i % 7}", "payload": {"n": i}, **({"source_id": f"k-{i}"} if i % 3 else {})}
        for i in range(size)
    ]
    batch.append({"type": "again", "source_id": batch[-1].get("source_id", "k-1")})
    body = post_events(client, key, {"events": batch}).get_json()
    ids = body["event_ids"]
    assert len(ids) == size + 1
    stored = events_by_id(app)
    for i, event_id in enumerate(ids[:size]):
        if i == 2:  # stored by the first request: its id, not a new row
            assert event_id == stored_first["event_ids"][0]
            continue
        assert (stored[event_id].type, stored[event_id].payload) == (f"t{i % 7}", {"n": i})
        assert stored[event_id].source_id == batch[i].get("source_id")
    if "source_id" in batch[-2]:
        assert ids[-1] == ids[-2]  # repeated within the batch: answered with the same id
    assert len(stored) == 1 + body["accepted"]
    assert body["accepted"] + body["duplicates"] == size + 1
    again = post_events(client, key, {"events": batch}).get_json()  # a client's retry
    with_source = [i for i, event in enumerate(batch) if "source_id" in event]
    assert [again["event_ids"][i] for i in with_source] == [ids[i] for i in with_source]
    assert again["accepted"] == size + 1 - len(with_source)


def test_whitespace_type_and_errors_name_every_bad_event(app, client):
    batch = {"events": [{"type": "ok"}, {"type": "   "}, {"type": "ok", "source_id": ""}, "x"]}
    response = post_events(client, key := api_key(app), batch)
    assert response.status_code == 400
    details = response.get_json()["details"]
    assert [(d["index"], d["field"]) for d in details] == [(1, "type"), (2, "source_id"), (3, "")]
    assert post_events(client, key, {"type": "ok"}).status_code == 202
    assert len(events_by_id(app)) == 1


def test_ingestion_with_a_blocked_session_cookie_is_still_accepted(app, client, make_user):
    """The API authenticates by key alone: a browser session blocked by maintenance is no
    reason to refuse (or to answer 503 to) a key-authenticated ingestion."""
    make_user("viewer@example.com", roles=("Viewer",))
    login(client, "viewer@example.com")
    key = api_key(app)
    set_maintenance(app, roles=("Administrator",), groups=("Administrators",))
    response = post_events(client, key, {"type": "a"})
    assert response.status_code == 202
    assert response.get_json()["processing"] == "running"
    assert client.get("/").status_code == 302  # the page still ends the blocked session


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b'{"type": "\\ud800"}', "type"),
        (b'{"type": "a\\u0000b"}', "type"),
        (b'{"type": "a", "source_id": "\\udfff"}', "source_id"),
        (b'{"type": "a", "payload": {"x": 1e400}}', "payload"),  # overflows to infinity
        (b'{"type": "a", "payload": {"x": [null, -2.5E+0309]}}', "payload"),
    ],
)
def test_unstorable_values_are_a_400(app, client, data, field):
    """Values no database column can hold are refused up front, never a 5xx."""
    key = api_key(app)
    response = client.post(
        "/api/v1/events", data=data, content_type="application/json", headers={"X-API-Key": key}
    )
    assert response.status_code == 400
    details = response.get_json()["details"]
    assert [(d["index"], d["field"]) for d in details] == [(0, field)]
    assert events_by_id(app) == {}


@pytest.mark.parametrize(
    "payload",
    [
        {"big": 123456789012345678901234567890, "neg": -(2**70)},  # beyond 64 bits: exact
        {"text": "\ud800 lone", "nul": "a\u0000b", "é": "ü €"},
        {"float": 1.5e308, "tiny": 5e-324, "nested": [[[[{"a": None}]]]]},
        {"deep": json.loads("[" * 400 + "]" * 400)},
    ],
)
def test_payloads_are_stored_exactly(app, client, payload):
    key = api_key(app)
    response = client.post(
        "/api/v1/events",
        data=json.dumps({"type": "a", "payload": payload}),
        content_type="application/json",
        headers={"X-API-Key": key},
    )
    assert response.status_code == 202
    event_id = response.get_json()["event_ids"][0]
    shown = client.get(f"/api/v1/events/{event_id}", headers={"X-API-Key": key}).get_json()
    assert shown["payload"] == payload
