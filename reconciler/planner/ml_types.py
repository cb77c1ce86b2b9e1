"""The Clean Rooms ML resource types as rows of the registry (``registry.REGISTRY`` takes them in).

Eight ``cleanroomsml`` types and the ``cleanrooms`` configured audience model association. They are
described exactly like the Clean Rooms ones (create-only versus updatable fields derived from the
service model, references by Address, tags through TagResource), with what sets the ML API apart
written as data:

- its resources are named by ARN only, and a Get answers with the resource itself rather than a
  wrapper (``response_key=""``; ``id_field`` / ``arn_field`` such as ``trainingDatasetArn``);
- a configured audience model has at most one policy and a membership at most one ML
  configuration, with no List operation (``singleton``: the crawl tries a Get);
- an ML input channel has no Delete operation: ``DeleteMLInputChannelData`` is the API's way to
  delete it and its data (``destroy`` uses it); a channel whose retention ran out is INACTIVE,
  which the crawl treats as gone;
- a training dataset, an audience model, a configured model algorithm and its association have
  no update operation, so every field is create-only (a change replaces them).

Nothing here is copied from the service model: operation names are checked against it by
``tests/planner/test_registry.py``.
"""

from __future__ import annotations

from reconciler.planner.addresses import Kind
from reconciler.planner.registry import _MEMBERSHIP_OF_OWNER, SELF, Reference, ResourceType, _parent

__all__ = ["ML_TYPES"]

_ML = "cleanroomsml"
_OWNER_MODEL = _parent(Kind.CONFIGURED_AUDIENCE_MODEL, "owner", "name")

#: The Clean Rooms ML rows, in Kind order.
ML_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        kind=Kind.TRAINING_DATASET,
        service=_ML,
        create="CreateTrainingDataset",
        get="GetTrainingDataset",
        list="ListTrainingDatasets",
        update=None,
        delete="DeleteTrainingDataset",
        response_key="",
        list_key="trainingDatasets",
        id_field="trainingDatasetArn",
        arn_field="trainingDatasetArn",
        identifiers={"trainingDatasetArn": SELF},
        caller="the training data owner",
    ),
    ResourceType(
        kind=Kind.AUDIENCE_MODEL,
        service=_ML,
        create="CreateAudienceModel",
        get="GetAudienceModel",
        list="ListAudienceModels",
        update=None,
        delete="DeleteAudienceModel",
        response_key="",
        list_key="audienceModels",
        id_field="audienceModelArn",
        arn_field="audienceModelArn",
        identifiers={"audienceModelArn": SELF},
        references={
            "trainingDatasetArn": Reference(Kind.TRAINING_DATASET, "trainingDatasetArn", field="arn")
        },
        caller="the training data owner",
    ),
    ResourceType(
        kind=Kind.CONFIGURED_AUDIENCE_MODEL,
        service=_ML,
        create="CreateConfiguredAudienceModel",
        get="GetConfiguredAudienceModel",
        list="ListConfiguredAudienceModels",
        update="UpdateConfiguredAudienceModel",
        delete="DeleteConfiguredAudienceModel",
        response_key="",
        list_key="configuredAudienceModels",
        id_field="configuredAudienceModelArn",
        arn_field="configuredAudienceModelArn",
        identifiers={"configuredAudienceModelArn": SELF},
        references={"audienceModelArn": Reference(Kind.AUDIENCE_MODEL, "audienceModelArn", field="arn")},
        defaults={"childResourceTagOnCreatePolicy": "NONE"},
        ordered_lists=frozenset({"audienceSizeConfig.audienceSizeBins"}),
        caller="the training data owner",
    ),
    ResourceType(
        kind=Kind.CONFIGURED_AUDIENCE_MODEL_POLICY,
        service=_ML,
        create="PutConfiguredAudienceModelPolicy",
        get="GetConfiguredAudienceModelPolicy",
        list=None,
        update="PutConfiguredAudienceModelPolicy",
        delete="DeleteConfiguredAudienceModelPolicy",
        response_key="",
        list_key="",
        id_field="",  # named by its model's ARN, which is the model's, not its own
        arn_field="",
        singleton=True,
        identifiers={"configuredAudienceModelArn": "configuredAudienceModelArn"},
        references={
            "configuredAudienceModelArn": Reference(
                Kind.CONFIGURED_AUDIENCE_MODEL, "configuredAudienceModelArn", field="arn", derive=_OWNER_MODEL
            )
        },
        # optimistic-concurrency inputs of the Put, never state
        delegated=frozenset({"previousPolicyHash", "policyExistenceCondition"}),
        taggable=False,
        caller="the training data owner",
    ),
    ResourceType(
        kind=Kind.CONFIGURED_AUDIENCE_MODEL_ASSOCIATION,
        create="CreateConfiguredAudienceModelAssociation",
        get="GetConfiguredAudienceModelAssociation",
        list="ListConfiguredAudienceModelAssociations",
        update="UpdateConfiguredAudienceModelAssociation",
        delete="DeleteConfiguredAudienceModelAssociation",
        response_key="configuredAudienceModelAssociation",
        list_key="configuredAudienceModelAssociationSummaries",
        identifiers={
            "membershipIdentifier": "membershipIdentifier",
            "configuredAudienceModelAssociationIdentifier": SELF,
        },
        references={
            "membershipIdentifier": Reference(Kind.MEMBERSHIP, "membershipId", derive=_MEMBERSHIP_OF_OWNER),
            "configuredAudienceModelArn": Reference(
                Kind.CONFIGURED_AUDIENCE_MODEL, "configuredAudienceModelArn", field="arn"
            ),
        },
        response_renames={"name": "configuredAudienceModelAssociationName"},
        update_aliases={"configuredAudienceModelAssociationName": "name"},
        create_first_on=frozenset({"configuredAudienceModelAssociationName"}),
        caller="the training data owner",
    ),
    ResourceType(
        kind=Kind.CONFIGURED_MODEL_ALGORITHM,
        service=_ML,
        create="CreateConfiguredModelAlgorithm",
        get="GetConfiguredModelAlgorithm",
        list="ListConfiguredModelAlgorithms",
        update=None,
        delete="DeleteConfiguredModelAlgorithm",
        response_key="",
        list_key="configuredModelAlgorithms",
        id_field="configuredModelAlgorithmArn",
        arn_field="configuredModelAlgorithmArn",
        identifiers={"configuredModelAlgorithmArn": SELF},
        ordered_lists=frozenset({"trainingContainerConfig.entrypoint", "trainingContainerConfig.arguments"}),
        caller="the algorithm's owner",
    ),
    ResourceType(
        kind=Kind.CONFIGURED_MODEL_ALGORITHM_ASSOCIATION,
        service=_ML,
        create="CreateConfiguredModelAlgorithmAssociation",
        get="GetConfiguredModelAlgorithmAssociation",
        list="ListConfiguredModelAlgorithmAssociations",
        update=None,
        delete="DeleteConfiguredModelAlgorithmAssociation",
        response_key="",
        list_key="configuredModelAlgorithmAssociations",
        id_field="configuredModelAlgorithmAssociationArn",
        arn_field="configuredModelAlgorithmAssociationArn",
        identifiers={
            "membershipIdentifier": "membershipIdentifier",
            "configuredModelAlgorithmAssociationArn": SELF,
        },
        references={
            "membershipIdentifier": Reference(
                Kind.MEMBERSHIP, "membershipIdentifier", derive=_MEMBERSHIP_OF_OWNER
            ),
            "configuredModelAlgorithmArn": Reference(
                Kind.CONFIGURED_MODEL_ALGORITHM, "configuredModelAlgorithmArn", field="arn"
            ),
        },
        caller="the algorithm's owner",
    ),
    ResourceType(
        kind=Kind.ML_CONFIGURATION,
        service=_ML,
        create="PutMLConfiguration",
        get="GetMLConfiguration",
        list=None,
        update="PutMLConfiguration",
        delete="DeleteMLConfiguration",
        response_key="",
        list_key="",
        id_field="",  # named by its membership's id
        arn_field="",
        singleton=True,
        identifiers={"membershipIdentifier": "membershipIdentifier"},
        references={
            "membershipIdentifier": Reference(
                Kind.MEMBERSHIP, "membershipIdentifier", derive=_MEMBERSHIP_OF_OWNER
            )
        },
        taggable=False,
        caller="the member",
    ),
    ResourceType(
        kind=Kind.ML_INPUT_CHANNEL,
        service=_ML,
        create="CreateMLInputChannel",
        get="GetMLInputChannel",
        list="ListMLInputChannels",
        update=None,
        delete="DeleteMLInputChannelData",  # "the information necessary to delete an ML input channel"
        response_key="",
        list_key="mlInputChannelsList",
        id_field="mlInputChannelArn",
        arn_field="mlInputChannelArn",
        identifiers={"membershipIdentifier": "membershipIdentifier", "mlInputChannelArn": SELF},
        references={
            "membershipIdentifier": Reference(
                Kind.MEMBERSHIP, "membershipIdentifier", derive=_MEMBERSHIP_OF_OWNER
            ),
        },
        caller="the member who runs the channel's query",
    ),
)
