"""The layers the folder list names hold: import-linter's contracts in pyproject.toml (pages, API
and CLI above the domain packages, those above the models, the models above core; no cycles
between sibling packages) are kept."""

import ast
from pathlib import Path

import grimp
from importlinter import api
from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_the_import_contracts_are_kept(capsys):
    code = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert code == 0, report


def test_the_contracts_cover_the_layers_and_cycles():
    contracts = api.read_configuration(str(PYPROJECT))["contracts_options"]
    assert {contract["type"] for contract in contracts} == {"layers", "acyclic_siblings"}
    top, *_, models, bottom = contracts[0]["layers"]
    assert (top, models, bottom) == ("web | api | cli", "models", "core | extensions | config")


def _module_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("portal")
    return {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}


def _loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        loops.append(sorted(group))
    return loops


def test_the_loop_finder_finds_a_loop():
    assert _loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _loops({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_portal_imports_itself_back_through_others():
    """Not even through a package's ``__init__`` or an import kept for type checking."""
    assert _loops(_module_graph()) == []


def _local_imports(path: Path) -> list[str]:
    found = []
    for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and (
                node.level or node.module.startswith("portal")
            ):
                found.append(f"{path}:{node.lineno} {function.name}: from {node.module}")
            elif isinstance(node, ast.Import) and any(
                a.name.startswith("portal") for a in node.names
            ):
                found.append(f"{path}:{node.lineno} {function.name}: import")
    return found


def test_only_the_app_factory_imports_portal_modules_inside_functions():
    """A function-local import hides a dependency from the contracts above; the app factory's
    are the one exception (it is the root: everything it imports lies below it)."""
    package = PYPROJECT.parent / "portal"
    found = [
        line
        for path in sorted(package.rglob("*.py"))
        if path != package / "__init__.py"
        for line in _local_imports(path)
    ]
    assert found == []
    assert _local_imports(package / "__init__.py")  # the check sees them where they are
