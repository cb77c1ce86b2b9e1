"""Plan files: a Plan as a JSON document (``FORMAT_VERSION``), written atomically and read back.

``write`` saves a plan (``reconciler plan --out``), ``read`` loads one for ``apply``, and
``to_json`` / ``from_json`` are the document itself, which ``render.json`` prints and
``staleness`` compares. ``change_json`` is one Change as plan files write it, also used by the
review's JSON. Refs inside attributes and step parameters are written ``{"$ref": "<address>",
"field": "id"}``. A file that is not a plan, of another format version or damaged is refused
with a ``PlanError`` that says how to make a new one; nothing is guessed.

>>> from reconciler.planner.model import Plan
>>> doc = to_json(Plan(stack="retail", backend="local", changes=(), steps=()))
>>> doc["kind"], doc["format_version"], doc["summary"]["unchanged"]
('cleanrooms-reconciler-plan', 2, 0)
>>> from_json(doc).stack
'retail'
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.errors import PlanError, SourceLocation, why_unusable
from reconciler.planner.addresses import parse
from reconciler.planner.model import FORMAT_VERSION, Action, Change, FieldDiff, Finding, Impact, Plan, Step
from reconciler.planner.resource import decode, encode
from reconciler.userfiles import write_atomically

__all__ = [
    "DOCUMENT_KIND",
    "FORMAT_VERSION",
    "REMAKE_HINT",
    "change_json",
    "from_json",
    "read",
    "refuse_existing",
    "to_json",
    "write",
]

#: The ``kind`` of every plan document.
DOCUMENT_KIND = "cleanrooms-reconciler-plan"
#: What to do about a plan file that cannot be used.
REMAKE_HINT = "make the plan again with `reconciler plan STACK --out PLAN_FILE`, then apply the new file"


def to_json(plan: Plan, *, written_to: Path | None = None) -> dict[str, Any]:
    """The plan document (``FORMAT_VERSION`` 2).

    ::

        {
          "kind": "cleanrooms-reconciler-plan", "format_version": 2,
          "stack": str, "backend": "local" | "aws", "created_at": ISO-8601,
          "as_member": str | null, "accounts": {account id: member key},
          "left_out": {member key: changes of its part --as left out},
          "targets": [--target address], "untargeted": changes --target left out,
          "spec": {"path": absolute path | "", "from_plan": path relative to the plan file's
                   directory | null},
          "fingerprints": {"spec": sha256-hex, "state": sha256-hex},
          "summary": {"create": n, "update": n, ..., "unchanged": n,
                      "weakens": n, "irreversible": n, "blocked": n},
          "changes": [{"address", "kind", "action", "impact", "findings": [{impact, reason,
                       path, rule}], "reason", "requires_replace": [path], "irreversible",
                       "blocked", "owner", "account_id", "prevent_destroy", "source",
                       "observed_id", "observed_arn", "deleted_with", "moved_from", "gone",
                       "region", "observed_region",
                       "field_diffs": [{path, before, after}],
                       "before", "after"}],
          "steps": [[{"id", "address", "role", "operation", "params", "owner",
                      "account_id", "depends_on": [id], "irreversible", "prevent_destroy",
                      "region"}]]
        }

    Values are API-shaped; a Ref is ``{"$ref": address, "field": "id" | "arn"}``. A step's
    ``depends_on`` names steps of earlier groups only.

    Args:
        plan: the Plan.
        written_to: the plan file's path, to record ``spec.from_plan`` (a checkout moved with
            its plans still finds its spec); None when printed.

    Returns:
        The document (JSON types only).
    """
    summary = {
        **plan.counts(),
        "weakens": len(plan.weakening),
        "irreversible": len(plan.irreversible_steps),
        "blocked": len(plan.blocked),
    }
    return {
        "kind": DOCUMENT_KIND,
        "format_version": plan.format_version,
        "stack": plan.stack,
        "backend": plan.backend,
        "created_at": plan.created_at,
        "as_member": plan.as_member,
        "left_out": dict(sorted(plan.left_out.items())),
        "targets": list(plan.targets),
        "untargeted": plan.untargeted,
        "accounts": dict(sorted(plan.accounts.items())),
        "spec": {"path": plan.spec_path, "from_plan": _relative(plan.spec_path, written_to)},
        "fingerprints": {"spec": plan.spec_fingerprint, "state": plan.state_fingerprint},
        "summary": summary,
        "changes": [change_json(c) for c in plan.ordered_changes()],
        "steps": [[_step_json(s) for s in group] for group in plan.steps],
    }


def from_json(doc: Any, *, origin: str = "plan", read_from: Path | None = None) -> Plan:
    """Rebuild a Plan from its document.

    Args:
        doc: the parsed JSON.
        origin: what to call it in messages (the file's path).
        read_from: the plan file's path, to resolve ``spec.from_plan``: when that exists it
            becomes ``spec_path``, else the recorded absolute path stays.

    Returns:
        The Plan.

    Raises:
        PlanError: not a plan document, another format version, or damaged (a missing or
            mistyped field, a step that depends on no earlier step).
    """
    if not isinstance(doc, dict) or doc.get("kind") != DOCUMENT_KIND:
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
        plan = Plan(
            stack=str(doc["stack"]),
            backend=str(doc["backend"]),
            created_at=str(doc["created_at"]),
            as_member=_optional_str(doc["as_member"]),
            left_out={_text(k): int(v) for k, v in (doc.get("left_out") or {}).items()},
            targets=tuple(_text(t) for t in doc.get("targets") or ()),
            untargeted=int(doc.get("untargeted") or 0),
            accounts={_text(k): _text(v) for k, v in doc["accounts"].items()},
            spec_path=_spec_path(doc["spec"], read_from),
            spec_fingerprint=str(doc["fingerprints"]["spec"]),
            state_fingerprint=str(doc["fingerprints"]["state"]),
            unchanged=int(doc["summary"]["unchanged"]),
            changes=tuple(sorted((_change_from(c) for c in doc["changes"]), key=lambda c: c.address)),
            steps=tuple(tuple(_step_from(s) for s in group) for group in doc["steps"]),
        )
        _check_dependencies(plan)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanError(f"{origin} is damaged: {type(exc).__name__}: {exc}", hint=REMAKE_HINT) from None
    return plan


def refuse_existing(path: str | os.PathLike[str]) -> None:
    """Refuse a plan file name that is taken: a plan someone reviewed is never replaced by default.

    Raises:
        PlanError: ``path`` exists (``plan --overwrite`` replaces it).
    """
    if os.path.lexists(path):
        raise PlanError(
            f"{path} already exists; plan never replaces a plan file (it may be the one that was reviewed)",
            hint="give --out a new name, delete the old file, or pass --overwrite to replace it",
        )


def write(plan: Plan, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Write the plan document atomically (temp file + rename).

    Args:
        plan: the Plan.
        path: the plan file (its directory is created if needed).
        overwrite: False: refuse an existing file, even one that appears while the plan is made.

    Returns:
        The path written.

    Raises:
        PlanError: ``overwrite`` is False and the file exists, or the file or its directory
            cannot be written (a file where a directory should be, a read-only or pseudo file
            system); nothing was written.
    """
    target = Path(path)
    text = json.dumps(to_json(plan, written_to=target), indent=2, sort_keys=False) + "\n"
    if not overwrite:
        refuse_existing(target)
    try:
        write_atomically(target, text, replace=overwrite)
    except OSError as exc:
        if not overwrite and isinstance(exc, FileExistsError):
            refuse_existing(target)  # the name was taken while the plan was made
        raise PlanError(
            f"cannot write the plan to {target}: {why_unusable(target, exc)}",
            hint="give --out a path in a directory you can write to",
        ) from None
    return target


def read(path: str | os.PathLike[str]) -> Plan:
    """Read a plan file.

    Args:
        path: a file written by ``write``.

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
    return from_json(doc, origin=str(path), read_from=Path(path))


def change_json(c: Change) -> dict[str, Any]:
    """One Change as plan files write it (the review's JSON writes changes the same way).

    Args:
        c: the Change.

    Returns:
        Its document (see ``to_json``).
    """
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
        "moved_from": str(c.moved_from) if c.moved_from else None,
        "gone": c.gone,
        "region": c.region,
        "observed_region": c.observed_region,
        "field_diffs": [
            {"path": d.path, "before": encode(d.before), "after": encode(d.after)} for d in c.field_diffs
        ],
        "before": encode(c.before),
        "after": encode(c.after),
    }


def _check_dependencies(plan: Plan) -> None:
    """Every ``depends_on`` names a step of an earlier group (the executor waits for it)."""
    earlier: set[str] = set()
    for group in plan.steps:
        for step in group:
            unknown = [d for d in step.depends_on if d not in earlier]
            if unknown:
                raise ValueError(f"step {step.id!r} depends on {unknown[0]!r}, which is not an earlier step")
        earlier.update(s.id for s in group)


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


def _source_json(source: SourceLocation | None) -> dict[str, Any] | None:
    if source is None:
        return None
    return {"path": source.path, "line": source.line, "column": source.column}


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
        moved_from=parse(d["moved_from"]) if d.get("moved_from") else None,
        gone=_text(d.get("gone", "")),
        region=_optional_str(d.get("region")),
        observed_region=_optional_str(d.get("observed_region")),
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
        "region": s.region,
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
        region=_optional_str(d.get("region")),
    )
