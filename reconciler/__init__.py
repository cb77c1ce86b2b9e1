"""A declarative reconciler for AWS Clean Rooms.

A tour of the package, following the data from YAML to a boto3 call, then the services behind
those calls, the renderings and the command line. Each subsystem is a subpackage whose own
docstring maps its modules; only shared pieces sit at the top.

- ``errors``: the ReconcilerError tree (drawn in its docstring), Diagnostic and SourceLocation.
- ``aws_model``: botocore's service models (``cleanrooms``, ``cleanroomsml``), the only source
  of API facts (limits, enums, shapes).
- ``userfiles``: the one atomic write, and files named on the command line (``--out``,
  ``--file``), read and written with one clear error and never half-written.
- ``spec/``: YAML stacks -> validated models, every problem at ``file:line:col``: ``load``
  (YAML that keeps positions) -> ``shape`` (layer 1: pydantic ``models``) -> ``limits`` (layer
  2: AWS limits) -> ``checks/`` (layer 3: the CHECKS pipeline) -> ``sql_checks`` (layer 4:
  template SQL) and ``policy`` (privacy policy as code), run by ``pipeline`` into a ``stack``
  (the Stack: models plus where each came from); ``catalog`` (every code, the README's table),
  ``schema`` (JSON Schema for editors).
- ``planner/``: ``addresses`` (Kind, Address) and ``registry`` (one descriptor per resource
  type, naming its AWS service) -> ``desired`` (a Stack -> DesiredResources) -> ``graph`` ->
  ``diff`` (desired vs ObservedResources -> Changes) -> ``privacy`` (each Change's impact) ->
  ``build`` (a ``model.Plan`` of ordered Steps); ``planfile`` reads and writes plan files.
- ``execution/``: ``clients`` (who answers: the local emulator or AWS, per account, region and
  service), ``backend`` (``read`` is a ``crawl``, ``run_step`` runs ``steps``; ``translate``
  turns botocore's errors into BackendErrors at the boundary), ``state`` (the observed State and
  its cache), ``retry``, ``lock``, ``executor`` (a Plan's Steps in dependency order),
  ``staleness``.
- ``workflow/``: the library functions behind the commands: ``stacks`` (finding one, the examples),
  ``workspace`` (a stack opened against a backend, local data bound), ``planning``,
  ``applying`` (lock, stale check, executor), ``inventory`` (state and import), ``demo``.
- ``gitops/``: ``review`` (spec diffs between Git revisions for pull requests), ``picture``
  (stacks drawn as boxes and arrows), ``drift`` (drift reports with accepted drift left out).
- ``emulator/``: the in-process Clean Rooms service behind real boto3 clients (the default
  ``local`` backend): ``protocol`` and ``validation`` (the wire), ``registry`` (the handler
  table, per service), ``resource_types``, ``collaborations``, ``change_requests``, ``views``,
  ``tags``, ``privacy_budgets`` and ``protected_queries`` (the operations), ``invariants``
  (what the service enforces), ``context``, ``store`` (DuckDB), ``catalog`` (a Glue stand-in),
  ``faults``, ``errors``.
- ``engine/``: protected queries on local data: ``facts`` and ``rules`` (analysis rules as
  data) -> ``enforce`` (stages S0 to S6: ``bind`` resolves every column to its base column
  against the allow-list of ``allowlist`` and ``functions``, then ``flat``, ``custom`` and
  ``dp_query`` check the rules on what it found; ``suppress`` writes S7's thresholds and
  ``safe`` makes failing operations non-failing) -> ``run`` (sealed, bounded DuckDB);
  ``verdict``, ``templates``, and ``from_spec`` (a loaded spec -> engine facts).
- ``dp/``: differential privacy: ``noise`` (exact discrete Laplace), ``calibrate``, ``bounds``,
  ``mechanism`` (noisy answers), ``accountant`` (budgets), ``preview`` and ``report``.
- ``render/``: pure functions to text: ``text``, ``json`` and ``markdown`` of a Plan; ``review``
  of a Review; ``drift`` of a DriftReport; ``mermaid`` and ``dot`` of a Picture.
- ``cli/``: the ``reconciler`` command, one thin module per subcommand (``validate``,
  ``schema``, ``plan``, ``apply``, ``drift``, ``destroy``, ``demo``, ``query``, ``review``,
  ``graph``, ``budget``, ``state``, ``import_``: ``COMMAND_MODULES``); the only place errors
  become text and exit codes. ``__main__`` runs it as ``python -m reconciler``.
- ``examples/``: the example stacks and their sample data (package data, not code; found through
  ``workflow.stacks.EXAMPLES``).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
