"""The JSON Schema of the spec format, generated from the models for editors (yaml-language-server).

One schema accepts any document, discriminated by ``kind``. Besides what pydantic derives from
the models (fields, types, required, descriptions), it carries AWS's limits from botocore, found
through the same table as layer 2 (``reconciler.spec.limits``): enum values, string lengths, list
sizes, numeric ranges. Patterns are left out: they are Java regexes that editors cannot run.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, TypeAdapter

from reconciler.aws_model import ModelShape as Shape
from reconciler.spec import limits
from reconciler.spec.models import DOCUMENT_MODELS, Document, SpecModel

__all__ = ["SCHEMA_PATH", "build_schema", "model_shapes", "render_schema"]

#: Where the schema is committed, relative to the repository root.
SCHEMA_PATH = Path("schemas/spec.schema.json")
SCHEMA_ID = "https://github.com/cleanrooms-reconciler/schemas/spec.schema.json"


def build_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one spec document."""
    describe_fields()
    adapter: TypeAdapter[Any] = TypeAdapter(Annotated[Document, Field(discriminator="kind")])
    schema = adapter.json_schema(ref_template="#/$defs/{model}")
    definitions = schema.get("$defs", {})
    for model, shape in model_shapes().items():
        definition = definitions.get(model.__name__)
        if definition is None:
            continue
        fields, _ = limits.plan(model, shape)
        for f in fields:
            prop = definition.get("properties", {}).get(f.name)
            if prop is not None and f.shape is not None:
                _constrain(_non_null(prop), f.shape, names=f.names)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "cleanrooms-reconciler spec document",
        "description": f"One YAML document of a stack: kind is one of {', '.join(DOCUMENT_MODELS)}.",
        **_yaml_names(schema),
    }


def _yaml_names(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with each definition named after what it describes, not its Python class.

    The models of documents and their parts end in ``Spec`` (``CollaborationSpec``), so that
    they are not confused with the engine's and planner's values; editors show the YAML's word
    (``Collaboration``).
    """
    renames = {name: name.removesuffix("Spec") for name in schema.get("$defs", {}) if name.endswith("Spec")}
    text = json.dumps(schema)
    for old, new in renames.items():
        text = text.replace(f'"#/$defs/{old}"', f'"#/$defs/{new}"').replace(
            f'"title": "{old}"', f'"title": "{new}"'
        )
    out: dict[str, Any] = json.loads(text)
    out["$defs"] = dict(sorted((renames.get(k, k), v) for k, v in out.get("$defs", {}).items()))
    return out


def render_schema() -> str:
    """The schema as the text committed in ``schemas/spec.schema.json``."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def model_shapes() -> dict[type[SpecModel], Shape | None]:
    """Every model reachable from the documents, with the API shape it is checked under.

    Returns:
        Model -> the botocore shape it is reached under, or None.
    """
    found: dict[type[SpecModel], Shape | None] = {}
    pending: list[tuple[type[SpecModel], Shape | None]] = [(doc, None) for doc in DOCUMENT_MODELS.values()]
    while pending:
        model, shape = pending.pop()
        if model in found:
            continue
        found[model] = shape
        fields, _ = limits.plan(model, shape)
        for f in fields:
            for child in _models_in(model.model_fields[f.name].annotation):
                pending.append((child, _element_shape(f.shape)))
    return found


def describe_fields() -> None:
    """Give every model field without a description its attribute docstring, as pydantic's
    ``use_attribute_docstrings`` does when a class is created (same rule: the docstring under the
    field in the class that declares it), then rebuild the models, nested ones first.

    Only the schema shows descriptions, and reading sixty classes' source at import time (inspect
    and ast, per class) was the largest part of every ``validate``'s start-up.
    """
    from pydantic._internal._docs_extraction import extract_docstrings_from_cls

    models = _children_first(list(model_shapes()))
    docs: dict[type, dict[str, str]] = {}
    changed = False
    for model in models:
        for name, info in model.model_fields.items():
            owner = next((c for c in model.__mro__ if name in c.__dict__.get("__annotations__", {})), None)
            if info.description is not None or owner is None:
                continue
            if owner not in docs:
                docs[owner] = extract_docstrings_from_cls(owner, use_inspect=True)
            if name in docs[owner]:
                info.description = docs[owner][name]
                changed = True
    if changed:
        for model in models:
            model.model_rebuild(force=True)


def _children_first(models: list[type[SpecModel]]) -> list[type[SpecModel]]:
    out: list[type[SpecModel]] = []
    seen: set[type[SpecModel]] = set()

    def visit(model: type[SpecModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for info in model.model_fields.values():
            for child in _models_in(info.annotation):
                visit(child)
        out.append(model)

    for model in models:
        visit(model)
    return out


def _element_shape(shape: Shape | None) -> Shape | None:
    """The structure shape a nested model is checked under (through lists and maps)."""
    while shape is not None and shape.type_name in ("list", "map"):
        shape = shape.member if shape.type_name == "list" else shape.value
    return shape


def _models_in(annotation: Any) -> list[type[SpecModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation] if issubclass(annotation, SpecModel) else []
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _non_null(prop: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional property's schema."""
    branches = [b for b in prop.get("anyOf", []) if b.get("type") != "null"]
    return branches[0] if len(branches) == 1 else prop


#: Service-model shape type -> the JSON Schema keywords for its ``min`` / ``max`` traits.
_BOUNDS: dict[str, tuple[str, str]] = {
    "string": ("minLength", "maxLength"),
    "list": ("minItems", "maxItems"),
    "map": ("minProperties", "maxProperties"),
    **{number: ("minimum", "maximum") for number in ("integer", "long", "double", "float")},
}


def _constrain(target: dict[str, Any], shape: Shape, *, names: bool) -> None:
    """Add the shape's limits to a property schema (items of logical names stay unconstrained)."""
    kind = shape.type_name
    if kind == "string" and (names or shape.enum):
        if shape.enum and not names:
            target["enum"] = list(shape.enum)
        return
    for trait, keyword in zip(("min", "max"), _BOUNDS.get(kind, ()), strict=False):
        if trait in shape.metadata:
            target[keyword] = shape.metadata[trait]
    child, child_shape = (
        (target.get("items"), shape.member)
        if kind == "list"
        else (target.get("additionalProperties"), shape.value)
        if kind == "map"
        else (None, None)
    )
    if isinstance(child, dict) and "$ref" not in child and child_shape is not None:
        _constrain(child, child_shape, names=names)
