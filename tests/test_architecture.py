"""The layers the folder list names hold: import-linter's contracts in pyproject.toml (pages, API
and CLI above the domain packages, those above the models, the models above core; no cycles
between sibling packages) are kept."""

from pathlib import Path

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
