"""``flask backup PATH``: a consistent online copy of the SQLite database."""

import sqlite3
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Event
from portal.operations.backup import BackupError, backup_sqlite
from tests.conftest import make_app
from tests.live import ROOT, LiveServer, flask, last_line, post_events, prepare_db, running


def _leftovers(folder, name: str) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(f".{name}.")]


def test_backup_writes_a_copy_the_portal_can_open(app, runner, tmp_path):
    target = tmp_path / "copy.db"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert f"Backed up the database to {target}" in result.output
    # a self-contained file: no -wal beside it is needed
    assert sqlite3.connect(target).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    copy = make_app(target, tmp_path / "copy-instance")
    with copy.app_context():
        assert db.session.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
    assert copy.test_cli_runner().invoke(args=["maintenance", "status"]).exit_code == 0
    assert _leftovers(tmp_path, "copy.db") == []


def test_an_existing_file_is_kept_unless_forced(runner, tmp_path):
    target = tmp_path / "copy.db"
    target.write_bytes(b"precious")
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code != 0
    assert "already exists" in result.output and "--force" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert target.read_bytes() == b"precious"
    result = runner.invoke(args=["backup", "--force", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"SQLite format 3\x00")


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("{tmp}/missing/copy.db", "does not exist"),
        ("{tmp}", "is a folder"),
        ("/proc/portal-backup.db", "Cannot write in /proc"),  # a file system that refuses files
    ],
)
def test_bad_targets_are_one_line_errors_and_leave_nothing(runner, tmp_path, target, reason):
    path = target.format(tmp=tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = runner.invoke(args=["backup", path])
    assert result.exit_code != 0
    assert reason in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_failed_copy_leaves_no_partial_file(tmp_path):
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not an SQLite database" * 200)
    engine = sa.create_engine(f"sqlite:///{broken}")
    target = tmp_path / "copy.db"
    with pytest.raises(BackupError, match="Backup failed"):
        backup_sqlite(engine, target)
    assert not target.exists()
    assert _leftovers(tmp_path, "copy.db") == []


def test_a_missing_database_is_not_created_by_the_backup(tmp_path):
    missing = tmp_path / "never-set-up.db"
    app = make_app(missing, tmp_path / "instance")
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "copy.db")])
    assert result.exit_code != 0 and "There is no database" in result.output
    assert not missing.exists() and not (tmp_path / "copy.db").exists()


def test_postgresql_is_pointed_at_pg_dump(tmp_path):
    app = make_app(
        tmp_path / "unused.db",
        tmp_path / "instance",
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://portal:secret@127.0.0.1:1/portal",
    )
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "copy.db")])
    assert result.exit_code != 0
    assert "pg_dump" in result.output
    assert "secret" not in result.output
    assert not (tmp_path / "copy.db").exists()


@pytest.mark.slow
def test_backup_during_steady_ingestion_has_every_acknowledged_event(tmp_path):
    """Ingest without pause through a real server; every event acknowledged (202) before the
    backup began is in the copy, and the copy opens as a portal database."""
    env = prepare_db(tmp_path / "portal.db", PROCESSOR_ENABLED="true")
    with running(LiveServer(env, tmp_path / "server.log", workers=2)) as server:
        key = last_line(flask(env, "clients", "rotate-key", "Default"))
        acknowledged: list[int] = []
        lock = threading.Lock()
        stop = threading.Event()

        def ingest() -> None:
            batch = 0
            while not stop.is_set():
                rows = [{"type": "t", "payload": {"b": batch, "n": n}} for n in range(200)]
                answer = post_events(server.url, key, rows)
                with lock:
                    acknowledged.extend(answer["event_ids"])
                batch += 1

        feeders = [threading.Thread(target=ingest) for _ in range(2)]
        for feeder in feeders:
            feeder.start()
        try:
            while len(acknowledged) < 4000:
                time.sleep(0.05)
            with lock:
                before = set(acknowledged)
            target = tmp_path / "backup.db"
            result = subprocess.run(
                [sys.executable, "-m", "flask", "backup", str(target)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            during = len(acknowledged) - len(before)
            time.sleep(0.3)  # ingestion carries on after the copy too
        finally:
            stop.set()
            for feeder in feeders:
                feeder.join(timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert during > 0 or len(acknowledged) > len(before), "ingestion did not run during the copy"
    assert sqlite3.connect(target).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    copy = make_app(target, tmp_path / "copy-instance")
    with copy.app_context():
        stored = set(db.session.scalars(sa.select(Event.id)))
        assert db.session.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
    assert before <= stored, f"{len(before - stored)} acknowledged events missing from the copy"


def test_the_maintenance_page_suggests_a_backup_first(admin_client):
    page = admin_client.get("/settings/maintenance").get_data(as_text=True)
    assert 'id="backup-hint"' in page and "flask backup" in page and "pg_dump" in page
