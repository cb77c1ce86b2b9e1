"""Shared vocabulary of the renderings: action markers and words, value formatting, field lines."""

from __future__ import annotations

import json as _json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.planner.model import Action, Change, Plan
from reconciler.planner.resource import Ref

#: Marker and words per Action, as every rendering shows them.
ACTIONS: Mapping[Action, tuple[str, str]] = {
    Action.CREATE: ("+", "create"),
    Action.ADD_MEMBER: ("+", "add member (collaboration change request)"),
    Action.UPDATE: ("~", "update in place"),
    Action.DELETE_THEN_CREATE: ("-/+", "replace (delete, then create)"),
    Action.CREATE_THEN_DELETE: ("+/-", "replace (create, then delete)"),
    Action.DELETE: ("-", "delete"),
    Action.REMOVE_MEMBER: ("-", "remove member"),
    Action.NO_OP: (" ", "no change"),
}


#: A 12-digit account id standing alone (not inside an ARN or a longer number), quoted or not.
_ACCOUNT_ID = re.compile(r'(?<![\w:/."-])("?)(\d{12})\1(?![\w:/"-])')


def mention(text: str, accounts: Mapping[str, str] | None) -> str:
    """Name the member after each known account id: ``"123456789012" (retailer)``.

    For people reading text and Markdown; JSON keeps bare ids. Ids inside ARNs are left alone.
    """
    if not accounts:
        return text

    def name(match: re.Match[str]) -> str:
        member = accounts.get(match.group(2))
        return f"{match.group(0)} ({member})" if member else match.group(0)

    return _ACCOUNT_ID.sub(name, text)


def value(v: Any, accounts: Mapping[str, str] | None = None) -> str:
    """A value as one short line: JSON, with Refs shown as what apply will fill in.

    With ``accounts`` (account id -> member key), known account ids are followed by the member.
    """
    if isinstance(v, Ref):
        return f"<{v}>"
    return mention(_json.dumps(_plain(v), sort_keys=True, ensure_ascii=False), accounts)


def _plain(v: Any) -> Any:
    if isinstance(v, Ref):
        return f"<{v}>"
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def leaves(prefix: str, before: Any, after: Any) -> Iterator[tuple[str, Any, Any]]:
    """Changed leaves: dicts by key, lists of dicts of equal length item by item, others whole."""
    if before == after:
        return
    if isinstance(before, Mapping) and after is None:
        after = {}
    if isinstance(after, Mapping) and before is None:
        before = {}
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted(before.keys() | after.keys()):
            yield from leaves(f"{prefix}.{key}" if prefix else key, before.get(key), after.get(key))
        return
    both_dict_lists = (
        isinstance(before, list)
        and isinstance(after, list)
        and len(before) == len(after)
        and all(isinstance(x, Mapping) for x in [*before, *after])
    )
    if both_dict_lists:
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            yield from leaves(f"{prefix}[{i}]", b, a)
        return
    yield prefix, before, after


def field_lines(change: Change, accounts: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(marker, text) per changed field; creates and deletes list every field.

    ``accounts`` (account id -> member key) names the member after each known account id.
    """
    forced = set(change.requires_replace)
    out: list[tuple[str, str]] = []
    if change.before is None or change.after is None:
        creating = change.after is not None
        attrs = change.after if creating else change.before
        for path, _, v in leaves("", None, attrs):
            out.append(("+" if creating else "-", f"{path} = {value(v, accounts)}"))
        return out
    for diff in change.field_diffs:
        for path, b, a in leaves(diff.path, diff.before, diff.after):
            note = "  # forces replacement" if diff.path in forced or path in forced else ""
            if b is None:
                out.append(("+", f"{path} = {value(a, accounts)}{note}"))
            elif a is None:
                out.append(("-", f"{path} = {value(b, accounts)}{note}"))
            else:
                out.append(("~", f"{path}: {value(b, accounts)} -> {value(a, accounts)}{note}"))
    return out


def summary_counts(plan: Plan) -> dict[str, int]:
    """``add``, ``change``, ``replace``, ``destroy`` and ``unchanged``, as the summary line counts them."""
    counts = plan.counts()
    return {
        "add": counts["create"] + counts["add-member"],
        "change": counts["update"],
        "replace": counts["delete-then-create"] + counts["create-then-delete"],
        "destroy": counts["delete"] + counts["remove-member"],
        "unchanged": counts["unchanged"],
    }


def summary_line(plan: Plan) -> str:
    """``Plan: 1 to add, 2 to change, 1 to replace, 0 to destroy, 1 blocked. 11 unchanged.``"""
    n = summary_counts(plan)
    add, change, replace, destroy = n["add"], n["change"], n["replace"], n["destroy"]
    text = f"Plan: {add} to add, {change} to change, {replace} to replace, {destroy} to destroy"
    if plan.blocked:
        text += f", {len(plan.blocked)} blocked"
    text += f". {plan.unchanged} unchanged."
    weakens = len(plan.weakening)
    text += f" Privacy: {plural(weakens, 'change')} weaken{'s' if weakens == 1 else ''} it."
    if plan.irreversible_steps:
        text += f" {plural(len(plan.irreversible_steps), 'irreversible step')}."
    return text


def left_out_lines(plan: Plan) -> list[str]:
    """What ``--as`` and ``--target`` left out of a plan, so a partial plan never reads as complete."""
    lines = []
    if plan.left_out:
        parts = ", ".join(f"{m}'s part ({plural(n, 'change')})" for m, n in plan.left_out.items())
        lines.append(
            f"Left out by --as {plan.as_member}: {parts}; the stack matches its spec only once those are"
            " applied too."
        )
    if plan.untargeted:
        lines.append(
            f"Left out by --target {' '.join(plan.targets)}: {plural(plan.untargeted, 'change')};"
            " plan without --target to see them."
        )
    return lines


def no_changes(plan: Plan) -> str:
    """The one line of an empty plan: "matches the spec" only when nothing was left out."""
    count = plural(plan.unchanged, "resource")
    if not plan.is_partial:
        return f"No changes. Stack {plan.stack} on {plan.backend} matches the spec ({count})."
    scope = []
    if plan.as_member:
        scope.append(f"in {plan.as_member}'s part")
    if plan.targets:
        scope.append(f"for {' '.join(plan.targets)}")
    return f"No changes {' and '.join(scope)} of stack {plan.stack} on {plan.backend}."


def plural(n: int, noun: str) -> str:
    """``1 change``, ``2 changes``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
