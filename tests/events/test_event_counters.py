"""The queued and failed counters stay equal to COUNT(*) under a random mix of every path that
changes an event's status or deletes events, on SQLite and on PostgreSQL."""

import random
import threading

import pytest
import sqlalchemy as sa

from portal import clients
from portal.events import counters, operations
from portal.events.runs import LATEST_RUN
from portal.extensions import db
from portal.models import Client, Delivery, Event, User
from portal.models.tables import events as events_t
from tests.events_support import (
    SECRET,
    Recorder,
    add_workflow,
    api_key,
    post_events,
    run_tick,
    webhook_server,
)
from tests.test_postgres import pg_app  # noqa: F401 (the fixture)


def _exact(app) -> None:
    with app.app_context():
        actual = {
            (client_id, status): number
            for client_id, status, number in db.session.execute(
                sa.select(Event.client_id, Event.status, sa.func.count()).group_by(
                    Event.client_id, Event.status
                )
            )
            if status in counters.COUNTED
        }
        ids = list(db.session.scalars(sa.select(Client.id)))
        kept = {
            (client_id, status): number
            for client_id, figures in counters.figures(ids).items()
            for status, number in figures.items()
            if number
        }
        leftovers = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(counters.counters)
            .where(counters.counters.c.client_id.not_in(ids))
        )
    assert kept == actual
    assert leftovers == 0


def _random_mix(app, seed: int) -> None:
    rng = random.Random(seed)
    app.config.update(WEBHOOK_MAX_ATTEMPTS=2, WEBHOOK_BACKOFF_SECONDS=0.0)
    http = app.test_client()
    recorder = Recorder()
    recorder.statuses = [rng.choice([200, 500]) for _ in range(2000)]
    with webhook_server(recorder) as (url, _server):
        keys = {"Default": api_key(app)}
        for name in ("Acme", "Beta"):
            with app.app_context():
                _, keys[name] = clients.create_client(name)
                db.session.commit()
        for name in keys:
            add_workflow(app, name, name="log")
            add_workflow(app, name, name="hook", action="webhook", url=url, secret=SECRET)
        for step in range(40):
            move = rng.choice(["ingest", "ingest", "concurrent", "tick", "retry", "replay", "drop"])
            if move == "ingest":
                name = rng.choice(list(keys))
                size = rng.randint(1, 30)
                body = {
                    "events": [{"type": "t", "source_id": f"{step}-{i % 25}"} for i in range(size)]
                }
                post_events(http, keys[name], body)
            elif move == "concurrent":  # several ingestion requests at the same moment
                threads = [
                    threading.Thread(
                        target=post_events,
                        args=(app.test_client(), keys[name], {"events": [{"type": "c"}] * 20}),
                    )
                    for name in keys
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            elif move == "tick":
                run_tick(app)
            elif move in ("retry", "replay"):
                with app.app_context():
                    admin = db.session.scalar(sa.select(User).limit(1))
                    if move == "retry":
                        row = db.session.scalar(  # a failed delivery of the latest run
                            sa.select(Delivery)
                            .join(Event, Event.id == Delivery.event_id)
                            .where(Delivery.status == "failed", LATEST_RUN)
                            .limit(1)
                        )
                        action = operations.retry_delivery
                    else:
                        row = db.session.scalar(
                            sa.select(Event).where(Event.status != "queued").limit(1)
                        )
                        action = operations.replay_event
                    if row is not None:
                        action(admin, row)
                        db.session.commit()
            elif move == "drop" and len(keys) > 1:
                name = rng.choice([n for n in keys if n != "Default"])
                del keys[name]
                with app.app_context():  # deleting a client takes its events and counters
                    db.session.execute(sa.delete(Client).where(Client.name == name))
                    db.session.commit()
            _exact(app)
        run_tick(app)
    _exact(app)
    with app.app_context():
        statuses = set(db.session.scalars(sa.select(events_t.c.status)))
    assert statuses  # the mix did something


@pytest.mark.parametrize("seed", [1, 2])
def test_counters_match_count_star_on_sqlite(app, seed):
    _random_mix(app, seed)


def test_counters_match_count_star_on_postgres(pg_app):  # noqa: F811
    _random_mix(pg_app, 3)
