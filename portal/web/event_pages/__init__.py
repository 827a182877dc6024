"""The events page: browse events and their deliveries, retry, replay, resume endpoints."""

from portal.web.event_pages.routes import bp

__all__ = ["bp"]
