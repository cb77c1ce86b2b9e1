"""Shared helpers for the spec tests: write a stack into a temp dir and validate it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from reconciler.errors import Diagnostic
from reconciler.spec import validate_stack

COLLABORATION = """\
kind: Collaboration
name: retail
creator: retailer
queryLogStatus: ENABLED
analyticsEngine: SPARK
members:
  retailer:
    accountId: "123456789012"
    displayName: Acme Retail
    abilities: [CAN_QUERY, CAN_RECEIVE_RESULTS]
    membership:
      queryLogStatus: ENABLED
      defaultResultConfiguration:
        outputConfiguration:
          s3: {bucket: acme-results, resultFormat: CSV}
        roleArn: arn:aws:iam::123456789012:role/CleanRoomsResultRole
  adtech:
    accountId: "987654321098"
    displayName: AdTech
    membership:
      queryLogStatus: ENABLED
"""


def write(tmp: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``files`` (name -> YAML text, dedented) under ``tmp`` and return ``tmp``."""
    for name, content in files.items():
        target = tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(textwrap.dedent(content), encoding="utf-8")
    return tmp


def problems(tmp: Path, files: dict[str, str | bytes]) -> list[Diagnostic]:
    """Validate a stack written from ``files``; return only the errors."""
    _, diagnostics = validate_stack(write(tmp, files))
    return [d for d in diagnostics if d.severity.value == "error"]


def where(d: Diagnostic) -> str:
    """``file:line:col`` with the file's name only."""
    assert d.location is not None
    return f"{Path(d.location.path).name}:{d.location.line}:{d.location.column}"
