"""Layer 3 for the Clean Rooms ML documents: references between them, owners, channel queries.

The API wants ARNs where the spec names documents (``trainingDataset``, ``audienceModel``,
``configuredModelAlgorithmAssociations``, ``analysisTemplate``); a name that no document of the
stack declares would only fail at apply time, after other resources were made, so it is an
error here, with the closest name as a hint. Resources that live in a collaboration must name
one of the stack's collaborations, and their owner must be one of its members.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reconciler.errors import Diagnostic
from reconciler.spec import ml_models as ml
from reconciler.spec.checks.view import quoted_names, suggest, view
from reconciler.spec.stack import Stack

__all__ = ["check_ml_channels", "check_ml_references"]


def _of(stack: Stack, kind: type[Any]) -> list[Any]:
    return [d for d in stack.ml_documents if isinstance(d, kind)]


def check_ml_references(stack: Stack) -> Iterator[Diagnostic]:
    """Every name an ML document gives is declared: datasets, models, collaborations, associations.

    Codes:
        ml-reference (error): ``trainingDataset``, ``audienceModel``, a configured model algorithm
            association or an ``analysisTemplate`` that the stack does not declare (for the same owner,
            or in the same collaboration).
            Fix: use the name of a document of the stack (the hint shows the closest).
        ml-collaboration (error): an ML resource in a collaboration the stack does not declare, or whose
            owner is not a member of it.
            Fix: name a collaboration of the stack, and an owner among its members.
    """
    v = view(stack)
    datasets = {(d.owner, d.name) for d in _of(stack, ml.TrainingDatasetSpec)}
    models = {(d.owner, d.name) for d in _of(stack, ml.AudienceModelSpec)}
    for doc in _of(stack, ml.AudienceModelSpec):
        if (doc.owner, doc.trainingDataset) not in datasets:
            yield _unknown(
                v,
                doc,
                ("trainingDataset",),
                "training dataset",
                doc.trainingDataset,
                [n for o, n in datasets if o == doc.owner],
                doc.owner,
            )
    for cam in _of(stack, ml.ConfiguredAudienceModelSpec):
        if (cam.owner, cam.audienceModel) not in models:
            yield _unknown(
                v,
                cam,
                ("audienceModel",),
                "audience model",
                cam.audienceModel,
                [n for o, n in models if o == cam.owner],
                cam.owner,
            )
    placed: list[tuple[Any, tuple[str | int, ...], str, str]] = []  # (node, path, collaboration, owner)
    algorithm_associations: dict[str, set[str]] = {}
    for doc in stack.ml_documents:
        if isinstance(doc, ml.ConfiguredAudienceModelSpec | ml.ConfiguredModelAlgorithmSpec):
            associations: list[Any] = list(doc.associations)
            for i, a in enumerate(associations):
                placed.append((doc, ("associations", i, "collaboration"), a.collaboration, doc.owner))
                if isinstance(doc, ml.ConfiguredModelAlgorithmSpec):
                    algorithm_associations.setdefault(a.collaboration, set()).add(a.name)
        elif isinstance(doc, ml.MLConfigurationSpec | ml.MLInputChannelSpec):
            placed.append((doc, ("collaboration",), doc.collaboration, doc.owner))
    for node, path, collab_name, owner in placed:
        collab = v.collab.get(collab_name)
        if collab is None:
            yield v.diag(
                "ml-collaboration",
                node,
                path,
                f'unknown collaboration "{collab_name}"',
                hint=suggest(collab_name, v.collab) or f"declared: {quoted_names(v.collab)}",
            )
        elif owner not in collab.members:
            yield v.diag(
                "ml-collaboration",
                node,
                ("owner",),
                f'"{owner}" is not a member of collaboration "{collab_name}"',
                hint=f"members: {quoted_names(collab.members)}",
            )
    for channel in _of(stack, ml.MLInputChannelSpec):
        known = algorithm_associations.get(channel.collaboration, set())
        for i, name in enumerate(channel.configuredModelAlgorithmAssociations):
            if name not in known:
                yield _unknown(
                    v,
                    channel,
                    ("configuredModelAlgorithmAssociations", i),
                    "configured model algorithm association",
                    name,
                    known,
                    channel.collaboration,
                )
        source = channel.inputChannel.dataSource.protectedQueryInputParameters
        template = source.sqlParameters.analysisTemplate if source else None
        if template is not None and template not in v.template_names.get(channel.collaboration, set()):
            path = (
                "inputChannel",
                "dataSource",
                "protectedQueryInputParameters",
                "sqlParameters",
                "analysisTemplate",
            )
            yield _unknown(
                v,
                channel,
                path,
                "analysis template",
                template,
                v.template_names.get(channel.collaboration, set()),
                channel.collaboration,
            )


def _unknown(
    v: Any, node: Any, path: tuple[str | int, ...], what: str, name: str, known: Any, scope: str
) -> Diagnostic:
    return v.diag(  # type: ignore[no-any-return]
        "ml-reference",
        node,
        path,
        f'unknown {what} "{name}" (of "{scope}")',
        hint=suggest(name, known) or f"declared: {quoted_names(known)}",
    )


def check_ml_channels(stack: Stack) -> Iterator[Diagnostic]:
    """An ML input channel's query is given exactly once, and a model's policy is JSON AWS accepts.

    Codes:
        ml-channel-query (error): an ML input channel's ``sqlParameters`` has both or neither of
            ``queryString`` and ``analysisTemplate``.
            Fix: give exactly one.
        ml-policy-size (error): a configured audience model's ``policy`` is longer than the 20,480
            characters of ``PutConfiguredAudienceModelPolicy``.
            Fix: shorten the policy (fewer statements).
    """
    v = view(stack)
    for channel in _of(stack, ml.MLInputChannelSpec):
        source = channel.inputChannel.dataSource.protectedQueryInputParameters
        if source is None:
            continue
        sql = source.sqlParameters
        if (sql.queryString is None) == (sql.analysisTemplate is None):
            path = ("inputChannel", "dataSource", "protectedQueryInputParameters", "sqlParameters")
            yield v.diag(
                "ml-channel-query",
                channel,
                path,
                "sqlParameters needs exactly one of queryString or analysisTemplate",
            )
    for cam in _of(stack, ml.ConfiguredAudienceModelSpec):
        size = len(ml.policy_text(cam.policy)) if cam.policy is not None else 0
        if size > 20480:
            yield v.diag(
                "ml-policy-size",
                cam,
                ("policy",),
                f"the policy is {size} characters as JSON; AWS allows 1 to 20480",
            )
