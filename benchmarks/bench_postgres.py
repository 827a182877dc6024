"""A throwaway PostgreSQL database on the server named by PORTAL_TEST_POSTGRES_URI."""

import os
import uuid
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def postgres_database():
    """Create a fresh database; yield its URI; drop it afterwards."""
    server = os.environ["PORTAL_TEST_POSTGRES_URI"]
    name = f"portal_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
