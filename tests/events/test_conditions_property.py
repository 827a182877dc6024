"""Random condition paths and payloads: the workflow form refuses what the processor cannot
follow, and a processor batch never raises, whatever is stored (issue 17: one client's
condition stopped every client's events). One app and database per test, not per example."""

import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from portal import accounts, clients
from portal.events import counters, lease, processor
from portal.events.conditions import OPERATORS, condition_holds, condition_problem
from portal.events.ingest import payload_json, store_events
from portal.extensions import db
from portal.models import Client, Delivery, Event, Workflow
from portal.web.settings.forms.workflows import WorkflowForm
from tests.events_support import HOLDER

SHARED_APP = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# Path parts near the edges: non-ASCII digits ('²'.isdigit(), int('²') raises; int('١') == 1),
# empty parts, huge positions, keys that look like positions.
PARTS = st.one_of(
    st.sampled_from(["items", "a", "0", "1", "2", "²", "١٢", "", " ", "x²", "9" * 25, "½"]),
    st.text(max_size=5),
)
PATHS = st.one_of(st.lists(PARTS, min_size=1, max_size=5).map(".".join), st.text(max_size=30))
KEYS = st.one_of(st.sampled_from(["items", "a", "0", "1", "²", "١٢"]), st.text(max_size=4))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
PAYLOADS = st.dictionaries(KEYS, JSON, max_size=4)
# What a condition column may hold, validated or not (written straight into the database).
STORED = st.one_of(
    st.fixed_dictionaries(
        {
            "field": PATHS,
            "op": st.sampled_from((*OPERATORS, "like")),
            "value": st.one_of(JSON, st.floats()),  # NaN and Infinity too (SQLite keeps them)
        }
    ),
    st.fixed_dictionaries({"field": JSON, "op": st.sampled_from(OPERATORS)}),
    JSON,
)
VALUE_TEXT = st.one_of(
    st.sampled_from(["30", "-1.5", "1e308", "1e400", "NaN", '"x"', "[1, 2]", "{}", "null"]),
    st.text(max_size=10),
)


@SHARED_APP
@given(field=PATHS, op=st.sampled_from(OPERATORS), value=VALUE_TEXT)
@example(field="items.²", op="exists", value="")  # the path
@example(field="items.١", op="eq", value="1")
def test_the_form_accepts_only_conditions_the_processor_can_follow(app, field, op, value):
    data = {
        "client_id": "1",
        "name": "Random",
        "enabled": "y",
        "event_type": "*",
        "condition_field": field,
        "condition_op": op,
        "condition_value": value,
        "action": "record",
    }
    with app.test_request_context("/settings/workflows/new", method="POST", data=data):
        form = WorkflowForm(list(db.session.scalars(sa.select(Client))), meta={"csrf": False})
        if form.validate():
            assert condition_problem(form.condition()) is None
            assert condition_holds(form.condition(), {"items": [1, 2, 3]}) in (True, False)
        else:
            assert form.errors  # refused with a message, re-rendered by the view


@SHARED_APP
@given(
    stored=st.lists(STORED, min_size=1, max_size=3),
    payloads=st.lists(PAYLOADS, min_size=1, max_size=5),
)
@example(stored=[{"field": "items.²", "op": "exists", "value": None}], payloads=[{"items": [1]}])
@example(stored=[["field"], {"field": 3, "op": "eq"}], payloads=[{"items": [1]}])
def test_a_batch_never_raises_and_every_event_leaves_queued(app, stored, payloads):
    with app.app_context():
        a_id = accounts.find_client(accounts.DEFAULT_CLIENT).id
        b = accounts.find_client("Other") or clients.create_client("Other")[0]
        db.session.execute(sa.delete(Delivery))
        db.session.execute(sa.delete(Workflow))
        for number, condition in enumerate(stored):
            db.session.add(Workflow(client_id=a_id, name=f"a{number}", condition=condition))
        db.session.add(Workflow(client_id=b.id, name="b", condition={"field": "n", "op": "exists"}))
        db.session.commit()
        texts = [text for text in map(payload_json, payloads) if text is not None]
        store_events(a_id, [("t", text, None) for text in texts])
        store_events(b.id, [("t", '{"n": 1}', None)])
        db.session.commit()
        assert lease.acquire(HOLDER)
        started = processor.process_batch(HOLDER, 1000)  # must not raise
        assert started == len(texts) + 1
        by_status = dict(
            db.session.execute(
                sa.select(Event.status, sa.func.count()).group_by(Event.status)
            ).all()
        )
        assert "queued" not in by_status
        b_events = db.session.scalars(sa.select(Event.status).where(Event.client_id == b.id))
        assert set(b_events) == {"processed"}  # the other client never suffers
        failed = db.session.scalars(sa.select(Event.last_error).where(Event.status == "failed"))
        assert all(error.startswith("Workflow a") for error in failed)
        figures = counters.figures([a_id, b.id])
        failed_a = db.session.scalar(
            sa.select(sa.func.count()).where(Event.client_id == a_id, Event.status == "failed")
        )
        assert figures == {
            a_id: {"queued": 0, "failed": failed_a},
            b.id: dict.fromkeys(("queued", "failed"), 0),
        }
