"""The settings blueprint: maintenance mode and the admin pages, one module each."""

# Importing the page modules registers their routes on ``bp``.
from portal.web.settings import (  # noqa: F401
    audit,
    clients,
    groups,
    maintenance,
    overview,
    roles,
    triggers,
    user_security,
    users,
    windows,
    workflows,
)
from portal.web.settings.blueprint import bp

__all__ = ["bp"]
