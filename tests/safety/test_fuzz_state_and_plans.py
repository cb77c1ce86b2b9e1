"""Fuzz: hostile state files, plan files and command lines never produce a traceback or a change.

Each example runs the real CLI in-process (``reconciler.cli.main``) in a scratch directory with
the emulator's database; "a traceback" is the CLI's bug report (``this is a bug``). Hostile specs
(alias bombs, deep nesting, huge files, non-UTF-8) are checked against ``plan`` and ``apply``:
a clear error and an untouched backend.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import SPECS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safety_helpers import census

from reconciler.cli import main
from reconciler.emulator.faults import ENV_VAR

STACK = "retail-adtech"
ACCOUNTS = ["123456789012", "987654321098"]
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(autouse=True)
def _no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials and no instance metadata: nothing can reach AWS, even by accident."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", ENV_VAR):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n" * 10))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Two scratch directories made once: the stack planned but not applied, and applied."""
    root = tmp_path_factory.mktemp("pristine")
    out = {}
    for label in ("planned", "applied"):
        work = root / label
        shutil.copytree(SPECS / STACK, work / "specs" / STACK)
        with _chdir(work), _quiet():
            assert main(["plan", f"specs/{STACK}", "--out", "plan.json"]) == 0
            if label == "applied":
                assert main(["apply", f"specs/{STACK}", "--auto-approve"]) == 0
        out[label] = work
    yield out


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        yield err


@contextlib.contextmanager
def scratch(source: Path) -> Iterator[Path]:
    """A throwaway copy of a pristine directory, as the current directory."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        work = Path(tmp) / "w"
        shutil.copytree(source, work)
        with _chdir(work):
            yield work


def cli(*args: str) -> tuple[int, str]:
    """Run the CLI; fail the test on a traceback. Returns (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(list(args))
    text = err.getvalue()
    assert "Traceback" not in text and "this is a bug" not in text, f"{args}: {text}"
    assert code in (0, 1, 2), (args, code, text)
    return code, text


# -- state files ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)

resource_entries = st.fixed_dictionaries(
    {},
    optional={
        "address": st.sampled_from(
            ["collaboration.x", "configured_table.retailer.purchases", "bogus", "member.a", "", "a.b.c.d"]
        )
        | st.text(max_size=30),
        "id": json_values,
        "arn": json_values,
        "owner": json_values,
        "accountId": json_values,
        "attributes": json_values,
    },
)

state_documents = st.one_of(
    st.binary(max_size=200).map(lambda b: b),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda entries: json.dumps({"formatVersion": 1, "entries": entries}).encode(),
        st.dictionaries(
            st.sampled_from([f"local/{STACK}", "aws/x", "local/other"]),
            st.one_of(
                json_values, st.builds(lambda rs: {"resources": rs}, st.lists(resource_entries, max_size=4))
            ),
            max_size=2,
        ),
    ),
)


@FUZZ
@given(document=state_documents)
def test_state_files(pristine: dict[str, Path], document: bytes) -> None:
    with scratch(pristine["applied"]) as work:
        before = census(work, ACCOUNTS)
        (work / ".reconciler" / "state.json").write_bytes(document)
        cli("state", "list", f"specs/{STACK}")
        cli("state", "show", "configured_table.retailer.purchases", f"specs/{STACK}")
        code, err = cli("plan", f"specs/{STACK}", "--detailed-exitcode")
        assert code == 0, err  # the cache is never the truth: no changes
        assert census(work, ACCOUNTS) == before


# -- plan files ----------------------------------------------------------------------------------


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*prefix, i))
    return out


@st.composite
def mutated_plans(draw: st.DrawFn, plan: dict[str, Any]) -> bytes:
    """A valid plan document with a few nodes replaced, deleted, or the bytes cut short."""
    how = draw(st.sampled_from(["replace", "delete", "truncate", "bytes"]))
    text = json.dumps(plan)
    if how == "truncate":
        return text.encode()[: draw(st.integers(0, len(text) - 1))]
    if how == "bytes":
        return draw(st.binary(max_size=300))
    doc = copy.deepcopy(plan)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)[1:]))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if how == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
        if how == "delete":
            break
    return json.dumps(doc).encode()


@pytest.fixture(scope="module")
def planned_doc(pristine: dict[str, Path]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((pristine["planned"] / "plan.json").read_text())
    return doc


@FUZZ
@given(data=st.data())
def test_plan_files(pristine: dict[str, Path], planned_doc: dict[str, Any], data: st.DataObject) -> None:
    """A damaged plan is refused with nothing changed; one that is still the same plan applies fully."""
    document = data.draw(mutated_plans(planned_doc))
    with scratch(pristine["planned"]) as work:
        (work / "plan.json").write_bytes(document)
        code, err = cli("apply", "plan.json", "--auto-approve", "--stack", f"specs/{STACK}")
        held = census(work, ACCOUNTS)
        if code != 0:
            assert held == {}, f"a refused plan changed the backend: {err}"
        else:
            assert cli("plan", f"specs/{STACK}", "--detailed-exitcode")[0] == 0


# -- command lines -------------------------------------------------------------------------------

WORDS = [
    "plan", "apply", "drift", "destroy", "validate", "state", "list", "show", "rebuild", "unlock",
    "import", "review", "graph", "budget", "query", "schema", f"specs/{STACK}", "specs/nope", "plan.json",
    "bad.json", "nonutf8.yaml", "--backend", "local", "--format", "json", "text", "markdown", "--out",
    "--detailed-exitcode", "--lock-timeout", "-1", "0", "1e9", "--break-lock", "--auto-approve",
    "--allow-destroy", "--parallelism", "0", "65", "--stack", "--force", "--as", "retailer", "nobody",
    "configured_table.retailer.purchases", "collaboration.", "--", "-h", "--help", "--version",
]  # fmt: skip


@FUZZ
@given(args=st.lists(st.sampled_from(WORDS) | st.text(max_size=12), min_size=1, max_size=6))
def test_command_lines(pristine: dict[str, Path], args: list[str]) -> None:
    if args[0] == "demo" or any("aws" in a for a in args):
        return
    with scratch(pristine["applied"]) as work:
        (work / "bad.json").write_text("{]")
        (work / "nonutf8.yaml").write_bytes(b"kind: \xff\xfe\n")
        cli(*args)


# -- hostile specs -------------------------------------------------------------------------------

HOSTILE = {
    "alias-bomb": "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{b}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}]\n" for a, b in zip("abcdefghi", "bcdefghij", strict=True))  # noqa: E501
    + "kind: Collaboration\n",
    "deep-nesting": "kind: Collaboration\nname: " + "[" * 5000 + "]" * 5000 + "\n",
    "non-utf8": b"kind: Collaboration\nname: caf\xe9\n",
    "huge": "kind: Collaboration\ndescription: " + "x" * 2_000_000 + "\n",
    "not-a-mapping": "- just\n- a list\n",
    "tabs-and-nul": "kind:\tCollaboration\n\x00\n",
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_specs_get_a_clear_error_and_change_nothing(pristine: dict[str, Path], case: str) -> None:
    with scratch(pristine["applied"]) as work:
        before = census(work, ACCOUNTS)
        content = HOSTILE[case]
        target = work / "specs" / STACK / "zz-hostile.yaml"
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
        for args in (["plan", f"specs/{STACK}"], ["apply", f"specs/{STACK}", "--auto-approve"]):
            code, err = cli(*args)
            assert code == 1 and "error" in err, err
        # A saved plan made before the spec broke is refused too (the spec cannot be read).
        code, err = cli("apply", "plan.json", "--auto-approve", "--stack", f"specs/{STACK}")
        assert code == 1
        assert census(work, ACCOUNTS) == before


def test_unreadable_local_data_is_a_clear_error(pristine: dict[str, Path]) -> None:
    with scratch(pristine["applied"]) as work:
        data = work / "specs" / STACK / "data" / "purchases.csv"
        data.write_bytes(b"\xff\xfe\x00garbage,\x00\n\x01")
        code, err = cli("query", f"specs/{STACK}", "--as", "retailer", "SELECT COUNT(*) FROM purchases")
        assert code == 1, err
        data.unlink()
        data.mkdir()
        code, err = cli("plan", f"specs/{STACK}")
        assert code in (0, 1), err


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
