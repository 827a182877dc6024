"""The security settings, read once at start: a malformed value stops the app with one line."""

import ipaddress
import re
from dataclasses import dataclass

UNITS = {"s": 1, "m": 60, "h": 3600}
THROTTLE_RE = re.compile(
    r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*"
    r"(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)\s*$",
    re.IGNORECASE,
)


class ConfigError(SystemExit):
    """A bad setting: exits with its one-line message (no traceback) wherever the app starts."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"Error: configuration {key}: {problem}")


@dataclass(frozen=True)
class Throttle:
    """At most ``limit`` failed sign-ins per address in ``seconds``."""

    limit: int
    seconds: int


def parse_throttle(value: object, key: str = "LOGIN_THROTTLE") -> Throttle:
    """Read a throttle setting (``key``): ``"30 per 5 minutes"``, ``"30/5m"`` or ``"10/hour"``."""
    match = THROTTLE_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise ConfigError(key, f"{value!r} is not like '30 per 5 minutes' or '30/5m'")
    limit, amount, unit = int(match[1]), int(match[2] or 1), match[3][0].lower()
    if limit < 1 or amount < 1:
        raise ConfigError(key, f"{value!r}: count and period must be at least 1")
    return Throttle(limit, amount * UNITS[unit])


def parse_networks(value: object) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Read ``WEBHOOK_ALLOWED_NETWORKS``: a list of CIDRs (a comma-separated string also works)."""
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise ConfigError("WEBHOOK_ALLOWED_NETWORKS", f"{value!r} is not a list of CIDRs")
    networks = []
    for item in value:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise ConfigError("WEBHOOK_ALLOWED_NETWORKS", f"{item!r} is not a CIDR") from None
    return tuple(networks)


def parse_proxy_count(value: object) -> int:
    """Read ``TRUSTED_PROXIES``: how many reverse proxies in front set ``X-Forwarded-*``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError("TRUSTED_PROXIES", f"{value!r} is not a whole number")
    try:
        count = int(value)
    except ValueError:
        raise ConfigError("TRUSTED_PROXIES", f"{value!r} is not a whole number") from None
    if not 0 <= count <= 10:
        raise ConfigError("TRUSTED_PROXIES", f"{count} is not between 0 and 10")
    return count


def parse_min_score(value: object) -> int:
    """Read ``PASSWORD_MIN_SCORE``: the zxcvbn score (0 to 4) a new password needs at least."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError("PASSWORD_MIN_SCORE", f"{value!r} is not a whole number")
    try:
        score = int(value)
    except ValueError:
        raise ConfigError("PASSWORD_MIN_SCORE", f"{value!r} is not a whole number") from None
    if not 0 <= score <= 4:
        raise ConfigError("PASSWORD_MIN_SCORE", f"{score} is not between 0 and 4")
    return score
