"""Security middleware: headers, the proxy setting, sign-in throttling and session rows.

``init_app`` reads the security settings once (a malformed one stops the app with a one-line
error naming its key) and wires the response headers and the reverse-proxy fix.
"""

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.security import headers
from portal.security.config import (
    parse_min_score,
    parse_networks,
    parse_proxy_count,
    parse_throttle,
)


def init_app(app: Flask) -> None:
    config = app.config
    config["LOGIN_THROTTLE_PARSED"] = parse_throttle(config["LOGIN_THROTTLE"])
    config["PASSWORD_RESET_THROTTLE_PARSED"] = parse_throttle(
        config["PASSWORD_RESET_THROTTLE"], "PASSWORD_RESET_THROTTLE"
    )
    config["WEBHOOK_ALLOWED_NETWORKS_PARSED"] = parse_networks(config["WEBHOOK_ALLOWED_NETWORKS"])
    config["PASSWORD_MIN_SCORE"] = parse_min_score(config["PASSWORD_MIN_SCORE"])
    proxies = parse_proxy_count(config["TRUSTED_PROXIES"])
    if proxies:
        # Trust exactly that many X-Forwarded-For/-Proto hops; with 0 a forged header is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    if config["HTTPS"]:
        config.update(
            SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True, PREFERRED_URL_SCHEME="https"
        )
    headers.init_app(app)
