"""reconciler graph: the Mermaid and DOT pictures say the same as the planner's dependency graph."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import networkx as nx
import pytest
from cli_helpers import ROOT, SPECS, STACKS, run
from gitops_helpers import CLASS, EDGE, NODE, edit

from reconciler.gitops import picture
from reconciler.planner import desired, diff
from reconciler.planner.addresses import Kind
from reconciler.render import dot, mermaid
from reconciler.spec import load_stack

Capsys = pytest.CaptureFixture[str]


def parse(source: str) -> tuple[dict[str, str], list[tuple[str, str, str]], dict[str, set[str]]]:
    """Nodes (id -> label), edges (dependent, label, dependency) and classes of a Mermaid flowchart."""
    lines = source.splitlines()
    assert lines[0] == "flowchart LR"
    nodes: dict[str, str] = {}
    edges, classes = [], {}
    for line in lines[1:]:
        if m := NODE.match(line):
            assert m.group(1) not in nodes, f"node {m.group(1)} declared twice"
            nodes[m.group(1)] = m.group(3)
        elif m := EDGE.match(line):
            edges.append((m.group(1), m.group(2), m.group(3)))
        elif m := CLASS.match(line):
            classes[m.group(2)] = set(m.group(1).split(","))
        else:
            assert line.startswith("  classDef "), f"unparsed line: {line!r}"
    return nodes, edges, classes


@pytest.mark.parametrize("name", STACKS)
def test_mermaid_structure_matches_the_stack(name: str) -> None:
    stack = load_stack(SPECS / name)
    drawn = picture.build(stack)
    nodes, edges, classes = parse(mermaid.render(drawn))
    assert classes == {}  # no plan, no colours
    titles = [label.split("<br/>")[0] for label in nodes.values()]
    members = {k for c in stack.collaborations for k in c.members}
    for key in members:
        assert sum(t.startswith(f"👤 <b>{key} · ") for t in titles) == 1, key
    for table in stack.configured_tables:
        assert sum(t == f"🗄️ <b>{table.name} ({table.owner})</b>" for t in titles) == 1
        for assoc in table.associations:
            assert sum(t == f"🔗 <b>{assoc.name}</b>" and f"in {assoc.collaboration}" in label
                       for t, label in zip(titles, nodes.values(), strict=True)) == 1  # fmt: skip
    for template in stack.analysis_templates:
        assert sum(t == f"📄 <b>{template.name}</b>" for t in titles) == 1
    # every edge points from a dependent to one of its dependencies in the planner's graph
    resources = desired.resources(stack)
    graph = diff.dependency_graph(resources)
    by_node = {n.id: n.addresses for n in drawn.nodes}
    for dependent, label, dependency in edges:
        assert dependent in nodes and dependency in nodes
        if label == "owned by" and dependent.startswith("table_"):
            owner = by_node[dependent][0].part("owner")
            assert dependency == f"member_{owner}"
            continue
        assert any(b in graph.dependencies(a) for a in by_node[dependent] for b in by_node[dependency]), (
            dependent,
            label,
            dependency,
        )
    g = nx.DiGraph([(a, b) for a, _, b in edges])
    assert nx.is_directed_acyclic_graph(g)
    # members hang off their collaboration, associations off their table
    assert all(
        any(d == a and lbl == "member of" for d, lbl, _ in edges) for a in nodes if a.startswith("member_")
    )
    assert all(
        any(d == a and lbl == "shares" for d, lbl, _ in edges) for a in nodes if a.startswith("assoc_")
    )


def test_labels_carry_abilities_payer_and_thresholds() -> None:
    nodes, _, _ = parse(mermaid.render(picture.build(load_stack(SPECS / "retail-adtech"))))
    assert "CAN_QUERY, CAN_RECEIVE_RESULTS<br/>pays for queries" in nodes["member_retailer"]
    assert "rule CUSTOM<br/>≥ 25 distinct hashed_email" in nodes["table_retailer_purchases"]


def test_dot_has_the_same_nodes_and_edges() -> None:
    drawn = picture.build(load_stack(SPECS / "amc-multiparty"))
    source = dot.render(drawn, name="amc")
    assert source.startswith('digraph "amc" {') and source.rstrip().endswith("}")
    declared = re.findall(r"^  (\w+) \[shape=", source, re.M)
    assert declared == [n.id for n in drawn.nodes]
    arrows = re.findall(r'^  (\w+) -> (\w+) \[label="([^"]*)"\];$', source, re.M)
    assert arrows == [(e.dependent, e.dependency, e.label) for e in drawn.edges]


def test_graph_command_colours_what_a_plan_changes(
    tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(SPECS / "retail-adtech", tmp_path / "specs" / "retail-adtech")
    assert run(capsys, "plan", "specs/retail-adtech", "--out", "plan.json")[0] == 0
    code, out, _ = run(capsys, "graph", "specs/retail-adtech", "--plan", "plan.json")
    assert code == 0
    nodes, _, classes = parse(out)
    assert set(classes) == {"create"} and classes["create"] == set(nodes)
    assert all("<i>create</i>" in label for label in nodes.values())
    # after apply, a changed threshold colours only its table, marked as weakening
    assert run(capsys, "apply", "plan.json", "--auto-approve")[0] == 0
    edit(
        tmp_path / "specs/retail-adtech/purchases.yaml", "minimumIdentityCount: 25", "minimumIdentityCount: 5"
    )
    assert run(capsys, "plan", "specs/retail-adtech", "--out", "plan.json", "--overwrite")[0] == 0
    code, out, _ = run(capsys, "graph", "specs/retail-adtech", "--plan", "plan.json", "--format", "mermaid")
    nodes, _, classes = parse(out)
    assert classes == {"update": {"table_retailer_purchases"}}
    assert "<i>update</i> ⚠ weakens privacy" in nodes["table_retailer_purchases"]
    code, out, _ = run(capsys, "graph", "specs/retail-adtech", "--plan", "plan.json", "--format", "dot")
    assert code == 0 and 'fillcolor="#fff8c5"' in out


def test_graph_of_an_invalid_stack_is_an_error(tmp_path: Path, capsys: Capsys) -> None:
    target = tmp_path / "s"
    shutil.copytree(SPECS / "retail-adtech", target)
    edit(target / "purchases.yaml", "owner: retailer", "owner: nobody")
    code, out, err = run(capsys, "graph", str(target))
    assert code == 1 and out == "" and 'unknown member "nobody"' in err


def test_member_kinds_collapse_into_one_node() -> None:
    drawn = picture.build(load_stack(SPECS / "org-a-org-b"))
    member = next(n for n in drawn.nodes if n.id == "member_org_a")
    assert {a.kind for a in member.addresses} == {Kind.MEMBER, Kind.MEMBERSHIP}


def test_readme_shows_the_current_diagram_of_retail_adtech(capsys: Capsys) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- section: review -->")[1].split("<!-- end section: review -->")[0]
    shown = section.split("```mermaid\n")[1].split("```")[0]
    code, out, _ = run(capsys, "graph", str(SPECS / "retail-adtech"))
    assert code == 0 and shown == out
    parse(shown)
