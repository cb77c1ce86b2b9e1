"""Mermaid rendering of a Picture (GitHub draws it in Markdown: issues, pull requests, READMEs).

A ``flowchart LR`` with one shape per kind of thing (members as stadiums, tables as cylinders,
associations as parallelograms, templates as hexagons) and arrows from dependent to dependency.
With a plan, boxes get the class of their status (create green, update yellow, replace purple,
delete red and dashed) and a ``⚠ weakens privacy`` line.
"""

from __future__ import annotations

from reconciler.gitops.picture import Node, Picture

__all__ = ["SHAPES", "render"]

#: Node kind -> (opening, closing) Mermaid shape brackets.
SHAPES = {
    "collaboration": ("[[", "]]"),
    "member": ("([", "])"),
    "table": ("[(", ")]"),
    "association": ("[/", "/]"),
    "template": ("{{", "}}"),
    "budget": ("[\\", "\\]"),
}
_ICONS = {
    "collaboration": "🤝",
    "member": "👤",
    "table": "🗄️",
    "association": "🔗",
    "template": "📄",
    "budget": "🎚️",
}

#: Status -> Mermaid classDef style.
STYLES = {
    "create": "fill:#dafbe1,stroke:#1a7f37,color:#000",
    "update": "fill:#fff8c5,stroke:#9a6700,color:#000",
    "replace": "fill:#fbefff,stroke:#8250df,color:#000",
    "delete": "fill:#ffebe9,stroke:#cf222e,color:#000,stroke-dasharray:5 5",
}


def _text(text: str) -> str:
    """Text safe inside a quoted Mermaid label (entity codes for quotes and angle brackets)."""
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _label(node: Node) -> str:
    lines = [f"{_ICONS[node.kind]} <b>{_text(node.title)}</b>", *(_text(line) for line in node.lines)]
    if node.status:
        lines.append(f"<i>{node.status}</i>" + (" ⚠ weakens privacy" if node.weakens else ""))
    return "<br/>".join(lines)


def render(picture: Picture, *, direction: str = "LR") -> str:
    """Render a Picture as a Mermaid flowchart.

    Args:
        picture: from ``picture.build``.
        direction: ``LR`` (left to right) or ``TB``.

    Returns:
        Mermaid source ending with a newline (no fences).
    """
    out = [f"flowchart {direction}"]
    for node in picture.nodes:
        opening, closing = SHAPES[node.kind]
        out.append(f'  {node.id}{opening}"{_label(node)}"{closing}')
    for edge in picture.edges:
        out.append(f'  {edge.dependent} -->|"{_text(edge.label)}"| {edge.dependency}')
    used = sorted({n.status for n in picture.nodes if n.status})
    for status in used:
        out.append(f"  classDef {status} {STYLES[status]}")
        out.append(f"  class {','.join(n.id for n in picture.nodes if n.status == status)} {status}")
    return "\n".join(out) + "\n"
