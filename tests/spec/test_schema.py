"""The committed JSON Schema is generated from the models and accepts the example stacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from reconciler.cli import main
from reconciler.spec.load import discover, load_file
from reconciler.spec.schema import SCHEMA_PATH, render_schema

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_up_to_date() -> None:
    committed = (ROOT / SCHEMA_PATH).read_text(encoding="utf-8")
    assert committed == render_schema(), "run `reconciler schema` and commit schemas/spec.schema.json"


def test_descriptions_come_from_attribute_docstrings_in_a_fresh_process() -> None:
    """The models read no docstrings when imported; the schema adds them, whether or not the
    models were used first (here: a stack validated, so their validators are built)."""
    code = (
        "import sys; from reconciler.spec import validate_stack;"
        "from reconciler.spec.schema import render_schema;"
        "from reconciler.spec.models import AnalysisTemplateSpec as T;"
        "assert T.model_fields['parameters'].description is None;"
        "validate_stack('specs/retail-adtech'); sys.stdout.write(render_schema());"
        "assert T.model_fields['parameters'].description"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (ROOT / SCHEMA_PATH).read_text(encoding="utf-8")
    assert '"description"' in done.stdout


def test_schema_check_command_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "spec.schema.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert main(["schema", "--check", "--output", str(stale)]) == 1
    assert main(["schema", "--output", str(stale)]) == 0
    assert main(["schema", "--check", "--output", str(stale)]) == 0


def test_schema_carries_aws_enums_and_accepts_every_example_document() -> None:
    schema = json.loads(render_schema())
    member = schema["$defs"]["Member"]["properties"]["abilities"]
    assert "CAN_QUERY" in member["items"]["enum"]
    assert schema["$defs"]["Collaboration"]["properties"]["name"]["maxLength"] == 100
    validator = jsonschema.Draft202012Validator(schema)
    documents = [
        doc
        for stack in sorted((ROOT / "specs").iterdir())
        for f in discover(stack)
        for doc in load_file(f)[0]
    ]
    assert documents
    for doc in documents:
        errors = [e.message for e in validator.iter_errors(doc.data)]
        assert errors == [], doc.display
    assert list(validator.iter_errors({"kind": "ConfiguredTable", "name": "x", "nmae": 1}))
