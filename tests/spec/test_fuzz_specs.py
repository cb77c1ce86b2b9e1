"""Random and mutated YAML never makes the loader, the validator or ``validate`` raise a traceback.

Only two outcomes are allowed: a valid Stack, or Diagnostics (a SpecError from ``load_stack``).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli import main
from reconciler.errors import SpecError
from reconciler.spec import load_stack

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "spec" / "fixtures" / "retail"
TEXTS = {p.name: p.read_text(encoding="utf-8") for p in sorted(EXAMPLE.glob("*.yaml"))}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextlib.contextmanager
def stack_with(files: dict[str, str | bytes]) -> Iterator[Path]:
    """A temp copy of the example stack with ``files`` replaced."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data").mkdir()
        for extra in ("campaign_report.sql", "data/purchases.csv", "data/impressions.csv"):
            (root / extra).write_bytes((EXAMPLE / extra).read_bytes())
        for name, text in {**TEXTS, **files}.items():
            (root / name).write_bytes(
                text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
            )
        yield root


def assert_clean(root: Path, *, cli: bool = False) -> None:
    """load_stack returns or raises SpecError (every Diagnostic located); the CLI exits 0/1, no bug."""
    try:
        load_stack(root)
    except SpecError as exc:
        assert exc.diagnostics
        assert all(d.location is not None for d in exc.diagnostics)
    if not cli:
        return
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["validate", str(root)])
    assert code in (0, 1)
    assert "bug" not in err.getvalue()


@SETTINGS
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_random_bytes(data: bytes) -> None:
    with stack_with({"random.yaml": data}) as root:
        assert_clean(root, cli=True)


@st.composite
def mutated_text(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(TEXTS)))
    lines = TEXTS[name].splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        op = draw(st.sampled_from(["delete", "duplicate", "char", "indent", "insert", "truncate"]))
        if not lines:
            break
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "char":
            line = lines[i]
            j = draw(st.integers(0, max(len(line) - 1, 0)))
            lines[i] = line[:j] + draw(st.sampled_from(list("-:[]{}&*!|>'\"#%@` \t0aZ"))) + line[j + 1 :]
        elif op == "indent":
            lines[i] = " " * draw(st.integers(1, 4)) + lines[i]
        elif op == "insert":
            lines.insert(i, draw(st.text(max_size=40)) + "\n")
        else:
            lines = lines[:i]
    return name, "".join(lines)


@SETTINGS
@given(mutated_text())
def test_mutated_yaml(case: tuple[str, str]) -> None:
    name, text = case
    with stack_with({name: text}) as root:
        assert_clean(root)


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["", "ANY_QUERY", "retailer", "CUSTOM", "AGGREGATION", "LIST", "purchases", "x" * 300]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from paths(value, (*prefix, i))


@st.composite
def mutated_values(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(TEXTS)))
    documents = list(yaml.safe_load_all(TEXTS[name]))
    d = draw(st.integers(0, len(documents) - 1))
    path = draw(st.sampled_from(list(paths(documents[d]))))
    new = draw(values)
    if not path:
        documents[d] = new
    else:
        parent = documents[d]
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(path[-1])
        else:
            parent[path[-1]] = new
    return name, yaml.safe_dump_all(documents, allow_unicode=True)


@SETTINGS
@given(mutated_values())
def test_mutated_values(case: tuple[str, str]) -> None:
    name, text = case
    with stack_with({name: text}) as root:
        assert_clean(root)
