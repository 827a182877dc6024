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
    if bar["op"] == "<=" and bar["limit"] == 0:
        return "0" + (f" ({bar['source']})" if bar.get("source") else "")
    source = f" ({bar['source']})" if bar.get("source") else ""
    return f"{SIGNS.get(bar['op'], bar['op'])} {number(bar['limit'])}{source}"


def verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: ""}[met]


def load_text(load: dict) -> str:
    start, end = load.get("start"), load.get("end")
    text = f"{number(start)} at the start" if start else "not recorded"
    return text + (f", {number(end)} at the end" if end else "")


def run_section(name: str, run: dict, link: str, level: int) -> list[str]:
    figures = run.get("figures", {})
    with_bar = {key: figure for key, figure in figures.items() if figure.get("bar")}
    reference = {key: figure for key, figure in figures.items() if not figure.get("bar")}
    missed = [key for key, figure in with_bar.items() if figure.get("met") is False]
    commit = f" · `{run['commit']}`" if run.get("commit") else ""
    kind = "quick" if run.get("quick") else "full"
    machine = run.get("machine", {})
    described = machine.get("description") or ", ".join(
        f"{machine[key]} {word}".strip()
        for key, word in (("cores", "cores"), ("python", "Python"), ("system", ""))
        if machine.get(key)
    )
    if missed:
        outcome = f"**{len(missed)} of {len(with_bar)} bars missed:** " + ", ".join(
            f"`{key}`" for key in missed
        )
    else:
        outcome = f"**Every bar met** ({len(with_bar)} with a bar)."
    lines = [
        f"{'#' * level} {run.get('date', name)}{commit} · {kind}",
        "",
        outcome,
        "",
        f"- **Command:** `{run.get('command', '')}`",
        f"- **Machine:** {described or 'not recorded'}; load average "
        f"{load_text(run.get('load_average', {}))}",
        f"- **File:** [{name}]({link}{name})",
    ]
    if run.get("note"):
        lines.append(f"- **Note:** {run['note']}")
    lines += ["", "| key | what it measures | value | bar | |", "| --- | --- | --- | --- | --- |"]
    for key, figure in with_bar.items():
        lines.append(
            f"| `{key}` | {figure.get('label', '')} | {number(figure['value'])} "
            f"| {bar_text(figure['bar'])} | {verdict(figure.get('met'))} |"
        )
    if reference:
        rows = ["| key | what it measures | value |", "| --- | --- | --- |"]
        rows += [
            f"| `{key}` | {figure.get('label', '')} | {number(figure['value'])} |"
            for key, figure in reference.items()
        ]
        lines += ["", f'??? note "Reference figures of this run (no bar): {len(reference)}"', ""]
        lines += [f"    {row}" for row in rows]
    return lines


def render(folder: Path, link: str, level: int = 3) -> str:
    """All runs, newest first, each under a heading of ``level``; ``link`` is the results
    folder relative to the page."""
    runs = load(folder)
    if not runs:
        return "No results file yet: run `python benchmarks/run.py --quick`.\n"
    lines = [f"{len(runs)} recorded run{'s' if len(runs) != 1 else ''}, newest first.", ""]
    for name, run in runs:
        lines += [*run_section(name, run, link, level), ""]
    return "\n".join(lines)
