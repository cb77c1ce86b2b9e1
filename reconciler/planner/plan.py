"""Action, Change, Step, Plan: what a plan says, in what order, and its file format.

``diff.compute`` produces Changes, ``privacy.assess`` gives each its privacy impact, and
``build`` turns them into a Plan: Changes sorted by Address plus Steps (one backend call each)
grouped so that each group only needs earlier groups; apply may run a group's Steps
concurrently. Creates and updates follow dependency order, deletes the reverse, replacements
sit where both halves belong (a replaced parent's children are deleted before it and
re-created after it).

Plan files are JSON documents (``FORMAT_VERSION``, documented in ``Plan.to_json``); ``read``
refuses anything else with a PlanError. Refs inside attributes and step parameters are written
``{"$ref": "<address>", "field": "id"}``.

This module does not compute diffs, read state or call AWS.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reconciler.errors import PlanError, SourceLocation, why_unusable
from reconciler.planner.addresses import Address, Kind, parse
from reconciler.planner.graph import DependencyGraph
from reconciler.planner.registry import Ref, Resource, complete_request, descriptor

__all__ = [
    "FORMAT_VERSION",
    "Action",
    "Change",
    "FieldDiff",
    "Finding",
    "Impact",
    "Plan",
    "Step",
    "build",
    "decode",
    "encode",
    "fingerprint",
    "read",
]

#: Version of the plan-file format; bump on any incompatible change and keep ``read`` honest.
#: 2: the plan records ``as_member`` and where its stack's spec lives (``spec``), so ``apply
#: PLAN_FILE`` needs neither ``--as`` nor ``--stack``; a version-1 file lacks both and is refused.
FORMAT_VERSION = 2
_DOCUMENT_KIND = "cleanrooms-reconciler-plan"
#: What to do about a plan file that cannot be used.
REMAKE_HINT = "make the plan again with `reconciler plan STACK --out PLAN_FILE`, then apply the new file"


class Action(enum.StrEnum):
    """What a Change does; replacements spell their order (STYLE: "replace spelled as its order")."""

    NO_OP = "no-op"
    CREATE = "create"
    UPDATE = "update"
    DELETE_THEN_CREATE = "delete-then-create"
    CREATE_THEN_DELETE = "create-then-delete"
    DELETE = "delete"
    ADD_MEMBER = "add-member"
    REMOVE_MEMBER = "remove-member"

    @property
    def is_replace(self) -> bool:
        return self in (Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE)


class Impact(enum.StrEnum):
    """A change's effect on privacy; ``weakens`` changes are shown first everywhere."""

    WEAKENS = "weakens"
    STRENGTHENS = "strengthens"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class FieldDiff:
    """One changed field: dotted path (``analysisRulePolicy.v1.list.listColumns``), before, after.

    ``before`` is None for an added field, ``after`` None for a removed one.
    """

    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Finding:
    """One privacy observation about a change, in words, with the values it compares.

    Args:
        impact: weakens / strengthens / neutral.
        reason: a sentence ("aggregation threshold on purchases lowered 100 -> 25").
        path: the field path it is about ("" for the whole resource).
        rule: the id of the privacy rule that made it (stable, for JSON consumers and policy).
    """

    impact: Impact
    reason: str
    path: str = ""
    rule: str = ""


@dataclass(frozen=True)
class Change:
    """What the plan does to one Address.

    ======================  ==========================  ==========================================
    Action                  before                      after
    ======================  ==========================  ==========================================
    NO_OP                   observed attributes         desired attributes (compare equal)
    CREATE                  None                        desired attributes
    UPDATE                  observed attributes         desired attributes (``field_diffs`` differ)
    DELETE_THEN_CREATE      observed (deleted first)    desired (created after the delete)
    CREATE_THEN_DELETE      observed (deleted last)     desired (created first)
    DELETE                  observed attributes         None
    ADD_MEMBER              None                        desired member (a change request)
    REMOVE_MEMBER           observed member             None
    ======================  ==========================  ==========================================

    Args:
        address: the resource.
        action: what happens to it.
        before: observed attributes in normal form (None if absent).
        after: desired attributes in normal form (None if not in the spec).
        field_diffs: changed fields, sorted by path.
        requires_replace: create-only field paths that force the replacement.
        reason: why this action, in words; only renderers read it (it never drives apply).
        irreversible: why this change can never be undone ("" when it can).
        blocked: why this change cannot be planned at all ("" when it can); a plan with a
            blocked change cannot be applied.
        impact: overall privacy impact (the strongest of ``findings``).
        findings: privacy observations, weakening first.
        owner: member key of the account that makes the calls.
        account_id: that account's id, when known.
        prevent_destroy: the spec protects this resource from deletion (apply refuses).
        source: where the spec declares it.
        observed_id: the service's id of the existing resource, when there is one.
        observed_arn: its ARN.
        deleted_with: the parent whose deletion removes this too (a member, the creator's
            membership: both go with their collaboration), so it has no delete call of its own.
    """

    address: Address
    action: Action
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    field_diffs: tuple[FieldDiff, ...] = ()
    requires_replace: tuple[str, ...] = ()
    reason: str = ""
    irreversible: str = ""
    blocked: str = ""
    impact: Impact = Impact.NEUTRAL
    findings: tuple[Finding, ...] = ()
    owner: str | None = None
    account_id: str | None = None
    prevent_destroy: bool = False
    source: SourceLocation | None = None
    observed_id: str | None = None
    observed_arn: str | None = None
    deleted_with: Address | None = None

    @property
    def kind(self) -> Kind:
        return self.address.kind


@dataclass(frozen=True)
class Step:
    """One backend call for one Change (a replacement yields two Steps: a delete and a create).

    Args:
        id: unique in the plan: ``"<role> <address>"``.
        address: the resource it acts on.
        role: ``create``, ``update``, ``tag``, ``untag``, ``change_request`` or ``delete``.
        operation: the API operation (``CreateMembership``, ``CreateCollaborationChangeRequest``...).
        params: the operation's parameters; Refs in them name other resources whose ids apply
            resolves from state when it runs the step. Delete parameters hold literal ids (the
            old resource's, even when a replacement already created a new one).
        owner: member key of the account that must make the call.
        account_id: that account's id, when known.
        depends_on: ids of Steps that must succeed first.
        irreversible: why this call can never be undone ("" when it can); apply refuses such a
            step without ``--allow-destroy``.
        prevent_destroy: the spec forbids this delete; apply refuses it even with the flag.
    """

    id: str
    address: Address
    role: str
    operation: str
    params: Mapping[str, Any]
    owner: str | None = None
    account_id: str | None = None
    depends_on: tuple[str, ...] = ()
    irreversible: str = ""
    prevent_destroy: bool = False


@dataclass(frozen=True)
class Plan:
    """A saved decision: sorted Changes, Step groups in order, and what it was made from.

    Args:
        stack: stack name.
        backend: ``local`` or ``aws``.
        changes: every Change except NO_OP, sorted by Address.
        steps: groups of Steps; a group only needs earlier groups.
        unchanged: how many resources need nothing.
        spec_fingerprint: ``fingerprint`` of the desired resources.
        state_fingerprint: ``fingerprint`` of the observed resources.
        created_at: ISO-8601 UTC time the plan was made (injected clock in tests).
        as_member: ``plan --as MEMBER``: only that member's changes and steps are in the plan,
            and apply acts as that member (None: every member).
        spec_path: absolute path of the stack's spec (directory or file) the plan was made
            from ("" when unknown); after ``read``, the best existing candidate (see ``read``).
        accounts: account id -> member key of every member of the stack, so renderings can
            name the member behind an account id.
        format_version: ``FORMAT_VERSION`` when written.
    """

    stack: str
    backend: str
    changes: tuple[Change, ...]
    steps: tuple[tuple[Step, ...], ...]
    unchanged: int = 0
    spec_fingerprint: str = ""
    state_fingerprint: str = ""
    created_at: str = ""
    as_member: str | None = None
    spec_path: str = ""
    accounts: Mapping[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to do (no changes, blocked or not)."""
        return not self.changes

    @property
    def blocked(self) -> tuple[Change, ...]:
        """Changes that cannot be applied; ``apply`` must refuse the whole plan."""
        return tuple(c for c in self.changes if c.blocked)

    @property
    def all_steps(self) -> tuple[Step, ...]:
        """Every Step in order (groups flattened)."""
        return tuple(s for group in self.steps for s in group)

    @property
    def irreversible_steps(self) -> tuple[Step, ...]:
        return tuple(s for s in self.all_steps if s.irreversible)

    @property
    def weakening(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.impact is Impact.WEAKENS)

    def counts(self) -> dict[str, int]:
        """Changes that can be applied, per action value (``create``, ...), plus ``unchanged``."""
        counter = Counter(c.action.value for c in self.changes if not c.blocked)
        return {
            **{a.value: counter.get(a.value, 0) for a in Action if a is not Action.NO_OP},
            "unchanged": self.unchanged,
        }

    def ordered_changes(self) -> tuple[Change, ...]:
        """Changes as every rendering lists them: blocked, then weakening, then the rest, each by Address."""

        def rank(c: Change) -> int:
            return 0 if c.blocked else 1 if c.impact is Impact.WEAKENS else 2

        return tuple(sorted(self.changes, key=lambda c: (rank(c), c.address)))

    def check_applicable(self) -> None:
        """Raise PlanError if any change is blocked (names each and why)."""
        if self.blocked:
            lines = "; ".join(f"{c.address}: {c.blocked}" for c in self.blocked)
            raise PlanError(f"the plan has {len(self.blocked)} blocked change(s): {lines}")

    # -- file format ---------------------------------------------------------------------

    def to_json(self, *, written_to: Path | None = None) -> dict[str, Any]:
        """The plan document (``FORMAT_VERSION`` 2).

        ::

            {
              "kind": "cleanrooms-reconciler-plan", "format_version": 2,
              "stack": str, "backend": "local" | "aws", "created_at": ISO-8601,
              "as_member": str | null, "accounts": {account id: member key},
              "spec": {"path": absolute path | "", "from_plan": path relative to the plan file's
                       directory | null},
              "fingerprints": {"spec": sha256-hex, "state": sha256-hex},
              "summary": {"create": n, "update": n, ..., "unchanged": n,
                          "weakens": n, "irreversible": n, "blocked": n},
              "changes": [{"address", "kind", "action", "impact", "findings": [{impact, reason,
                           path, rule}], "reason", "requires_replace": [path], "irreversible",
                           "blocked", "owner", "account_id", "prevent_destroy", "source",
                           "observed_id", "observed_arn", "deleted_with",
                           "field_diffs": [{path, before, after}],
                           "before", "after"}],
              "steps": [[{"id", "address", "role", "operation", "params", "owner",
                          "account_id", "depends_on": [id], "irreversible", "prevent_destroy"}]]
            }

        Values are API-shaped; a Ref is ``{"$ref": address, "field": "id" | "arn"}``.

        Args:
            written_to: the plan file's path, to record ``spec.from_plan`` (a checkout moved
                with its plans still finds its spec); None when printed.
        """
        summary = {
            **self.counts(),
            "weakens": len(self.weakening),
            "irreversible": len(self.irreversible_steps),
            "blocked": len(self.blocked),
        }
        return {
            "kind": _DOCUMENT_KIND,
            "format_version": self.format_version,
            "stack": self.stack,
            "backend": self.backend,
            "created_at": self.created_at,
            "as_member": self.as_member,
            "accounts": dict(sorted(self.accounts.items())),
            "spec": {"path": self.spec_path, "from_plan": _relative(self.spec_path, written_to)},
            "fingerprints": {"spec": self.spec_fingerprint, "state": self.state_fingerprint},
            "summary": summary,
            "changes": [_change_json(c) for c in self.ordered_changes()],
            "steps": [[_step_json(s) for s in group] for group in self.steps],
        }

    @classmethod
    def from_json(cls, doc: Any, *, origin: str = "plan", read_from: Path | None = None) -> Plan:
        """Rebuild a Plan from its document; PlanError when it is not one this version reads.

        ``read_from`` (the plan file's path) resolves ``spec.from_plan``: when that exists it
        becomes ``spec_path``, else the recorded absolute path stays.
        """
        if not isinstance(doc, dict) or doc.get("kind") != _DOCUMENT_KIND:
            raise PlanError(
                f"{origin} is not a reconciler plan file",
                hint=f"pass a file written by `reconciler plan --out`; {REMAKE_HINT}",
            )
        version = doc.get("format_version")
        if version != FORMAT_VERSION:
            age = (
                "an older"
                if isinstance(version, int) and not isinstance(version, bool) and version < FORMAT_VERSION
                else "another"
            )
            raise PlanError(
                f"{origin} has plan format version {version!r} (made by {age} reconciler);"
                f" this reconciler reads version {FORMAT_VERSION}",
                hint="make the plan again with `reconciler plan` (this version), then apply the new file",
            )
        try:
            return cls(
                stack=str(doc["stack"]),
                backend=str(doc["backend"]),
                created_at=str(doc["created_at"]),
                as_member=_optional_str(doc["as_member"]),
                accounts={_text(k): _text(v) for k, v in doc["accounts"].items()},
                spec_path=_spec_path(doc["spec"], read_from),
                spec_fingerprint=str(doc["fingerprints"]["spec"]),
                state_fingerprint=str(doc["fingerprints"]["state"]),
                unchanged=int(doc["summary"]["unchanged"]),
                changes=tuple(sorted((_change_from(c) for c in doc["changes"]), key=lambda c: c.address)),
                steps=tuple(tuple(_step_from(s) for s in group) for group in doc["steps"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlanError(f"{origin} is damaged: {type(exc).__name__}: {exc}", hint=REMAKE_HINT) from None

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the plan document atomically (temp file + rename); returns the path.

        Raises:
            PlanError: the file or its directory cannot be written (a file where a directory
                should be, a read-only or pseudo file system); nothing was written.
        """
        target = Path(path)
        text = json.dumps(self.to_json(written_to=target), indent=2, sort_keys=False) + "\n"
        tmp: str | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, target)
        except OSError as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise PlanError(
                f"cannot write the plan to {target}: {why_unusable(target, exc)}",
                hint="give --out a path in a directory you can write to",
            ) from None
        except BaseException:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise
        return target


def read(path: str | os.PathLike[str]) -> Plan:
    """Read a plan file.

    Args:
        path: a file written by ``Plan.write``.

    Returns:
        The Plan.

    Raises:
        PlanError: missing, unreadable, not JSON, not a plan, another format version, damaged.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PlanError(f"cannot read plan file {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise PlanError(
            f"{path} is not a readable plan file ({type(exc).__name__}: {exc})", hint=REMAKE_HINT
        ) from None
    return Plan.from_json(doc, origin=str(path), read_from=Path(path))


def _relative(spec_path: str, plan_file: Path | None) -> str | None:
    """``spec_path`` relative to the plan file's directory (POSIX form), when both are known."""
    if not spec_path or plan_file is None:
        return None
    try:
        return Path(os.path.relpath(spec_path, plan_file.resolve().parent)).as_posix()
    except ValueError:  # another drive (Windows)
        return None


def _text(value: Any) -> str:
    """A string field of a plan document (TypeError, hence "damaged", for anything else)."""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _optional_str(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"expected a string or null, got {type(value).__name__}")
    return value


def _spec_path(spec: Mapping[str, Any], plan_file: Path | None) -> str:
    """The recorded spec location that exists now: relative to the plan file first, then absolute."""
    absolute = str(spec["path"])
    relative = _optional_str(spec.get("from_plan"))
    if relative and plan_file is not None:
        candidate = (plan_file.resolve().parent / relative).resolve()
        if candidate.exists():
            return str(candidate)
    return absolute


# -- JSON codec for attribute values ------------------------------------------------------------


def encode(value: Any) -> Any:
    """Make an attribute value JSON-ready (Refs become ``{"$ref": ..., "field": ...}``)."""
    if isinstance(value, Ref):
        return value.to_json()
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def decode(value: Any) -> Any:
    """Inverse of ``encode``."""
    if isinstance(value, dict):
        if set(value) == {"$ref", "field"}:
            return Ref(parse(value["$ref"]), str(value["field"]))
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def fingerprint(resources: Iterable[Resource]) -> str:
    """A sha256 over resources' addresses, attributes and ids: equal inputs, equal fingerprints.

    Args:
        resources: desired resources (spec fingerprint) or observed ones (state fingerprint).

    Returns:
        Hex digest; order of ``resources`` does not matter.
    """
    rows = sorted((str(r.address), r.attributes, r.id, r.arn, r.account_id) for r in resources)
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=_json_default).encode()).hexdigest()


def _json_default(value: Any) -> Any:
    """Attributes are JSON-native except Refs (and dates, in raw responses)."""
    if isinstance(value, Ref):
        return value.to_json()
    return str(value)


def _source_json(source: SourceLocation | None) -> dict[str, Any] | None:
    if source is None:
        return None
    return {"path": source.path, "line": source.line, "column": source.column}


def _change_json(c: Change) -> dict[str, Any]:
    return {
        "address": str(c.address),
        "kind": c.kind.value,
        "action": c.action.value,
        "impact": c.impact.value,
        "findings": [
            {"impact": f.impact.value, "reason": f.reason, "path": f.path, "rule": f.rule} for f in c.findings
        ],
        "reason": c.reason,
        "requires_replace": list(c.requires_replace),
        "irreversible": c.irreversible,
        "blocked": c.blocked,
        "owner": c.owner,
        "account_id": c.account_id,
        "prevent_destroy": c.prevent_destroy,
        "source": _source_json(c.source),
        "observed_id": c.observed_id,
        "observed_arn": c.observed_arn,
        "deleted_with": str(c.deleted_with) if c.deleted_with else None,
        "field_diffs": [
            {"path": d.path, "before": encode(d.before), "after": encode(d.after)} for d in c.field_diffs
        ],
        "before": encode(c.before),
        "after": encode(c.after),
    }


def _change_from(d: Mapping[str, Any]) -> Change:
    src = d.get("source")
    return Change(
        address=parse(d["address"]),
        action=Action(d["action"]),
        before=decode(d["before"]),
        after=decode(d["after"]),
        field_diffs=tuple(
            FieldDiff(f["path"], decode(f["before"]), decode(f["after"])) for f in d["field_diffs"]
        ),
        requires_replace=tuple(_text(p) for p in d["requires_replace"]),
        reason=_text(d["reason"]),
        irreversible=_text(d["irreversible"]),
        blocked=_text(d["blocked"]),
        impact=Impact(d["impact"]),
        findings=tuple(
            Finding(Impact(f["impact"]), _text(f["reason"]), _text(f["path"]), _text(f["rule"]))
            for f in d["findings"]
        ),
        owner=_optional_str(d["owner"]),
        account_id=_optional_str(d["account_id"]),
        prevent_destroy=bool(d["prevent_destroy"]),
        source=SourceLocation(src["path"], src["line"], src["column"]) if src else None,
        observed_id=_optional_str(d["observed_id"]),
        observed_arn=_optional_str(d["observed_arn"]),
        deleted_with=parse(d["deleted_with"]) if d.get("deleted_with") else None,
    )


def _step_json(s: Step) -> dict[str, Any]:
    return {
        "id": s.id,
        "address": str(s.address),
        "role": s.role,
        "operation": s.operation,
        "params": encode(s.params),
        "owner": s.owner,
        "account_id": s.account_id,
        "depends_on": list(s.depends_on),
        "irreversible": s.irreversible,
        "prevent_destroy": s.prevent_destroy,
    }


def _step_from(d: Mapping[str, Any]) -> Step:
    return Step(
        id=_text(d["id"]),
        address=parse(d["address"]),
        role=_text(d["role"]),
        operation=_text(d["operation"]),
        params=decode(d["params"]),
        owner=_optional_str(d["owner"]),
        account_id=_optional_str(d["account_id"]),
        depends_on=tuple(_text(x) for x in d["depends_on"]),
        irreversible=_text(d["irreversible"]),
        prevent_destroy=bool(d["prevent_destroy"]),
    )


# -- building the step graph --------------------------------------------------------------------

#: Step roles that run in creation order (the rest, ``delete``, runs in deletion order).
FORWARD_ROLES = ("create", "update", "tag", "untag", "change_request")


def _resource(change: Change, attributes: Mapping[str, Any] | None) -> Resource:
    return Resource(change.address, attributes or {}, owner=change.owner, account_id=change.account_id)


def _literal(
    params: Mapping[str, Any], ids: Mapping[Address, str], own_id: str | None, address: Address
) -> dict[str, Any]:
    """Resolve Refs now (for deletes, which act on what exists at plan time)."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, Ref) and v.field == "id":
            resolved = own_id if v.address == address else ids.get(v.address)
            out[k] = resolved if resolved is not None else v
        else:
            out[k] = v
    return out


def _collaboration_of(member: Address) -> Ref:
    return Ref(Address.of(Kind.COLLABORATION, member.part("collaboration")))


def _change_request(collaboration: Any, specs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"collaborationIdentifier": collaboration, "changes": list(specs)}


def _member_spec(after: Mapping[str, Any]) -> dict[str, Any]:
    fields = descriptor(Kind.MEMBER).fields
    return {k: v for k, v in after.items() if k in fields}


def _forward_steps(change: Change) -> list[tuple[str, str, dict[str, Any]]]:
    """(role, operation, params) for the create/update half of a change."""
    d = descriptor(change.kind)
    after = change.after or {}
    res = _resource(change, after)
    a = change.action
    if a in (Action.CREATE, Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE):
        if change.kind is Kind.MEMBER:
            return []  # members arrive with their collaboration's CreateCollaboration
        assert d.create is not None
        return [("create", d.create, d.request("create", res))]
    if a is Action.ADD_MEMBER:
        spec = {"specificationType": "MEMBER", "specification": {"member": _member_spec(after)}}
        return [
            (
                "change_request",
                "CreateCollaborationChangeRequest",
                _change_request(_collaboration_of(change.address), [spec]),
            )
        ]
    if a is not Action.UPDATE:
        return []
    changed = {fd.path.split(".", 1)[0].split("[", 1)[0] for fd in change.field_diffs}
    out: list[tuple[str, str, dict[str, Any]]] = []
    plain = sorted(f for f in changed if f in d.updatable and f != "tags" and f not in d.via_change_request)
    if plain and d.update:
        out.append(("update", d.update, d.request("update", res, fields=plain)))
    via = sorted(f for f in changed if f in d.via_change_request)
    if via:
        out.append(("change_request", "CreateCollaborationChangeRequest", _via_change_request(change, via)))
    if "tags" in changed and d.taggable:
        new = dict(after.get("tags", {}))
        old = dict((change.before or {}).get("tags", {}))
        upserts = {k: v for k, v in new.items() if old.get(k) != v}
        removed = sorted(set(old) - set(new))
        arn = Ref(change.address, "arn")
        if upserts:
            out.append(("tag", "TagResource", {"resourceArn": arn, "tags": upserts}))
        if removed:
            out.append(("untag", "UntagResource", {"resourceArn": arn, "tagKeys": removed}))
    return out


def _via_change_request(change: Change, fields: Sequence[str]) -> dict[str, Any]:
    after = change.after or {}
    if change.kind is Kind.MEMBER:
        # The service infers GRANT_/REVOKE_RECEIVE_RESULTS_ABILITY from the new ability list.
        member = {"accountId": after["accountId"], "memberAbilities": list(after.get("memberAbilities", []))}
        spec = {"specificationType": "MEMBER", "specification": {"member": member}}
        return _change_request(_collaboration_of(change.address), [spec])
    spec = {
        "specificationType": "COLLABORATION",
        "specification": {
            "collaboration": {
                "autoApprovedChangeTypes": list(after.get("autoApprovedChangeRequestTypes", []))
            }
        },
    }
    return _change_request(Ref(change.address, "id"), [spec])


def _delete_step(change: Change, ids: Mapping[Address, str]) -> tuple[str, str, dict[str, Any]] | None:
    d = descriptor(change.kind)
    if d.delete is None:
        return None
    before = change.before or {}
    params = d.request("delete", _resource(change, before))
    return ("delete", d.delete, _literal(params, ids, change.observed_id, change.address))


def _nearest(
    graph: DependencyGraph[Address], address: Address, deletes: Mapping[Address, str]
) -> set[Address]:
    """Dependents with a delete step, looking through those deleted with their parent."""
    found: set[Address] = set()
    pending = list(graph.dependents(address))
    seen: set[Address] = set()
    while pending:
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in deletes:
            found.add(node)
        else:
            pending.extend(graph.dependents(node))
    return found


def build(
    changes: Iterable[Change],
    graph: DependencyGraph[Address],
    *,
    stack: str,
    backend: str,
    spec_fingerprint: str = "",
    state_fingerprint: str = "",
    created_at: dt.datetime | None = None,
    as_member: str | None = None,
    spec_path: str = "",
    accounts: Mapping[str, str] | None = None,
) -> Plan:
    """Order Changes into a Plan.

    Args:
        changes: one Change per address (NO_OP ones included: they are counted, and their
            observed ids let delete steps name parents).
        graph: dependencies among desired AND observed resources (``diff.dependency_graph``).
        stack: stack name.
        backend: ``local`` or ``aws``.
        spec_fingerprint: ``fingerprint(desired)``.
        state_fingerprint: ``fingerprint(observed)``.
        created_at: the clock (UTC now when None).
        as_member: recorded for apply: the plan is (to be) restricted to this member.
        spec_path: recorded for apply: where the stack's spec lives (absolute).
        accounts: account id -> member key of the stack's members (for renderings).

    Returns:
        The Plan, Steps grouped in dependency order.

    Raises:
        GraphError: the steps' dependencies form a cycle.
    """
    all_changes = sorted(changes, key=lambda c: c.address)
    ids = {c.address: c.observed_id for c in all_changes if c.observed_id}
    by_address = {c.address: c for c in all_changes}
    steps: dict[str, Step] = {}
    forward: dict[Address, list[str]] = {}
    deletes: dict[Address, str] = {}
    for c in all_changes:
        if c.action is Action.NO_OP or c.blocked:
            continue
        for role, op, raw in _forward_steps(c):
            params = complete_request(op, raw)
            sid = f"{role} {c.address}"
            steps[sid] = Step(sid, c.address, role, op, params, owner=c.owner, account_id=c.account_id)
            forward.setdefault(c.address, []).append(sid)
        if (c.action in (Action.DELETE, Action.REMOVE_MEMBER) or c.action.is_replace) and not c.deleted_with:
            found = _delete_step(c, ids)
            if found is not None:
                role, op, params = found
                sid = f"delete {c.address}"
                steps[sid] = Step(
                    sid,
                    c.address,
                    role,
                    op,
                    params,
                    irreversible=c.irreversible,
                    prevent_destroy=c.prevent_destroy,
                    owner=c.owner,
                    account_id=c.account_id,
                )
                deletes[c.address] = sid

    order = DependencyGraph[str](steps)
    for address, sids in forward.items():
        # forward steps of one resource run in order (update before tag ...)
        for earlier, later in zip(sids, sids[1:], strict=False):
            order.add_dependency(dependent=later, dependency=earlier)
        for dep in graph.dependencies(address):
            for dep_sid in forward.get(dep, []):
                order.add_dependency(dependent=sids[0], dependency=dep_sid)
        change = by_address[address]
        if address in deletes:
            if change.action is Action.CREATE_THEN_DELETE:
                order.add_dependency(dependent=deletes[address], dependency=sids[-1])
            else:
                order.add_dependency(dependent=sids[0], dependency=deletes[address])
    for address, sid in deletes.items():
        for dependent in _nearest(graph, address, deletes):
            order.add_dependency(dependent=sid, dependency=deletes[dependent])
        for dependent in graph.dependents(address):
            # a dependent re-pointed by its own forward steps must be done before the old one goes
            if by_address.get(address) and by_address[address].action is Action.CREATE_THEN_DELETE:
                for dep_sid in forward.get(dependent, []):
                    order.add_dependency(dependent=sid, dependency=dep_sid)

    groups = order.creation_order()
    final = tuple(
        tuple(replace(steps[sid], depends_on=tuple(order.dependencies(sid))) for sid in group)
        for group in groups
    )
    when = created_at or dt.datetime.now(dt.UTC)
    return Plan(
        stack=stack,
        backend=backend,
        changes=tuple(c for c in all_changes if c.action is not Action.NO_OP),
        steps=final,
        unchanged=sum(1 for c in all_changes if c.action is Action.NO_OP),
        spec_fingerprint=spec_fingerprint,
        state_fingerprint=state_fingerprint,
        created_at=when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        as_member=as_member,
        spec_path=spec_path,
        accounts=dict(accounts or {}),
    )
