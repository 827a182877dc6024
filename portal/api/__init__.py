"""The JSON API (``/api/v1/...``) and the health check: importing this package registers every
view on the blueprint :data:`bp`."""

from portal.api import events, maintenance, openapi, routes  # noqa: F401  (register their views)
from portal.api.blueprint import bp

__all__ = ["bp"]
