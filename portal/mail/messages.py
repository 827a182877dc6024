"""Messages from templates: ``templates/mail/<name>.txt`` and ``.html``, built with the stdlib's
``email.message.EmailMessage`` (no hand-written MIME)."""

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app, render_template

from portal.mail import PRODUCT_NAME


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def public_url(path: str = "") -> str:
    """Return ``path`` on the instance's public address (``PUBLIC_URL``)."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def render(name: str, subject: str, **context) -> Rendered:
    """Render the plain-text and HTML parts of ``templates/mail/<name>``."""
    context = {"product": PRODUCT_NAME, "public_url": public_url(), "subject": subject, **context}
    return Rendered(
        subject=f"[{PRODUCT_NAME}] {subject}",
        text=render_template(f"mail/{name}.txt", **context),
        html=render_template(f"mail/{name}.html", **context),
    )


def build(to: str, subject: str, text: str, html: str) -> EmailMessage:
    """Return the message as sent: plain text with an HTML alternative."""
    message = EmailMessage()
    sender = current_app.config["MAIL_FROM"]
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
