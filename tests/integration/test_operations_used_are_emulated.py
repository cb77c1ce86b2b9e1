"""Every Clean Rooms (and Clean Rooms ML) operation the reconciler calls is answered by the local emulator.

The operations are collected from the code itself, not from a hand-kept list: the planner's
resource-type registry names its create/get/list/update/delete operations; every string literal in the
package that is exactly an operation name (the backend calls operations by name) and every
``client.<method>(...)`` call whose method is a ``cleanrooms`` or ``cleanroomsml`` client method is an
operation used.
A new call that the emulator cannot answer fails here, not in a user's demo.
"""

from __future__ import annotations

import ast
from pathlib import Path

from botocore import xform_name

from reconciler.aws_model import service_model
from reconciler.emulator.registry import OPERATIONS as ANSWERED
from reconciler.planner import registry as resources

PACKAGE = Path(resources.__file__).resolve().parent
SERVICES = ("cleanrooms", "cleanroomsml")
OPERATIONS = {(service, op) for service in SERVICES for op in service_model(service).operation_names}
METHOD_TO_OPERATION = {xform_name(op): (service, op) for service, op in OPERATIONS}
NAMES = {
    op: (service, op) for service, op in sorted(OPERATIONS, reverse=True)
}  # cleanrooms wins a shared name


def _operations_in_registry() -> set[tuple[str, str]]:
    used: set[tuple[str, str]] = set()
    for descriptor in resources.REGISTRY.values():
        for role in ("create", "get", "list", "update", "delete"):
            name = descriptor.operation(role)  # type: ignore[arg-type]
            if name:
                used.add((descriptor.service, name))
    return used


def _operations_called_in_code() -> dict[tuple[str, str], str]:
    """(service, operation) -> first file:line calling it (planner, backend, CLI...; not the emulator)."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "emulator" in path.relative_to(PACKAGE).parts:
            continue  # the emulator answers operations; it does not call them
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            op = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                op = METHOD_TO_OPERATION.get(node.func.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in NAMES:
                op = NAMES[node.value]
            if op and op not in found:
                found[op] = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
    return found


def test_registry_operations_exist_in_the_service_model() -> None:
    assert _operations_in_registry() <= OPERATIONS
    assert {service for service, _ in _operations_in_registry()} == set(SERVICES)


def test_every_operation_the_reconciler_uses_is_emulated() -> None:
    used = dict.fromkeys(_operations_in_registry(), "reconciler/planner/registry.py (registry)")
    used.update(_operations_called_in_code())
    assert len(used) >= 30, "the scan should find the planner's operations"
    missing = {op: where for op, where in used.items() if op[1] not in ANSWERED.get(op[0], {})}
    assert missing == {}, f"operations used but not implemented by the emulator: {missing}"
