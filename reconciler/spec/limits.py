"""Layer 2 of validation: AWS's own limits, read from botocore's service model at run time.

``API_SHAPES`` says which service-model shape each spec model feeds (``Collaboration`` ->
``CreateCollaborationInput``). A model whose fields mirror their shape's members needs no entry:
it is checked member by member under its parent's shape. The walker then checks every value
against its member shape: string length, pattern, enum; list and map sizes; numeric ranges; and
"exactly one of" unions. Nothing here is copied from AWS's documentation by hand, so a newer
botocore brings newer limits.

Fields that hold logical names where the API wants IDs or ARNs (member keys, template names) are
``names``: their list sizes are checked, their items are not (the planner resolves them).
Spec-only fields (``kind``, ``owner``, ``localData``, ``lifecycle``...) are ``local``.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import regex  # type: ignore[import-untyped]

from reconciler.aws_model import ModelShape as Shape
from reconciler.aws_model import model_pattern, model_shape
from reconciler.errors import Diagnostic
from reconciler.spec import id_models as ids
from reconciler.spec import ml_models as ml
from reconciler.spec import models as m
from reconciler.spec.load import RawDocument, YamlPath, dotted

__all__ = [
    "CODES",
    "API_SHAPES",
    "ApiShape",
    "FieldLimit",
    "check",
    "compiled_pattern",
    "member_shape",
    "plan",
]

#: The Diagnostic codes this layer (2: AWS's limits) makes: (code, severity, what it catches,
#: the fix), listed in the README's table of checks (``spec.catalog``).
CODES: tuple[tuple[str, str, str, str], ...] = (
    (
        "aws-enum",
        "error",
        "a value AWS does not know (botocore enums), including scalar functions such as YEAR and MONTH",
        "use a listed value; for YEAR/MONTH allow EXTRACT",
    ),
    (
        "aws-pattern",
        "error",
        "a value that breaks AWS's pattern: account IDs of other than 12 digits, "
        "malformed role ARNs, column names",
        "write the value in the form the hint shows",
    ),
    ("aws-length", "error", "a name or description longer (or shorter) than AWS allows", "shorten the value"),
    (
        "aws-range",
        "error",
        "a number outside AWS's range (thresholds 2 to 100,000, epsilon 1 to 20...)",
        "use a value in the range given",
    ),
    (
        "aws-size",
        "error",
        "a list or map with more or fewer items than AWS allows (at most 50 Spark properties...)",
        "add or remove items",
    ),
    (
        "aws-member",
        "error",
        "in an API structure the spec passes through (container configs, computeConfiguration...): "
        "a member the API does not have, or a required one missing",
        "use the member names of the API reference",
    ),
    (
        "aws-union",
        "error",
        "not exactly one of the alternatives of a union (tableReference, outputConfiguration...)",
        "set exactly one",
    ),
)


@dataclass(frozen=True)
class ApiShape:
    """How one spec model maps onto the service model.

    Args:
        shape: the botocore shape the model's fields are members of (None: no API counterpart).
        renames: spec field -> member name, where the spec's name differs from the API's.
        fields: spec field -> another shape, as ``"Shape"`` or ``"Shape.member"``.
        names: fields holding logical names (member keys, template names): only sizes checked.
        local: spec-only fields; model values below them are still checked by their own entry.
        union: whether "exactly one field set" applies (default: the shape's ``union`` trait).
        service: the botocore service whose model holds ``shape`` (and the ``fields`` shapes).
    """

    shape: str | None
    renames: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)
    names: frozenset[str] = frozenset()
    local: frozenset[str] = frozenset()
    union: bool | None = None
    service: str = "cleanrooms"


_RESOURCE = frozenset({"kind", "owner", "collaboration", "lifecycle"})

#: Spec model -> the service-model shape it feeds. Models not listed are checked structurally
#: under their parent's member shape (their field names are the API's).
API_SHAPES: dict[type[m.SpecModel], ApiShape] = {
    m.CollaborationSpec: ApiShape(
        "CreateCollaborationInput",
        fields={"region": "CommercialRegion", "collaborationId": "CollaborationIdentifier"},
        local=_RESOURCE | {"creator", "members", "existing", "key"},
    ),
    m.MemberSpec: ApiShape(
        "MemberSpecification",
        renames={"abilities": "memberAbilities", "mlAbilities": "mlMemberAbilities"},
        local=frozenset({"credentials", "membership"}),
    ),
    m.Credentials: ApiShape(None, fields={"roleArn": "RoleArn"}, local=frozenset({"profile"})),
    m.MembershipSpec: ApiShape("CreateMembershipInput", local=_RESOURCE),
    m.Lifecycle: ApiShape(None, local=frozenset({"preventDestroy"})),
    m.ConfiguredTableSpec: ApiShape(
        "CreateConfiguredTableInput", local=_RESOURCE | {"localData", "analysisRule", "associations", "key"}
    ),
    m.AggregationRuleSpec: ApiShape(
        None, fields={"policy": "ConfiguredTableAnalysisRulePolicyV1.aggregation"}, local=frozenset({"type"})
    ),
    m.ListRuleSpec: ApiShape(
        None, fields={"policy": "ConfiguredTableAnalysisRulePolicyV1.list"}, local=frozenset({"type"})
    ),
    m.CustomRuleSpec: ApiShape(
        None, fields={"policy": "ConfiguredTableAnalysisRulePolicyV1.custom"}, local=frozenset({"type"})
    ),
    m.CustomPolicy: ApiShape(
        "AnalysisRuleCustom",
        names=frozenset({"allowedAnalyses", "allowedAnalysisProviders", "allowedResultReceivers"}),
    ),
    m.AssociationSpec: ApiShape("CreateConfiguredTableAssociationInput", local=_RESOURCE | {"analysisRule"}),
    m.AssociationAnalysisRuleSpec: ApiShape(
        "ConfiguredTableAssociationAnalysisRuleCustom", names=frozenset({"allowedResultReceivers"})
    ),
    m.AnalysisTemplateSpec: ApiShape(
        "CreateAnalysisTemplateInput",
        renames={"parameters": "analysisParameters"},
        fields={"referencedTables": "AnalysisSchema.referencedTables"},
        local=_RESOURCE,
    ),
    m.AnalysisTemplateSource: ApiShape("AnalysisSource", local=frozenset({"file"}), union=False),
    m.ArtifactSpec: ApiShape("AnalysisTemplateArtifact", local=frozenset({"file"})),
    m.PrivacyBudgetTemplateSpec: ApiShape("CreatePrivacyBudgetTemplateInput", local=_RESOURCE),
    m.MovedSpec: ApiShape(None, local=frozenset({"kind", "from_", "to"})),
    m.RemoteStateSpec: ApiShape(  # the tool's own setting: S3 / DynamoDB, no Clean Rooms shape
        None, local=frozenset({"kind", "backend", "bucket", "prefix", "table", "region"})
    ),
    m.AccessBudgetParameters: ApiShape(
        "AccessBudgetsPrivacyTemplateParametersInput", fields={"association": "TableAlias"}
    ),
    # Clean Rooms ML: logical names where the API wants ARNs are local (the planner resolves them)
    ml.TrainingDatasetSpec: ApiShape(
        "CreateTrainingDatasetRequest", local=_RESOURCE | {"localData"}, service="cleanroomsml"
    ),
    ml.AudienceModelSpec: ApiShape(
        "CreateAudienceModelRequest", local=_RESOURCE | {"trainingDataset"}, service="cleanroomsml"
    ),
    ml.ConfiguredAudienceModelSpec: ApiShape(
        "CreateConfiguredAudienceModelRequest",
        local=_RESOURCE | {"audienceModel", "policy", "associations"},
        service="cleanroomsml",
    ),
    ml.ConfiguredAudienceModelAssociationSpec: ApiShape(
        "CreateConfiguredAudienceModelAssociationInput",
        renames={"name": "configuredAudienceModelAssociationName"},
        local=_RESOURCE,
    ),
    ml.ConfiguredModelAlgorithmSpec: ApiShape(
        "CreateConfiguredModelAlgorithmRequest", local=_RESOURCE | {"associations"}, service="cleanroomsml"
    ),
    ml.ConfiguredModelAlgorithmAssociationSpec: ApiShape(
        "CreateConfiguredModelAlgorithmAssociationRequest", local=_RESOURCE, service="cleanroomsml"
    ),
    ml.MLConfigurationSpec: ApiShape("PutMLConfigurationRequest", local=_RESOURCE, service="cleanroomsml"),
    ml.MLInputChannelSpec: ApiShape(
        "CreateMLInputChannelRequest",
        names=frozenset({"configuredModelAlgorithmAssociations"}),
        local=_RESOURCE,
        service="cleanroomsml",
    ),
    ml.MLSqlParameters: ApiShape(
        "ProtectedQuerySQLParameters", local=frozenset({"analysisTemplate"}), service="cleanroomsml"
    ),
    # Identity resolution: localNamespace / localWorkflow are the local Entity Resolution stand-in
    ids.IdNamespaceAssociationSpec: ApiShape(
        "CreateIdNamespaceAssociationInput", local=_RESOURCE | {"localNamespace"}
    ),
    ids.IdMappingTableSpec: ApiShape("CreateIdMappingTableInput", local=_RESOURCE | {"localWorkflow"}),
    ids.LocalNamespaceSpec: ApiShape(None, local=frozenset({"type", "data", "idColumn"})),
    ids.LocalWorkflowSpec: ApiShape(None, local=frozenset({"rules"})),
}

#: Shape name -> what a valid value looks like, for pattern errors.
PATTERN_HINTS: dict[str, str] = {
    "AccountId": 'a 12-digit AWS account ID, in quotes: "123456789012"',
    "RoleArn": "an IAM role ARN: arn:aws:iam::123456789012:role/NAME",
    "TableAlias": "letters, digits, underscores, spaces and single hyphens; no hyphen first or last",
    "ColumnName": "lower-case letters, digits, underscores, spaces and hyphens",
    "AnalysisRuleColumnName": "lower-case letters, digits, underscores, spaces and hyphens",
    "CollaborationIdentifier": "a collaboration ID: a lower-case UUID",
}

#: (enum shape, value) -> a better hint than the closest enum value.
ENUM_HINTS: dict[tuple[str, str], str] = {
    ("ScalarFunctions", fn): f"AWS has no {fn}; allow EXTRACT and write EXTRACT({fn} FROM column)"
    for fn in ("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND", "QUARTER", "WEEK")
}


def member_shape(spec: str, service: str = "cleanrooms") -> Shape:
    """The botocore shape named ``"Shape"`` or ``"Shape.member"`` of ``service``'s model."""
    name, _, member = spec.partition(".")
    shape = model_shape(name, service)
    return shape.members[member] if member else shape


def compiled_pattern(pattern: str) -> regex.Pattern[str]:
    """A botocore pattern compiled once, with Java's meaning (``aws_model.model_pattern``)."""
    return model_pattern(pattern)


@dataclass(frozen=True)
class FieldLimit:
    """One model field and the member shape it is checked against (None: spec-only)."""

    name: str
    shape: Shape | None  # None: spec-only
    names: bool


@functools.cache
def plan(model: type[m.SpecModel], parent: Shape | None) -> tuple[tuple[FieldLimit, ...], bool]:
    """For one model class: each field with the member shape to check it against, and the union flag.

    Args:
        model: the spec model class.
        parent: the shape it is checked under when it has no ``API_SHAPES`` entry.

    Returns:
        The fields in declaration order, and whether "exactly one field set" applies.

    Raises:
        LookupError: a field has no API counterpart and is not declared ``local`` (a bug).
    """
    entry = API_SHAPES.get(model)
    shape = member_shape(entry.shape, entry.service) if entry and entry.shape else parent
    out: list[FieldLimit] = []
    for name in model.model_fields:
        if entry and name in entry.fields:
            out.append(FieldLimit(name, member_shape(entry.fields[name], entry.service), False))
        elif entry and name in entry.local:
            out.append(FieldLimit(name, None, False))
        elif shape is not None:
            member = entry.renames.get(name, name) if entry else name
            out.append(FieldLimit(name, shape.members[member], bool(entry and name in entry.names)))
        else:
            raise LookupError(f"{model.__name__}.{name} has no API shape; add it to API_SHAPES")
    union = entry.union if entry and entry.union is not None else bool(shape and shape.metadata.get("union"))
    return tuple(out), union


def check(model: m.SpecModel, doc: RawDocument) -> list[Diagnostic]:
    """Every value of one document model that breaks an AWS limit, as Diagnostics.

    Args:
        model: a document that passed layer 1.
        doc: its RawDocument (for positions).

    Returns:
        The Diagnostics (empty when the document is within every limit).
    """
    return list(_walk_model(model, None, doc, ()))


def _walk_model(
    model: m.SpecModel, shape: Shape | None, doc: RawDocument, path: YamlPath
) -> Iterator[Diagnostic]:
    fields, union = plan(type(model), shape)
    if union:
        present = [f.name for f in fields if getattr(model, f.name) is not None]
        if len(present) != 1:
            names = ", ".join(f.name for f in fields)
            got = f"got {', '.join(present)}" if present else "got none"
            yield Diagnostic(
                f"{dotted(path) or 'document'}: set exactly one of {names} ({got})",
                doc.locate(path),
                code="aws-union",
            )
    for f in fields:
        value = getattr(model, f.name)
        if value is None:
            continue
        if f.shape is None:
            yield from _walk_local(value, doc, (*path, f.name))
        else:
            yield from _walk_value(value, f.shape, doc, (*path, f.name), f.names)


def _walk_local(value: Any, doc: RawDocument, path: YamlPath) -> Iterator[Diagnostic]:
    """Spec-only values: nothing to check, except models below them (by their own entries)."""
    if isinstance(value, m.SpecModel):
        yield from _walk_model(value, None, doc, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, m.SpecModel):
                yield from _walk_model(item, None, doc, (*path, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, m.SpecModel):
                yield from _walk_model(item, None, doc, (*path, key))


def _walk_value(
    value: Any, shape: Shape, doc: RawDocument, path: YamlPath, names: bool
) -> Iterator[Diagnostic]:
    kind = shape.type_name
    if isinstance(value, m.SpecModel):
        yield from _walk_model(value, shape, doc, path)
    elif kind == "string" and isinstance(value, str):
        if not names:
            yield from _check_string(value, shape, doc, path)
    elif kind == "list" and isinstance(value, list):
        yield from _check_size(len(value), shape, doc, path, "item")
        for i, item in enumerate(value):
            yield from _walk_value(item, shape.member, doc, (*path, i), names)
    elif kind == "map" and isinstance(value, dict):
        yield from _check_size(len(value), shape, doc, path, "entry")
        for key, item in value.items():
            for problem in _check_string(str(key), shape.key, doc, (*path, key)):
                shown = str(key) if len(str(key)) <= 40 else f"{str(key)[:37]}..."
                said = problem.summary.split(": ", 1)[-1]
                yield Diagnostic(
                    f'{dotted(path)}: key "{shown}" {said}',
                    doc.locate((*path, key), key=True),
                    hint=problem.hint,
                    detail=problem.detail,
                    code=problem.code,
                )
            yield from _walk_value(item, shape.value, doc, (*path, key), names)
    elif kind == "structure" and isinstance(value, dict):
        yield from _walk_structure(value, shape, doc, path)
    elif kind in ("integer", "long", "double", "float") and isinstance(value, int | float):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            yield Diagnostic(
                f"{dotted(path)}: {value} is outside AWS's range {_range(low, high)}",
                doc.locate(path),
                code="aws-range",
            )


def _walk_structure(
    value: dict[str, Any], shape: Shape, doc: RawDocument, path: YamlPath
) -> Iterator[Diagnostic]:
    """A mapping the spec passes to AWS as it is: members, required members and unions from the model."""
    members = shape.members
    for key, item in value.items():
        if key not in members:
            close = difflib.get_close_matches(str(key), list(members), n=1, cutoff=0.6)
            yield Diagnostic(
                f'{dotted((*path, key))}: unknown field "{key}" of the API\'s {shape.name}',
                doc.locate((*path, key), key=True),
                hint=f'did you mean "{close[0]}"?' if close else f"allowed here: {', '.join(members)}",
                code="aws-member",
            )
        elif item is not None:
            yield from _walk_value(item, members[key], doc, (*path, key), False)
    for name in shape.required_members:
        if value.get(name) is None:
            yield Diagnostic(
                f'{dotted(path)}: missing required field "{name}" of the API\'s {shape.name}',
                doc.locate(path),
                code="aws-member",
            )
    if shape.metadata.get("union"):
        present = [k for k, v in value.items() if v is not None and k in members]
        if len(present) != 1:
            got = f"got {', '.join(present)}" if present else "got none"
            yield Diagnostic(
                f"{dotted(path)}: set exactly one of {', '.join(members)} ({got})",
                doc.locate(path),
                code="aws-union",
            )


def _check_string(value: str, shape: Shape, doc: RawDocument, path: YamlPath) -> Iterator[Diagnostic]:
    where = dotted(path)
    enum = shape.enum
    if enum:
        if value not in enum:
            hint = ENUM_HINTS.get((shape.name, value.upper()))
            if hint is None:
                close = difflib.get_close_matches(value, enum, n=1, cutoff=0.6)
                hint = f'did you mean "{close[0]}"?' if close else f"use one of {', '.join(enum)}"
            yield Diagnostic(
                f'{where}: unknown value "{value}"', doc.locate(path), hint=hint, code="aws-enum"
            )
        return
    meta = shape.metadata
    low, high = meta.get("min"), meta.get("max")
    n = len(value)
    if (low is not None and n < low) or (high is not None and n > high):
        allowed = f"exactly {low}" if low == high else _range(low, high)
        yield Diagnostic(
            f"{where}: is {n} character{'s' if n != 1 else ''} long; AWS allows {allowed}",
            doc.locate(path),
            detail=f"the limit of the API's {shape.name}",
            hint=PATTERN_HINTS.get(shape.name, ""),
            code="aws-length",
        )
        return
    pattern = meta.get("pattern")
    if pattern and compiled_pattern(pattern).fullmatch(value) is None:
        shown = value if len(value) <= 60 else value[:57] + "..."
        yield Diagnostic(
            f'{where}: "{shown}" is not a valid {shape.name}',
            doc.locate(path),
            detail=f"AWS requires the pattern {pattern}",
            hint=PATTERN_HINTS.get(shape.name, ""),
            code="aws-pattern",
        )


def _check_size(n: int, shape: Shape, doc: RawDocument, path: YamlPath, noun: str) -> Iterator[Diagnostic]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and n < low) or (high is not None and n > high):
        allowed = f"exactly {low}" if low == high else _range(low, high)
        yield Diagnostic(
            f"{dotted(path)}: has {n} {noun if n == 1 else _PLURAL[noun]}; AWS allows {allowed}",
            doc.locate(path),
            detail=f"the limit of the API's {shape.name}",
            code="aws-size",
        )


_PLURAL = {"entry": "entries", "item": "items"}


def _range(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"{low} to {high}"
    return f"at least {low}" if low is not None else f"at most {high}"
