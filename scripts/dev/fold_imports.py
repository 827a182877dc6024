"""Rewrite references to the portal modules that moved when the package root was folded.

Run from the repository root, after merging a branch that was started before the fold:

    python scripts/dev/fold_imports.py            # rewrite every tracked text file
    python scripts/dev/fold_imports.py --check    # list what would change, exit 1 if anything
    python scripts/dev/fold_imports.py tests docs # only these files or folders

It rewrites ``from portal.X import y`` statements (splitting one whose names now live in
different packages), dotted names anywhere (``import portal.x``, ``mock.patch("portal.x.y")``,
comments, Markdown) and file paths (``portal/x.py``). Running it again changes nothing. Sort the
imports afterwards: ``ruff check --fix --select I . && ruff format .``.
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

# Old module (or package) -> where it lives now. A name below a moved package moves with it.
MOVES = {
    "portal.clock": "portal.core.clock",
    "portal.inputs": "portal.core.inputs",
    "portal.jsonvalues": "portal.core.jsonvalues",
    "portal.timefmt": "portal.core.timefmt",
    "portal.passwords": "portal.accounts.passwords",
    "portal.names": "portal.accounts.names",
    "portal.permissions": "portal.accounts.permissions",
    "portal.authorization": "portal.accounts.authorization",
    "portal.twofactor": "portal.accounts.twofactor",
    "portal.tokens": "portal.accounts.tokens",
    "portal.guardrails": "portal.maintenance.guardrails",
    "portal.bootstrap": "portal.cli.bootstrap",
    "portal.snapshots": "portal.audit.snapshots",
    "portal.settings.audit_changes": "portal.audit.changes",
    "portal.concurrency": "portal.audit.concurrency",
    "portal.automation": "portal.events.automation",
    "portal.schedule": "portal.events.trigger_schedule",
    "portal.events.tables": "portal.models.tables",
    "portal.maintenance.timeline": "portal.operations.timeline",
    "portal.mail.notices": "portal.maintenance.notices",
    "portal.auth": "portal.web.auth",
    "portal.account": "portal.web.account",
    "portal.dashboard": "portal.web.dashboard",
    "portal.settings": "portal.web.settings",
    "portal.event_log": "portal.web.event_pages",
    "portal.forms": "portal.web.forms",
    "portal.navigation": "portal.web.navigation",
    # The tests mirror the package: one folder per package of portal/.
    "tests.test_names": "tests.accounts.test_names",
    "tests.test_password_strength": "tests.accounts.test_password_strength",
    "tests.test_password_change": "tests.accounts.test_password_change",
    "tests.test_password_reset": "tests.accounts.test_password_reset",
    "tests.test_two_factor": "tests.accounts.test_two_factor",
    "tests.test_tokens": "tests.accounts.test_tokens",
    "tests.test_escalation_property": "tests.accounts.test_escalation_property",
    "tests.test_authorization": "tests.accounts.test_authorization",
    "tests.test_api_events": "tests.api.test_api_events",
    "tests.test_api_recovery": "tests.api.test_api_recovery",
    "tests.test_openapi": "tests.api.test_openapi",
    "tests.test_maintenance_api": "tests.api.test_maintenance_api",
    "tests.test_audit_changes": "tests.audit.test_audit_changes",
    "tests.test_edit_conflicts": "tests.audit.test_edit_conflicts",
    "tests.test_cli": "tests.cli.test_cli",
    "tests.test_processor_cli": "tests.cli.test_processor_cli",
    "tests.test_deploy_script": "tests.cli.test_deploy_script",
    "tests.test_times": "tests.core.test_times",
    "tests.test_config": "tests.core.test_config",
    "tests.test_events_processor": "tests.events.test_events_processor",
    "tests.test_event_counters": "tests.events.test_event_counters",
    "tests.test_event_runs": "tests.events.test_event_runs",
    "tests.test_counters_state": "tests.events.test_counters_state",
    "tests.test_conditions_property": "tests.events.test_conditions_property",
    "tests.test_lease": "tests.events.test_lease",
    "tests.test_totals": "tests.events.test_totals",
    "tests.test_triggers": "tests.events.test_triggers",
    "tests.test_webhooks": "tests.events.test_webhooks",
    "tests.test_webhook_drain": "tests.events.test_webhook_drain",
    "tests.test_webhook_gate_postgres": "tests.events.test_webhook_gate_postgres",
    "tests.test_webhook_restriction": "tests.events.test_webhook_restriction",
    "tests.test_webhook_targets": "tests.events.test_webhook_targets",
    "tests.test_attempt_details": "tests.events.test_attempt_details",
    "tests.test_bulk_recovery": "tests.events.test_bulk_recovery",
    "tests.test_events_postgres": "tests.events.test_events_postgres",
    "tests.test_mail": "tests.mail.test_mail",
    "tests.test_mail_notices": "tests.mail.test_mail_notices",
    "tests.test_mail_postgres": "tests.mail.test_mail_postgres",
    "tests.test_maintenance": "tests.maintenance.test_maintenance",
    "tests.test_maintenance_banners": "tests.maintenance.test_maintenance_banners",
    "tests.test_maintenance_review": "tests.maintenance.test_maintenance_review",
    "tests.test_maintenance_schedule": "tests.maintenance.test_maintenance_schedule",
    "tests.test_maintenance_windows": "tests.maintenance.test_maintenance_windows",
    "tests.test_drain_status": "tests.maintenance.test_drain_status",
    "tests.test_guardrails": "tests.maintenance.test_guardrails",
    "tests.test_backup": "tests.operations.test_backup",
    "tests.test_history": "tests.operations.test_history",
    "tests.test_metrics": "tests.operations.test_metrics",
    "tests.test_retention": "tests.operations.test_retention",
    "tests.test_operations_postgres": "tests.operations.test_operations_postgres",
    "tests.test_production_server": "tests.operations.test_production_server",
    "tests.test_security_config": "tests.security.test_security_config",
    "tests.test_security_headers": "tests.security.test_security_headers",
    "tests.test_security_postgres": "tests.security.test_security_postgres",
    "tests.test_security_sessions": "tests.security.test_security_sessions",
    "tests.test_security_signin": "tests.security.test_security_signin",
    "tests.test_security_workers": "tests.security.test_security_workers",
    "tests.test_open_sessions": "tests.security.test_open_sessions",
    "tests.test_reveals": "tests.security.test_reveals",
    "tests.test_auth": "tests.web.test_auth",
    "tests.test_dashboard": "tests.web.test_dashboard",
    "tests.test_events_page": "tests.web.test_events_page",
    "tests.test_navigation": "tests.web.test_navigation",
    "tests.test_clients_page": "tests.web.test_clients_page",
    "tests.test_delete_confirmations": "tests.web.test_delete_confirmations",
    "tests.test_form_fuzz": "tests.web.test_form_fuzz",
    "tests.test_roles_groups_pages": "tests.web.test_roles_groups_pages",
    "tests.test_users_page": "tests.web.test_users_page",
    "tests.test_workflows_page": "tests.web.test_workflows_page",
    "tests.test_triggers_page": "tests.web.test_triggers_page",
    "tests.test_maintenance_page": "tests.web.test_maintenance_page",
    "tests.test_window_page": "tests.web.test_window_page",
    "tests.test_audit_page": "tests.web.test_audit_page",
    "tests.test_bad_input": "tests.web.test_bad_input",
    "tests.test_admin_browser": "tests.browser.test_admin_journeys",
    "tests.test_dashboard_browser": "tests.browser.test_dashboard_journeys",
    "tests.test_events_browser": "tests.browser.test_events_journeys",
    "tests.test_maintenance_browser": "tests.browser.test_maintenance_page_journeys",
    "tests.test_retention_browser": "tests.browser.test_retention_journeys",
}

# Files whose module path kept its name but whose file did not (a module became a package).
FILE_MOVES = {
    "portal/accounts.py": "portal/accounts/__init__.py",
    "portal/audit.py": "portal/audit/__init__.py",
    "portal/clients.py": "portal/clients/__init__.py",
    "portal/tokens/__init__.py": "portal/accounts/tokens.py",
    "portal/tokens/": "portal/accounts/tokens.py",
}
PACKAGES = {
    "portal.auth",
    "portal.account",
    "portal.dashboard",
    "portal.settings",
    "portal.event_log",
}

SELF = Path(__file__).resolve()


def new_module(name: str) -> str:
    """Return where the module (or a name inside it) ``name`` lives now."""
    for old in sorted(MOVES, key=len, reverse=True):
        if name == old or name.startswith(old + "."):
            return MOVES[old] + name[len(old) :]
    return name


def _alternation(keys) -> str:
    return "|".join(re.escape(key) for key in sorted(keys, key=len, reverse=True))


DOTTED = re.compile(rf"(?<![\w.])({_alternation(MOVES)})(?!\w)")


def _path_moves() -> dict[str, str]:
    moves = dict(FILE_MOVES)
    for old, new in MOVES.items():
        old_path, new_path = old.replace(".", "/"), new.replace(".", "/")
        if old in PACKAGES:
            moves[old_path] = new_path
        else:
            moves[old_path + ".py"] = new_path + ".py"
    return moves


PATH_MOVES = _path_moves()
PATHS = re.compile(rf"(?<![\w/.])({_alternation(PATH_MOVES)})(?!\w)")

FROM_IMPORT = re.compile(
    r"^(?P<indent>[ \t]*)from[ \t]+(?P<module>portal(?:\.\w+)*)[ \t]+import[ \t]+"
    r"(?P<body>\([^)]*\)|(?:[^\n\\]|\\\n)*)",
    re.MULTILINE,
)


def _split_comment(body: str) -> tuple[str, list[str]]:
    code, comments = [], []
    for line in body.splitlines():
        text, _, comment = line.partition("#")
        code.append(text)
        if comment.strip():
            comments.append("#" + comment.rstrip())
    return " ".join(code), comments


def _rewrite_from(match: re.Match) -> str:
    module, indent = match["module"], match["indent"]
    code, comments = _split_comment(match["body"])
    items = [item.strip() for item in code.replace("\\", " ").strip("() \t").split(",")]
    groups: dict[str, list[str]] = {}
    kept = True  # every name is still imported under its own name from the module's new home
    for item in filter(None, items):
        name, _, alias = (part.strip() for part in item.partition(" as "))
        parent, base = new_module(f"{module}.{name}").rsplit(".", 1)
        kept = kept and parent == new_module(module) and base == name
        shown = alias or name
        groups.setdefault(parent, []).append(base if base == shown else f"{base} as {shown}")
    if kept:
        return match[0]  # the dotted pass renames the module, layout and comments untouched
    lines = [f"{indent}from {parent} import {', '.join(names)}" for parent, names in groups.items()]
    if comments:
        lines[0] += "  " + " ".join(comments)
    return "\n".join(lines)


def rewrite(text: str, python: bool) -> str:
    """Return ``text`` with every reference to a moved module pointing at its new home."""
    if python:
        text = FROM_IMPORT.sub(_rewrite_from, text)
    text = DOTTED.sub(lambda m: MOVES[m[1]], text)
    return PATHS.sub(lambda m: PATH_MOVES[m[1]], text)


def tracked_files(roots: list[str]) -> list[Path]:
    listed = subprocess.run(  # noqa: S603 - a fixed git command on the paths given
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", *roots],  # noqa: S607
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    return [Path(name) for name in listed.split("\0") if name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="files or folders (default: the whole tree)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if needed")
    args = parser.parse_args(argv)
    changed = []
    for path in tracked_files(args.paths):
        if path.resolve() == SELF or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # not a text file
        new = rewrite(text, python=path.suffix == ".py")
        if new != text:
            changed.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    for path in changed:
        print(path)
    if args.check:
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
