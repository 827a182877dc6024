"""Render the benchmark's results files (``benchmarks/results_file.py`` writes them) as
Markdown, newest run first: the figures with a bar, then the reference figures."""

import json
from pathlib import Path

SIGNS = {">=": "≥", "<=": "≤"}


def number(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, list):
        return " / ".join(number(item) for item in value)
    return str(value)


def load(folder: Path) -> list[tuple[str, dict]]:
    """Every results file in ``folder`` as (file name, content), newest first."""
    runs = [(path.name, json.loads(path.read_text())) for path in folder.glob("*.json")]
    return sorted(runs, key=lambda run: (run[1].get("date", ""), run[0]), reverse=True)


def bar_text(bar: dict | None) -> str:
    if not bar:
        return ""
    source = f" ({bar['source']})" if bar.get("source") else ""
    return f"{SIGNS.get(bar['op'], bar['op'])} {number(bar['limit'])}{source}"


def verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: ""}[met]


def load_text(load: dict) -> str:
    start, end = load.get("start"), load.get("end")
    text = f"{number(start)} at the start" if start else "not recorded"
    return text + (f", {number(end)} at the end" if end else "")


def run_section(name: str, run: dict, link: str, *, latest: bool) -> list[str]:
    figures = run.get("figures", {})
    with_bar = {key: figure for key, figure in figures.items() if figure.get("bar")}
    reference = {key: figure for key, figure in figures.items() if not figure.get("bar")}
    missed = sum(1 for figure in with_bar.values() if figure.get("met") is False)
    outcome = f"{missed} of {len(with_bar)} bars missed" if missed else "every bar met"
    commit = f" · `{run['commit']}`" if run.get("commit") else ""
    kind = "quick" if run.get("quick") else "full"
    title = f"{run.get('date', name)}{commit} · {kind} · {outcome}"
    machine = run.get("machine", {})
    described = machine.get("description") or ", ".join(
        f"{machine[key]} {word}"
        for key, word in (("cores", "cores"), ("python", "Python"), ("system", ""))
        if machine.get(key)
    )
    body = [
        f"- **Command:** `{run.get('command', '')}`",
        f"- **Machine:** {described or 'not recorded'}; load average {load_text(run.get('load_average', {}))}",
        f"- **File:** [{name}]({link}{name})",
    ]
    if run.get("note"):
        body.append(f"- **Note:** {run['note']}")
    body += ["", "| key | what it measures | value | bar | |", "| --- | --- | --- | --- | --- |"]
    for key, figure in with_bar.items():
        body.append(
            f"| `{key}` | {figure.get('label', '')} | {number(figure['value'])} "
            f"| {bar_text(figure['bar'])} | {verdict(figure.get('met'))} |"
        )
    if reference:
        body += ["", "Reference figures (no bar):", "", "| key | what it measures | value |"]
        body.append("| --- | --- | --- |")
        for key, figure in reference.items():
            body.append(f"| `{key}` | {figure.get('label', '')} | {number(figure['value'])} |")
    fence = "???+" if latest else "???"
    return [f'{fence} {"success" if not missed else "warning"} "{title}"', ""] + [
        f"    {line}" if line else "" for line in body
    ]


def render(folder: Path, link: str) -> str:
    """All runs, newest first; ``link`` is the results folder relative to the page."""
    runs = load(folder)
    if not runs:
        return "No results file yet: run `python benchmarks/run.py --quick`.\n"
    lines = [f"{len(runs)} recorded run{'s' if len(runs) != 1 else ''}, newest first.", ""]
    for index, (name, run) in enumerate(runs):
        lines += [*run_section(name, run, link, latest=index == 0), ""]
    return "\n".join(lines)
