"""The events page: browse events and their deliveries, retry, replay, resume endpoints."""

from portal.event_log.routes import bp

__all__ = ["bp"]
