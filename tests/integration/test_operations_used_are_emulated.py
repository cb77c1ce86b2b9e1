"""Every Clean Rooms operation the reconciler calls is answered by the local emulator.

The operations are collected from the code itself, not from a hand-kept list: the planner's
resource-type registry names its create/get/list/update/delete operations; every string literal in the
package that is exactly an operation name (the backend calls operations by name) and every
``client.<method>(...)`` call whose method is a ``cleanrooms`` client method is an operation used.
A new call that the emulator cannot answer fails here, not in a user's demo.
"""

from __future__ import annotations

import ast
from pathlib import Path

from botocore import xform_name

from reconciler import emulator
from reconciler.aws_model import service_model
from reconciler.planner import registry as resources

PACKAGE = Path(resources.__file__).resolve().parent
OPERATIONS = set(service_model("cleanrooms").operation_names)
METHOD_TO_OPERATION = {xform_name(op): op for op in OPERATIONS}


def _operations_in_registry() -> set[str]:
    used: set[str] = set()
    for descriptor in resources.REGISTRY.values():
        for role in ("create", "get", "list", "update", "delete"):
            name = descriptor.operation(role)  # type: ignore[arg-type]
            if name:
                used.add(name)
    return used


def _operations_called_in_code() -> dict[str, str]:
    """Operation -> first file:line that calls it (planner, backend, CLI, ...; not the emulator)."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "emulator" in path.relative_to(PACKAGE).parts:
            continue  # the emulator answers operations; it does not call them
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            op = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                op = METHOD_TO_OPERATION.get(node.func.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in OPERATIONS:
                op = node.value
            if op and op not in found:
                found[op] = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
    return found


def test_registry_operations_exist_in_the_service_model() -> None:
    assert _operations_in_registry() <= OPERATIONS


def test_every_operation_the_reconciler_uses_is_emulated() -> None:
    used = dict.fromkeys(_operations_in_registry(), "reconciler/resources.py (registry)")
    used.update(_operations_called_in_code())
    assert len(used) >= 30, "the scan should find the planner's operations"
    missing = {op: where for op, where in used.items() if op not in emulator.IMPLEMENTED_OPERATIONS}
    assert missing == {}, f"operations used but not implemented by the emulator: {missing}"
