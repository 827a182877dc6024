"""The navigation tree: the menu, the breadcrumbs and the overview pages are read from it.

Each page names the permission that opens it; a page with sub-pages and no permission of its
own (Settings, Client Settings) opens for anyone who may open one of them. :func:`may_open` is
the one rule the menu, the overview pages and their views ask.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from flask import Flask, current_app, request, url_for
from flask_login import current_user

from portal.accounts.permissions import (
    AUDIT_VIEW,
    CATALOGUE,
    CLIENT_SETTINGS_MANAGE,
    DASHBOARD_VIEW,
    EVENTS_VIEW,
    USERS_MANAGE,
    WORKFLOWS_MANAGE,
)


@dataclass(frozen=True)
class Page:
    """A page of the menu: its endpoint, label, and who may open it."""

    endpoint: str
    label: str
    permission: str | tuple[str, ...] | None = None  # None: any of its sub-pages'
    about: str = ""  # one line on its parent's overview page
    section: str = ""  # the heading it is listed under on its parent's overview page
    children: tuple["Page", ...] = ()

    @property
    def permissions(self) -> tuple[str, ...]:
        """Return the permissions of which any one opens the page, in catalogue order."""
        if self.permission is None:
            codes = {code for child in self.children for code in child.permissions}
        elif isinstance(self.permission, tuple):
            codes = set(self.permission)
        else:
            codes = {self.permission}
        return tuple(code for code in CATALOGUE if code in codes)

    @property
    def url(self) -> str:
        return url_for(self.endpoint)


CLIENT_SETTINGS = Page(
    "settings.client_settings",
    "Client Settings",
    about="Clients and their security policy, maintenance mode and its window report.",
    section="Clients and maintenance",
    children=(
        Page(
            "settings.maintenance",
            "Maintenance Mode",
            CLIENT_SETTINGS_MANAGE,
            "Restrict sign-in and event processing for the whole instance, now or scheduled.",
        ),
        Page(
            "settings.maintenance_windows",
            "Maintenance windows",
            (CLIENT_SETTINGS_MANAGE, AUDIT_VIEW),
            "Every maintenance window: who, when, how long, and what was held.",
        ),
        Page(
            "settings.clients",
            "Clients",
            CLIENT_SETTINGS_MANAGE,
            "Clients (tenants), their security policy, retention and API keys.",
        ),
    ),
)

SETTINGS = Page(
    "settings.index",
    "Settings",
    about="Everything you may administer, grouped.",
    children=(
        Page(
            "settings.users",
            "Users",
            USERS_MANAGE,
            "Accounts: their client, roles, access groups, passwords and lockouts.",
            "Users and access",
        ),
        Page(
            "settings.roles",
            "Roles",
            USERS_MANAGE,
            "Named sets of permissions given to users; shared by every client.",
            "Users and access",
        ),
        Page(
            "settings.groups",
            "Access groups",
            USERS_MANAGE,
            "Groups of users; with roles, they decide who signs in during maintenance.",
            "Users and access",
        ),
        CLIENT_SETTINGS,
        Page(
            "settings.workflows",
            "Workflows",
            WORKFLOWS_MANAGE,
            "What happens to each event: a webhook call or a recorded result.",
            "Automation",
        ),
        Page(
            "settings.triggers",
            "Triggers",
            WORKFLOWS_MANAGE,
            "Events emitted on a schedule.",
            "Automation",
        ),
        Page(
            "settings.audit",
            "Audit log",
            AUDIT_VIEW,
            "Every change, who made it, with the values before and after.",
            "Records",
        ),
    ),
)

MENU: tuple[Page, ...] = (
    Page("dashboard.index", "Dashboard", DASHBOARD_VIEW),
    Page("event_log.index", "Events", EVENTS_VIEW),
    SETTINGS,
)


def _walk(pages: tuple[Page, ...], trail: tuple[Page, ...] = ()) -> Iterator[tuple[Page, ...]]:
    for page in pages:
        yield (*trail, page)
        yield from _walk(page.children, (*trail, page))


def find(endpoint: str) -> Page:
    """Return the menu's page of ``endpoint`` (KeyError if it has none)."""
    for trail in _walk(MENU):
        if trail[-1].endpoint == endpoint:
            return trail[-1]
    raise KeyError(endpoint)


def may_open(page: Page) -> bool:
    """Return whether the signed-in user may open ``page`` (the one rule the menu follows)."""
    return (
        current_user.is_authenticated
        and page.endpoint in current_app.view_functions
        and any(current_user.can(code) for code in page.permissions)
    )


def visible(pages: tuple[Page, ...]) -> list[Page]:
    """Return the pages of ``pages`` the signed-in user may open."""
    return [page for page in pages if may_open(page)]


def nav_items() -> list[Page]:
    """Return the pages at the top of the menu that the signed-in user may open."""
    return visible(MENU)


def sections(page: Page) -> list[tuple[str, list[Page]]]:
    """Return the sub-pages of ``page`` the user may open, under their section headings."""
    grouped: dict[str, list[Page]] = {}
    for child in visible(page.children):
        grouped.setdefault(child.section, []).append(child)
    return list(grouped.items())


def breadcrumbs(title: str) -> list[tuple[str, str | None]]:
    """Return (label, url) of the menu pages above the current page, then (its label, None);
    empty for a page at the top of the menu or outside it.

    A page that is not in the menu (an edit form, an event) sits under the menu page whose
    address is the longest start of its own, e.g. ``/settings/users/7`` under Users, and is
    named by ``title``.
    """
    above: tuple[Page, ...] = ()
    longest = 0
    for trail in _walk(MENU):
        page = trail[-1]
        if page.endpoint not in current_app.view_functions:
            continue
        if page.endpoint == request.endpoint:
            above, title = trail[:-1], page.label
            break
        url = page.url.rstrip("/")  # the dashboard's "/" starts every address: never a parent
        if url and request.path.startswith(url + "/") and len(url) > longest:
            above, longest = trail, len(url)
    if not above:
        return []
    return [(page.label, page.url) for page in above] + [(title, None)]


def init_app(app: Flask) -> None:
    app.context_processor(
        lambda: {
            "nav_items": nav_items,
            "nav_visible": visible,
            "nav_sections": sections,
            "breadcrumbs": breadcrumbs,
        }
    )
