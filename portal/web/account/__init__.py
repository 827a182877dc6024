"""The signed-in user's own pages under ``/account``: settings and personal access tokens."""

from portal.web.account import routes, tokens  # noqa: F401  (registers the routes)
from portal.web.account.blueprint import bp

__all__ = ["bp"]
