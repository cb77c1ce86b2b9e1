"""PySpark analysis templates in the spec: ``source.artifacts`` validated, hashed and planned."""

from __future__ import annotations

import hashlib
from pathlib import Path

from spec_helpers import COLLABORATION, problems, where, write

from reconciler.planner import desired
from reconciler.spec import load_stack
from reconciler.spec.artifacts import MAX_TOTAL_BYTES

SCRIPT = "def entrypoint(context):\n    return {'results': {}}\n"


def _template(source: str, *, fmt: str = "PYSPARK_1_0", tables: str = "referencedTables: [purchases]") -> str:
    return f"""\
kind: AnalysisTemplate
name: spend
collaboration: retail
owner: retailer
format: {fmt}
{tables}
source:
{source}
"""


ARTIFACTS = """\
  artifacts:
    entryPoint:
      file: jobs/spend.py
      location: {bucket: retail-code, key: spend.py}
    roleArn: arn:aws:iam::123456789012:role/CodeRole
"""


def test_a_pyspark_template_is_planned_with_its_locations_and_the_hash_of_its_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"collab.yaml": COLLABORATION, "template.yaml": _template(ARTIFACTS), "jobs/spend.py": SCRIPT},
    )
    [template] = [
        r for r in desired.resources(load_stack(tmp_path)) if r.address.kind.value == "analysis_template"
    ]
    assert template.attributes["source"] == {
        "artifacts": {
            "entryPoint": {"location": {"bucket": "retail-code", "key": "spend.py"}},
            "roleArn": "arn:aws:iam::123456789012:role/CodeRole",
        }
    }
    digest = hashlib.sha256(SCRIPT.encode()).hexdigest()
    assert template.attributes["sourceMetadata"] == {"artifacts": {"entryPointHash": {"sha256": digest}}}


def test_a_missing_artifact_file_is_reported_at_its_file_key(tmp_path: Path) -> None:
    [error] = problems(tmp_path, {"collab.yaml": COLLABORATION, "template.yaml": _template(ARTIFACTS)})
    assert error.code == "template-artifacts"
    assert 'cannot read the artifact file "jobs/spend.py"' in error.summary
    assert where(error) == "template.yaml:10:13"


def test_a_pyspark_template_without_artifacts_or_tables_is_refused(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {"collab.yaml": COLLABORATION, "template.yaml": _template("  text: SELECT 1", tables="")},
    )
    summaries = sorted(d.summary for d in found if d.code == "template-artifacts")
    assert summaries == [
        "a PYSPARK_1_0 template needs `source.artifacts` (its script)",
        "a PySpark template must list the tables its script reads in `referencedTables`",
    ]


def test_artifacts_on_an_sql_template_are_refused_at_the_format(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "collab.yaml": COLLABORATION,
            "template.yaml": _template(ARTIFACTS, fmt="SQL"),
            "jobs/spend.py": SCRIPT,
        },
    )
    assert [(d.code, where(d)) for d in found] == [("template-artifacts", "template.yaml:5:9")]


def test_an_unknown_format_is_refused_from_the_service_model(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "collab.yaml": COLLABORATION,
            "template.yaml": _template(ARTIFACTS, fmt="PYSPARK_9_0"),
            "jobs/spend.py": SCRIPT,
        },
    )
    assert any("PYSPARK_9_0" in d.summary and where(d) == "template.yaml:5:9" for d in found), found


def test_more_additional_artifacts_than_the_model_allows_are_refused(tmp_path: Path) -> None:
    extra = "".join(
        f"      - file: jobs/spend.py\n        location: {{bucket: retail-code, key: lib{i}.tar.gz}}\n"
        for i in range(2)
    )
    source = ARTIFACTS + "    additionalArtifacts:\n" + extra
    found = problems(
        tmp_path, {"collab.yaml": COLLABORATION, "template.yaml": _template(source), "jobs/spend.py": SCRIPT}
    )
    [error] = found
    assert (error.code, where(error)) == ("aws-size", "template.yaml:13:5")
    assert "additionalArtifacts: has 2 items; AWS allows exactly 1" in error.summary


def test_artifacts_over_the_size_limit_together_are_refused_without_reading_them(tmp_path: Path) -> None:
    write(tmp_path, {"jobs/spend.py": SCRIPT})
    with (tmp_path / "jobs" / "venv.tar.gz").open("wb") as handle:
        handle.truncate(MAX_TOTAL_BYTES)  # sparse: with the script, over the limit
    source = (
        ARTIFACTS
        + "    additionalArtifacts:\n"
        + "      - file: jobs/venv.tar.gz\n        location: {bucket: b-code, key: v}\n"
    )
    found = problems(tmp_path, {"collab.yaml": COLLABORATION, "template.yaml": _template(source)})
    assert [(d.code, where(d)) for d in found] == [("template-artifacts", "template.yaml:8:3")]
    assert "AWS allows at most 1,000,000,000" in found[0].summary
