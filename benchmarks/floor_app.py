"""The floor of the open-tabs figure: a WSGI app that does nothing but answer the poll.

It answers ``304`` to any request with ``If-None-Match`` and a tiny ``200`` otherwise, so the
CPU it costs under the same gunicorn and the same 500 tabs is gunicorn's own per-request work:
what no change to the portal can go below.
"""


def app(environ, start_response):
    seen = environ.get("HTTP_IF_NONE_MATCH", "").strip('W/"')
    if seen:
        start_response("304 NOT MODIFIED", [("ETag", f'"{seen}"'), ("Cache-Control", "no-cache")])
        return [b""]
    headers = [("ETag", '"floor"'), ("Content-Type", "application/json"), ("Content-Length", "2")]
    start_response("200 OK", headers)
    return [b"{}"]
