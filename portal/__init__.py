"""Gateway Portal: the application factory."""

import os
from pathlib import Path

from flask import Flask, render_template

from portal import maintenance, operations, security
from portal.config import load_config
from portal.core import timefmt
from portal.events import hooks
from portal.extensions import csrf, db, login_manager, migrate
from portal.mail import sender
from portal.models.types import URL_CONVERTERS
from portal.operations import history
from portal.web import navigation
from portal.web.auth import gate

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None, instance_path: str | None = None) -> Flask:
    """Create the portal; ``config`` overrides everything else (tests use it)."""
    app = Flask(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    load_config(app, config)
    app.url_map.converters.update(URL_CONVERTERS)
    security.init_app(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    maintenance.init_app(app)
    gate.init_app(app)  # after the maintenance hook
    navigation.init_app(app)
    timefmt.init_app(app)
    register_background_work(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    from portal import models  # noqa: F401  (register the tables before migrate sees them)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"


def register_background_work(app: Flask) -> None:
    """Hand the event processor the work built on it, so the pipeline imports none of it."""
    added = hooks.of(app)
    added.housekeeping = operations.housekeeping  # retention and old history samples
    added.after_tick = history.record_due
    added.jobs[sender.MAIL_JOB] = sender.send_round


def register_blueprints(app: Flask) -> None:
    from portal.api import bp as api_bp
    from portal.operations.metrics import bp as operations_bp
    from portal.web.account import bp as account_bp
    from portal.web.auth import reset_routes  # noqa: F401  (its views join the auth blueprint)
    from portal.web.auth.account_security import bp as account_security_bp
    from portal.web.auth.aliases import bp as aliases_bp
    from portal.web.auth.routes import bp as auth_bp
    from portal.web.dashboard.routes import bp as dashboard_bp
    from portal.web.event_pages import bp as event_log_bp
    from portal.web.settings import bp as settings_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(aliases_bp)
    app.register_blueprint(account_security_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(event_log_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(operations_bp)
    csrf.exempt(api_bp)  # the JSON API authenticates with keys, not cookies


def register_errorhandlers(app: Flask) -> None:
    from flask import jsonify, request

    def wants_json() -> bool:
        return request.path.startswith("/api/")

    def handler(code: int, name: str):
        def render(error):
            if wants_json():
                return jsonify(error=name, details=[]), code
            return render_template(f"errors/{code}.html"), code

        return render

    for code, name in [
        (400, "bad request"),
        (403, "forbidden"),
        (404, "not found"),
        (405, "method not allowed"),
        (413, "request too large"),
        (500, "internal server error"),
    ]:
        app.register_error_handler(code, handler(code, name))


def register_cli(app: Flask) -> None:
    from portal.cli import register

    register(app)
