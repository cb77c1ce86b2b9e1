"""Workspace: one stack opened against one backend, with its state cache and working directory.

``open_workspace`` loads and validates the stack, picks who answers the boto3 clients
(``LocalClients`` for ``--backend local``, ``AwsClients`` for ``aws``), and on the local backend
binds every configured table's ``localData`` in the Glue stand-in (``LocalClients.bind_table``),
which is what AWS Glue knows about a real table. ``Workspace.read`` observes the stack and
refreshes the state cache (``.reconciler/state.json``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.collector import collector_paused
from reconciler.errors import PlanError
from reconciler.execution import remote
from reconciler.execution.backend import Boto3Backend
from reconciler.execution.clients import AwsClients, ClientSource, LocalClients
from reconciler.execution.rates import limits_for
from reconciler.execution.state import State, StateCache
from reconciler.planner import desired as desired_mod
from reconciler.planner.moves import Move
from reconciler.planner.resource import DesiredResource
from reconciler.spec import Stack, load_stack
from reconciler.spec.id_models import IdMappingTableSpec, IdNamespaceAssociationSpec
from reconciler.spec.ml_models import TrainingDatasetSpec
from reconciler.workflow.stacks import accounts_of, find_stack, stack_name, workspace_root

__all__ = ["BACKENDS", "Workspace", "bind_local_data", "open_workspace"]

#: The backends ``--backend`` accepts.
BACKENDS = ("local", "aws")


@dataclass
class Workspace:
    """One stack opened against one backend: the spec, the backend, the cache, the directory.

    Args:
        stack: the loaded spec.
        name: the stack name (identity tags, plan files, cache entries).
        backend: the Boto3Backend.
        cache: the state cache (``.reconciler/state.json``, or ``execution.remote``'s store).
        root: the workspace: the directory holding ``.reconciler/`` and ``plans/``.
        notes: things the user should know that are not errors (an interrupted earlier apply).
    """

    stack: Stack
    name: str
    backend: Boto3Backend
    cache: StateCache
    root: Path
    notes: list[str] = field(default_factory=list)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the backend's clients (the local database file)."""
        self.backend.clients.close()

    @property
    def local(self) -> LocalClients:
        """The local backend's clients, for what only it has (result files, the Glue stand-in).

        Raises:
            PlanError: the workspace is not on the local backend.
        """
        clients = self.backend.clients
        if not isinstance(clients, LocalClients):
            raise PlanError(
                f"this needs the local backend, not {self.backend.name}", hint="use --backend local"
            )
        return clients

    def desired(self) -> list[DesiredResource]:
        """The spec's resources in normal form."""
        with collector_paused():  # bounded by the spec; see reconciler.collector
            return list(desired_mod.resources(self.stack))

    def moves(self) -> tuple[Move, ...]:
        """The spec's moves (``kind: Moved``), carried out on what the backend holds before a diff."""
        return desired_mod.moves(self.stack)

    def read(self, desired: Sequence[DesiredResource] | None = None, *, refresh: str = "full") -> State:
        """Observe the stack's resources (and the adopted ones ``desired`` names); refresh the cache.

        ``refresh``: ``full`` (the default) reads everything; ``changed`` and ``summaries`` are
        conditional reads (``execution.conditional``, ``workflow.planning.REFRESH``).
        """
        adopt = {r.address: (r.id, r.attributes.get("name")) for r in desired or () if r.existing}
        readable = {a.member for a in self.backend.accounts}
        foreign = {
            r.address: str(r.attributes["name"])
            for r in desired or ()
            if r.owner not in readable and isinstance(r.attributes.get("name"), str)
        }
        with collector_paused():  # plain JSON, no cycles: see collector_paused
            known = self.cache.load(self.backend.name, self.name)
        state = self.backend.read(self.name, known=known, refresh=refresh, adopt=adopt, foreign=foreign)
        with collector_paused():
            self.cache.save(self.backend.name, state)
        return state


def open_workspace(
    stack: str | os.PathLike[str] | None,
    *,
    backend: str = "local",
    as_member: str | None = None,
    parallelism: int = 16,
    root: Path | None = None,
    clients: ClientSource | None = None,
) -> Workspace:
    """Load a stack and connect its backend.

    Args:
        stack: stack path or name (see ``find_stack``).
        backend: ``local`` or ``aws``.
        as_member: on AWS, act only as this member (read and write with its account only).
        parallelism: concurrent reads.
        root: the directory holding ``.reconciler/`` (default: ``workspace_root()``, found from
            the working directory upwards as git finds ``.git``).
        clients: who answers the clients (tests); default from ``backend``.

    Returns:
        The Workspace.
    """
    if backend not in BACKENDS:
        raise PlanError(f"unknown backend {backend!r}", hint=f"use one of: {', '.join(BACKENDS)}")
    with collector_paused():  # bounded by the spec's files; see reconciler.collector
        spec = load_stack(find_stack(stack))
    base = root or workspace_root()
    accounts = accounts_of(spec)
    names = {a.account_id: a.member for a in accounts}
    if as_member is not None:
        if as_member not in {a.member for a in accounts}:
            known = ", ".join(sorted(a.member for a in accounts))
            raise PlanError(f"--as {as_member}: no such member in the stack", hint=f"members: {known}")
        if backend == "aws":
            accounts = [a for a in accounts if a.member == as_member]
    if clients is None:
        if backend == "local":
            with collector_paused():  # the emulator's records: bounded by its database
                clients = LocalClients(base / ".reconciler" / "local.duckdb", parallelism=parallelism)
        else:
            clients = AwsClients(parallelism=parallelism)
    name = stack_name(spec)
    store = remote.configured(spec.remote_state)  # before any client is made: a bad one is refused
    cache = (
        remote.RemoteStateCache(remote.open_store(store), backend, name)
        if store is not None
        else StateCache(base / ".reconciler" / "state.json")
    )
    if isinstance(clients, LocalClients):
        try:
            bind_local_data(clients, spec)
        except BaseException:
            clients.close()
            raise
    return Workspace(
        stack=spec,
        name=name,
        backend=Boto3Backend(clients, accounts, parallelism=parallelism, names=names, rates=limits_for()),
        cache=cache,
        root=base,
    )


def bind_local_data(clients: LocalClients, stack: Stack, *, recheck: bool = False) -> list[str]:
    """Bind every configured table's ``localData`` in the local backend's Glue stand-in.

    Idempotent: a table already bound to the same file, with the same content, is not rewritten,
    so every command that opens a local workspace does it (``open_workspace``); a file whose
    content changed is read again (its columns are the table's schema).

    Args:
        clients: the local backend's clients.
        stack: the loaded spec.
        recheck: hash every file, even those whose size and time did not change (``state rebuild``).

    Returns:
        ``database.table`` of each table bound, in spec order.
    """
    owners = {a.member: a.account_id for a in accounts_of(stack)}
    bound = []
    for table in stack.configured_tables:
        glue = table.tableReference.glue
        if table.localData and glue is not None and table.owner in owners:
            path = stack.resolve_path(table, table.localData).resolve()
            clients.bind_table(owners[table.owner], glue.databaseName, glue.tableName, path, recheck=recheck)
            bound.append(f"{glue.databaseName}.{glue.tableName}")
    for dataset in stack.ml_documents:  # a TrainingDataset's localData, bound to its Glue table
        if not isinstance(dataset, TrainingDatasetSpec) or not dataset.localData:
            continue
        source = (
            dataset.trainingData[0].get("inputConfig", {}).get("dataSource", {}).get("glueDataSource", {})
        )
        if source.get("databaseName") and source.get("tableName") and dataset.owner in owners:
            path = stack.resolve_path(dataset, dataset.localData).resolve()
            clients.bind_table(
                owners[dataset.owner], source["databaseName"], source["tableName"], path, recheck=recheck
            )
            bound.append(f"{source['databaseName']}.{source['tableName']}")
    bound.extend(_put_artifacts(clients, stack))
    _bind_entity_resolution(clients, stack)
    return bound


def _put_artifacts(clients: LocalClients, stack: Stack) -> list[str]:
    """Put each PySpark template's artifact files at their S3 locations in the local S3 stand-in
    (what a user uploads to S3 before applying on AWS); unchanged objects are not rewritten."""
    from reconciler.emulator.protected_jobs import s3_object
    from reconciler.spec.artifacts import file_sha256

    put = []
    for template in stack.analysis_templates:
        artifacts = template.source.artifacts
        if artifacts is None:
            continue
        for artifact in (artifacts.entryPoint, *(artifacts.additionalArtifacts or [])):
            source = stack.resolve_path(template, artifact.file)
            target = s3_object(clients.results_root, artifact.location.bucket, artifact.location.key)
            if not source.is_file():
                continue
            if target.is_file() and file_sha256(target) == file_sha256(source):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            put.append(f"s3://{artifact.location.bucket}/{artifact.location.key}")
    return put


def _bind_entity_resolution(clients: LocalClients, stack: Stack) -> None:
    """Declare the stack's ID namespaces and ID mapping workflows to the local Entity Resolution."""
    entity_resolution = clients.service.entity_resolution
    for doc in stack.id_documents:
        if isinstance(doc, IdNamespaceAssociationSpec) and doc.localNamespace is not None:
            local = doc.localNamespace
            entity_resolution.register_namespace(
                doc.inputReferenceConfig.inputReferenceArn,
                type=local.type,
                path=stack.resolve_path(doc, local.data).resolve(),
                id_column=local.idColumn,
            )
        elif isinstance(doc, IdMappingTableSpec) and doc.localWorkflow is not None:
            entity_resolution.register_workflow(
                doc.inputReferenceConfig.inputReferenceArn, rules=doc.localWorkflow.rules
            )
