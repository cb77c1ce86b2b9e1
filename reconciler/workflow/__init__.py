"""Workflow: the library functions behind ``plan``, ``apply``, ``drift``, ``destroy`` and ``demo``.

Each command is one call here: load the spec -> desired resources -> read State through the
backend -> diff -> Plan, and for apply: check the plan is for this stack and backend, refuse
what is not allowed, take the stack lock, re-read State and refuse a stale plan (naming what
changed), then let the Executor run the Steps. The CLI only parses options and renders.

- ``stacks``: finding a stack (a path, ``./specs/<name>`` or an example), its name, its accounts;
- ``workspace``: a stack opened against a backend (``open_workspace``), local data bound;
- ``planning``: ``make_plan``; ``applying``: ``apply_plan``, the stack lock, the target check;
- ``inventory``: what a stack manages (``state`` and ``import``);
- ``demo``: the query half of ``reconciler demo``.

The state cache (``.reconciler/state.json``) is refreshed after every read and every step; the
lock (``.reconciler/locks/<backend>-<stack>.lock``) keeps two applies of one stack apart. With
``kind: RemoteState`` or ``RECONCILER_STATE`` both live in S3 or DynamoDB (``execution.remote``).
"""

from __future__ import annotations

from reconciler.workflow.applying import apply_plan, check_target, remote_lock, stack_lock
from reconciler.workflow.planning import REFRESH, Outcome, default_plan_path, make_plan
from reconciler.workflow.stacks import (
    EXAMPLES,
    accounts_of,
    example_names,
    find_stack,
    stack_name,
    workspace_root,
)
from reconciler.workflow.workspace import BACKENDS, Workspace, bind_local_data, open_workspace

__all__ = [
    "BACKENDS",
    "EXAMPLES",
    "REFRESH",
    "Outcome",
    "Workspace",
    "accounts_of",
    "apply_plan",
    "bind_local_data",
    "check_target",
    "default_plan_path",
    "example_names",
    "find_stack",
    "make_plan",
    "open_workspace",
    "remote_lock",
    "stack_lock",
    "stack_name",
    "workspace_root",
]
