"""The YAML loader: positions of every key and value, and hostile input as Diagnostics."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.spec.load import MAX_ALIAS_NODES, MAX_DEPTH, load_file


def load(tmp_path: Path, text: str | bytes) -> tuple[list, list]:  # type: ignore[type-arg]
    path = tmp_path / "a.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return load_file(path)


def test_positions_of_keys_values_and_list_items(tmp_path: Path) -> None:
    docs, diags = load(
        tmp_path,
        "kind: ConfiguredTable\nname: t\nallowedColumns:\n  - a\n  - b\n"
        "tableReference:\n  glue: {databaseName: d}\n",
    )
    assert diags == []
    (doc,) = docs
    assert doc.positions[("name",)] == (2, 1, 2, 7)
    assert doc.positions[("allowedColumns", 1)] == (5, 5, 5, 5)
    assert doc.positions[("tableReference", "glue", "databaseName")] == (7, 10, 7, 24)
    assert str(doc.locate(("tableReference", "glue"))).endswith("a.yaml:7:3")
    # an absent path points at the key of its nearest present parent
    assert str(doc.locate(("tableReference", "glue", "tableName"))).endswith("a.yaml:7:3")


def test_multi_document_files_keep_document_index_and_skip_empty_documents(tmp_path: Path) -> None:
    docs, diags = load(tmp_path, "kind: A\n---\n---\nkind: B\nx: 1\n")
    assert diags == []
    assert [(d.index, d.data["kind"]) for d in docs] == [(0, "A"), (2, "B")]
    assert docs[1].positions[("x",)] == (5, 1, 5, 4)


def test_duplicate_key_reports_both_positions(tmp_path: Path) -> None:
    _, diags = load(tmp_path, "kind: A\nname: x\nother: 1\nname: y\n")
    (d,) = diags
    assert (d.location.line, d.location.column) == (4, 1)  # type: ignore[union-attr]
    assert d.summary == 'duplicate key "name"'
    assert "a.yaml:2:1" in d.hint


def test_non_utf8_bytes_point_at_the_bad_byte(tmp_path: Path) -> None:
    docs, diags = load(tmp_path, b"kind: A\nname: caf\xe9\n")
    assert docs == []
    (d,) = diags
    assert "not valid UTF-8 (byte 0xe9)" in d.summary
    assert (d.location.line, d.location.column) == (2, 10)  # type: ignore[union-attr]


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    docs, diags = load(tmp_path, "kind: A\n" + "\n".join(lines) + "\n")
    assert docs == []
    (d,) = diags
    assert f"more than {MAX_ALIAS_NODES:,} nodes" in d.summary


def test_small_aliases_and_merge_keys_work(tmp_path: Path) -> None:
    docs, diags = load(tmp_path, "kind: A\nbase: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nlist: [*b, *b]\n")
    assert diags == []
    assert docs[0].data["use"] == {"x": 1, "y": 3}
    assert docs[0].data["list"] == [{"x": 1, "y": 2}, {"x": 1, "y": 2}]


@pytest.mark.parametrize("depth", [MAX_DEPTH, 100_000])  # libyaml's own composer segfaults on 100,000
def test_deep_flow_nesting_is_refused_where_it_crosses_the_limit(tmp_path: Path, depth: int) -> None:
    # Past ~1,000 flow levels the YAML scanner stops first (in its own words): the loader still
    # reports its own limit, at the bracket that crossed it.
    docs, diags = load(tmp_path, "kind: A\nx: " + "[" * depth + "]" * depth + "\n")
    assert docs == []
    (d,) = diags
    assert d.summary == f"the document is nested deeper than {MAX_DEPTH} levels"
    # the document is level 1, so bracket number MAX_DEPTH is the level too many
    assert (d.location.line, d.location.column) == (2, len("x: ") + MAX_DEPTH)
    assert d.code == "yaml" and "runaway brackets" in d.hint


def test_deep_block_nesting_is_refused_at_the_limit(tmp_path: Path) -> None:
    text = "kind: A\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * 70 + "end: 1\n"
    docs, diags = load(tmp_path, text)
    assert docs == []
    (d,) = diags
    assert d.summary == f"the document is nested deeper than {MAX_DEPTH} levels"
    assert d.location.line == MAX_DEPTH + 2  # level n starts on line n + 1: the document is line 1


def test_brackets_inside_quotes_and_comments_are_not_nesting(tmp_path: Path) -> None:
    deep = "[" * (MAX_DEPTH + 1)
    docs, diags = load(tmp_path, f"kind: A\nx: '{deep}'\ny: \"{deep}\"  # {deep}\n")
    assert diags == [] and docs[0].data["x"] == deep


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "a document must be a mapping with a `kind:` key, not a list"),
        ("just text\n", "not a string"),
        ("kind: A\nx: [1, 2\n", "invalid YAML"),
        (
            "kind: A\nx: !!python/object:os.system ls\n",
            'unsupported YAML tag "tag:yaml.org,2002:python/object:os.system"',
        ),
        ("kind: A\n? [a, b]\n: c\n", "a mapping key must be a plain value"),
        ("kind: A\nx: *nowhere\n", 'unknown alias "*nowhere"'),
        ("kind: A\nx: \x00\n", "invalid YAML"),
    ],
)
def test_hostile_documents_become_diagnostics(tmp_path: Path, text: str, message: str) -> None:
    _, diags = load(tmp_path, text)
    assert diags, text
    assert any(message in d.summary for d in diags), [d.summary for d in diags]
    assert all(d.location is not None and d.location.line >= 1 for d in diags)
