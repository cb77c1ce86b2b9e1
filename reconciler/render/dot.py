"""Graphviz DOT rendering of a Picture (``reconciler graph --format dot | dot -Tsvg``).

Same boxes and arrows as ``render.mermaid``: one shape per kind, arrows from dependent to
dependency, and with a plan a fill colour per status (deleted things dashed).
"""

from __future__ import annotations

import json

from reconciler.gitops.picture import Node, Picture

__all__ = ["SHAPES", "render"]

#: Node kind -> Graphviz shape.
SHAPES = {
    "collaboration": "box3d",
    "member": "ellipse",
    "table": "cylinder",
    "association": "parallelogram",
    "template": "hexagon",
    "budget": "octagon",
}
#: Status -> (fill colour, line style).
COLOURS = {
    "create": ("#dafbe1", "solid"),
    "update": ("#fff8c5", "solid"),
    "replace": ("#fbefff", "solid"),
    "delete": ("#ffebe9", "dashed"),
}


def _quote(text: str) -> str:
    """A DOT double-quoted string (JSON escaping is a subset DOT reads the same way)."""
    return json.dumps(text, ensure_ascii=False)


def _attrs(node: Node) -> str:
    lines = [node.title, *node.lines]
    if node.status:
        lines.append(node.status + (" (weakens privacy)" if node.weakens else ""))
    attrs = {"shape": SHAPES[node.kind], "label": "\n".join(lines)}
    if node.status:
        fill, style = COLOURS[node.status]
        attrs |= {"style": f"filled,{style}", "fillcolor": fill}
    if node.weakens:
        attrs |= {"color": "#cf222e", "penwidth": "2"}
    return ", ".join(f"{k}={_quote(v)}" for k, v in attrs.items())


def render(picture: Picture, *, name: str = "stack") -> str:
    """Render a Picture as a DOT digraph.

    Args:
        picture: from ``picture.build``.
        name: the graph's name.

    Returns:
        DOT source ending with a newline.
    """
    out = [f"digraph {_quote(name)} {{", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];',
           '  edge [fontname="Helvetica", fontsize=9];']  # fmt: skip
    out += [f"  {node.id} [{_attrs(node)}];" for node in picture.nodes]
    out += [f"  {e.dependent} -> {e.dependency} [label={_quote(e.label)}];" for e in picture.edges]
    out.append("}")
    return "\n".join(out) + "\n"
