"""The CLI starts without its heavy dependencies: a structural guard, not a timing test.

``reconciler --help`` must not import boto3, botocore, sqlglot, DuckDB, networkx or pydantic
(each adds tens to hundreds of milliseconds to every start, completion and pre-commit hook);
the help's one-line summaries, kept in ``COMMAND_MODULES`` so that no command is imported to
print them, must say what each command's own docstring says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from reconciler.cli import COMMAND_MODULES, cli

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("boto3", "botocore", "sqlglot", "duckdb", "networkx", "pydantic", "numpy", "rich", "deepdiff")

#: Runs the CLI with ``argv``, then prints which of HEAVY were imported (as JSON, on stderr's last line).
PROBE = """
import json, sys
from reconciler.cli import main
try:
    code = main(sys.argv[1:])
finally:  # completion leaves through SystemExit
    print(json.dumps(sorted(m for m in %r if m in sys.modules)), file=sys.stderr)
sys.exit(code)
"""


def imported_by(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    return done.returncode, done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


def test_help_imports_none_of_the_heavy_dependencies() -> None:
    code, out, heavy = imported_by("--help")
    assert code == 0
    assert heavy == []
    for name in COMMAND_MODULES:  # every command is listed although none was imported
        assert f"\n  {name} " in out


def test_the_probe_does_see_an_import() -> None:
    """The guard above can fail: validating a stack with templates parses their SQL with sqlglot."""
    code, _, heavy = imported_by("validate", "specs/retail-adtech")
    assert code == 0
    assert "sqlglot" in heavy


@pytest.mark.parametrize("name", sorted(COMMAND_MODULES))
def test_the_listed_help_is_the_commands_own(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.name == name
    assert COMMAND_MODULES[name][1] == command.get_short_help_str(limit=1000)


def test_every_command_module_is_listed() -> None:
    modules = {p.stem for p in (ROOT / "reconciler" / "cli").glob("*.py")}
    helpers = {"__init__", "console", "complete"}
    assert modules - helpers == {module for module, _ in COMMAND_MODULES.values()}


def test_command_names_complete_without_importing_the_commands() -> None:
    code, out, heavy = imported_by(
        env={"_RECONCILER_COMPLETE": "bash_complete", "COMP_WORDS": "reconciler va", "COMP_CWORD": "1"}
    )
    assert "plain,validate" in out.splitlines()
    assert heavy == []


@pytest.mark.parametrize("service", ["cleanrooms", "cleanroomsml"])
def test_the_model_read_without_a_session_is_the_sessions(service: str) -> None:
    """``aws_model`` reads botocore's model with the loader alone: the same model a session gives."""
    import botocore.session

    from reconciler.aws_model import service_model

    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    assert (
        service_model(service)._service_description == session.get_service_model(service)._service_description
    )


@pytest.mark.parametrize("service", ["cleanrooms", "cleanroomsml"])
def test_every_light_shape_says_what_botocores_says(service: str) -> None:
    """``aws_model.model_shape`` (the spec's limits, without importing botocore) agrees with botocore."""
    from reconciler.aws_model import model_shape, service_model

    real = service_model(service)
    assert real.shape_names
    for name in real.shape_names:
        ours, theirs = model_shape(name, service), real.shape_for(name)
        assert (ours.name, ours.type_name, ours.metadata) == (theirs.name, theirs.type_name, theirs.metadata)
        if theirs.type_name == "structure":
            assert {k: v.name for k, v in ours.members.items()} == {
                k: v.name for k, v in theirs.members.items()
            }
            assert list(ours.members) == list(theirs.members)
            assert ours.required_members == theirs.required_members
        elif theirs.type_name == "list":
            assert ours.member.name == theirs.member.name
        elif theirs.type_name == "map":
            assert (ours.key.name, ours.value.name) == (theirs.key.name, theirs.value.name)
        elif theirs.type_name == "string":
            assert ours.enum == theirs.enum


def test_validate_reads_the_model_without_botocore() -> None:
    code, _, heavy = imported_by("validate", "specs/retail-adtech")
    assert code == 0
    assert not {"botocore", "boto3", "duckdb", "networkx"} & set(heavy)
