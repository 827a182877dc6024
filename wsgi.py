"""WSGI entry point: ``flask run`` and ``gunicorn wsgi:app`` load ``app`` from here."""

from portal import create_app
from portal.events.runner import autostart

app = create_app()
autostart(app)  # the in-process event processor: only where requests are served
