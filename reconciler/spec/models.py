"""The spec format as pydantic models: what a user may write in a stack's YAML, and nothing else.

Field names are AWS's own (camelCase, as in the boto3 request shapes), so the AWS documentation
and a spec read alike. Where the API wants an ID or ARN, the spec holds a logical name instead
(a member key, a configured table or association name, a template name) that the planner resolves.

These models check shape and types only (layer 1 of validation). AWS's own limits -- lengths,
patterns, enums, list sizes, numeric ranges, "exactly one of" unions -- are checked against
botocore's service model by ``reconciler.spec.limits``, whose table maps each model here to the
API shape it feeds; the JSON Schema (``schemas/spec.schema.json``) carries the enums from there.
Every model forbids unknown keys, so a typo is an error with a did-you-mean hint, never ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AccessBudgetParameters",
    "AggregateColumn",
    "AggregationConstraint",
    "AggregationPolicy",
    "AggregationRuleSpec",
    "AggregationThresholdSpec",
    "AnalysisParameter",
    "AnalysisRuleSpec",
    "AnalysisTemplateSpec",
    "AnalysisTemplateSource",
    "ArtifactSpec",
    "ArtifactsSpec",
    "S3LocationSpec",
    "SyntheticDataParameters",
    "AthenaTableReference",
    "AssociationSpec",
    "AssociationAnalysisRuleSpec",
    "BudgetParameter",
    "CollaborationSpec",
    "ComparisonControlsSpec",
    "ConfiguredTableSpec",
    "Credentials",
    "CustomPolicy",
    "CustomRuleSpec",
    "DataEncryptionMetadata",
    "DatabricksTableReference",
    "DifferentialPrivacyColumn",
    "DifferentialPrivacyConfiguration",
    "DifferentialPrivacyParameters",
    "Document",
    "DOCUMENT_MODELS",
    "ErrorMessageConfiguration",
    "GlueTableReference",
    "IsResponsible",
    "JobOutputConfiguration",
    "Keyed",
    "JobResultConfiguration",
    "JobS3Output",
    "Lifecycle",
    "ListPolicy",
    "ListRuleSpec",
    "MemberSpec",
    "MemberMLPayment",
    "MemberPaymentConfiguration",
    "MembershipSpec",
    "MLMemberAbilities",
    "MovedSpec",
    "RemoteStateSpec",
    "OutputColumnThreshold",
    "PrivacyBudgetParameters",
    "PrivacyBudgetTemplateSpec",
    "QueryOutputConfiguration",
    "QueryResultConfiguration",
    "QueryS3Output",
    "SnowflakeColumn",
    "SnowflakeTableReference",
    "SnowflakeTableSchema",
    "SpecModel",
    "TableReference",
]

#: A key of a collaboration's ``members`` map; the planner resolves it to the member's account ID.
MemberKey = str
Tags = dict[str, str]


class SpecModel(BaseModel):
    """Base of every spec model: unknown keys are errors, values are immutable, no type coercion.

    Strict mode keeps YAML honest: ``accountId: 123456789012`` (a number) or
    ``isResponsible: "yes"`` (a string) is an error asking for the right type, not a guess.
    Validators are built on a model's first use (``defer_build``): a stack uses a few of the
    sixty models, and building them all when the package is imported slowed every ``validate``.
    Fields' attribute docstrings become descriptions only for the JSON Schema
    (``spec.schema.describe_fields``): reading them here cost every start a third of its time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class Keyed(SpecModel):
    """A document whose API name can be changed in place (UpdateCollaboration, UpdateConfiguredTable).

    Its address is made of ``key``, not of ``name``: renaming it (a new ``name``, the same ``key``)
    is then one update, never a replacement. ``key`` defaults to ``name``, so a spec that never
    sets it keeps the addresses it always had; to rename such a document, keep its old name as
    its ``key``.
    """

    name: str
    key: str = ""
    """The stable name of this document in the stack: its address, and what other documents name it by
    (``collaboration:``). Defaults to ``name``; keep it unchanged when you rename."""

    @model_validator(mode="after")
    def _key_defaults_to_name(self) -> Keyed:
        if not self.key:
            object.__setattr__(self, "key", self.name)  # frozen model: set once, while validating
        return self


class Lifecycle(SpecModel):
    """How the tool may treat the resource beyond creating and updating it."""

    preventDestroy: bool = False
    """Refuse any plan that would delete (or replace) this resource."""


# --------------------------------------------------------------------------- collaboration


class IsResponsible(SpecModel):
    """One payment responsibility (query compute, job compute, an ML workload)."""

    isResponsible: bool


class MemberMLPayment(SpecModel):
    """Who pays for Clean Rooms ML workloads."""

    modelTraining: IsResponsible | None = None
    modelInference: IsResponsible | None = None
    syntheticDataGeneration: IsResponsible | None = None


class MemberPaymentConfiguration(SpecModel):
    """Who pays for what: set by the creator per member, accepted by the member in its membership."""

    queryCompute: IsResponsible
    machineLearning: MemberMLPayment | None = None
    jobCompute: IsResponsible | None = None


class MLMemberAbilities(SpecModel):
    """Clean Rooms ML abilities of a member."""

    customMLMemberAbilities: list[str]
    """CAN_RECEIVE_MODEL_OUTPUT and/or CAN_RECEIVE_INFERENCE_OUTPUT."""


class Credentials(SpecModel):
    """How the AWS backend acts as this member: a named profile, a role to assume, or both.

    Never put secrets here; profiles live in ``~/.aws/config``. The local backend ignores this.
    """

    profile: str | None = None
    """A profile of the AWS shared config files."""
    roleArn: str | None = None
    """An IAM role in the member's account, assumed (from ``profile`` if given) for each call."""


class QueryS3Output(SpecModel):
    """Where a member's protected query results land in S3."""

    bucket: str
    resultFormat: str
    keyPrefix: str | None = None
    singleFileOutput: bool | None = None


class QueryOutputConfiguration(SpecModel):
    """Destination of protected query results (exactly one of the members)."""

    s3: QueryS3Output | None = None


class QueryResultConfiguration(SpecModel):
    """A membership's default protected query result configuration."""

    outputConfiguration: QueryOutputConfiguration
    roleArn: str | None = None
    """The role Clean Rooms assumes to write results."""


class JobS3Output(SpecModel):
    """Where a member's protected job results land in S3."""

    bucket: str
    keyPrefix: str | None = None
    resultFormat: str | None = None


class JobOutputConfiguration(SpecModel):
    """Destination of protected job results (exactly one of the members)."""

    s3: JobS3Output | None = None


class JobResultConfiguration(SpecModel):
    """A membership's default protected job result configuration."""

    outputConfiguration: JobOutputConfiguration
    roleArn: str


class MembershipSpec(SpecModel):
    """The member's own membership (``CreateMembership``), made with the member's credentials.

    Omit it when this stack does not manage the member's membership (the member joins on its own).
    """

    queryLogStatus: str
    jobLogStatus: str | None = None
    defaultResultConfiguration: QueryResultConfiguration | None = None
    defaultJobResultConfiguration: JobResultConfiguration | None = None
    paymentConfiguration: MemberPaymentConfiguration | None = None
    """What the member accepts to pay; must match what the creator set for it."""
    isMetricsEnabled: bool | None = None
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class MemberSpec(SpecModel):
    """A member of a collaboration, keyed by a short stack-wide name (``retailer``, ``adtech``).

    The same key in two collaborations of a stack names the same account.
    """

    accountId: str
    """The member's 12-digit AWS account ID (quote it in YAML)."""
    displayName: str
    abilities: list[str] = Field(default_factory=list)
    """Member abilities: CAN_QUERY, CAN_RECEIVE_RESULTS, CAN_RUN_JOB, CAN_EXPORT_QUERY_ANALYSIS_LOG."""
    mlAbilities: MLMemberAbilities | None = None
    paymentConfiguration: MemberPaymentConfiguration | None = None
    """What the creator sets this member to pay for (absent: the API's default)."""
    credentials: Credentials | None = None
    membership: MembershipSpec | None = None


class DataEncryptionMetadata(SpecModel):
    """Cryptographic computing settings for the collaboration (all four are required by AWS)."""

    allowCleartext: bool
    allowDuplicates: bool
    allowJoinsOnColumnsWithDifferentNames: bool
    preserveNulls: bool


class CollaborationSpec(Keyed):
    """A Clean Rooms collaboration, created by its ``creator`` member, with every member listed."""

    kind: Literal["Collaboration"]
    name: str
    key: str = ""
    """The collaboration's stable name in the stack: its address (``collaboration.<key>``) and what
    ``collaboration:`` fields name. Defaults to ``name``; keep it when you rename the collaboration."""
    description: str | None = None
    creator: MemberKey
    """The key in ``members`` of the account that creates (and owns) the collaboration."""
    members: dict[MemberKey, MemberSpec]
    queryLogStatus: str
    jobLogStatus: str | None = None
    analyticsEngine: str | None = None
    """SPARK or CLEAN_ROOMS_SQL (AWS accepts CLEAN_ROOMS_SQL only for existing collaborations)."""
    dataEncryptionMetadata: DataEncryptionMetadata | None = None
    autoApprovedChangeRequestTypes: list[str] | None = None
    allowedResultRegions: list[str] | None = None
    isMetricsEnabled: bool | None = None
    region: str = "us-east-1"
    """The AWS region the collaboration lives in."""
    existing: bool = False
    """The collaboration already exists in AWS (made before this stack, possibly by another tool).

    The planner adopts it (by ``collaborationId``, else by name) and never creates it; only then
    may ``analyticsEngine`` be CLEAN_ROOMS_SQL, which AWS refuses for new collaborations.
    """
    collaborationId: str | None = None
    """The ID of the existing collaboration to adopt (only with ``existing: true``)."""
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


# --------------------------------------------------------------------------- configured table


class GlueTableReference(SpecModel):
    """A table in the AWS Glue Data Catalog of the owner's account."""

    databaseName: str
    tableName: str
    region: str | None = None


class AthenaTableReference(SpecModel):
    """A table queried through Amazon Athena."""

    workGroup: str
    databaseName: str
    tableName: str
    outputLocation: str | None = None
    catalogName: str | None = None
    region: str | None = None


class SnowflakeColumn(SpecModel):
    """One column of a Snowflake table's schema."""

    columnName: str
    columnType: str


class SnowflakeTableSchema(SpecModel):
    """The schema of a Snowflake table."""

    v1: list[SnowflakeColumn]


class SnowflakeTableReference(SpecModel):
    """A Snowflake table, read with credentials held in AWS Secrets Manager."""

    secretArn: str
    accountIdentifier: str
    databaseName: str
    schemaName: str
    tableName: str
    tableSchema: SnowflakeTableSchema


class DatabricksDeltaSharingConnection(SpecModel):
    """A Delta Sharing share that AWS Clean Rooms reads a Databricks table through."""

    deltaShareEndpoint: str
    shareName: str


class DatabricksConnectionType(SpecModel):
    """How AWS Clean Rooms connects to Databricks (the API's union: exactly one member)."""

    deltaSharing: DatabricksDeltaSharingConnection | None = None


class DatabricksTableReference(SpecModel):
    """A Databricks table. The local backend has no Databricks: give ``localData`` to query it locally."""

    workspaceUrl: str
    schemaName: str
    tableName: str
    connectionType: DatabricksConnectionType


class TableReference(SpecModel):
    """Where the configured table's data lives (exactly one of the members)."""

    glue: GlueTableReference | None = None
    athena: AthenaTableReference | None = None
    snowflake: SnowflakeTableReference | None = None
    databricks: DatabricksTableReference | None = None


class AggregateColumn(SpecModel):
    """Columns that may be aggregated with one function."""

    columnNames: list[str]
    function: str


class AggregationConstraint(SpecModel):
    """A minimum number of distinct values of a column in every output row."""

    columnName: str
    minimum: int
    type: str


class AggregationPolicy(SpecModel):
    """``analysisRulePolicy.v1.aggregation``: queries that aggregate, with output minimums."""

    aggregateColumns: list[AggregateColumn]
    joinColumns: list[str]
    joinRequired: str | None = None
    allowedJoinOperators: list[str] | None = None
    dimensionColumns: list[str]
    scalarFunctions: list[str]
    outputConstraints: list[AggregationConstraint]
    additionalAnalyses: str | None = None


class ListPolicy(SpecModel):
    """``analysisRulePolicy.v1.list``: queries that list rows of overlapping identities."""

    joinColumns: list[str]
    allowedJoinOperators: list[str] | None = None
    listColumns: list[str]
    additionalAnalyses: str | None = None


class DifferentialPrivacyColumn(SpecModel):
    """The column identifying the users whose privacy differential privacy protects."""

    name: str


class DifferentialPrivacyConfiguration(SpecModel):
    """Differential privacy on a custom rule."""

    columns: list[DifferentialPrivacyColumn]


class OutputColumnThreshold(SpecModel):
    """A per-output-column identity minimum inside an aggregation threshold."""

    outputColumnName: str
    minimumIdentityCount: int


class AggregationThresholdSpec(SpecModel):
    """Every output group must represent at least ``minimumIdentityCount`` distinct identities."""

    identityColumns: list[str]
    minimumIdentityCount: int
    type: str
    allowedAggregateExpressionType: str
    outputColumnThresholds: list[OutputColumnThreshold] | None = None


class ComparisonControlsSpec(SpecModel):
    """Which columns may be compared with literals, and which with other columns."""

    allowedLiteralComparisonColumns: list[str]
    allowedColumnComparisonColumns: list[str]


class CustomPolicy(SpecModel):
    """``analysisRulePolicy.v1.custom``: approved templates or any query, by approved providers."""

    allowedAnalyses: list[str]
    """Analysis template names of the stack, or ANY_QUERY / ANY_JOB."""
    allowedAnalysisProviders: list[MemberKey] | None = None
    """Member keys allowed to run ANY_QUERY (resolved to account IDs)."""
    additionalAnalyses: str | None = None
    disallowedOutputColumns: list[str] | None = None
    differentialPrivacy: DifferentialPrivacyConfiguration | None = None
    aggregationThresholds: list[AggregationThresholdSpec] | None = None
    comparisonControls: ComparisonControlsSpec | None = None
    allowedResultReceivers: list[MemberKey] | None = None
    """Member keys allowed to receive results (resolved to account IDs)."""
    allowedAdditionalAnalyses: list[str] | None = None
    """ARNs of Clean Rooms ML resources allowed to use the results."""


class AggregationRuleSpec(SpecModel):
    """An AGGREGATION analysis rule (AWS documents it for the CLEAN_ROOMS_SQL engine)."""

    type: Literal["AGGREGATION"]
    policy: AggregationPolicy


class ListRuleSpec(SpecModel):
    """A LIST analysis rule (AWS documents it for the CLEAN_ROOMS_SQL engine)."""

    type: Literal["LIST"]
    policy: ListPolicy


class CustomRuleSpec(SpecModel):
    """A CUSTOM analysis rule."""

    type: Literal["CUSTOM"]
    policy: CustomPolicy


#: The configured table's analysis rule; ``type`` selects the shape of ``policy``.
AnalysisRuleSpec = Annotated[AggregationRuleSpec | ListRuleSpec | CustomRuleSpec, Field(discriminator="type")]


class AssociationAnalysisRuleSpec(SpecModel):
    """The collaboration-level rule of an association (its type follows the table's rule)."""

    allowedResultReceivers: list[MemberKey] | None = None
    """Member keys allowed to receive results of queries on this table (resolved to account IDs)."""
    allowedAdditionalAnalyses: list[str] | None = None


class AssociationSpec(SpecModel):
    """The configured table made available to one collaboration, under an alias."""

    collaboration: str
    """The key of a collaboration of the stack (its name, unless it sets ``key``)."""
    name: str
    """The table's name inside the collaboration (the name queries use). AWS cannot rename an
    association (UpdateConfiguredTableAssociation takes no name): a new name is a new association."""
    description: str | None = None
    roleArn: str
    """The role Clean Rooms assumes to read the table."""
    analysisRule: AssociationAnalysisRuleSpec | None = None
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class ConfiguredTableSpec(Keyed):
    """A member's table made configurable for collaborations, with its analysis rule."""

    kind: Literal["ConfiguredTable"]
    name: str
    key: str = ""
    """The table's stable name in the stack: its address (``configured_table.<owner>.<key>``).
    Defaults to ``name``; keep it when you rename the table."""
    owner: MemberKey
    description: str | None = None
    tableReference: TableReference
    localData: str | None = None
    """A CSV or Parquet file, relative to this YAML file, that the local backend queries."""
    allowedColumns: list[str]
    analysisMethod: str = "DIRECT_QUERY"
    selectedAnalysisMethods: list[str] | None = None
    analysisRule: AnalysisRuleSpec | None = None
    associations: list[AssociationSpec] = Field(default_factory=list)
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


# --------------------------------------------------------------------------- templates


# A template's artifacts and synthetic data live in ``template_models`` (built on SpecModel above).
from reconciler.spec.template_models import (  # noqa: E402
    ArtifactSpec,
    ArtifactsSpec,
    S3LocationSpec,
    SyntheticDataParameters,
)


class AnalysisTemplateSource(SpecModel):
    """The template's code: inline SQL ``text``, a SQL ``file`` (relative to this YAML file), or the
    ``artifacts`` of a PySpark template (``format: PYSPARK_1_0``)."""

    text: str | None = None
    file: str | None = None
    artifacts: ArtifactsSpec | None = None


class AnalysisParameter(SpecModel):
    """A typed placeholder the querying member may fill in."""

    name: str
    type: str
    defaultValue: str | None = None


class ErrorMessageConfiguration(SpecModel):
    """How much detail error messages of queries on this template show."""

    type: str


class AnalysisTemplateSpec(SpecModel):
    """An analysis template owned by a member of one collaboration."""

    kind: Literal["AnalysisTemplate"]
    name: str
    owner: MemberKey
    collaboration: str
    description: str | None = None
    format: str = "SQL"
    source: AnalysisTemplateSource
    parameters: list[AnalysisParameter] = Field(default_factory=list)
    """The API's ``analysisParameters``."""
    referencedTables: list[str] | None = None
    """Association names the SQL reads (the API's ``schema.referencedTables``); derived if absent."""
    errorMessageConfiguration: ErrorMessageConfiguration | None = None
    syntheticDataParameters: SyntheticDataParameters | None = None
    """Synthetic data generated from the results (Clean Rooms ML); create-only on AWS."""
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class DifferentialPrivacyParameters(SpecModel):
    """The privacy budget and noise of a differential-privacy budget template."""

    epsilon: int
    usersNoisePerQuery: int


class BudgetParameter(SpecModel):
    """One access budget (a number of queries per period)."""

    type: str
    budget: int
    autoRefresh: str | None = None


class AccessBudgetParameters(SpecModel):
    """An access budget on one association of the collaboration."""

    budgetParameters: list[BudgetParameter]
    association: str
    """The name of the budgeted association (resolved to its ARN)."""


class PrivacyBudgetParameters(SpecModel):
    """Parameters of a privacy budget template (exactly one of the members)."""

    differentialPrivacy: DifferentialPrivacyParameters | None = None
    accessBudget: AccessBudgetParameters | None = None


class PrivacyBudgetTemplateSpec(SpecModel):
    """A privacy budget template of one collaboration, owned by a member."""

    kind: Literal["PrivacyBudgetTemplate"]
    collaboration: str
    owner: MemberKey
    privacyBudgetType: str
    autoRefresh: str | None = None
    parameters: PrivacyBudgetParameters
    tags: Tags = Field(default_factory=dict)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class MovedSpec(SpecModel):
    """A resource's address changed: what the stack manages at ``from`` now lives at ``to``.

    As Terraform's ``moved`` block: before planning, a resource observed at ``from`` (and what
    lives under it: a collaboration's members, memberships, associations and templates, a table's
    analysis rule) is taken as the one declared at ``to``, so the plan updates it in place and
    rewrites its identity tag, instead of deleting it and creating another. Keep the document as
    long as a copy of the stack may still hold the old address; it does nothing once nothing is
    at ``from``.
    """

    kind: Literal["Moved"]
    from_: str = Field(alias="from")
    """The old address (``configured_table.retailer.purchases``)."""
    to: str
    """The new address, declared by the spec (same kind)."""


# The Clean Rooms ML kinds live in ``ml_models``, which builds on SpecModel, Lifecycle and Tags above.
from reconciler.spec.id_models import ID_DOCUMENT_MODELS, IdDocument  # noqa: E402
from reconciler.spec.ml_models import ML_DOCUMENT_MODELS, MLDocument  # noqa: E402
from reconciler.spec.state_models import STATE_DOCUMENT_MODELS, RemoteStateSpec  # noqa: E402

#: Any top-level document of a stack.
Document: TypeAlias = (
    CollaborationSpec
    | ConfiguredTableSpec
    | AnalysisTemplateSpec
    | PrivacyBudgetTemplateSpec
    | MovedSpec
    | RemoteStateSpec
    | MLDocument
    | IdDocument
)

#: ``kind:`` value -> model; the loader dispatches on it.
DOCUMENT_MODELS: dict[str, type[SpecModel]] = {
    "Collaboration": CollaborationSpec,
    "ConfiguredTable": ConfiguredTableSpec,
    "AnalysisTemplate": AnalysisTemplateSpec,
    "PrivacyBudgetTemplate": PrivacyBudgetTemplateSpec,
    "Moved": MovedSpec,
    **ML_DOCUMENT_MODELS,
    **ID_DOCUMENT_MODELS,
    **STATE_DOCUMENT_MODELS,
}
