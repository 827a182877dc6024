"""A real SMTP server in the test process (aiosmtpd on 127.0.0.1) that keeps what it receives."""

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        return self.message.get_body(preferencelist=(subtype,)).get_content()


@dataclass
class Handler:
    received: list[Received] = field(default_factory=list)
    refuse: str | None = None  # e.g. "550 no such user": every message is refused so
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        if self.refuse:
            return self.refuse
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SMTPServer:
    """Start with ``start()``; ``stop()`` makes it unreachable (the port stays reserved)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = Handler()
        self.controller: Controller | None = None

    def start(self) -> "SMTPServer":
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def to(self, address: str) -> list[Received]:
        return [item for item in self.received if address in item.rcpt_tos]

    def config(self) -> dict:
        return {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": self.port,
            "MAIL_FROM": "Gateway Portal <portal@example.com>",
            "PUBLIC_URL": "http://portal.test",
        }
