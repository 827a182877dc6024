"""Times as a person reads them: the one rule every page follows.

The database, the API, the CSV files and the emails keep naive UTC. A page shows a time in
the viewer's time zone, with a relative form ("in 4 minutes", "3 hours ago"), inside a
``<time>`` element whose ``title`` (shown on hover, and on focus by ``portal.css``) is the
exact UTC time. The viewer's zone is their account setting, else the zone their browser
reported (``static/timezone.js`` sets the :data:`COOKIE`), else UTC until it is known.

What a person types is read the same way: :func:`parse_local` takes a date and time in the
viewer's zone (an explicit ``Z`` or offset wins) and returns naive UTC.
"""

import re
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import lru_cache
from urllib.parse import unquote
from zoneinfo import ZoneInfo, available_timezones

from flask import Flask, g, has_request_context, request
from flask_login import current_user
from markupsafe import Markup

from portal.core import clock

COOKIE = "portal_tz"  # the zone the browser reported (static/timezone.js)
UTC_ZONE = ZoneInfo("UTC")
MAX_NAME = 64
SHORT, FULL, SECONDS = "%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"
_MOMENT = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(Z|[+-]\d{2}:?\d{2})?)?$", re.IGNORECASE
)


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    names = available_timezones() | {"UTC"}
    return {name.lower(): name for name in names}


def zone_names() -> list[str]:
    """Return every zone name the portal accepts, sorted (the account page offers them)."""
    return sorted(set(_zones().values()))


def canonical_zone(name: str | None) -> str | None:
    """Return the IANA name ``name`` spells (any case), or None if it is not a known zone."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        return None
    return _zones().get(name.strip().lower())


def zone_named(name: str | None) -> ZoneInfo | None:
    """Return the zone called ``name``, or None for an unknown or malformed name."""
    found = canonical_zone(name)
    return ZoneInfo(found) if found else None


def browser_zone() -> ZoneInfo | None:
    """Return the zone the viewer's browser reported (None: not known yet, or not valid)."""
    if not has_request_context():
        return None
    return zone_named(unquote(request.cookies.get(COOKIE, "")))  # unquote: an encoded "/"


def _own_zone() -> ZoneInfo | None:
    user = current_user
    if user and user.is_authenticated:
        return zone_named(getattr(user, "time_zone", None))
    return None


def viewer_zone() -> ZoneInfo:
    """Return the zone the current viewer reads times in (UTC outside a request)."""
    if not has_request_context():
        return UTC_ZONE
    if "viewer_zone" not in g:
        g.viewer_zone = _own_zone() or browser_zone() or UTC_ZONE
    return g.viewer_zone


def local(value: datetime, zone: tzinfo | None = None) -> datetime:
    """Return the naive UTC ``value`` as an aware time in ``zone`` (default: the viewer's)."""
    return value.replace(tzinfo=UTC).astimezone(zone or viewer_zone())


def utc_text(value: datetime, seconds: bool = False) -> str:
    """Return the naive UTC ``value`` as ``2026-12-07 00:44 UTC``."""
    return f"{value:{SECONDS if seconds else FULL}} UTC"


def text(value: datetime | None, seconds: bool = False, zone: tzinfo | None = None) -> str:
    """Return ``value`` as plain text in the viewer's zone, ``2026-12-06 19:44 EST`` (for
    flashed messages and other text that cannot carry markup); "" for None."""
    if value is None:
        return ""
    moment = local(value, zone)
    return f"{moment:{SECONDS if seconds else FULL}} {moment.tzname()}"


def relative(value: datetime, now: datetime) -> str:
    """Return how far the naive UTC ``value`` is from ``now``: "in 4 minutes", "3 hours ago"."""
    delta = (value - now).total_seconds()
    span = abs(delta)
    if span < 45:
        return "in less than a minute" if delta > 0 else "just now"
    count, unit = max(1, round(span / 60)), "minute"
    if count >= 60:
        count, unit = round(span / 3600), "hour"
    if unit == "hour" and count >= 24:
        count, unit = round(span / 86400), "day"
    if unit == "day" and count >= 30:
        count, unit = (max(1, round(count / 30.44)), "month") if count < 365 else (0, "year")
    if unit == "year":
        count = max(1, round(span / 86400 / 365.25))
    words = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"in {words}" if delta > 0 else f"{words} ago"


def moment(
    value: datetime | None,
    seconds: bool = False,
    short: bool = False,
    relative_form: bool = True,
    focusable: bool = True,
    now: datetime | None = None,
    zone: tzinfo | None = None,
) -> Markup:
    """Return ``value`` (naive UTC) as the pages show a time (a Jinja filter, ``localtime``).

    ``seconds`` adds the seconds; ``short`` leaves out the date while it is today in the
    viewer's zone ("expected until 23:00"); ``relative_form`` False leaves out "(in 4 minutes)";
    ``focusable`` False for a time inside a link or button (that is focused itself). None gives "".
    """
    if value is None:
        return Markup("")
    now = now or clock.utc_now()
    zone = zone or viewer_zone()
    shown = local(value, zone)
    shape = SECONDS if seconds else FULL
    if short and shown.date() == local(now, zone).date():
        shape = "%H:%M:%S" if seconds else SHORT
    words = f"{shown:{shape}} {shown.tzname()}"
    after = Markup(' <span class="relative">({})</span>').format(relative(value, now))
    return Markup('<time datetime="{}Z" title="{}"{}>{}{}</time>').format(
        f"{value:%Y-%m-%dT%H:%M:%S}",
        utc_text(value, seconds),
        Markup(' tabindex="0"') if focusable else "",
        words,
        after if relative_form else "",
    )


class MomentError(ValueError):
    """Typed text that is not a date and time: ``shape`` True when it does not even look like
    one (else it names no real moment, e.g. 2026-02-30)."""

    def __init__(self, shape: bool) -> None:
        super().__init__("not shaped like a date and time" if shape else "no such date and time")
        self.shape = shape


def parse_local(text_in: str, zone: tzinfo, dates: bool = False) -> tuple[datetime, bool]:
    """Return the naive UTC moment ``text_in`` names and whether it was a date only.

    ``YYYY-MM-DDTHH:MM`` (seconds allowed, a space for the T) in ``zone``; an explicit ``Z``
    or ``+HH:MM`` offset wins. ``dates``: ``YYYY-MM-DD`` alone is that day's start in ``zone``.
    A wall time that a daylight-saving change skips or repeats is read as the clocks showed
    it first (``fold=0``).
    """
    found = _MOMENT.match((text_in or "").strip())
    if not found or (found.group(2) is None and not dates):
        raise MomentError(shape=True)
    day, clock, offset = found.groups()
    try:
        when = datetime.fromisoformat(f"{day}T{clock or '00:00'}{(offset or '').upper()}")
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        return when.astimezone(UTC).replace(tzinfo=None), clock is None
    except (ValueError, OverflowError):  # 2026-02-30, 25:00, an offset past year 1
        raise MomentError(shape=False) from None


def next_day(value: datetime, zone: tzinfo) -> datetime:
    """Return the start of the day after the one the naive UTC ``value`` falls on in
    ``zone`` (a whole day typed into a "to" field ends there, daylight saving or not)."""
    day = local(value, zone).date() + timedelta(days=1)
    return datetime.combine(day, time(), zone).astimezone(UTC).replace(tzinfo=None)


def example(zone: tzinfo | None = None, now: datetime | None = None) -> str:
    """Return a date and time to show as an example of what to type: always in the future
    (tomorrow at 18:00 in the viewer's zone), as ``YYYY-MM-DDTHH:MM``."""
    day = local(now or clock.utc_now(), zone).date() + timedelta(days=1)
    return f"{day:%Y-%m-%d}T18:00"


def inject_zone() -> dict:
    """Give templates the viewer's zone and whether a page may reload itself in the
    browser's zone (a GET page drawn before the server knew it, unless the account fixes it)."""
    zone = viewer_zone()
    return {
        "viewer_zone": zone.key,
        "viewer_zone_offset": int(datetime.now(zone).utcoffset().total_seconds() // 60),
        "zone_may_reload": has_request_context()
        and request.method == "GET"
        and _own_zone() is None,
    }


def init_app(app: Flask) -> None:
    app.add_template_filter(moment, "localtime")
    app.add_template_filter(text, "localtext")
    app.context_processor(inject_zone)
