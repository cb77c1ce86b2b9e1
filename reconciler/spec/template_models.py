"""The parts of an analysis template that PySpark and Clean Rooms ML add: artifacts, synthetic data.

Kept apart from ``models`` (which imports them) only for size; field names are the API's.
"""

from __future__ import annotations

from reconciler.spec.models import SpecModel

__all__ = [
    "ArtifactSpec",
    "ArtifactsSpec",
    "ColumnClassificationDetails",
    "MLSyntheticDataParameters",
    "S3LocationSpec",
    "SyntheticDataColumnProperties",
    "SyntheticDataParameters",
]


class S3LocationSpec(SpecModel):
    """An S3 object: where AWS Clean Rooms reads an artifact."""

    bucket: str
    key: str


class ArtifactSpec(SpecModel):
    """One artifact of a PySpark template: a local ``file`` and the S3 ``location`` AWS reads.

    The file (relative to this YAML file) is what the spec means: its sha256 is compared with the
    hash AWS records for the template (``sourceMetadata``), so editing the file is a change to plan,
    as editing a ``source.file`` is. The local backend puts the file at ``location`` in its S3
    stand-in; on AWS, upload it there (a versioned bucket) before applying.
    """

    file: str
    location: S3LocationSpec


class ArtifactsSpec(SpecModel):
    """A PySpark template's code: the entry point script and its libraries (a virtual environment)."""

    entryPoint: ArtifactSpec
    additionalArtifacts: list[ArtifactSpec] | None = None
    roleArn: str
    """The role Clean Rooms assumes to read the artifacts from S3."""


class SyntheticDataColumnProperties(SpecModel):
    """How one column of the template's output is treated when synthetic data is generated."""

    columnName: str
    columnType: str
    isPredictiveValue: bool


class ColumnClassificationDetails(SpecModel):
    """The classification of the output columns for synthetic data."""

    columnMapping: list[SyntheticDataColumnProperties]


class MLSyntheticDataParameters(SpecModel):
    """Privacy settings of Clean Rooms ML synthetic data generated from the template's results."""

    epsilon: float
    maxMembershipInferenceAttackScore: float
    columnClassification: ColumnClassificationDetails


class SyntheticDataParameters(SpecModel):
    """The template's synthetic data parameters (the API's union: exactly one member)."""

    mlSyntheticDataParameters: MLSyntheticDataParameters | None = None
