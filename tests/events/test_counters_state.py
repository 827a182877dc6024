"""Stateful property: after any sequence of ingest, process, deliver (a real local receiver that
succeeds or fails), retry, replay, bulk retry and replay, purge, trigger firing and client
deletion, every counter and total equals a COUNT(*) of the rows (plus, for the metrics' totals
that never go down, the finishes the rows no longer show: purged rows, and the earlier finish of
a retried delivery or a replayed event). On SQLite and on PostgreSQL, one database per test, its
rows reset per example.
"""

from collections import Counter
from datetime import timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from portal import clients
from portal.core.clock import utc_now
from portal.events import counters, lease, operations, processor, recovery, triggers
from portal.events.counters import client_counts
from portal.extensions import db
from portal.models import (
    Client,
    ClientTotals,
    Delivery,
    Event,
    ScheduledTrigger,
    User,
    Workflow,
)
from portal.models.tables import counters as counters_t
from portal.operations import retention, totals
from tests.events_support import HOLDER, SECRET, Recorder, drain, post_events, webhook_server
from tests.test_postgres import pg_app  # noqa: F401 (the fixture)

FINISHED = ("processed", "failed")
DELIVERED = ("succeeded", "failed")
SETTINGS = settings(
    max_examples=15,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _machine(app, url: str, recorder: Recorder):
    http = app.test_client()

    class Pipeline(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.keys: dict[int, str] = {}
            # finishes the rows no longer show, per client: ("ev"|"dl", status) -> n, those
            # purged and those erased (the earlier finish of a retried or replayed row)
            self.purged: dict[int, Counter] = {}
            self.made = 0  # clients added so far
            self.erased: dict[int, Counter] = {}
            with app.app_context():
                default = db.session.scalar(sa.select(Client).order_by(Client.id).limit(1))
                for model in (Event, ScheduledTrigger, Workflow, ClientTotals):
                    db.session.execute(sa.delete(model))
                db.session.execute(sa.delete(counters_t))
                db.session.execute(sa.delete(Client).where(Client.id != default.id))
                db.session.commit()
                self._set_up(default, clients.rotate_api_key(default))
                assert lease.acquire(HOLDER)

        def _set_up(self, client: Client, key: str) -> None:
            db.session.add(Workflow(client_id=client.id, name="log", action="record"))
            db.session.add(
                Workflow(client_id=client.id, name="hook", action="webhook", url=url, secret=SECRET)
            )
            db.session.commit()
            self.keys[client.id] = key
            self.purged[client.id] = Counter()
            self.erased[client.id] = Counter()

        def _client(self, index: int) -> int:
            ids = sorted(self.keys)
            return ids[index % len(ids)]

        @rule(index=st.integers(0, 3), size=st.integers(1, 5))
        def ingest(self, index, size):
            body = {"events": [{"type": "t", "payload": {"n": n}} for n in range(size)]}
            assert post_events(http, self.keys[self._client(index)], body).status_code == 202

        @rule()
        def add_client(self):
            if len(self.keys) < 3:
                with app.app_context():
                    # a counter, not len(self.purged): SQLite may give a new client a deleted
                    # one's id, so that dict need not grow
                    self.made += 1
                    client, key = clients.create_client(f"Client {self.made}")
                    db.session.commit()
                    self._set_up(client, key)

        @rule(size=st.integers(1, 10))
        def process(self, size):
            with app.app_context():
                processor.process_batch(HOLDER, size)

        @rule(ok=st.booleans())
        def deliver(self, ok):
            recorder.statuses = [] if ok else [500] * 1000
            drain(app, HOLDER)
            recorder.statuses = []

        @rule(index=st.integers(0, 50))
        def retry(self, index):
            with app.app_context():
                failed = db.session.scalars(
                    sa.select(Delivery).where(Delivery.status == "failed").order_by(Delivery.id)
                ).all()
                if not failed:
                    return
                delivery = failed[index % len(failed)]
                event = db.session.get(Event, delivery.event_id)
                before = event.status
                try:
                    operations.retry_delivery(_admin(), delivery)
                except operations.NotAllowed:
                    db.session.rollback()
                    return
                db.session.commit()
                self.erased[event.client_id][("dl", "failed")] += 1
                if before != "queued":
                    self.erased[event.client_id][("ev", before)] += 1

        @rule(index=st.integers(0, 50))
        def replay(self, index):
            with app.app_context():
                done = db.session.scalars(
                    sa.select(Event).where(Event.status != "queued").order_by(Event.id)
                ).all()
                if not done:
                    return
                event = done[index % len(done)]
                before = event.status
                operations.replay_event(_admin(), event)
                db.session.commit()
                self.erased[event.client_id][("ev", before)] += 1

        @rule(
            action=st.sampled_from(["retry", "replay"]),
            share=st.integers(1, 3),
            ok=st.booleans(),
        )
        def bulk(self, action, share, ok):
            """Process and deliver what is queued (the receiver succeeding or failing), then a
            bulk job (set-based) over every ``share``-th event of every client."""
            with app.app_context():
                processor.process_batch(HOLDER, 100)
            self.deliver(ok)
            with app.app_context():
                ids = db.session.scalars(sa.select(Event.id).order_by(Event.id)).all()[::share]
                before = self._rows_of(ids)
                try:
                    recovery.create(_admin(), action, list(self.keys), {"event_ids": ids})
                except recovery.Refused:
                    return
                db.session.commit()
                recovery.run_jobs(float("inf"))
                after = self._rows_of(ids)
            for key, (client_id, status) in before.items():
                now = after.get(key, (client_id, status))[1]
                if key[0] == "dl" and status == "failed" and now == "pending":
                    self.erased[client_id][("dl", "failed")] += 1
                if key[0] == "ev" and status in FINISHED and now == "queued":
                    self.erased[client_id][("ev", status)] += 1

        def _rows_of(self, ids: list[int]) -> dict:
            """{("ev"|"dl", id): (client id, status)} of these events and their deliveries."""
            rows = {
                ("ev", e.id): (e.client_id, e.status)
                for e in db.session.execute(
                    sa.select(Event.id, Event.client_id, Event.status).where(Event.id.in_(ids))
                )
            }
            for d in db.session.execute(
                sa.select(Delivery.id, Event.client_id, Delivery.status)
                .join(Event, Delivery.event_id == Event.id)
                .where(Event.id.in_(ids))
            ):
                rows[("dl", d.id)] = (d.client_id, d.status)
            return rows

        @rule(share=st.integers(1, 3))
        def purge(self, share):
            """Age every ``share``-th finished event past retention, then purge."""
            with app.app_context():
                old = utc_now() - timedelta(days=60)
                ids = db.session.scalars(
                    sa.select(Event.id).where(Event.status.in_(FINISHED)).order_by(Event.id)
                ).all()[::share]
                if not ids:
                    return
                db.session.execute(
                    sa.update(Event).where(Event.id.in_(ids)).values(processed_at=old)
                )
                db.session.commit()
                for client_id, kind, status, number in _finished_rows(Event.id.in_(ids)):
                    self.purged[client_id][(kind, status)] += number
                cutoff = utc_now() - timedelta(days=30)
                for client_id in list(self.keys):
                    assert retention.purge_batch(HOLDER, client_id, cutoff, 1000) is not None
                assert not db.session.scalar(sa.select(sa.func.count()).where(Event.id.in_(ids)))

        @rule(index=st.integers(0, 3))
        def fire_trigger(self, index):
            with app.app_context():
                db.session.add(
                    ScheduledTrigger(
                        client_id=self._client(index),
                        name="beat",
                        interval_seconds=3600,
                        event_type="beat",
                        next_fire_at=utc_now() - timedelta(seconds=1),
                    )
                )
                db.session.commit()
                assert triggers.fire_due(HOLDER) == 1

        @rule(index=st.integers(0, 3))
        def delete_client(self, index):
            client_id = self._client(index)
            if client_id == min(self.keys):
                return  # keep the Default client
            with app.app_context():
                db.session.execute(sa.delete(Client).where(Client.id == client_id))
                db.session.commit()
            del self.keys[client_id]

        @invariant()
        def figures_equal_the_rows(self):
            with app.app_context():
                _check(list(self.keys), self.purged, self.erased)

    return Pipeline


def _admin():
    return db.session.scalar(sa.select(User).order_by(User.id).limit(1))


def _finished_rows(where=None):
    """(client, "ev"|"dl", status, COUNT(*)) of finished events and finished deliveries."""
    where = sa.true() if where is None else where
    found = [
        (cid, "ev", status, n)
        for cid, status, n in db.session.execute(
            sa.select(Event.client_id, Event.status, sa.func.count())
            .where(Event.status.in_(FINISHED), where)
            .group_by(Event.client_id, Event.status)
        )
    ]
    found += [
        (cid, "dl", status, n)
        for cid, status, n in db.session.execute(
            sa.select(Event.client_id, Delivery.status, sa.func.count())
            .join(Event, Delivery.event_id == Event.id)
            .where(Delivery.finished_at.is_not(None), where)
            .group_by(Event.client_id, Delivery.status)
        )
    ]
    return found


def _check(client_ids: list[int], purged: dict[int, Counter], erased: dict[int, Counter]):
    rows = {cid: Counter() for cid in client_ids}
    for cid, status, n in db.session.execute(
        sa.select(Event.client_id, Event.status, sa.func.count()).group_by(
            Event.client_id, Event.status
        )
    ):
        rows[cid][status] = n
    # the queued and failed events now: event counters and the dashboard's figures
    kept = counters.figures(client_ids)
    shown = client_counts(client_ids, False, utc_now())
    for cid in client_ids:
        for status in counters.COUNTED:
            assert kept[cid][status] == rows[cid][status], (cid, status)
            assert shown[cid][status] == rows[cid][status], (cid, status)
    # what finished so far: the metrics' totals
    finished = {cid: Counter() for cid in client_ids}
    for cid, kind, status, n in _finished_rows():
        finished[cid][(kind, status)] += n
    figures = totals.client_figures(client_ids)
    for cid in client_ids:
        figure, row = figures[cid]
        expected = finished[cid] + purged[cid] + erased[cid]
        assert figure.events == {s: expected[("ev", s)] for s in FINISHED}, cid
        assert figure.deliveries == {s: expected[("dl", s)] for s in DELIVERED}, cid
        assert sum(figure.latency) == sum(figure.deliveries.values())
        kinds = Counter()
        for (kind, _status), n in purged[cid].items():
            kinds[kind] += n
        assert (row.purged_events if row else 0) == kinds["ev"], cid
        assert (row.purged_deliveries if row else 0) == kinds["dl"], cid
    # nothing left over from deleted clients
    assert not db.session.scalar(
        sa.select(sa.func.count())
        .select_from(counters_t)
        .where(counters_t.c.client_id.not_in(client_ids))
    )
    db.session.commit()


def _run(app) -> None:
    app.config.update(WEBHOOK_MAX_ATTEMPTS=1, WEBHOOK_CIRCUIT_FAILURES=0)
    recorder = Recorder()
    with webhook_server(recorder) as (url, _server):
        run_state_machine_as_test(_machine(app, url, recorder), settings=SETTINGS)


def test_figures_equal_the_rows_on_sqlite(app):
    _run(app)


def test_figures_equal_the_rows_on_postgres(pg_app):  # noqa: F811
    _run(pg_app)
