"""ml_desired: the Clean Rooms ML documents of a Stack -> desired Resources (``desired`` calls it).

- a TrainingDataset -> ``training_dataset``; an AudienceModel -> ``audience_model`` (its
  ``trainingDataset`` a Ref to the dataset's ARN);
- a ConfiguredAudienceModel -> ``configured_audience_model``, plus a
  ``configured_audience_model_policy`` when it has a ``policy`` (sent as canonical JSON: sorted
  keys, no spaces, so the policy read back compares equal), plus one
  ``configured_audience_model_association`` per association (made in the owner's membership);
- a ConfiguredModelAlgorithm -> ``configured_model_algorithm`` plus one
  ``configured_model_algorithm_association`` per association;
- an MLConfiguration -> ``ml_configuration``;
- an MLInputChannel -> ``ml_input_channel``: association names become ARN Refs, an
  ``analysisTemplate`` name the template's ARN; it comes after every table association and rule
  of its collaboration, since creating it runs its query under those rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from reconciler.planner.addresses import Address, Kind
from reconciler.planner.resource import DesiredResource, Ref
from reconciler.spec import ml_models as ml

if TYPE_CHECKING:
    from reconciler.planner.desired import _Lookups

__all__ = ["resources"]

_SPEC_ONLY = {"kind", "owner", "localData", "lifecycle", "associations", "policy", "collaboration",
              "trainingDataset", "audienceModel"}  # fmt: skip


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_none=True, exclude=_SPEC_ONLY)


def _membership(collaboration: str, owner: str) -> Ref:
    return Ref(Address.of(Kind.MEMBERSHIP, collaboration, owner))


def _algorithm_associations(stack: Any) -> dict[tuple[str, str], Address]:
    return {
        (a.collaboration, a.name): Address.of(
            Kind.CONFIGURED_MODEL_ALGORITHM_ASSOCIATION, a.collaboration, d.owner, a.name
        )
        for d in stack.ml_documents
        if isinstance(d, ml.ConfiguredModelAlgorithmSpec)
        for a in d.associations
    }


def _rules_of(stack: Any, collaboration: str) -> tuple[Address, ...]:
    """Every association, association rule and table rule of a collaboration (a channel reads them)."""
    out: list[Address] = []
    for table in stack.configured_tables:
        for assoc in table.associations:
            if assoc.collaboration != collaboration:
                continue
            out.append(Address.of(Kind.ASSOCIATION, collaboration, table.owner, assoc.name))
            if table.analysisRule is not None:
                out.append(Address.of(Kind.ANALYSIS_RULE, table.owner, table.name))
                if assoc.analysisRule is not None:
                    out.append(Address.of(Kind.ASSOCIATION_RULE, collaboration, table.owner, assoc.name))
    return tuple(out)


def _audience(ctx: _Lookups, doc: ml.ConfiguredAudienceModelSpec) -> Iterator[DesiredResource]:
    owner = doc.owner
    address = Address.of(Kind.CONFIGURED_AUDIENCE_MODEL, owner, doc.name)
    model = Address.of(Kind.AUDIENCE_MODEL, owner, doc.audienceModel)
    yield ctx.resource(address, {**_dump(doc), "audienceModelArn": Ref(model, "arn")}, doc, owner)
    if doc.policy is not None:
        attrs = {
            "configuredAudienceModelArn": Ref(address, "arn"),
            "configuredAudienceModelPolicy": ml.policy_text(doc.policy),
        }
        policy = Address.of(Kind.CONFIGURED_AUDIENCE_MODEL_POLICY, owner, doc.name)
        yield ctx.resource(policy, attrs, doc, owner)
    for assoc in doc.associations:
        attrs = {
            **assoc.model_dump(exclude_none=True, exclude={"collaboration", "name", "lifecycle"}),
            "configuredAudienceModelAssociationName": assoc.name,
            "membershipIdentifier": _membership(assoc.collaboration, owner),
            "configuredAudienceModelArn": Ref(address, "arn"),
        }
        where = Address.of(Kind.CONFIGURED_AUDIENCE_MODEL_ASSOCIATION, assoc.collaboration, owner, assoc.name)
        yield ctx.resource(where, attrs, assoc, owner)


def _algorithm(ctx: _Lookups, doc: ml.ConfiguredModelAlgorithmSpec) -> Iterator[DesiredResource]:
    owner = doc.owner
    address = Address.of(Kind.CONFIGURED_MODEL_ALGORITHM, owner, doc.name)
    yield ctx.resource(address, _dump(doc), doc, owner)
    for assoc in doc.associations:
        attrs = {
            **assoc.model_dump(exclude_none=True, exclude={"collaboration", "lifecycle"}),
            "membershipIdentifier": _membership(assoc.collaboration, owner),
            "configuredModelAlgorithmArn": Ref(address, "arn"),
        }
        where = Address.of(
            Kind.CONFIGURED_MODEL_ALGORITHM_ASSOCIATION, assoc.collaboration, owner, assoc.name
        )
        yield ctx.resource(where, attrs, assoc, owner)


def _channel(ctx: _Lookups, doc: ml.MLInputChannelSpec) -> DesiredResource:
    collab = doc.collaboration
    algorithms = _algorithm_associations(ctx.stack)
    body = _dump(doc)
    body["configuredModelAlgorithmAssociations"] = [
        Ref(algorithms[(collab, n)], "arn") if (collab, n) in algorithms else n
        for n in doc.configuredModelAlgorithmAssociations
    ]
    source = doc.inputChannel.dataSource.protectedQueryInputParameters
    reads = _rules_of(ctx.stack, collab)
    if source is not None:
        params = body["inputChannel"]["dataSource"]["protectedQueryInputParameters"]
        sql = params["sqlParameters"]
        template = sql.pop("analysisTemplate", None)
        if template is not None:
            target = ctx.templates.get((collab, template))
            sql["analysisTemplateArn"] = Ref(target, "arn") if target else template
            reads += (target,) if target else ()
    address = Address.of(Kind.ML_INPUT_CHANNEL, collab, doc.owner, doc.name)
    attrs = {**body, "membershipIdentifier": _membership(collab, doc.owner)}
    return ctx.resource(address, attrs, doc, doc.owner, depends_on=reads)


def resources(ctx: _Lookups) -> Iterator[DesiredResource]:
    """The desired resources of every Clean Rooms ML document of ``ctx.stack``, in file order."""
    for doc in ctx.stack.ml_documents:
        if isinstance(doc, ml.TrainingDatasetSpec):
            yield ctx.resource(
                Address.of(Kind.TRAINING_DATASET, doc.owner, doc.name), _dump(doc), doc, doc.owner
            )
        elif isinstance(doc, ml.AudienceModelSpec):
            dataset = Address.of(Kind.TRAINING_DATASET, doc.owner, doc.trainingDataset)
            attrs = {**_dump(doc), "trainingDatasetArn": Ref(dataset, "arn")}
            yield ctx.resource(Address.of(Kind.AUDIENCE_MODEL, doc.owner, doc.name), attrs, doc, doc.owner)
        elif isinstance(doc, ml.ConfiguredAudienceModelSpec):
            yield from _audience(ctx, doc)
        elif isinstance(doc, ml.ConfiguredModelAlgorithmSpec):
            yield from _algorithm(ctx, doc)
        elif isinstance(doc, ml.MLConfigurationSpec):
            attrs = {**_dump(doc), "membershipIdentifier": _membership(doc.collaboration, doc.owner)}
            address = Address.of(Kind.ML_CONFIGURATION, doc.collaboration, doc.owner)
            yield ctx.resource(address, attrs, doc, doc.owner)
        elif isinstance(doc, ml.MLInputChannelSpec):
            yield _channel(ctx, doc)
