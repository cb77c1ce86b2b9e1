"""Layer 1 of validation: a RawDocument becomes a model, or Diagnostics at the offending YAML.

Dispatches on ``kind:`` (unknown kinds get a did-you-mean), validates with pydantic, and turns
each pydantic error into a Diagnostic at the key or value it is about: unknown keys get the
closest allowed name, values of the wrong type a hint (``"quote it"`` for an account ID that
YAML read as a number), missing fields point at the mapping that lacks them.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import types
import typing
from typing import Any

import pydantic
from pydantic import BaseModel

from reconciler.errors import Diagnostic
from reconciler.spec.load import RawDocument, YamlPath, dotted
from reconciler.spec.models import DOCUMENT_MODELS, SpecModel

__all__ = ["CODES", "SALVAGEABLE", "salvage", "suggest", "to_model", "validate_as"]

#: The Diagnostic codes this layer (1: shape and types) makes: (code, severity, what it catches,
#: the fix), listed in the README's table of checks (``spec.catalog``).
CODES: tuple[tuple[str, str, str, str], ...] = (
    (
        "kind",
        "error",
        "a missing or unknown `kind:`",
        "use Collaboration, ConfiguredTable, AnalysisTemplate or PrivacyBudgetTemplate",
    ),
    (
        "unknown-field",
        "error",
        "a key the format does not have (typos included)",
        "use the suggested field name",
    ),
    ("missing-field", "error", "a required field that is absent", "add the field"),
    (
        "type",
        "error",
        "a value of the wrong type (an account ID read as a number, a string where a list is expected)",
        "quote the value, or write the expected type",
    ),
    ("enum", "error", "an unknown analysis rule `type`", "use AGGREGATION, LIST or CUSTOM"),
)

M = typing.TypeVar("M", bound=SpecModel)

#: pydantic error type -> what the value should have been.
_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "list_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "model_class_type": "a mapping",
}


def suggest(word: str, choices: typing.Iterable[str]) -> str:
    """A ``did you mean "x"?`` hint for ``word``, or "" when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"?' if close else ""


def to_model(doc: RawDocument) -> tuple[SpecModel | None, list[Diagnostic]]:
    """Validate one document's shape and types.

    Args:
        doc: the composed document (its data is a mapping).

    Returns:
        The model, or None and at least one Diagnostic.
    """
    data = doc.data
    kind = data.get("kind")
    if kind is None:
        return None, [
            Diagnostic(
                "missing `kind:`",
                doc.locate(()),
                hint=f"start the document with `kind:` and one of {', '.join(DOCUMENT_MODELS)}",
                code="kind",
            )
        ]
    model = DOCUMENT_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        hint = suggest(str(kind), DOCUMENT_MODELS) or f"use one of {', '.join(DOCUMENT_MODELS)}"
        return None, [Diagnostic(f'unknown kind "{kind}"', doc.locate(("kind",)), hint=hint, code="kind")]
    return validate_as(doc, model)


def validate_as(doc: RawDocument, model: type[M]) -> tuple[M | None, list[Diagnostic]]:
    """Validate one document as ``model`` (a spec kind, or another YAML file such as a policy).

    Args:
        doc: the composed document (its data is a mapping).
        model: the model its data must fit.

    Returns:
        The model, or None and one Diagnostic per pydantic error, at the YAML it is about.
    """
    try:
        return model.model_validate(doc.data), []
    except pydantic.ValidationError as exc:
        errors = exc.errors(include_url=False)
    found = [_diagnostic(doc, model, err) for err in errors]
    # A misspelt required key is one mistake: its "unknown field ... did you mean" says it all, so
    # the "missing required field" of the name it suggests, in the same mapping, is left out.
    suggested = {
        (tuple(err["loc"][:-1]), d.hint.split('"')[1])
        for err, d in zip(errors, found, strict=True)
        if err["type"] == "extra_forbidden" and d.hint and d.hint.startswith("did you mean")
    }
    return None, [
        d
        for err, d in zip(errors, found, strict=True)
        if not (err["type"] == "missing" and (tuple(err["loc"][:-1]), err["loc"][-1]) in suggested)
    ]


#: Optional fields that no semantic check (layers 3-4) reads. A document whose shape errors all lie
#: inside such fields is salvaged without them, so the later layers still run and a user sees every
#: problem in one run (the shape errors themselves are reported as usual).
SALVAGEABLE = frozenset(
    {
        "dataEncryptionMetadata",
        "tags",
        "description",
        "lifecycle",
        "credentials",
        "errorMessageConfiguration",
        "mlAbilities",
        "autoApprovedChangeRequestTypes",
        "allowedResultRegions",
    }
)


def salvage(doc: RawDocument) -> SpecModel | None:
    """The document without the ``SALVAGEABLE`` fields that hold its shape errors, or None.

    Args:
        doc: a document whose ``to_model`` failed (its errors are already reported).

    Returns:
        A model for the semantic checks, or None when an error lies outside salvageable fields.
    """
    model = DOCUMENT_MODELS.get(doc.data.get("kind")) if isinstance(doc.data.get("kind"), str) else None
    if model is None:
        return None
    data = copy.deepcopy(doc.data)
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = exc.errors(include_url=False)
    for err in errors:
        path, _ = _yaml_path(data, tuple(err["loc"]))
        cut = next((i for i, part in enumerate(path) if part in SALVAGEABLE), None)
        if cut is None:
            return None
        parent: Any = data
        for part in path[:cut]:
            if isinstance(parent, dict):
                parent = parent.get(part)
            elif isinstance(parent, list) and isinstance(part, int):
                parent = parent[part]
        if isinstance(parent, dict):
            parent.pop(path[cut], None)
    try:
        return model.model_validate(data)
    except pydantic.ValidationError:
        return None


def _yaml_path(data: Any, loc: tuple[str | int, ...]) -> tuple[YamlPath, bool]:
    """Map a pydantic ``loc`` onto the YAML path, dropping union tags; also says "about a key"."""
    path: list[str | int] = []
    about_key = False
    for part in loc:
        if part == "[key]":
            about_key = True
            continue
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, dict) and isinstance(part, str) and data.get("type") == part:
            continue  # a discriminated-union tag (``analysisRule`` by its ``type``): not in the YAML
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        elif isinstance(data, dict) and not isinstance(part, int):
            path.append(part)  # an absent key (missing field): keep it, locate falls back to the parent
            data = None
            continue
        else:
            continue  # a discriminated-union tag
        path.append(part)
    return tuple(path), about_key


def _model_at(model: Any, loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that holds the last element of ``loc`` (for "allowed fields" hints)."""
    current: Any = model
    for part in loc[:-1]:
        current = _unwrap(current, part)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any, part: str | int) -> Any:
    """One step down a type: a model's field, a list's item, a dict's value, a union's member."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0], part)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        for member in members:  # a discriminated union: the loc part is the tag
            if isinstance(member, type) and issubclass(member, BaseModel):
                tag = member.model_fields.get("type")
                if tag is not None and typing.get_args(tag.annotation) == (part,):
                    return member
        return _unwrap(members[0], part) if len(members) == 1 else None
    if origin is list:
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(str(part))
        return field.annotation if field is not None else None
    return None


def _diagnostic(doc: RawDocument, model: type[SpecModel], err: Any) -> Diagnostic:
    loc: tuple[str | int, ...] = tuple(err["loc"])
    path, about_key = _yaml_path(doc.data, loc)
    kind = err["type"]
    value = err.get("input")
    where = dotted(path)
    if kind == "extra_forbidden":
        owner = _model_at(model, loc)
        allowed = list(owner.model_fields) if owner else []
        name = str(path[-1]) if path else ""
        hint = suggest(name, allowed) or (f"allowed here: {', '.join(allowed)}" if allowed else "")
        return Diagnostic(
            f'unknown field "{name}"', doc.locate(path, key=True), hint=hint, code="unknown-field"
        )
    if kind == "missing":
        parent = dotted(path[:-1]) or "the document"
        return Diagnostic(
            f'missing required field "{path[-1]}" in {parent}', doc.locate(path), code="missing-field"
        )
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        hint = suggest(str(ctx.get("tag", "")), tags) or f"use one of {', '.join(tags)}"
        return Diagnostic(
            f'{where}.type: unknown value "{ctx.get("tag")}"',
            doc.locate((*path, "type")),
            hint=hint,
            code="enum",
        )
    if kind == "union_tag_not_found":
        return Diagnostic(f'missing required field "type" in {where}', doc.locate(path), code="missing-field")
    if kind == "literal_error":
        expected = str(err.get("ctx", {}).get("expected", "")).replace("'", '"')
        return Diagnostic(f"{where}: must be {expected}", doc.locate(path), code="enum")
    if kind in _EXPECTED:
        hint = ""
        if kind == "string_type" and isinstance(value, int | float | bool | datetime.date):
            hint = "put the value in quotes: YAML read it as a " + (
                "boolean"
                if isinstance(value, bool)
                else "date"
                if isinstance(value, datetime.date)
                else "number"
            )
        if kind in ("int_type", "float_type") and isinstance(value, str):
            hint = "remove the quotes: a number is written without them"
        target = "key" if about_key else "value"
        summary = f"{where}: expected {_EXPECTED[kind]}, got {_kind_of(value)}"
        if about_key:
            summary = f"{where}: every {target} must be {_EXPECTED[kind]}"
        return Diagnostic(summary, doc.locate(path, key=about_key), hint=hint, code="type")
    if kind == "value_error":  # a model's own check (``RemoteState``: which fields go with a backend)
        message = str(err.get("msg", "")).removeprefix("Value error, ")
        return Diagnostic(f"{where}: {message}" if where else message, doc.locate(path), code="value")
    return Diagnostic(f"{where}: {err['msg']}", doc.locate(path), code="type")


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f'the string "{value[:60]}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"
