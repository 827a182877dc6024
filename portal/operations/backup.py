"""Online backup of the SQLite database: a consistent copy taken while the portal serves.

SQLite's online backup API copies the database in one read transaction: in WAL mode writers
keep committing meanwhile, and the copy is the database as of the moment the copy began. The
copy is written to a temporary file beside the target and renamed into place, so a failure
never leaves a partial file under the target's name.
"""

import os
import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy.engine import Engine


class BackupError(Exception):
    """A backup that cannot be taken; the message says why in one line."""


def backup_sqlite(engine: Engine, target: str | os.PathLike, *, force: bool = False) -> Path:
    """Copy the database behind ``engine`` to ``target``; return the target's path."""
    if engine.dialect.name != "sqlite":
        raise BackupError(
            f"The database is {engine.dialect.name}, not SQLite: back it up with its own tools "
            "(for PostgreSQL: pg_dump)."
        )
    source = engine.url.database
    if not source or source == ":memory:":
        raise BackupError("An in-memory database cannot be backed up.")
    if not Path(source).is_file():  # connecting would create an empty database there
        raise BackupError(f"There is no database at {source} (run flask setup first).")
    path = Path(target).expanduser().absolute()
    if not path.parent.is_dir():
        raise BackupError(f"Folder {path.parent} does not exist.")
    if path.is_dir():
        raise BackupError(f"{path} is a folder; give a file name.")
    if path.exists() and not force:
        raise BackupError(f"{path} already exists (use --force to overwrite it).")
    if path.resolve() == Path(source).resolve():
        raise BackupError("The backup cannot overwrite the database itself.")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(handle)
    except OSError as exc:
        raise BackupError(f"Cannot write in {path.parent}: {exc.strerror or exc}.")
    try:
        _copy(source, temporary)
        _publish(temporary, path, force=force)
    except (OSError, sqlite3.Error) as exc:
        raise BackupError(f"Backup failed: {getattr(exc, 'strerror', None) or exc}.")
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def _copy(source: str, temporary: str) -> None:
    # A plain connection (read-only ones cannot open a WAL database whose -shm file is
    # missing); the backup only reads from it.
    origin = sqlite3.connect(source, timeout=30)
    copy = sqlite3.connect(temporary)
    try:
        origin.backup(copy)  # all pages in one step: one read snapshot, writers carry on
        copy.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
        copy.commit()
    finally:
        copy.close()
        origin.close()
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())


def _publish(temporary: str, path: Path, *, force: bool) -> None:
    if force:
        os.replace(temporary, path)
    else:
        os.link(temporary, path)  # fails if someone created the target meanwhile: no clobber
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
