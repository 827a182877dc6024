"""The metrics' totals count each finish once, when it happens: a replay or a retry never counts
an event's earlier deliveries again, however long after the first finish it comes."""

from datetime import timedelta

import sqlalchemy as sa

from portal.events import operations
from portal.extensions import db
from portal.models import ClientTotals, Delivery, Event, User
from tests.events_support import (
    SECRET,
    Recorder,
    add_workflow,
    api_key,
    post_events,
    run_tick,
    webhook_server,
)
from tests.operations.test_metrics import TOKEN, scrape

DEFAULT = ("client", "Default")


def _age(app, hours: float) -> None:
    """Move every finish back in time, as if the rows had finished that long ago (and, for the
    code that summed the rows into ``client_totals`` up to a moment, as if they were summed
    since: its row is dropped, so the next round sums them again)."""
    with app.app_context():
        shift = timedelta(hours=hours)
        for model, columns in (
            (Event, ("received_at", "started_at", "processed_at")),
            (Delivery, ("created_at", "finished_at")),
        ):
            for row in db.session.scalars(sa.select(model)):
                for name in columns:
                    if getattr(row, name) is not None:
                        setattr(row, name, getattr(row, name) - shift)
        db.session.execute(sa.delete(ClientTotals))
        db.session.commit()


def _act(app, action, model, row_id: int) -> None:
    with app.app_context():
        admin = db.session.scalar(sa.select(User).limit(1))
        action(admin, db.session.get(model, row_id))
        db.session.commit()


def _delivered(figures: dict, status: str) -> float:
    return figures[("gateway_deliveries_total", (DEFAULT, ("status", status)))]


def _finished(figures: dict, outcome: str) -> float:
    return figures[("gateway_events_processed_total", (DEFAULT, ("outcome", outcome)))]


def _rows(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Delivery)
            .where(Delivery.finished_at.is_not(None))
        )


def _setup(app) -> None:
    # TOTALS_ADVANCE_SECONDS: the code before counting at finish time summed on every round
    app.config.update(METRICS_TOKEN=TOKEN, TOTALS_ADVANCE_SECONDS=0)


def test_a_replay_long_after_the_first_run_counts_only_the_new_deliveries(app, client):
    _setup(app)
    add_workflow(app)
    body = {"events": [{"type": "t", "source_id": f"r{n}"} for n in range(3)]}
    ids = post_events(client, api_key(app), body).get_json()["event_ids"]
    run_tick(app)
    _age(app, 1)
    run_tick(app)
    _act(app, operations.replay_event, Event, ids[0])
    run_tick(app)

    figures = scrape(client)
    assert _rows(app) == 4  # three first deliveries and the replay's one
    assert _delivered(figures, "succeeded") == 4
    assert figures[("gateway_delivery_latency_seconds_count", ())] == 4
    assert _finished(figures, "processed") == 4  # each finish: the replayed event twice


def test_a_retry_counts_the_retried_delivery_again_but_not_its_siblings(app, client):
    _setup(app)
    app.config.update(WEBHOOK_MAX_ATTEMPTS=1)
    recorder = Recorder()
    recorder.statuses = [500]  # the first call fails, the retry succeeds
    with webhook_server(recorder) as (url, _server):
        add_workflow(app, name="log")
        add_workflow(app, name="hook", action="webhook", url=url, secret=SECRET)
        ids = post_events(client, api_key(app), {"type": "t"}).get_json()["event_ids"]
        run_tick(app)
        _age(app, 1)
        run_tick(app)
        with app.app_context():
            failed = db.session.scalar(sa.select(Delivery.id).where(Delivery.status == "failed"))
            assert db.session.get(Event, ids[0]).status == "failed"
        _act(app, operations.retry_delivery, Delivery, failed)
        run_tick(app)
    assert recorder.count == 2

    figures = scrape(client)
    # the log delivery once; the hook delivery's failure and then its success
    assert (_delivered(figures, "succeeded"), _delivered(figures, "failed")) == (2, 1)
    assert figures[("gateway_delivery_latency_seconds_count", ())] == 3
    assert (_finished(figures, "failed"), _finished(figures, "processed")) == (1, 1)


def test_the_migration_carries_the_figures_over(app, client):
    """0010 moves the totals into the counters: down to 0009 (the old code counts from the
    rows again) and back up, and the metrics read the same."""
    _setup(app)
    add_workflow(app)
    body = {"events": [{"type": "t", "source_id": f"c{n}"} for n in range(3)]}
    post_events(client, api_key(app), body)
    run_tick(app)
    before = scrape(client)
    assert _delivered(before, "succeeded") == 3
    runner = app.test_cli_runner()
    for command in (["db", "downgrade", "0009"], ["db", "upgrade"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
    assert scrape(client) == before
