"""MkDocs hook: pages generated from their sources at build time, so they cannot go stale.

- ``api.md``: the OpenAPI document the portal itself serves at ``/api/v1/openapi.json``, taken
  from an app built in memory (no server, no database, no network), rendered as Markdown where
  the page says ``<!-- openapi-reference -->``; the document itself is published beside it as
  ``api/openapi.json``.
- ``performance.md``: the benchmark's results files in ``docs/performance/results/``, newest
  first, where the page says ``<!-- benchmark-results -->``.
"""

import json
import sys
import tempfile
from pathlib import Path

import openapi_markdown
import results_markdown
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
OPENAPI_URL = "/api/v1/openapi.json"
API_MARKER = "<!-- openapi-reference -->"
RESULTS_MARKER = "<!-- benchmark-results -->"
RESULTS = DOCS / "performance" / "results"

_document: dict | None = None


def openapi_document() -> dict:
    """The document the app serves, from this checkout's ``portal`` package."""
    global _document
    if _document is None:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))  # this checkout, not an installed copy elsewhere
        from portal import create_app

        with tempfile.TemporaryDirectory(prefix="portal-docs-") as instance:
            app = create_app(
                {
                    "TESTING": True,
                    "SECRET_KEY": "docs-build",
                    "SQLALCHEMY_DATABASE_URI": "sqlite://",
                    "PROCESSOR_ENABLED": False,
                },
                instance_path=instance,
            )
            # Call the route's view directly: the request hooks (maintenance, sessions) need a
            # database, the description does not.
            endpoint, _ = app.url_map.bind("docs.invalid").match(OPENAPI_URL)
            with app.test_request_context(OPENAPI_URL):
                _document = app.view_functions[endpoint]().get_json()
    return _document


def on_files(files, config):
    """Publish the OpenAPI document beside the API page."""
    content = json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"
    files.append(File.generated(config, "api/openapi.json", content=content))
    return files


def on_page_markdown(markdown, page, config, files):
    """Fill the generated parts of the API and Performance pages."""
    if page.file.src_uri == "api.md":
        if API_MARKER not in markdown:
            raise ValueError(f"api.md lost its {API_MARKER} marker")
        reference = openapi_markdown.render(openapi_document(), level=3)
        return markdown.replace(API_MARKER, reference)
    if page.file.src_uri == "performance.md":
        if RESULTS_MARKER not in markdown:
            raise ValueError(f"performance.md lost its {RESULTS_MARKER} marker")
        results = results_markdown.render(RESULTS, "performance/results/")
        return markdown.replace(RESULTS_MARKER, results)
    return markdown
