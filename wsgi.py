"""WSGI entry point: ``flask run`` and ``gunicorn wsgi:app`` load ``app`` from here."""

from portal import create_app

app = create_app()
