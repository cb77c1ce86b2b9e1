"""A declarative reconciler for AWS Clean Rooms.

A tour of the package, in the order of STYLE.md's module map: following the data from YAML to a
boto3 call, then the services behind those calls, the renderings and the command line.

- ``errors``: the ReconcilerError tree (drawn in its docstring), Diagnostic and SourceLocation.
- ``aws_model``: botocore's service models, the only source of API facts (limits, enums, shapes).
- ``addresses``: Kind and Address (``configured_table.customers``): stable, sortable, never an
  AWS id.
- ``spec/``: YAML stacks -> validated models, every problem at ``file:line:col``: ``load``
  (YAML that keeps positions) -> ``shape`` (layer 1: pydantic ``models``) -> ``limits`` (layer
  2: AWS limits) -> ``checks`` (layer 3: the CHECKS pipeline) -> ``sql_checks`` (layer 4:
  template SQL), run by ``pipeline`` into a ``stack`` (the Stack: models plus where each came
  from); ``schema`` (JSON Schema for editors).
- ``policy``: privacy policy as code, limits a stack must respect (checked by validate, plan and
  review).
- ``desired``: a Stack -> the desired Resources, API-shaped and in normal form.
- ``graph``: DependencyGraph, which resource (or step) comes before which; the only networkx user.
- ``state``: State, an immutable snapshot of observed resources by Address; identity tags; the
  state cache and its journal.
- ``diff``: desired vs observed -> one Change per Address; the only deepdiff user.
- ``privacy``: the privacy impact of a Change (weakens / strengthens / neutral), with reasons.
- ``plan``: Action, Change, Step, Plan; ordering into Steps; the plan file format.
- ``staleness``: is a saved plan still what the spec and live state call for, and if not, why.
- ``apply``: the Executor, running a saved Plan's Steps against a Backend.
- ``resources``: the registry of resource types (operations, ids, updatable fields, normal form).
- ``backend``: Backend, boto3 ``cleanrooms`` clients per member account (local or AWS), parallel
  reads, one call per Step, botocore errors translated at the boundary.
- ``retry``: which failures are transient, capped backoff with jitter, bounded status waits.
- ``lock``: the stack lock, one writer per stack and backend, interrupted holders reported.
- ``workflow``: the library functions behind plan, apply, drift, destroy and demo (spec -> plan
  -> apply, with the lock and the stale-plan check).
- ``demo``: the query half of ``reconciler demo``: local data bound in the Glue stand-in, a
  protected query started and read back through boto3 as a member does on AWS.
- ``userfiles``: files named on the command line (``--out``, ``--file``), read and written with
  one clear error and never half-written.
- ``inventory``: what a stack manages (state list/show/rebuild/unlock, import).
- ``emulator/``: the in-process Clean Rooms service behind real boto3 clients (the default
  ``local`` backend): ``protocol`` and ``validation`` (the wire), ``registry`` (the handler
  table), ``kinds``, ``collaborations``, ``change_requests``, ``views``, ``tags``,
  ``privacy_budgets`` and ``protected_queries`` (the operations), ``rules`` (the service's
  rules), ``context``, ``store`` (DuckDB), ``catalog`` (a Glue stand-in), ``faults``, ``errors``.
- ``engine/``: protected queries on local data: ``facts`` and ``rules`` (analysis rules as
  data) -> ``enforce`` (stages S0 to S6: ``bind`` resolves every column to its base column
  against the allow-list of ``allowlist`` and ``functions``, then ``flat``, ``custom`` and
  ``dp_query`` check the rules on what it found; ``suppress`` writes S7's thresholds and
  ``safe`` makes failing operations non-failing) -> ``run`` (sealed, bounded DuckDB);
  ``verdict``, ``templates``, and ``from_spec`` (a loaded spec -> engine facts).
- ``dp/``: differential privacy: ``noise`` (exact discrete Laplace), ``calibrate``, ``bounds``,
  ``mechanism`` (noisy answers), ``accountant`` (budgets), ``preview`` and ``report``.
- ``review``, ``picture``, ``drift_report``: GitOps: spec diffs between Git revisions for pull
  requests, stacks drawn as boxes and arrows, drift reports with accepted drift left out.
- ``render/``: pure functions to text: ``text``, ``json`` and ``markdown`` of a Plan; ``review``
  of a Review; ``drift`` of a DriftReport; ``mermaid`` and ``dot`` of a Picture.
- ``cli/``: the ``reconciler`` command, one thin module per subcommand (``validate``,
  ``schema``, ``plan``, ``apply``, ``drift``, ``destroy``, ``demo``, ``query``, ``review``,
  ``graph``, ``budget``, ``state``, ``import_``: ``COMMAND_MODULES``); the only place errors
  become text and exit codes. ``__main__`` runs it as ``python -m reconciler``.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
