"""State: an immutable snapshot of what a backend observed, keyed by Address, and its cache file.

Identity lives in the cloud, not in this file: every taggable resource the tool creates carries the
tags ``reconciler:stack`` and ``reconciler:address`` (see ``identity_tags``), and sub-resources
that cannot be tagged (analysis rules, collaboration members) are identified by their parent and
their type. The file ``.reconciler/state.json`` is only a cache of that identity (Address -> id,
arn) plus the last observed attributes: it is written atomically (temporary file +
``os.replace``), and when it is missing, stale or corrupt the next read simply rebuilds it from
the tags. An apply records each step's result by appending one line to
``.reconciler/state.json.journal`` (constant cost per step, whatever the size of the stack); a
load replays the journal over the snapshot (a torn last line is ignored) and the next full save
folds it in. Where the document's and the journal's bytes go is a seam of four methods
(``_read_document_text``, ``_journal_lines``, ``_append_journal``, ``_write_document``):
``execution.remote`` keeps them in S3 or DynamoDB for CI runners. This module does not call any
API and does not know how resources are diffed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from reconciler.planner.addresses import Address, parse
from reconciler.planner.normal_form import ADDRESS_TAG, STACK_TAG
from reconciler.planner.resource import ObservedResource, decode, encode, fingerprint
from reconciler.userfiles import write_atomically

__all__ = [
    "ADDRESS_TAG",
    "STACK_TAG",
    "Read",
    "STATE_FORMAT_VERSION",
    "State",
    "StateCache",
    "identity_tags",
    "resource_json",
]

#: Version of the ``.reconciler/state.json`` document. 2: keys spelt as in every other file the
#: tool writes (``format_version``, ``account_id``); a version-1 cache (``formatVersion``,
#: ``accountId``) is still read, and rewritten as version 2 by the next save.
STATE_FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, STATE_FORMAT_VERSION)


def identity_tags(stack: str, address: Address) -> dict[str, str]:
    """Return the tags that tie a created resource to its stack and address.

    Args:
        stack: the stack name.
        address: the resource's Address (printed with ``str``).

    Returns:
        ``{"reconciler:stack": stack, "reconciler:address": str(address)}``.

    >>> from reconciler.planner.addresses import parse
    >>> identity_tags("retail-adtech", parse("membership.retail.adtech"))
    {'reconciler:stack': 'retail-adtech', 'reconciler:address': 'membership.retail.adtech'}
    """
    return {STACK_TAG: stack, ADDRESS_TAG: str(address)}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


#: ``document_text`` lays the document out on lines down to this depth (its entries, their
#: fields, one line per resource) and writes everything deeper compactly.
_LINED_DEPTH = 4


def document_text(doc: Any) -> str:
    """The state document as JSON text: one resource per line, keys sorted, a newline at the end.

    ``json.dumps`` with ``indent`` falls back to its pure-Python encoder, which took most of
    a no-change plan's state save (0.9 s of 1.1 s at 10,000 resources); below the lined depth the C
    encoder writes each resource, and a diff of two saves still shows which resources changed.
    """
    return _lined(doc, 0) + "\n"


def _lined(value: Any, depth: int) -> str:
    if depth >= _LINED_DEPTH or not isinstance(value, dict | list) or not value:
        return json.dumps(value, sort_keys=True, default=str)
    pad = "\n" + " " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{json.dumps(str(k))}: {_lined(value[k], depth + 1)}" for k in sorted(value)]
        opened, closed = "{", "}"
    else:
        items = [_lined(v, depth + 1) for v in value]
        opened, closed = "[", "]"
    return opened + pad + ("," + pad).join(items) + "\n" + " " * depth + closed


def resource_json(r: ObservedResource) -> dict[str, Any]:
    """One cached resource as the state file (and ``reconciler state show``) writes it.

    Args:
        r: the observed resource.

    Returns:
        ``{"address", "id", "arn", "owner", "account_id", "attributes"}`` (attributes encoded), plus
        ``"gone"`` (``LEFT``, ``REMOVED``) for a member that ended for good, and ``"region"``.
    """
    out = {
        "address": str(r.address),
        "id": r.id,
        "arn": r.arn,
        "owner": r.owner,
        "account_id": r.account_id,
        "attributes": encode(dict(r.attributes)),
    }
    if r.gone:
        out["gone"] = r.gone  # written only when set: older caches read the same
    if r.region:
        out["region"] = r.region
    return out


def _resource_from(data: Mapping[str, Any]) -> ObservedResource:
    return ObservedResource(
        address=parse(str(data["address"])),
        attributes=decode(dict(data.get("attributes") or {})),
        owner=data.get("owner"),
        account_id=data.get("account_id", data.get("accountId")),  # accountId: version 1
        id=data.get("id"),
        arn=data.get("arn"),
        gone=str(data.get("gone") or ""),
        region=data.get("region"),
    )


@dataclass(frozen=True)
class Read:
    """What the last full read of a resource saw, so that the next read may skip its Get.

    Args:
        listed: digest of its List summary then (``execution.conditional.listed_digest``).
        update_time: the summary's ``updateTime`` then, as text (for people reading the file).
        raw: the Get response's resource object then (JSON-ready: dates as ISO text).
        tags: its tags then (``--refresh summaries`` reuses them); None for untaggable kinds.
    """

    listed: str
    update_time: str
    raw: Mapping[str, Any]
    tags: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"listed": self.listed, "update_time": self.update_time, "raw": dict(self.raw)}
        if self.tags is not None:
            out["tags"] = dict(self.tags)
        return out

    @classmethod
    def from_json(cls, data: Any) -> Read | None:
        """The recorded read, or None for a missing or malformed one (then the resource is read)."""
        if not isinstance(data, dict) or not isinstance(data.get("raw"), dict):
            return None
        listed, update_time = data.get("listed"), data.get("update_time")
        if not isinstance(listed, str) or not listed:
            return None
        tags = data.get("tags")
        valid = isinstance(tags, dict) and all(isinstance(v, str) for v in tags.values())
        return cls(listed, str(update_time or ""), data["raw"], tags if valid else None)


@dataclass(frozen=True)
class State:
    """An immutable snapshot: Address -> ObservedResource. Absent means not found (not an error).

    Args:
        resources: the observed resources by Address (``ObservedResource`` with id, arn, account_id).
        stack: the stack whose resources these are.
        reads: for resources a full read saw through an unchanged-able List summary, what it saw
            (``Read``); a conditional read reuses it. Not part of the fingerprint.
    """

    resources: Mapping[Address, ObservedResource] = field(default_factory=dict)
    stack: str = ""
    reads: Mapping[Address, Read] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "resources", MappingProxyType(dict(self.resources)))
        object.__setattr__(self, "reads", MappingProxyType(dict(self.reads)))

    @classmethod
    def over(cls, resources: dict[Address, ObservedResource], stack: str) -> State:
        """A State that reads ``resources`` without copying them, seeing later changes to the dict.

        For the executor, which adds each step's result to one dict: a copy per step
        (``with_resource``) made a first apply quadratic in the stack's size.
        """
        state = cls.__new__(cls)
        object.__setattr__(state, "resources", MappingProxyType(resources))
        object.__setattr__(state, "stack", stack)
        object.__setattr__(state, "reads", MappingProxyType({}))
        return state

    def get(self, address: Address) -> ObservedResource | None:
        """The observed resource at ``address``, or None when the backend has none."""
        return self.resources.get(address)

    def __contains__(self, address: object) -> bool:
        return address in self.resources

    def __iter__(self) -> Iterator[ObservedResource]:
        return iter(self.resources[a] for a in sorted(self.resources))

    def __len__(self) -> int:
        return len(self.resources)

    def with_resource(self, resource: ObservedResource) -> State:
        """A copy with ``resource`` added or replaced (states are never mutated); its read is dropped."""
        return State(
            {**self.resources, resource.address: resource}, self.stack, self._reads_but(resource.address)
        )

    def without(self, address: Address) -> State:
        """A copy without ``address``."""
        return State(
            {a: r for a, r in self.resources.items() if a != address}, self.stack, self._reads_but(address)
        )

    def _reads_but(self, address: Address) -> dict[Address, Read]:
        return {a: r for a, r in self.reads.items() if a != address}

    def fingerprint(self) -> str:
        """One hash over every observed resource (``resource.fingerprint``: the plan records it)."""
        return fingerprint(self.resources.values())

    def to_json(self) -> dict[str, Any]:
        """The JSON form used in the state cache (sorted by address); a resource's ``read`` is kept too."""
        out = []
        for r in self:
            item = resource_json(r)
            read = self.reads.get(r.address)
            if read is not None:
                item["read"] = read.to_json()
            out.append(item)
        return {"stack": self.stack, "resources": out}


class StateCache:
    """The ``.reconciler/state.json`` cache: last observed State per backend and stack.

    Reading never fails on a bad file: a missing, corrupt or foreign cache is treated as empty
    (the plan rebuilds identity from tags) and the reason is kept in ``problem`` for display.

    Args:
        path: the cache file (default ``.reconciler/state.json`` in the working directory).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or Path(".reconciler") / "state.json"
        self.problem = ""
        self._lock = threading.Lock()

    # -- storage: where the document and the journal's bytes go (``execution.remote`` overrides these)

    @property
    def location(self) -> str:
        """Where the cache lives, for messages (the file; a remote store names its URL)."""
        return str(self.path)

    def _read_document_text(self) -> str | None:
        """The document's text, None when there is none; OSError when it cannot be read."""
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def _journal_lines(self) -> list[str]:
        """The journal's lines, oldest first ([] when there is none or it cannot be read)."""
        try:
            return self.journal.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []

    def _append_journal(self, line: str) -> None:
        """Add one line (ending in a newline) to the journal; OSError when it cannot be written."""
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with open(self.journal, "a", encoding="utf-8") as handle:
            handle.write(line)

    def _write_document(self, text: str) -> None:
        """Replace the document by ``text`` and empty the journal it folds in; OSError on failure."""
        write_atomically(self.path, text)
        self.journal.unlink(missing_ok=True)  # folded into the snapshot just written

    # -- the document

    def _load_document(self) -> dict[str, Any]:
        try:
            text = self._read_document_text()
        except (OSError, UnicodeDecodeError) as exc:
            self.problem = f"state cache {self.location} is unreadable ({exc}); rebuilding it from tags"
            return {}
        if text is None:
            return {}
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            self.problem = f"state cache {self.location} is corrupt ({exc.msg}); rebuilding it from tags"
            return {}
        version = doc.get("format_version", doc.get("formatVersion")) if isinstance(doc, dict) else None
        if version not in _READABLE_VERSIONS:
            self.problem = f"state cache {self.location} has an unknown format; rebuilding it from tags"
            return {}
        entries = doc.get("entries")
        return entries if isinstance(entries, dict) else {}

    @property
    def journal(self) -> Path:
        """The append-only log of step results since the last full save."""
        return self.path.with_name(self.path.name + ".journal")

    def _replay(self, entries: dict[str, Any]) -> None:
        """Apply the journal's lines to ``entries`` (in place)."""
        lines = self._journal_lines()
        touched: dict[str, dict[str, Any]] = {}
        for line in lines:
            try:
                item = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash: the tags still know
            key = item.get("key") if isinstance(item, dict) else None
            if not isinstance(key, str):
                continue
            if key not in touched:
                entry = entries.get(key)
                listed = entry.get("resources", []) if isinstance(entry, dict) else []
                touched[key] = {str(r.get("address")): r for r in listed if isinstance(r, dict)}
            if isinstance(item.get("put"), dict):
                touched[key][str(item["put"].get("address"))] = item["put"]
            elif isinstance(item.get("delete"), str):
                touched[key].pop(item["delete"], None)
        for key, by_address in touched.items():
            stack = key.split("/", 1)[-1]
            entries[key] = {"stack": stack, "resources": [by_address[a] for a in sorted(by_address)]}

    def record(self, backend: str, stack: str, address: Address, resource: ObservedResource | None) -> None:
        """Note one step's result (the resource now, or None when it was deleted); O(1) per step.

        Args:
            backend: ``local`` or ``aws``.
            stack: the stack name.
            address: the resource the step acted on.
            resource: what is there now, or None after a delete.
        """
        key = self._key(backend, stack)
        item = (
            {"key": key, "put": resource_json(resource)} if resource else {"key": key, "delete": str(address)}
        )
        line = json.dumps(item, sort_keys=True, default=str) + "\n"
        with self._lock:
            try:
                self._append_journal(line)
            except OSError as exc:  # only a cache: identity lives in the tags, so carry on
                self.problem = f"cannot write the state journal {self.journal} ({exc.strerror or exc})"

    @staticmethod
    def _key(backend: str, stack: str) -> str:
        return f"{backend}/{stack}"

    def load(self, backend: str, stack: str) -> State:
        """The cached State for ``stack`` on ``backend``; empty when there is no usable cache.

        Args:
            backend: ``local`` or ``aws``.
            stack: the stack name.

        Returns:
            The cached State (possibly empty).
        """
        with self._lock:
            entries = self._load_document()
            self._replay(entries)
            entry = entries.get(self._key(backend, stack))
        if not isinstance(entry, dict):
            return State({}, stack)
        resources: dict[Address, ObservedResource] = {}
        reads: dict[Address, Read] = {}
        try:
            for item in entry.get("resources", []):
                resource = _resource_from(item)
                resources[resource.address] = resource
                read = Read.from_json(item.get("read"))
                if read is not None:
                    reads[resource.address] = read
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.problem = f"state cache {self.location} has a bad entry ({exc}); rebuilding it from tags"
            return State({}, stack)
        return State(resources, stack, reads)

    def save(self, backend: str, state: State) -> None:
        """Replace the cached State of ``state.stack`` on ``backend`` (atomic write).

        A cache that cannot be written is not an error (``problem`` says so): the next read
        rebuilds it from the tags.

        Args:
            backend: ``local`` or ``aws``.
            state: the snapshot to cache.
        """
        with self._lock:
            entries = self._load_document()
            self._replay(entries)
            entries[self._key(backend, state.stack)] = state.to_json()
            doc = {"format_version": STATE_FORMAT_VERSION, "entries": entries}
            try:
                self._write_document(document_text(doc))
            except OSError as exc:  # only a cache: identity lives in the tags, so carry on
                why = exc.strerror or exc
                self.problem = f"cannot write the state cache {self.location} ({why}); continuing without it"
