"""Column types shared by the models."""

import sqlalchemy as sa
from werkzeug.routing import IntegerConverter

from portal.core.inputs import MAX_BIG_ID, MAX_ID

# Ids of the tables that grow without bound (events, deliveries, audit entries): 64-bit on
# PostgreSQL. On SQLite an INTEGER PRIMARY KEY already is the 64-bit rowid, and only that exact
# type name keeps the rowid behaviour, so SQLite keeps INTEGER.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: an id no row can have (beyond the column) is a 404."""

    regex = r"[0-9]+"  # not r"\d+": that also matches "١٢" (and int() reads it as 12)

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


class BigIdConverter(IdConverter):
    """``<bigid:...>``: the id of an event, delivery or audit entry (64-bit columns)."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_BIG_ID)
        super().__init__(url_map, *args, **kwargs)


URL_CONVERTERS = {"int": IdConverter, "bigid": BigIdConverter}
