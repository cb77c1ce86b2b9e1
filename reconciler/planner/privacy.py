"""Privacy impact of a Change: ``weakens``, ``strengthens`` or ``neutral``, with reasons in words.

Two tables decide it, read top to bottom:

- ``FIELD_EFFECTS``: for a field path of a Kind (``*`` matches one key, e.g. the rule variant
  ``list`` / ``aggregation`` / ``custom``), how a change of its value moves privacy: a set that
  grows (columns exposed), a set that shrinks (disallowed output columns), a number that falls
  (thresholds, noise) or rises (epsilon), an enum that moves along a strict-to-loose ranking
  (AGGREGATION -> LIST, query logging ENABLED -> DISABLED), a protection that disappears.
- ``LIFECYCLE_EFFECTS``: what creating or deleting a whole resource of a Kind means (a new
  association shares a table; a new template is a new allowed analysis; a removed member stops
  receiving results).

``assess`` needs only a Change's ``before`` and ``after`` attributes, so ``review`` uses it on a
diff of two specs with no backend. Reasons carry the values: "aggregation threshold on purchases
lowered 100 -> 25".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconciler.planner.addresses import NAME_PARTS, Address, Kind
from reconciler.planner.model import Action, Change, Finding, Impact
from reconciler.planner.resource import Ref

__all__ = ["FIELD_EFFECTS", "LIFECYCLE_EFFECTS", "FieldEffect", "LifecycleEffect", "assess", "subject"]

#: A comparison: (label, subject, before, after) -> findings (impact, sentence) for one field.
Compare = Callable[[str, str, Any, Any], list[tuple[Impact, str]]]


def _item(value: Any) -> str:
    if isinstance(value, Mapping) and "function" in value and "columnNames" in value:
        return f"{value['function']}({', '.join(value['columnNames'])})"
    if isinstance(value, (Mapping, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _as_set(value: Any) -> dict[str, Any]:
    items = value if isinstance(value, list) else [] if value is None else [value]
    return {_item(v): v for v in items}


def grows_weaker(label: str, subject: str, before: Any, after: Any) -> list[tuple[Impact, str]]:
    """A set whose new members expose more (columns, functions, receivers, abilities)."""
    old, new = _as_set(before), _as_set(after)
    out = []
    if added := sorted(new.keys() - old.keys()):
        out.append((Impact.WEAKENS, f"{', '.join(added)} added to {label} on {subject}"))
    if removed := sorted(old.keys() - new.keys()):
        out.append((Impact.STRENGTHENS, f"{', '.join(removed)} removed from {label} on {subject}"))
    return out


def shrinks_weaker(label: str, subject: str, before: Any, after: Any) -> list[tuple[Impact, str]]:
    """A set whose members protect (disallowed output columns)."""
    return [
        (Impact.STRENGTHENS if impact is Impact.WEAKENS else Impact.WEAKENS, text)
        for impact, text in grows_weaker(label, subject, before, after)
    ]


def _number(
    label: str, subject: str, before: Any, after: Any, *, lower_is_weaker: bool
) -> list[tuple[Impact, str]]:
    if before is None or after is None or before == after:
        return []
    if before is not None and after is not None and (after < before) == lower_is_weaker:
        impact = Impact.WEAKENS
    else:
        impact = Impact.STRENGTHENS
    verb = "lowered" if after < before else "raised"
    return [(impact, f"{label} on {subject} {verb} {before} -> {after}")]


def lower_weaker(label: str, subject: str, before: Any, after: Any) -> list[tuple[Impact, str]]:
    """A number that protects more when higher (thresholds, minimums, noise)."""
    return _number(label, subject, before, after, lower_is_weaker=True)


def higher_weaker(label: str, subject: str, before: Any, after: Any) -> list[tuple[Impact, str]]:
    """A number that protects more when lower (epsilon, budgets)."""
    return _number(label, subject, before, after, lower_is_weaker=False)


def ranked(*strict_to_loose: Any) -> Compare:
    """An enum whose values go from most to least protective; moving right weakens."""

    def compare(label: str, subject: str, before: Any, after: Any) -> list[tuple[Impact, str]]:
        if before == after or before is None or after is None:
            return []
        try:
            looser = strict_to_loose.index(after) > strict_to_loose.index(before)
        except ValueError:
            return [
                (Impact.WEAKENS, f"{label} on {subject} changed {before} -> {after}; review what it allows")
            ]
        return [
            (
                Impact.WEAKENS if looser else Impact.STRENGTHENS,
                f"{label} on {subject} changed {before} -> {after}",
            )
        ]

    return compare


def protection(label: str, subject: str, before: Any, after: Any) -> list[tuple[Impact, str]]:
    """A setting whose presence protects; removing it weakens, adding it strengthens."""
    if before is not None and after is None:
        return [(Impact.WEAKENS, f"{label} removed from {subject}")]
    if before is None and after is not None:
        return [(Impact.STRENGTHENS, f"{label} added to {subject}")]
    return []


def any_change_weaker(label: str, subject: str, before: Any, after: Any) -> list[tuple[Impact, str]]:
    """A value whose every change is a new thing to review (an approved template's SQL)."""
    if before is None or after is None or before == after:
        return []
    return [(Impact.WEAKENS, f"{label} of {subject} changed: a new analysis to review")]


def keyed(key: str, value: str, inner: Compare) -> Compare:
    """Compare ``value`` of list items matched by ``key`` (thresholds per identity column)."""

    def compare(label: str, subject: str, before: Any, after: Any) -> list[tuple[Impact, str]]:
        old = {_item(i.get(key)): i for i in before or [] if isinstance(i, Mapping)}
        new = {_item(i.get(key)): i for i in after or [] if isinstance(i, Mapping)}
        out: list[tuple[Impact, str]] = []
        for k in sorted(old.keys() & new.keys()):
            where = subject if len(old) == len(new) == 1 else f"{subject} ({key} {k})"
            out += inner(label, where, old[k].get(value), new[k].get(value))
        for k in sorted(old.keys() - new.keys()):
            out.append((Impact.WEAKENS, f"{label} on {subject} for {k} removed"))
        for k in sorted(new.keys() - old.keys()):
            out.append((Impact.STRENGTHENS, f"{label} on {subject} for {k} added ({new[k].get(value)})"))
        return out

    return compare


def first(inner: Compare) -> Compare:
    """Compare the single item of a one-item list (``sharedAudienceMetrics: [ALL]``)."""

    def compare(label: str, subject: str, before: Any, after: Any) -> list[tuple[Impact, str]]:
        def one(v: Any) -> Any:
            return v[0] if isinstance(v, list) and len(v) == 1 else v

        return inner(label, subject, one(before), one(after))

    return compare


def changed_weaker(label: str, subject: str, before: Any, after: Any) -> list[tuple[Impact, str]]:
    """A destination whose every change sends data somewhere new (an output location)."""
    if before is None or after is None or before == after:
        return []
    return [(Impact.WEAKENS, f"{label} of {subject} changed {_item(before)} -> {_item(after)}")]


def _grantees(policy: Any) -> list[str]:
    """``principal: action`` pairs a resource policy (JSON text) allows; unreadable text is one item."""
    try:
        document = json.loads(policy) if isinstance(policy, str) else policy
        statements = document.get("Statement", [])
    except (ValueError, AttributeError):
        return [str(policy)]
    out = []
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, Mapping) or st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal")
        who = principal.get("AWS", principal) if isinstance(principal, Mapping) else principal
        actions = st.get("Action")
        for p in who if isinstance(who, list) else [who]:
            for a in actions if isinstance(actions, list) else [actions]:
                out.append(f"{p}: {a}")
    return out


def grantees_weaker(label: str, subject: str, before: Any, after: Any) -> list[tuple[Impact, str]]:
    """A resource policy: every principal and action it newly allows widens who may use the resource."""
    return grows_weaker(
        label, subject, _grantees(before) if before else [], _grantees(after) if after else []
    )


@dataclass(frozen=True)
class FieldEffect:
    """How a change of one field moves privacy.

    Args:
        id: stable name (JSON output, policy files).
        kinds: Kinds it applies to.
        path: dotted field path; ``*`` matches any one key.
        label: what the field is, in words ("aggregation threshold").
        compare: the comparison (``grows_weaker``, ``lower_weaker``, ``ranked(...)``, ...).
    """

    id: str
    kinds: frozenset[Kind]
    path: str
    label: str
    compare: Compare


@dataclass(frozen=True)
class LifecycleEffect:
    """What creating or deleting a whole resource means; ``template`` formats with ``subject``."""

    kind: Kind
    created: tuple[Impact, str]
    deleted: tuple[Impact, str]


_TABLE_RULE = frozenset({Kind.ANALYSIS_RULE})
_ASSOC_RULE = frozenset({Kind.ASSOCIATION_RULE})
_BOTH_RULES = _TABLE_RULE | _ASSOC_RULE
_TABLE = frozenset({Kind.CONFIGURED_TABLE})
_COLLAB = frozenset({Kind.COLLABORATION})
_LOGGED = frozenset({Kind.COLLABORATION, Kind.MEMBERSHIP})
_BUDGET = frozenset({Kind.PRIVACY_BUDGET_TEMPLATE})
_CAM = frozenset({Kind.CONFIGURED_AUDIENCE_MODEL})
_CHANNEL = frozenset({Kind.ML_INPUT_CHANNEL})
_PQ = "inputChannel.dataSource.protectedQueryInputParameters"
_ENC = "dataEncryptionMetadata"
_DP = "parameters.differentialPrivacy"
_P = "analysisRulePolicy.v1.*"


def _r(effect_id: str, kinds: frozenset[Kind], path: str, label: str, compare: Compare) -> FieldEffect:
    return FieldEffect(effect_id, kinds, path, label, compare)


#: Field effects, in the order their findings are listed.
FIELD_EFFECTS: tuple[FieldEffect, ...] = (
    _r("rule-type", _TABLE_RULE | _ASSOC_RULE, "analysisRuleType", "analysis rule type",
       ranked("AGGREGATION", "CUSTOM", "LIST")),
    _r("aggregation-threshold", _TABLE_RULE, f"{_P}.aggregationThresholds", "aggregation threshold",
       keyed("identityColumns", "minimumIdentityCount", lower_weaker)),
    _r("aggregate-expression", _TABLE_RULE, f"{_P}.aggregationThresholds", "allowed aggregate expressions",
       keyed("identityColumns", "allowedAggregateExpressionType", ranked("COLUMNS_ONLY", "ANY_EXPRESSION"))),
    _r("output-constraint", _TABLE_RULE, f"{_P}.outputConstraints", "aggregation threshold",
       keyed("columnName", "minimum", lower_weaker)),
    _r("list-columns", _TABLE_RULE, f"{_P}.listColumns", "listColumns", grows_weaker),
    _r("join-columns", _TABLE_RULE, f"{_P}.joinColumns", "join columns", grows_weaker),
    _r("join-operators", _TABLE_RULE, f"{_P}.allowedJoinOperators", "allowed join operators", grows_weaker),
    _r("join-required", _TABLE_RULE, f"{_P}.joinRequired", "required join", protection),
    _r("dimension-columns", _TABLE_RULE, f"{_P}.dimensionColumns", "dimension columns", grows_weaker),
    _r("scalar-functions", _TABLE_RULE, f"{_P}.scalarFunctions", "scalar functions", grows_weaker),
    _r("aggregate-columns", _TABLE_RULE, f"{_P}.aggregateColumns", "aggregate columns", grows_weaker),
    _r("allowed-analyses", _TABLE_RULE, f"{_P}.allowedAnalyses", "allowed analyses", grows_weaker),
    _r("analysis-providers", _TABLE_RULE, f"{_P}.allowedAnalysisProviders", "allowed analysis providers",
       grows_weaker),
    _r("disallowed-output", _TABLE_RULE, f"{_P}.disallowedOutputColumns", "disallowed output columns",
       shrinks_weaker),
    _r("differential-privacy", _TABLE_RULE, f"{_P}.differentialPrivacy", "differential privacy", protection),
    _r("comparison-controls", _TABLE_RULE, f"{_P}.comparisonControls", "comparison controls", protection),
    _r("literal-comparisons", _TABLE_RULE, f"{_P}.comparisonControls.allowedLiteralComparisonColumns",
       "literal comparison columns", grows_weaker),
    _r("column-comparisons", _TABLE_RULE, f"{_P}.comparisonControls.allowedColumnComparisonColumns",
       "column comparison columns", grows_weaker),
    _r("additional-analyses", _TABLE_RULE, f"{_P}.additionalAnalyses", "additional analyses",
       ranked("NOT_ALLOWED", "REQUIRED", "ALLOWED")),
    _r("result-receivers", _BOTH_RULES, f"{_P}.allowedResultReceivers", "result receivers", grows_weaker),
    _r("additional-analyses-allowed", _BOTH_RULES, f"{_P}.allowedAdditionalAnalyses",
       "allowed additional analyses", grows_weaker),
    _r("allowed-columns", _TABLE, "allowedColumns", "allowedColumns", grows_weaker),
    _r("member-abilities", frozenset({Kind.MEMBER}), "memberAbilities", "abilities", grows_weaker),
    _r("member-ml-abilities", frozenset({Kind.MEMBER}), "mlMemberAbilities.customMLMemberAbilities",
       "ML abilities", grows_weaker),
    _r("shared-audience-metrics", _CAM, "sharedAudienceMetrics", "shared audience metrics",
       first(ranked("NONE", "ALL"))),
    _r("min-matching-seed", _CAM, "minMatchingSeedSize", "minimum matching seed size", lower_weaker),
    _r("audience-sizes", _CAM, "audienceSizeConfig.audienceSizeBins", "audience sizes", grows_weaker),
    _r("audience-output", _CAM, "outputConfig", "audience output location", changed_weaker),
    _r("audience-policy", frozenset({Kind.CONFIGURED_AUDIENCE_MODEL_POLICY}), "configuredAudienceModelPolicy",
       "who may use the model", grantees_weaker),
    _r("channel-query", _CHANNEL, f"{_PQ}.sqlParameters", "query", any_change_weaker),
    _r("channel-receivers", _CHANNEL, "configuredModelAlgorithmAssociations", "ML receivers of its output",
       grows_weaker),
    _r("query-logging", _LOGGED, "queryLogStatus", "query logging",
       ranked("ENABLED", "DISABLED")),
    _r("job-logging", _LOGGED, "jobLogStatus", "job logging",
       ranked("ENABLED", "DISABLED")),
    _r("cleartext", _COLLAB, f"{_ENC}.allowCleartext", "cleartext columns",
       ranked(False, True)),
    _r("duplicates", _COLLAB, f"{_ENC}.allowDuplicates",
       "duplicate values in fingerprint columns", ranked(False, True)),
    _r("joins-different-names", _COLLAB,
       f"{_ENC}.allowJoinsOnColumnsWithDifferentNames", "joins on differently named columns",
       ranked(False, True)),
    _r("preserve-nulls", _COLLAB, f"{_ENC}.preserveNulls",
       "cleartext NULLs", ranked(False, True)),
    _r("result-regions", _COLLAB, "allowedResultRegions", "allowed result regions",
       grows_weaker),
    _r("auto-approved-changes", _COLLAB, "autoApprovedChangeRequestTypes",
       "auto-approved change requests", grows_weaker),
    _r("epsilon", _BUDGET, f"{_DP}.epsilon",
       "differential-privacy epsilon", higher_weaker),
    _r("noise", _BUDGET, f"{_DP}.usersNoisePerQuery",
       "noise per query (usersNoisePerQuery)", lower_weaker),
    _r("access-budget", _BUDGET, "parameters.accessBudget.budgetParameters",
       "access budget", keyed("type", "budget", higher_weaker)),
    _r("template-source", frozenset({Kind.ANALYSIS_TEMPLATE}), "source", "source", any_change_weaker),
)  # fmt: skip

_SHARE = (Impact.WEAKENS, "table {table} is shared with collaboration {collab} as {name}")
_UNSHARE = (Impact.STRENGTHENS, "table {table} is no longer shared with collaboration {collab} (as {name})")

#: Whole-resource rules for CREATE / ADD_MEMBER and DELETE / REMOVE_MEMBER.
LIFECYCLE_EFFECTS: Mapping[Kind, LifecycleEffect] = {
    r.kind: r
    for r in (
        LifecycleEffect(Kind.ASSOCIATION, _SHARE, _UNSHARE),
        LifecycleEffect(
            Kind.ANALYSIS_TEMPLATE,
            (Impact.WEAKENS, "new analysis template {name} can be run in {collab}"),
            (Impact.STRENGTHENS, "analysis template {name} can no longer be run in {collab}"),
        ),
        LifecycleEffect(
            Kind.MEMBER,
            (Impact.WEAKENS, "{member} joins {collab} with abilities {abilities}"),
            (Impact.STRENGTHENS, "{member} is removed from {collab} and loses {abilities}"),
        ),
        LifecycleEffect(
            Kind.ANALYSIS_RULE,
            (Impact.NEUTRAL, "new {type} analysis rule on {table}"),
            (Impact.STRENGTHENS, "{table} loses its analysis rule: it can no longer be queried"),
        ),
        LifecycleEffect(
            Kind.CONFIGURED_AUDIENCE_MODEL_ASSOCIATION,
            (Impact.WEAKENS, "audience model {name} is offered to the members of {collab}"),
            (Impact.STRENGTHENS, "audience model {name} is no longer offered in {collab}"),
        ),
        LifecycleEffect(
            Kind.CONFIGURED_AUDIENCE_MODEL_POLICY,
            (Impact.WEAKENS, "a resource policy lets other accounts use configured audience model {name}"),
            (Impact.STRENGTHENS, "configured audience model {name} no longer has a resource policy"),
        ),
        LifecycleEffect(
            Kind.CONFIGURED_MODEL_ALGORITHM_ASSOCIATION,
            (Impact.WEAKENS, "model algorithm {name} can train on the data of {collab}"),
            (Impact.STRENGTHENS, "model algorithm {name} can no longer train in {collab}"),
        ),
        LifecycleEffect(
            Kind.ML_INPUT_CHANNEL,
            (Impact.WEAKENS, "ML input channel {name} sends query output of {collab} to Clean Rooms ML"),
            (Impact.STRENGTHENS, "ML input channel {name} and its data are deleted from {collab}"),
        ),
        LifecycleEffect(
            Kind.ASSOCIATION_RULE,
            (Impact.STRENGTHENS, "results of {name} in {collab} restricted to {receivers}"),
            (Impact.WEAKENS, "results of {name} in {collab} are no longer restricted to chosen receivers"),
        ),
    )
}


def subject(address: Address) -> str:
    """How findings name a resource: its table, association, template, member or collaboration."""
    names = dict(zip(NAME_PARTS[address.kind], address.parts, strict=True))
    return next(names[m] for m in ("table", "name", "member", "collaboration", "owner") if m in names)


def _pairs(
    segments: Sequence[str], before: Any, after: Any, prefix: str = ""
) -> Iterator[tuple[str, Any, Any]]:
    """Concrete (path, before, after) for a pattern; ``*`` pairs single-key variants across sides."""
    if not segments:
        yield prefix, before, after
        return
    head, rest = segments[0], segments[1:]
    b = before if isinstance(before, Mapping) else {}
    a = after if isinstance(after, Mapping) else {}
    if head != "*":
        if head in b or head in a:
            yield from _pairs(rest, b.get(head), a.get(head), f"{prefix}.{head}" if prefix else head)
        return
    if len(b) == 1 and len(a) == 1 and b.keys() != a.keys():
        (_, bv), (ak, av) = next(iter(b.items())), next(iter(a.items()))
        yield from _pairs(rest, bv, av, f"{prefix}.{ak}" if prefix else ak)
        return
    for key in sorted(b.keys() | a.keys()):
        yield from _pairs(rest, b.get(key), a.get(key), f"{prefix}.{key}" if prefix else key)


def _context(change: Change) -> dict[str, str]:
    attrs = change.after if change.after is not None else change.before or {}
    names = dict(zip(NAME_PARTS[change.address.kind], change.address.parts, strict=True))
    table_ref = attrs.get("configuredTableIdentifier")
    receivers = next(
        (v for _, _, v in _pairs(["analysisRulePolicy", "v1", "*", "allowedResultReceivers"], {}, attrs)),
        None,
    )
    return {
        "collab": names.get("collaboration", ""),
        "member": names.get("member", ""),
        "name": names.get("name", names.get("table", "")),
        "table": names.get("table")
        or (table_ref.address.parts[-1] if isinstance(table_ref, Ref) else names.get("name", "")),
        "abilities": ", ".join(attrs.get("memberAbilities", [])) or "none",
        "type": str(attrs.get("analysisRuleType", "")),
        "receivers": ", ".join(receivers) if isinstance(receivers, list) else "nobody",
    }


def _field_findings(change: Change) -> list[Finding]:
    before, after = change.before or {}, change.after or {}
    if before == after:
        return []
    who = subject(change.address)
    out = []
    for effect in FIELD_EFFECTS:
        if change.kind not in effect.kinds:
            continue
        for path, b, a in _pairs(effect.path.split("."), before, after):
            if b == a:
                continue
            for impact, text in effect.compare(effect.label, who, b, a):
                out.append(Finding(impact, text, path, effect.id))
    return out


def _lifecycle_findings(change: Change) -> list[Finding]:
    effect = LIFECYCLE_EFFECTS.get(change.kind)
    creates = change.action in (Action.CREATE, Action.ADD_MEMBER)
    deletes = change.action in (Action.DELETE, Action.REMOVE_MEMBER)
    if effect is None or not (creates or deletes):
        return []
    impact, template = effect.created if creates else effect.deleted
    attrs = change.after if creates else change.before
    if change.kind is Kind.MEMBER and not (attrs or {}).get("memberAbilities"):
        impact = Impact.NEUTRAL  # a member with no abilities reads nothing
    return [
        Finding(
            impact,
            template.format(**_context(change)),
            "",
            f"{change.kind.value}-{'created' if creates else 'deleted'}",
        )
    ]


_ORDER = {Impact.WEAKENS: 0, Impact.STRENGTHENS: 1, Impact.NEUTRAL: 2}


def assess(change: Change) -> Change:
    """Attach privacy findings and the overall impact (weakens > strengthens > neutral).

    Args:
        change: a Change with ``before`` / ``after`` attributes (any action; NO_OP stays neutral).

    Returns:
        A copy with ``impact`` and ``findings`` (weakening first, then strengthening, then neutral).
    """
    if change.action is Action.NO_OP:
        return replace(change, impact=Impact.NEUTRAL, findings=())
    findings = _lifecycle_findings(change)
    if change.before is not None and change.after is not None:
        findings += _field_findings(change)
    if not any(f.impact is not Impact.NEUTRAL for f in findings) and not findings:
        what = ", ".join(fd.path for fd in change.field_diffs) or change.action.value
        findings.append(Finding(Impact.NEUTRAL, f"no privacy-relevant change ({what})", "", "neutral"))
    findings.sort(key=lambda f: _ORDER[f.impact])
    return replace(change, impact=findings[0].impact, findings=tuple(findings))
