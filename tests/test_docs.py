"""The generated parts of the documentation: the API reference covers every operation and schema
of the app's OpenAPI document, and a benchmark run's results file shows on the Performance page
with its bars, newest first. The README's links point at pages that exist."""

import importlib.util
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


openapi_markdown = load(ROOT / "docs" / "hooks" / "openapi_markdown.py")
results_markdown = load(ROOT / "docs" / "hooks" / "results_markdown.py")
results_file = load(ROOT / "benchmarks" / "results_file.py")


def test_the_api_reference_has_every_operation_and_schema(client):
    document = client.get("/api/v1/openapi.json").get_json()
    markdown = openapi_markdown.render(document, level=3)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert f"#### `{method.upper()} {path}` {{#op-{operation['operationId'].lower()}}}" in (
                markdown
            )
    for name in document["components"]["schemas"]:
        assert f"{{#schema-{name.lower()}}}" in markdown
    # every link to a schema lands on one of its headings
    for target in re.findall(r"\]\(#(schema-[a-z]+)\)", markdown):
        assert f"{{#{target}}}" in markdown
    assert "| 412 | Stale If-Match: the current state |" in markdown


@pytest.mark.slow  # starts a subprocess
def test_a_run_writes_a_dated_results_file_that_the_performance_page_shows(tmp_path):
    older = {"ingest_events_per_s": 73_801, "quick": True}
    newer = {"ingest_events_per_s": 41_000, "open_tabs_cpu_pct": 7.7, "raw_sqlite_events_per_s": 1}
    first = results_file.write(
        older, [0.5, 0.4, 0.3], datetime(2026, 12, 1, 9, 5, tzinfo=UTC), tmp_path
    )
    second = results_file.write(
        {**newer, "quick": False},
        [3.0, 2.0, 1.0],
        datetime(2026, 12, 2, 18, 30, tzinfo=UTC),
        tmp_path,
    )
    assert (first.name, second.name) == ("2026-12-01-0905.json", "2026-12-02-1830.json")
    stored = json.loads(second.read_text())
    assert "python benchmarks/run.py" in stored["command"]  # after the PostgreSQL URI if set
    assert stored["load_average"]["start"] == [3.0, 2.0, 1.0]
    assert len(stored["load_average"]["end"]) == 3
    ingest = stored["figures"]["ingest_events_per_s"]
    assert ingest["value"] == 41_000 and ingest["met"] is False
    assert ingest["bar"] == {"op": ">=", "limit": 50_000, "source": "SPEC §7"}
    assert stored["figures"]["open_tabs_cpu_pct"]["met"] is True
    assert stored["figures"]["raw_sqlite_events_per_s"]["bar"] is None

    page = results_markdown.render(tmp_path, "performance/results/")
    assert page.index("2026-12-02T18:30Z") < page.index("2026-12-01T09:05Z")  # newest first
    assert "**1 of 2 bars missed:** `ingest_events_per_s`" in page
    assert (
        "| `ingest_events_per_s` | " in page
        and "| 41,000 | ≥ 50,000 (SPEC §7) | **missed** |" in page
    )
    assert "[2026-12-02-1830.json](performance/results/2026-12-02-1830.json)" in page
    assert "load average 3 / 2 / 1 at the start" in page


def test_the_seeded_results_file_keeps_the_readme_figures_and_meets_its_bars():
    folder = ROOT / "docs" / "performance" / "results"
    seeded = json.loads((folder / "2026-11-30-1e65eb2.json").read_text())
    assert seeded["figures"]["ingest_events_per_s"]["value"] == 125_427
    assert seeded["figures"]["open_tabs_cpu_pct"]["value"] == 7.7
    assert all(figure["met"] is not False for figure in seeded["figures"].values())


def test_the_readme_links_to_pages_that_exist():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert links
    for link in links:
        assert (ROOT / link).exists(), link
