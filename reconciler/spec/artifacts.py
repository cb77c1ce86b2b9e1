"""PySpark templates' artifacts: read and hashed at validation, as a template's ``source.file`` is read.

A PySpark analysis template (``format: PYSPARK_1_0``) names its code as ``source.artifacts``: an
entry point script and at most the model's number of additional artifacts (a virtual
environment), each a local ``file`` and the S3 ``location`` AWS Clean Rooms reads it from. The
file is what the spec means: its sha256 is what AWS reports for the template
(``sourceMetadata.artifacts``), so the planner compares the two, and an edited script is a change.

Limits: the list size and the S3 names come from the service model (layer 2); the combined size
(1 GB) is the user guide's, which the model does not state. A PySpark template reads the tables
of ``referencedTables``, which AWS cannot derive from code: the spec must list them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from reconciler.aws_model import model_shape
from reconciler.errors import Diagnostic
from reconciler.spec.load import RawDocument
from reconciler.spec.models import AnalysisTemplateSpec

__all__ = ["CODES", "MAX_TOTAL_BYTES", "PYSPARK_FORMATS", "ArtifactHashes", "file_sha256", "read_artifacts"]

#: "The maximum size of all combined artifacts for a given PySpark analysis template ... is 1 GB."
MAX_TOTAL_BYTES = 1_000_000_000
#: The formats whose source is ``artifacts`` (the model's AnalysisFormat enum, less SQL).
PYSPARK_FORMATS = frozenset(f for f in model_shape("AnalysisFormat").enum if f != "SQL")

CODES: tuple[tuple[str, str, str, str], ...] = (
    (
        "template-artifacts",
        "error",
        "a PySpark template without `source.artifacts` (or an SQL one with them), an artifact file that "
        "cannot be read, artifacts over 1 GB together, or a PySpark template without `referencedTables`",
        "give `format: PYSPARK_1_0` with `source.artifacts` (files relative to the YAML file) and list "
        "the tables the script reads in `referencedTables`",
    ),
)


@dataclass(frozen=True)
class ArtifactHashes:
    """The sha256 (hex) of a template's entry point and of each additional artifact, in order."""

    entry_point: str
    additional: tuple[str, ...] = ()

    def source_metadata(self) -> dict[str, object]:
        """As the API reports them (``AnalysisSourceMetadata``)."""
        artifacts: dict[str, object] = {"entryPointHash": {"sha256": self.entry_point}}
        if self.additional:
            artifacts["additionalArtifactHashes"] = [{"sha256": h} for h in self.additional]
        return {"artifacts": artifacts}


def file_sha256(path: Path) -> str:
    """The sha256 of a file's content (read in blocks: a virtual environment can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_artifacts(
    template: AnalysisTemplateSpec, doc: RawDocument
) -> tuple[ArtifactHashes | None, list[Diagnostic]]:
    """Check a template's format against its source and hash its artifact files.

    Returns:
        The hashes (None when the template has no artifacts or one cannot be read) and the
        problems found, each at its YAML line.
    """
    artifacts = template.source.artifacts
    pyspark = template.format in PYSPARK_FORMATS
    problems: list[Diagnostic] = []
    if pyspark and artifacts is None:
        problems.append(
            _diag(doc, ("source",), f"a {template.format} template needs `source.artifacts` (its script)")
        )
    if not pyspark and artifacts is not None:
        problems.append(
            _diag(
                doc,
                ("format",),
                f"`source.artifacts` is the code of a PySpark template, not of {template.format}",
            )
        )
    if pyspark and not template.referencedTables:
        problems.append(
            _diag(
                doc,
                ("name",),
                "a PySpark template must list the tables its script reads in `referencedTables`",
            )
        )
    if artifacts is None:
        return None, problems
    files: list[tuple[tuple[str | int, ...], str]] = [
        (("source", "artifacts", "entryPoint", "file"), artifacts.entryPoint.file)
    ]
    files += [
        (("source", "artifacts", "additionalArtifacts", i, "file"), a.file)
        for i, a in enumerate(artifacts.additionalArtifacts or [])
    ]
    sizes: dict[Path, int] = {}
    for path, relative in files:
        file = doc.path.parent / relative
        try:
            sizes[file] = file.stat().st_size
            if not file.is_file():
                raise IsADirectoryError(21, "Is a directory")
        except OSError as exc:
            reason = exc.strerror or str(exc)
            problems.append(_diag(doc, path, f'cannot read the artifact file "{relative}": {reason}'))
    total = sum(sizes.values())
    if total > MAX_TOTAL_BYTES:  # checked before hashing: nothing over the limit is read
        problems.append(
            _diag(
                doc,
                ("source", "artifacts"),
                f"the artifacts are {total:,} bytes together; AWS allows at most {MAX_TOTAL_BYTES:,} (1 GB)",
            )
        )
    if problems:
        return None, problems
    hashes = [file_sha256(doc.path.parent / relative) for _, relative in files]
    return ArtifactHashes(hashes[0], tuple(hashes[1:])), problems


def _diag(doc: RawDocument, path: tuple[str | int, ...], summary: str) -> Diagnostic:
    return Diagnostic(
        summary,
        doc.locate(path),
        hint="PySpark templates: format PYSPARK_1_0, source.artifacts.entryPoint.{file, location}, "
        "roleArn, and referencedTables; files are relative to this YAML file",
        code="template-artifacts",
    )
