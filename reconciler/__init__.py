"""A declarative reconciler for AWS Clean Rooms.

A tour of the package, following the data from YAML to a boto3 call:

- ``errors``: the ReconcilerError tree, Diagnostic and SourceLocation.
- ``aws_model``: botocore's service models, the only source of API facts (limits, enums, shapes).
- ``spec``: loading YAML stacks with source positions, pydantic models, validation checks,
  JSON Schema generation.
- planning: ``addresses`` (Kind, Address) -> ``resources`` (the registry of resource types,
  normal form) -> ``desired`` (Stack -> Resources) -> ``graph`` -> ``diff`` (-> Changes) ->
  ``privacy`` (weakens / strengthens / neutral) -> ``plan`` (Steps, plan files) -> ``render``.
- executing: ``backend`` (boto3 clients per member account, local or AWS; parallel reads, one
  call per Step) -> ``state`` (State, identity tags, the state cache) -> ``apply`` (the Executor);
  ``workflow`` runs spec -> plan -> apply for the commands (lock, stale-plan check).
- ``emulator``: the in-process Clean Rooms service that answers boto3 clients locally,
  persisted in DuckDB (the default ``local`` backend).
- ``engine``: protected queries on local data: analysis-rule enforcement (sqlglot) and
  execution (DuckDB).
- ``dp``: differential privacy: exact discrete Laplace noise, privacy budgets (ledger, refresh,
  access budgets), and noisy answers to queries over DP tables.
- ``review``, ``policy``, ``picture``, ``drift_report``: GitOps: spec diffs between Git revisions
  for pull requests, privacy policy as code, Mermaid/DOT pictures, drift reports with ``--ignore``.
- ``cli``: the ``reconciler`` command; the only place errors become text and exit codes.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
