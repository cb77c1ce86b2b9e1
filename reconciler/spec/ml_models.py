"""The Clean Rooms ML kinds of the spec format: lookalike models, custom algorithms, ML input channels.

Field names are the ``cleanroomsml`` API's (``CreateTrainingDataset``, ``CreateMLInputChannel``...).
As everywhere in the format, where the API wants an ARN the spec names a document of the stack
instead: ``trainingDataset`` (a TrainingDataset's name, for ``trainingDatasetArn``),
``audienceModel``, ``configuredModelAlgorithmAssociations`` (association names in the channel's
collaboration), ``analysisTemplate`` (an AnalysisTemplate's name, for ``analysisTemplateArn``).

Nested API structures that the spec passes to AWS as they are (``trainingData``, container
configurations, ``privacyConfiguration``, ``computeConfiguration``, output locations) are plain
mappings here; ``reconciler.spec.limits`` checks them member by member against botocore's model
(unknown or missing members, lengths, enums, ranges and sizes such as the 50 Spark properties),
at the line of the offending value.

Documents:

- ``TrainingDataset`` (account-level, ``owner``): the interactions a lookalike model learns from;
  ``localData`` is the CSV/Parquet the local backend binds to its Glue table.
- ``AudienceModel`` (account-level): a lookalike model trained on a training dataset.
- ``ConfiguredAudienceModel`` (account-level): how the model may be used (output, sizes, seed
  minimum, metrics shared), with its resource ``policy`` and its ``associations`` to
  collaborations (``CreateConfiguredAudienceModelAssociation``, a ``cleanrooms`` call).
- ``ConfiguredModelAlgorithm`` (account-level): a custom training / inference container, with its
  ``associations`` to collaborations.
- ``MLConfiguration``: a membership's default ML output location (one per membership).
- ``MLInputChannel``: a protected query whose result feeds ML (in a collaboration).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal, TypeAlias

from pydantic import Field

from reconciler.spec.models import Lifecycle, MemberKey, SpecModel, Tags

__all__ = [
    "ML_DOCUMENT_MODELS",
    "AudienceModelSpec",
    "ConfiguredAudienceModelAssociationSpec",
    "ConfiguredAudienceModelSpec",
    "ConfiguredModelAlgorithmAssociationSpec",
    "ConfiguredModelAlgorithmSpec",
    "InputChannelDataSourceSpec",
    "InputChannelSpec",
    "MLConfigurationSpec",
    "MLDocument",
    "MLInputChannelSpec",
    "MLSqlParameters",
    "ProtectedQueryInputSpec",
    "TrainingDatasetSpec",
    "policy_text",
]


def policy_text(policy: dict[str, Any]) -> str:
    """A resource policy as the request carries it: canonical JSON (sorted keys, no spaces)."""
    return json.dumps(policy, sort_keys=True, separators=(",", ":"))


#: An API structure passed through as written (checked against botocore's model by ``limits``).
ApiStructure = dict[str, Any]


class TrainingDatasetSpec(SpecModel):
    """A training dataset: the user-item interactions a lookalike model learns from."""

    kind: Literal["TrainingDataset"]
    name: str
    owner: MemberKey
    description: str | None = None
    roleArn: str
    """The role Clean Rooms ML assumes to read the Glue table."""
    trainingData: list[ApiStructure]
    """The API's ``Dataset`` list: ``type: INTERACTIONS``, ``inputConfig`` (schema, Glue data source)."""
    localData: str | None = None
    """A CSV or Parquet file, relative to this YAML file, bound to the dataset's Glue table locally."""
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class AudienceModelSpec(SpecModel):
    """A lookalike audience model, trained on one training dataset."""

    kind: Literal["AudienceModel"]
    name: str
    owner: MemberKey
    description: str | None = None
    trainingDataset: str
    """The name of a TrainingDataset of the same owner (resolved to ``trainingDatasetArn``)."""
    trainingDataStartTime: dt.datetime | None = None
    trainingDataEndTime: dt.datetime | None = None
    kmsKeyArn: str | None = None
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class ConfiguredAudienceModelAssociationSpec(SpecModel):
    """The configured audience model made available to one collaboration (a ``cleanrooms`` call)."""

    collaboration: str
    """The name of a collaboration of the stack; the owner must be a member of it."""
    name: str
    """The API's ``configuredAudienceModelAssociationName``."""
    description: str | None = None
    manageResourcePolicies: bool
    """Let Clean Rooms manage the model's resource policy for the collaboration's members."""
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class ConfiguredAudienceModelSpec(SpecModel):
    """How an audience model may be used: output, audience sizes, seed minimum, shared metrics."""

    kind: Literal["ConfiguredAudienceModel"]
    name: str
    owner: MemberKey
    description: str | None = None
    audienceModel: str
    """The name of an AudienceModel of the same owner (resolved to ``audienceModelArn``)."""
    outputConfig: ApiStructure
    sharedAudienceMetrics: list[str]
    minMatchingSeedSize: int | None = None
    audienceSizeConfig: ApiStructure | None = None
    childResourceTagOnCreatePolicy: str | None = None
    policy: dict[str, Any] | None = None
    """The resource policy (an IAM policy document) of ``PutConfiguredAudienceModelPolicy``."""
    associations: list[ConfiguredAudienceModelAssociationSpec] = Field(default_factory=list)
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class ConfiguredModelAlgorithmAssociationSpec(SpecModel):
    """A configured model algorithm made available to one collaboration."""

    collaboration: str
    name: str
    description: str | None = None
    privacyConfiguration: ApiStructure | None = None
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class ConfiguredModelAlgorithmSpec(SpecModel):
    """A custom model algorithm: training and inference containers (they never run locally)."""

    kind: Literal["ConfiguredModelAlgorithm"]
    name: str
    owner: MemberKey
    description: str | None = None
    roleArn: str
    trainingContainerConfig: ApiStructure | None = None
    inferenceContainerConfig: ApiStructure | None = None
    kmsKeyArn: str | None = None
    associations: list[ConfiguredModelAlgorithmAssociationSpec] = Field(default_factory=list)
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class MLConfigurationSpec(SpecModel):
    """A membership's ML configuration (``PutMLConfiguration``): where ML output goes by default."""

    kind: Literal["MLConfiguration"]
    collaboration: str
    owner: MemberKey
    defaultOutputLocation: ApiStructure
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class MLSqlParameters(SpecModel):
    """The channel's query: inline ``queryString``, or an ``analysisTemplate`` of the collaboration."""

    queryString: str | None = None
    analysisTemplate: str | None = None
    """The name of an AnalysisTemplate of the collaboration (resolved to ``analysisTemplateArn``)."""
    parameters: dict[str, str] | None = None


class ProtectedQueryInputSpec(SpecModel):
    """``protectedQueryInputParameters``: the query, its compute (Spark properties) and format."""

    sqlParameters: MLSqlParameters
    computeConfiguration: ApiStructure | None = None
    """``{worker: {type, number, properties: {spark: {...}}}}``; at most 50 Spark properties."""
    resultFormat: str | None = None


class InputChannelDataSourceSpec(SpecModel):
    """Where the channel's data comes from (exactly one member)."""

    protectedQueryInputParameters: ProtectedQueryInputSpec | None = None


class InputChannelSpec(SpecModel):
    """The API's ``InputChannel``."""

    dataSource: InputChannelDataSourceSpec
    roleArn: str


class MLInputChannelSpec(SpecModel):
    """An ML input channel: a protected query whose result Clean Rooms ML may use."""

    kind: Literal["MLInputChannel"]
    name: str
    owner: MemberKey
    collaboration: str
    description: str | None = None
    configuredModelAlgorithmAssociations: list[str]
    """Names of ConfiguredModelAlgorithm associations in the collaboration (resolved to ARNs)."""
    inputChannel: InputChannelSpec
    retentionInDays: int
    kmsKeyArn: str | None = None
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


#: Any Clean Rooms ML document.
MLDocument: TypeAlias = (
    TrainingDatasetSpec
    | AudienceModelSpec
    | ConfiguredAudienceModelSpec
    | ConfiguredModelAlgorithmSpec
    | MLConfigurationSpec
    | MLInputChannelSpec
)

#: ``kind:`` value -> model, for the Clean Rooms ML kinds (``models.DOCUMENT_MODELS`` includes them).
ML_DOCUMENT_MODELS: dict[str, type[SpecModel]] = {
    "TrainingDataset": TrainingDatasetSpec,
    "AudienceModel": AudienceModelSpec,
    "ConfiguredAudienceModel": ConfiguredAudienceModelSpec,
    "ConfiguredModelAlgorithm": ConfiguredModelAlgorithmSpec,
    "MLConfiguration": MLConfigurationSpec,
    "MLInputChannel": MLInputChannelSpec,
}
