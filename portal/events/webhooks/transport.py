"""The HTTP side of webhook calls: one pooled aiohttp session and the check before each send.

aiohttp was measured against httpx and requests on threads (docs/events.md, "Why aiohttp"): it
keeps 100 connections busy at the lowest CPU cost. The connector calls :func:`before_send`
hooks once the connection is ready (after DNS, connect and TLS) and right before the request
is written, so a restriction committed during a slow connect still stops the call.
"""

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from portal.events import targets

log = logging.getLogger(__name__)

USER_AGENT = "GatewayPortal-Webhook/2"
MAX_RESPONSE_BYTES = 64 * 1024
ERROR_LENGTH = 500
KEPT_BODY_BYTES = 4096  # the start of each answer kept with its attempt
SESSION_HEADERS = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
# Request headers never stored as they were sent (the value is replaced by REDACTED).
SECRET_HEADERS = frozenset({"webhook-signature", "authorization", "proxy-authorization"})
REDACTED = "[redacted]"


class Held(Exception):  # noqa: N818 (a decision, not an error)
    """The call was not sent because the processor restriction is on: try again later."""


class Refused(Exception):  # noqa: N818
    """The call was not sent because its target is not allowed: a failed attempt."""


@dataclass(frozen=True)
class CallOutcome:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int = 0
    retry_after: float | None = None  # seconds the receiver asked us to wait (429/503)
    held: bool = False  # not sent (restriction): no attempt is counted
    slow: bool = False  # timed out or could not connect: the endpoint gets fewer slots
    # Kept with the attempt: what was sent (secrets redacted) and the start of the answer.
    request_headers: dict | None = None
    response_headers: dict | None = None
    response_body: str | None = None


def redacted(headers: dict) -> dict[str, str]:
    """Return the request headers as stored with an attempt: secrets replaced by REDACTED."""
    shown = SESSION_HEADERS | headers
    return {k: REDACTED if k.lower() in SECRET_HEADERS else str(v) for k, v in shown.items()}


def check_connected_address(address: tuple | None, allowed: tuple) -> None:
    """Refuse a call by the address actually connected to (raise :class:`Refused`).

    The single place for the target rules (:mod:`portal.events.targets`: public addresses, or
    ``WEBHOOK_ALLOWED_NETWORKS``); it sees the peer of the open connection, so a DNS answer
    cannot change between the check and the call.
    """
    peer = address[0] if address else ""
    if not targets.address_allowed(peer, allowed):
        raise Refused(targets.refusal(peer or "(unknown)"))


class GuardedConnector(aiohttp.TCPConnector):
    """A TCP connector that awaits ``gate(peer address)`` on every connection it hands out."""

    def __init__(
        self, gate: Callable[[tuple | None], Awaitable[None]], allowed: tuple, **options
    ) -> None:
        super().__init__(**options)
        self._gate = gate
        self._allowed = allowed

    async def connect(self, req, traces, timeout):  # type: ignore[override]
        connection = await super().connect(req, traces, timeout)
        try:
            transport = connection.transport
            peer = transport.get_extra_info("peername") if transport else None
            check_connected_address(peer, self._allowed)
            await self._gate(peer)
        except BaseException:
            connection.close()
            raise
        return connection


def new_session(
    concurrency: int, gate: Callable[[tuple | None], Awaitable[None]], allowed=()
) -> aiohttp.ClientSession:
    """Return the session every call of one pump shares (at most ``concurrency`` sockets);
    ``allowed`` are the networks beyond public addresses that calls may connect to."""
    connector = GuardedConnector(
        gate, tuple(allowed), limit=concurrency, limit_per_host=0, ttl_dns_cache=60
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,  # a proxy from the environment would hide the real peer
        timeout=aiohttp.ClientTimeout(total=None),  # the whole call is bounded in :func:`post`
        headers=SESSION_HEADERS,
        auto_decompress=False,
    )


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict, timeout: float
) -> CallOutcome:
    """POST ``body``; a 2xx answer within ``timeout`` (for the whole call) is a success."""
    started = time.monotonic()
    answer: dict = {}

    def outcome(ok: bool, code: int | None, error: str | None, **extra) -> CallOutcome:
        elapsed = int((time.monotonic() - started) * 1000)
        error = error and error[:ERROR_LENGTH]
        if extra.get("held"):
            return CallOutcome(ok, code, error, elapsed, **extra)
        sent = redacted(headers)
        return CallOutcome(ok, code, error, elapsed, **extra, request_headers=sent, **answer)

    try:
        async with asyncio.timeout(timeout):
            async with session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                code = response.status
                answer["response_headers"] = dict(response.headers)
                too_big, head = await _read_body(response)
                answer["response_body"] = _text(head)
                retry_after = _retry_after(response) if code in (429, 503) else None
    except Held:
        return outcome(False, None, None, held=True)
    except Refused as exc:
        return outcome(False, None, f"Refused: {exc}")
    except TimeoutError:
        return outcome(False, None, f"Timed out after {timeout:g}s", slow=True)
    except aiohttp.ClientConnectorError as exc:
        return outcome(False, None, f"{type(exc).__name__}: {exc}", slow=True)
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return outcome(False, None, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # never lose a slot to a surprise: a failed attempt, logged
        log.exception("Webhook call to %s failed unexpectedly", url)
        return outcome(False, None, f"{type(exc).__name__}: {exc}")
    if too_big:
        return outcome(False, code, f"HTTP {code} with a body over {MAX_RESPONSE_BYTES} bytes")
    if 200 <= code < 300:
        return outcome(True, code, None)
    if 300 <= code < 400:
        return outcome(False, code, f"HTTP {code} (redirects are not followed)")
    return outcome(False, code, f"HTTP {code}", retry_after=retry_after)


async def _read_body(response: aiohttp.ClientResponse) -> tuple[bool, bytes]:
    """Read the answer up to the limit (so the connection can be reused), never beyond it;
    return whether it was over the limit and its first ``KEPT_BODY_BYTES``."""
    read = 0
    head = b""
    while True:
        chunk = await response.content.read(MAX_RESPONSE_BYTES + 1 - read)
        if not chunk:
            return False, head
        if len(head) < KEPT_BODY_BYTES:
            head += chunk[: KEPT_BODY_BYTES - len(head)]
        read += len(chunk)
        if read > MAX_RESPONSE_BYTES:
            response.close()  # drop the connection instead of reading the rest
            return True, head


def _text(head: bytes) -> str:
    """Return the kept start of an answer as text any database stores (no NUL)."""
    return head.decode("utf-8", "replace").replace("\x00", "\ufffd")


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    """Return the ``Retry-After`` delay in seconds (a number or an HTTP date), if valid."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():  # not "²": isdigit() alone says yes, float() no
        return float(value)  # any length: the caller caps the wait
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
