"""Semantic checks of references: every name a document uses is declared once, where it can be used."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reconciler.errors import Diagnostic
from reconciler.spec.checks.view import (
    ANALYSIS_KEYWORDS,
    Placed,
    View,
    is_template_name,
    quoted_names,
    suggest,
    view,
)
from reconciler.spec.models import (
    CustomRuleSpec,
)
from reconciler.spec.stack import Stack

__all__ = [
    "check_duplicate_addresses",
    "check_collaboration_references",
    "check_owners",
    "check_member_references",
    "check_template_references",
    "check_local_data",
    "check_table_regions",
]


def check_duplicate_addresses(stack: Stack) -> Iterator[Diagnostic]:
    """Two resources may not have the same address.

    Codes:
        duplicate-address (error): two collaborations with one key (their name, unless they set ``key``), two
            configured tables with one owner and key, two templates with one name in a collaboration, or two
            privacy budget templates of one type in a collaboration.
            Fix: rename or remove one of them.
        duplicate-association-name (error): two associations with one name in a collaboration; queries name
            tables by association name, so AWS refuses the second.
            Fix: give one association another ``name``.
    """
    v = view(stack)
    seen: dict[tuple[str, ...], Any] = {}

    def first(key: tuple[str, ...], node: Any) -> Any:
        return seen.setdefault(key, node)

    for c in v.collaborations:
        if first(("collaboration", c.key), c) is not c:
            yield _duplicate(v, c, _key_field(c), f'collaboration "{c.key}"', seen[("collaboration", c.key)])
    for t in v.tables:
        if first(("table", t.owner, t.key), t) is not t:
            yield _duplicate(
                v,
                t,
                _key_field(t),
                f'configured table "{t.key}" of "{t.owner}"',
                seen[("table", t.owner, t.key)],
            )
    for tpl in v.templates:
        key = ("template", tpl.collaboration, tpl.name)
        if first(key, tpl) is not tpl:
            yield _duplicate(
                v, tpl, ("name",), f'analysis template "{tpl.name}" in "{tpl.collaboration}"', seen[key]
            )
    for b in v.budgets:
        key = ("budget", b.collaboration, b.privacyBudgetType)
        if first(key, b) is not b:
            what = f'{b.privacyBudgetType} privacy budget template in "{b.collaboration}"'
            yield _duplicate(v, b, ("privacyBudgetType",), what, seen[key])
    twice = {id(t) for t in v.tables if seen[("table", t.owner, t.key)] is not t}
    for collab, placed in v.placed.items():
        names: dict[str, Placed] = {}
        for p in placed:
            if id(p.table) in twice:
                continue  # already reported as a duplicate table
            other = names.setdefault(p.association.name.lower(), p)
            if other is not p:
                yield v.diag(
                    "duplicate-association-name",
                    p.table,
                    ("associations", p.index, "name"),
                    f'association name "{p.association.name}" is already used in collaboration "{collab}"',
                    detail=f"first used by {other.table.owner}/{other.table.name} at "
                    f"{stack.locate(other.table, 'associations', other.index, 'name')}",
                    hint="association names are how queries name tables, so they must be unique "
                    "(case-insensitively)",
                )


def _key_field(node: Any) -> tuple[str, ...]:
    """Where a keyed document's key is written: ``key`` when set, else ``name`` (the default)."""
    return ("key",) if "key" in node.model_fields_set else ("name",)


def _duplicate(v: View, node: Any, path: tuple[str, ...], what: str, first: Any) -> Diagnostic:
    return v.diag(
        "duplicate-address",
        node,
        path,
        f"{what} is declared twice",
        detail=f"first declared at {v.stack.locate(first, *path)}",
        hint="rename or remove one of them",
    )


def check_collaboration_references(stack: Stack) -> Iterator[Diagnostic]:
    """Associations, templates and budgets name collaborations the stack declares.

    Codes:
        unknown-collaboration (error): a ``collaboration:`` that names no collaboration's key (its name,
            unless the collaboration sets ``key``).
            Fix: correct the name (a did-you-mean hint is given), or add the collaboration.
    """
    v = view(stack)
    names = v.collab.keys()
    renamed = {c.name: c.key for c in v.collaborations if c.name != c.key}

    def unknown(node: Any, path: tuple[str | int, ...], name: str, who: str) -> Diagnostic:
        hint = suggest(name, names)
        if name in renamed:
            hint = (
                f'collaboration "{name}" has the key "{renamed[name]}", and `collaboration:` names the key:'
                f' write "{renamed[name]}"'
            )
        return v.diag(
            "unknown-collaboration",
            node,
            path,
            f'unknown collaboration "{name}"',
            detail=f'{who} refers to collaboration "{name}", which no spec of this stack declares '
            f"(declared: {quoted_names(names)})",
            hint=hint,
        )

    for t in v.tables:
        for i, a in enumerate(t.associations):
            if a.collaboration not in v.collab:
                yield unknown(
                    t, ("associations", i, "collaboration"), a.collaboration, f'association "{a.name}"'
                )
    for tpl in v.templates:
        if tpl.collaboration not in v.collab:
            yield unknown(tpl, ("collaboration",), tpl.collaboration, f'analysis template "{tpl.name}"')
    for b in v.budgets:
        if b.collaboration not in v.collab:
            yield unknown(b, ("collaboration",), b.collaboration, "the privacy budget template")


def check_owners(stack: Stack) -> Iterator[Diagnostic]:
    """Whoever owns a resource is a member of every collaboration it belongs to.

    Codes:
        unknown-member (error): an ``owner`` that is not a member key of any collaboration of the stack.
            Fix: correct the key (a did-you-mean hint is given).
        owner-not-in-collaboration (error): the owner of a table, template or budget is not a member of the
            collaboration it is associated to.
            Fix: add the owner to that collaboration's members, or remove the association.
    """
    v = view(stack)
    owned: list[tuple[Any, str, str, list[tuple[tuple[str | int, ...], str]]]] = [
        (
            t,
            t.owner,
            f'table "{t.name}"',
            [(("associations", i, "collaboration"), a.collaboration) for i, a in enumerate(t.associations)],
        )
        for t in v.tables
    ]
    owned += [
        (tpl, tpl.owner, f'analysis template "{tpl.name}"', [(("owner",), tpl.collaboration)])
        for tpl in v.templates
    ]
    owned += [(b, b.owner, "the privacy budget template", [(("owner",), b.collaboration)]) for b in v.budgets]
    for node, owner, what, places in owned:
        if owner not in v.member_keys:
            yield v.diag(
                "unknown-member",
                node,
                ("owner",),
                f'unknown member "{owner}"',
                detail=f'{what} is owned by "{owner}", which is not a member key of any collaboration',
                hint=suggest(owner, v.member_keys),
            )
            continue
        for path, collab in places:
            c = v.collab.get(collab)
            if c is not None and owner not in c.members:
                yield v.diag(
                    "owner-not-in-collaboration",
                    node,
                    path,
                    f'"{owner}", owner of {what}, is not a member of collaboration "{collab}"',
                    detail=f"members are {quoted_names(c.members)}",
                    hint=f'add "{owner}" to the members of "{collab}"',
                )


def _member_lists(v: View) -> Iterator[tuple[Any, tuple[str | int, ...], str, list[str], str]]:
    """Every list of member keys: (node, path, what it is, the collaborations it applies to, key)."""
    for t in v.tables:
        collabs = [a.collaboration for a in t.associations if a.collaboration in v.collab]
        rule = t.analysisRule
        if isinstance(rule, CustomRuleSpec):
            for field in ("allowedAnalysisProviders", "allowedResultReceivers"):
                for i, key in enumerate(getattr(rule.policy, field) or ()):
                    yield t, ("analysisRule", "policy", field, i), field, collabs, key
        for ai, a in enumerate(t.associations):
            if a.analysisRule is not None and a.collaboration in v.collab:
                for i, key in enumerate(a.analysisRule.allowedResultReceivers or ()):
                    path = ("associations", ai, "analysisRule", "allowedResultReceivers", i)
                    yield t, path, "allowedResultReceivers", [a.collaboration], key


def check_member_references(stack: Stack) -> Iterator[Diagnostic]:
    """Analysis providers and result receivers are members, and receivers can receive results.

    Codes:
        unknown-member (error): a provider or receiver that is not a member of the collaborations the table is
            associated to.
            Fix: correct the member key (a did-you-mean hint is given).
        receiver-cannot-receive (error): a result receiver without CAN_RECEIVE_RESULTS in the collaboration.
            Fix: give the member CAN_RECEIVE_RESULTS, or remove it from the receivers.
    """
    v = view(stack)
    for node, path, field, collabs, key in _member_lists(v):
        if not collabs:
            continue
        members = {k: c.members[k] for name in collabs for c in [v.collab[name]] for k in c.members}
        if key not in members:
            yield v.diag(
                "unknown-member",
                node,
                path,
                f'unknown member "{key}" in {field}',
                detail=f"members of {quoted_names(collabs)} are {quoted_names(members)}",
                hint=suggest(key, members),
            )
            continue
        if field != "allowedResultReceivers":
            continue
        unable = [
            n
            for n in collabs
            if key in v.collab[n].members and "CAN_RECEIVE_RESULTS" not in v.collab[n].members[key].abilities
        ]
        for name in unable:
            yield v.diag(
                "receiver-cannot-receive",
                node,
                path,
                f'result receiver "{key}" does not have CAN_RECEIVE_RESULTS in collaboration "{name}"',
                detail="AWS delivers results only to members who can receive them",
                hint=f'add CAN_RECEIVE_RESULTS to "{key}" in "{name}", or remove it from {field}',
            )


def check_template_references(stack: Stack) -> Iterator[Diagnostic]:
    """Templates named in a custom rule exist in a collaboration the table is associated to.

    Codes:
        unknown-template (error): an ``allowedAnalyses`` entry that is neither ANY_QUERY, ANY_JOB, an ARN, nor
            an analysis template of a collaboration the table is associated to.
            Fix: correct the template name (a did-you-mean hint is given) or associate the table to the
                template's collaboration.
    """
    v = view(stack)
    for t in v.tables:
        rule = t.analysisRule
        if not isinstance(rule, CustomRuleSpec):
            continue
        in_scope = {name for a in t.associations for name in v.template_names.get(a.collaboration, ())}
        for i, entry in enumerate(rule.policy.allowedAnalyses):
            if not is_template_name(entry) or entry in in_scope:
                continue
            elsewhere = sorted(c for c, names in v.template_names.items() if entry in names)
            detail = (
                f"the template belongs to {quoted_names(elsewhere)}, where this table is not associated"
                if elsewhere
                else f"templates in its collaborations are {quoted_names(in_scope)}"
            )
            yield v.diag(
                "unknown-template",
                t,
                ("analysisRule", "policy", "allowedAnalyses", i),
                f'unknown analysis template "{entry}"',
                detail=detail,
                hint=suggest(entry, in_scope | ANALYSIS_KEYWORDS),
            )


def check_local_data(stack: Stack) -> Iterator[Diagnostic]:
    """Local sample data exists and is a format the local engine reads.

    Codes:
        local-data-missing (error): ``localData`` names a file that does not exist (relative to the YAML
            file).
            Fix: correct the path, or generate the data (``python3 scripts/make_sample_data.py`` for the
                examples).
        local-data-format (error): ``localData`` is not a .csv or .parquet file.
            Fix: convert the data to CSV or Parquet.
    """
    v = view(stack)
    for t in v.tables:
        if not t.localData:
            continue
        location = stack.locate(t, "localData")
        target = stack.resolve_path(t, t.localData)
        if Path(t.localData).suffix.lower() not in (".csv", ".parquet"):
            yield v.diag(
                "local-data-format",
                t,
                ("localData",),
                f'localData "{t.localData}" is not a CSV or Parquet file',
                hint="the local engine reads .csv and .parquet files",
            )
        elif not target.is_file() and stack.needs_local_data:
            yield Diagnostic(
                summary=f'localData file "{t.localData}" does not exist',
                location=location,
                detail=f"looked for {target}",
                hint="paths are relative to the YAML file; the examples' data comes from "
                "scripts/make_sample_data.py",
                code="local-data-missing",
            )


def check_table_regions(stack: Stack) -> Iterator[Diagnostic]:
    """A configured table lives in one region: it is associated only to collaborations of that region.

    Codes:
        table-regions (error): a configured table is associated to collaborations in different regions;
            AWS keeps a configured table in the region it was made in, and an association can only
            join a collaboration of the same region.
            Fix: declare one configured table per region (another ``key`` or name), each associated to the
                collaborations of its region.
    """
    v = view(stack)
    for t in v.tables:
        regions: dict[str, tuple[int, str]] = {}
        for i, a in enumerate(t.associations):
            c = v.collab.get(a.collaboration)
            if c is not None:
                regions.setdefault(c.region, (i, c.key))
        if len(regions) > 1:
            (first, (_, one)), *rest = regions.items()
            for region, (i, key) in rest:
                yield v.diag(
                    "table-regions",
                    t,
                    ("associations", i, "collaboration"),
                    f'table "{t.name}" is associated to collaboration "{key}" in {region}, but also to'
                    f' "{one}" in {first}',
                    hint="declare one configured table per region, each associated to the collaborations"
                    " of its region",
                )
