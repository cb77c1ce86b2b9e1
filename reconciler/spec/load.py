"""YAML files -> plain data plus the ``file:line:col`` of every key and value; nothing else.

The loader reads libyaml's event stream (the C parser when available, PyYAML's SafeLoader
otherwise: same YAML 1.1 safe schema) and composes documents itself, iteratively, so that it can
refuse hostile input with a Diagnostic instead of a traceback or a crash:

- bytes that are not UTF-8, and files over ``MAX_FILE_BYTES``;
- nesting deeper than ``MAX_DEPTH`` (libyaml's own composer recurses and can crash);
- anchors and aliases that expand to more than ``MAX_ALIAS_NODES`` nodes (a "billion laughs");
- duplicate keys (both positions are shown), non-scalar keys, unknown tags, non-mapping documents.

It knows nothing about the spec's models: ``reconciler.spec.shape`` turns the data into models.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler.errors import Diagnostic, SourceLocation

__all__ = [
    "CODES",
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "RawDocument",
    "YamlPath",
    "discover",
    "display_path",
    "dotted",
    "load_file",
]

#: The Diagnostic codes this layer (0: YAML) makes: (code, severity, what it catches, the fix),
#: listed in the README's table of checks (``spec.catalog``).
CODES: tuple[tuple[str, str, str, str], ...] = (
    ("encoding", "error", "a file that is not UTF-8", "save the file as UTF-8"),
    ("file", "error", "a file that cannot be read", "check the path and permissions"),
    (
        "yaml",
        "error",
        "invalid YAML, duplicate keys, unknown tags, alias bombs, nesting deeper than 64 levels",
        "fix the YAML at the position given",
    ),
    ("document", "error", "a document that is not a mapping", "start each document with `kind:`"),
)

#: A path into a document: mapping keys and list indexes, e.g. ``("associations", 0, "roleArn")``.
YamlPath = tuple[str | int, ...]

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
MAX_ALIAS_NODES = 100_000

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_CONTAINER_TAGS = {None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap"}


@dataclass(slots=True)
class RawDocument:
    """One YAML document: its data and where each part of it came from.

    Args:
        path: the file it was read from.
        display: the file as messages show it (relative to the current directory when possible).
        index: the document's position in its file (0-based).
        data: the composed data (dicts, lists, scalars).
        positions: ``YamlPath -> (key line, key column, value line, value column)``, 1-based; for
            containers and list items the "value" position is where the entry starts.
    """

    path: Path
    display: str
    index: int
    data: Any = None
    positions: dict[YamlPath, tuple[int, int, int, int]] = field(default_factory=dict)

    def locate(self, path: YamlPath, *, key: bool = False) -> SourceLocation:
        """Where ``path`` is in the file; a path that is absent points at its nearest present parent.

        Args:
            path: the path inside this document.
            key: point at the key of a mapping entry rather than its value.

        Returns:
            The SourceLocation (the document's start when nothing of the path exists).
        """
        positions = self.positions
        pos = positions.get(path)
        if pos is not None:
            return (
                SourceLocation(self.display, pos[0], pos[1])
                if key
                else SourceLocation(self.display, pos[2], pos[3])
            )
        for cut in range(len(path) - 1, -1, -1):
            pos = positions.get(path[:cut])
            if pos is not None:
                return SourceLocation(self.display, pos[0], pos[1])
        return SourceLocation(self.display, 1, 1)


def dotted(path: YamlPath) -> str:
    """A YAML path as messages show it: ``members.retailer.abilities[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def display_path(path: Path) -> str:
    """``path`` relative to the current directory when it is inside it, else as given."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


#: Files of a stack directory that are not spec documents (``reconciler.spec.policy`` reads them).
NOT_SPEC_FILES = frozenset({"policy.yaml", "policy.yml"})


def discover(stack: Path) -> list[Path]:
    """The YAML files of a stack: the ``*.yaml`` / ``*.yml`` files of a directory, or one file.

    Args:
        stack: a stack directory (not searched recursively) or a single YAML file.

    Returns:
        The files, sorted by name.
    """
    if stack.is_dir():
        return sorted(
            p
            for p in stack.iterdir()
            if p.suffix in (".yaml", ".yml") and p.is_file() and p.name not in NOT_SPEC_FILES
        )
    return [stack]


class _Abort(Exception):
    """A document cannot be composed any further (the Diagnostic says why)."""

    def __init__(self, diagnostic: Diagnostic, *, fatal: bool = False) -> None:
        super().__init__(diagnostic.summary)
        self.diagnostic = diagnostic
        self.fatal = fatal  # also stop reading the file: parsing the rest could take very long


@dataclass(slots=True)
class _Frame:
    """A container being composed: its data, path, and (for mappings) the key awaiting a value."""

    obj: Any
    path: YamlPath
    size: int = 1
    key: Any = None
    key_pos: tuple[int, int] = (0, 0)
    has_key: bool = False
    merges: list[tuple[Any, tuple[int, int]]] | None = None


class _Composer:
    """Builds RawDocuments from a YAML event stream without recursion."""

    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display
        self.diagnostics: list[Diagnostic] = []
        self.documents: list[RawDocument] = []

    def loc(self, line: int, col: int) -> SourceLocation:
        return SourceLocation(self.display, line, col)

    def error(self, pos: tuple[int, int], summary: str, hint: str = "", code: str = "yaml") -> Diagnostic:
        return Diagnostic(summary, self.loc(*pos), hint=hint, code=code)

    def run(self, events: Iterator[Any]) -> None:
        index = 0
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                try:
                    self.document(events, index)
                except _Abort as abort:
                    self.diagnostics.append(abort.diagnostic)
                    if abort.fatal:
                        return
                    for rest in events:  # skip to the end of the broken document
                        if isinstance(rest, yaml.DocumentEndEvent):
                            break
                index += 1

    def document(self, events: Iterator[Any], index: int) -> None:
        doc = RawDocument(self.path, self.display, index)
        positions = doc.positions
        anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (data, node count once closed)
        open_anchors: dict[int, str] = {}  # id(container) -> its anchor, until the container closes
        stack: list[_Frame] = []
        alias_nodes = 0
        root_set = False

        def attach(value: Any, pos: tuple[int, int], size: int, container: bool) -> YamlPath | None:
            nonlocal root_set
            if not stack:
                doc.data = value
                root_set = True
                positions[()] = (*pos, *pos)
                return ()
            top = stack[-1]
            top.size += size
            if isinstance(top.obj, list):
                path = (*top.path, len(top.obj))
                top.obj.append(value)
                positions[path] = (*pos, *pos)
                return path
            if not top.has_key:
                raise _Abort(self.error(pos, "a mapping key must be a plain value, not a list or mapping"))
            key, key_pos = top.key, top.key_pos
            top.has_key = False
            if key is _MERGE:
                top.merges = (top.merges or []) + [(value, key_pos)]
                return None
            path = (*top.path, key)
            if key in top.obj:
                first = positions[path]
                self.diagnostics.append(
                    self.error(
                        key_pos,
                        f'duplicate key "{key}"',
                        hint=f"it is already defined at {self.loc(first[0], first[1])}; keep one of them",
                    )
                )
            top.obj[key] = value
            positions[path] = (*key_pos, *(key_pos if container else pos))
            return path

        for event in events:
            pos = (event.start_mark.line + 1, event.start_mark.column + 1) if event.start_mark else (1, 1)
            if isinstance(event, yaml.ScalarEvent):
                if stack and isinstance(stack[-1].obj, dict) and not stack[-1].has_key:
                    top = stack[-1]
                    top.key = self.key(event, pos)
                    top.key_pos = pos
                    top.has_key = True
                    top.size += 1
                    continue
                value = self.scalar(event, pos)
                attach(value, pos, 1, False)
                if event.anchor:
                    anchors[event.anchor] = (value, 1)
            elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise _Abort(_too_deep(self.loc(*pos)), fatal=True)
                if event.tag not in _CONTAINER_TAGS:
                    self.diagnostics.append(self.error(pos, f'unsupported YAML tag "{event.tag}"'))
                obj: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
                parent_path = stack[-1].path if stack else ()
                path = attach(obj, pos, 0, True)
                stack.append(_Frame(obj, path if path is not None else (*parent_path, "<<")))
                if event.anchor:
                    anchors[event.anchor] = (obj, 0)
                    open_anchors[id(obj)] = event.anchor
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                frame = stack.pop()
                if frame.merges:
                    self.merge(frame, positions)
                if stack:
                    stack[-1].size += frame.size
                name = open_anchors.pop(id(frame.obj), None)
                if name is not None:
                    anchors[name] = (frame.obj, frame.size)
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    raise _Abort(
                        self.error(pos, f'unknown alias "*{event.anchor}"', hint="define the anchor first")
                    )
                value, size = anchors[event.anchor]
                alias_nodes += max(size, 1)
                if alias_nodes > MAX_ALIAS_NODES:
                    raise _Abort(
                        self.error(
                            pos,
                            f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} nodes",
                            hint="this looks like an alias bomb; write the data out or use fewer aliases",
                        )
                    )
                if stack and isinstance(stack[-1].obj, dict) and not stack[-1].has_key:
                    raise _Abort(self.error(pos, "an alias cannot be used as a mapping key"))
                attach(value, pos, size, isinstance(value, dict | list))
            elif isinstance(event, yaml.DocumentEndEvent):
                break
        if root_set and doc.data is not None:
            if isinstance(doc.data, dict):
                self.documents.append(doc)
            else:
                self.diagnostics.append(
                    self.error(
                        (positions[()][0], positions[()][1]),
                        f"a document must be a mapping with a `kind:` key, not {_describe(doc.data)}",
                        code="document",
                    )
                )

    def merge(self, frame: _Frame, positions: dict[YamlPath, tuple[int, int, int, int]]) -> None:
        """Apply YAML merge keys (``<<: *defaults``): explicit keys win over merged ones."""
        for value, key_pos in frame.merges or []:
            sources = value if isinstance(value, list) else [value]
            for source in sources:
                if not isinstance(source, dict):
                    self.diagnostics.append(
                        self.error(key_pos, "a merge key (<<) needs a mapping or list of mappings")
                    )
                    continue
                for key, item in source.items():
                    if key not in frame.obj:
                        frame.obj[key] = item
                        positions[(*frame.path, key)] = (*key_pos, *key_pos)

    def key(self, event: Any, pos: tuple[int, int]) -> Any:
        """Mapping keys are taken as written (``123:`` is the key "123"), except merge keys."""
        if event.tag is None and event.implicit[0] and event.value == "<<":
            return _MERGE
        return event.value

    def scalar(self, event: Any, pos: tuple[int, int]) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        if tag == _STR_TAG:
            return event.value
        constructor = _CONSTRUCTOR.yaml_constructors.get(tag)
        if constructor is None or tag == _MERGE_TAG:
            raise _Abort(self.error(pos, f'unsupported YAML tag "{tag}"', hint="remove the tag"))
        try:
            return constructor(_CONSTRUCTOR, yaml.ScalarNode(tag, event.value))
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            raise _Abort(
                self.error(pos, f'cannot read "{event.value}" as {tag.rsplit(":", 1)[-1]}: {exc}')
            ) from None


_MERGE = object()


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def load_file(path: Path) -> tuple[list[RawDocument], list[Diagnostic]]:
    """Read every document of one YAML file, with positions; problems come back as Diagnostics.

    Args:
        path: the file.

    Returns:
        The documents that could be composed, and a Diagnostic for each problem (never raises
        for bad input).
    """
    display = display_path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return [], [
                Diagnostic(f"file is larger than {MAX_FILE_BYTES // 2**20} MiB", SourceLocation(display))
            ]
        raw = path.read_bytes()
    except OSError as exc:
        return [], [
            Diagnostic(f"cannot read file: {exc.strerror or exc}", SourceLocation(display), code="file")
        ]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return [], [
            Diagnostic(
                f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                SourceLocation(display, line, col),
                hint="save the file as UTF-8",
                code="encoding",
            )
        ]
    composer = _Composer(path, display)
    try:
        composer.run(iter(yaml.parse(text, Loader=_Loader)))
    except yaml.YAMLError as exc:
        # The scanner reads a run of flow brackets ahead of the events, so a deep ``[[[[`` can
        # reach the parser's own limit before the composer sees MAX_DEPTH: say so in our words.
        deep = _flow_depth_exceeded(text)
        composer.diagnostics.append(
            _too_deep(SourceLocation(display, *deep)) if deep else _yaml_error(exc, text, display)
        )
    except RecursionError:  # pragma: no cover - MAX_DEPTH stops nesting before this
        composer.diagnostics.append(Diagnostic("the document is nested too deeply", SourceLocation(display)))
    return composer.documents, composer.diagnostics


def _too_deep(location: SourceLocation) -> Diagnostic:
    return Diagnostic(
        f"the document is nested deeper than {MAX_DEPTH} levels",
        location,
        hint="a spec never needs this depth; check for runaway brackets",
        code="yaml",
    )


def _flow_depth_exceeded(text: str) -> tuple[int, int] | None:
    """(line, column) where flow brackets (``[`` ``{``) first nest deeper than ``MAX_DEPTH``, if they do.

    The document itself is the first level (a spec document is a mapping), as the composer counts;
    block levels in between are not counted, so the position is at worst a little late. Quoted
    scalars and comments are skipped. Asked only once the parser has failed, so a bracket inside a
    plain scalar can at worst name the depth instead of the parser's own message.

    >>> _flow_depth_exceeded("x: " + "[" * 64 + "]" * 64)
    (1, 67)
    >>> _flow_depth_exceeded("x: '" + "[" * 65 + "'") is None
    True
    """
    depth, line, start, i, quote = 1, 1, 0, 0, ""
    while i < len(text):
        c = text[i]
        if c == "\n":
            line, start = line + 1, i + 1
        elif quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"" and (i == 0 or text[i - 1] in " \t\n[{,:"):
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n"):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, i - start + 1
        elif c in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return None


def _yaml_error(exc: yaml.YAMLError, text: str, display: str) -> Diagnostic:
    """A parser error as a Diagnostic at its position."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        loc = SourceLocation(display, mark.line + 1, mark.column + 1)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        summary = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
        return Diagnostic(summary, loc, code="yaml")
    position = getattr(exc, "position", None)
    if isinstance(position, int):
        line = text.count("\n", 0, position) + 1
        col = position - (text.rfind("\n", 0, position) + 1) + 1
        reason = getattr(exc, "reason", "") or str(exc)
        return Diagnostic(f"invalid YAML: {reason}", SourceLocation(display, line, col), code="yaml")
    return Diagnostic(f"invalid YAML: {exc}", SourceLocation(display), code="yaml")
