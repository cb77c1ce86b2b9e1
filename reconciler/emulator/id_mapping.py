"""Identity resolution: ID namespace associations, ID mapping tables, and a local Entity Resolution.

On AWS an ID namespace association brings an AWS Entity Resolution ID namespace (a member's
identities: SOURCE or TARGET) into a collaboration, and an ID mapping table joins two of them
(one SOURCE, one TARGET) through an Entity Resolution ID mapping workflow; ``PopulateIdMappingTable``
runs the workflow and fills the table with ``(sourceId, targetId)`` pairs, which protected queries
join through under the ID mapping table analysis rule Clean Rooms adds itself (user guide, "ID
mapping table analysis rule").

Entity Resolution is another service, so it is a local stand-in here (``EntityResolution``),
declared as local data: an ID namespace is a CSV/Parquet file, its type and the column holding
each record's id; an ID mapping workflow is a list of rule-based matching rules, each a list of
matching keys (columns both namespaces have). Population is the documented rule-based match with
exact matching: a source record and a target record match when, for some rule, every key is
present in both and equal after trimming and lower-casing (Entity Resolution's normalization of
text keys); every matching pair is kept (many-to-many, the safer reading: a query still sees only
the overlap). The pairs are written to ``results_root/.id-mapping/<table id>.csv``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from reconciler import engine
from reconciler.emulator import invariants
from reconciler.emulator.context import RequestContext
from reconciler.emulator.errors import conflict, validation
from reconciler.emulator.registry import operation
from reconciler.emulator.resource_types import (
    EMULATED_TYPES,
    EmulatedType,
    Scope,
    listing,
    new_id,
    output_fields,
    register_types,
    summary_fields,
)
from reconciler.emulator.store import Record, Store
from reconciler.emulator.views import _shared
from reconciler.engine.rules import AggregationRule, CustomRule, ListRule, Reason, Rule
from reconciler.engine.verdict import refuse

__all__ = [
    "MAPPING_COLUMNS",
    "EntityResolution",
    "check_mapping_joins",
    "check_query",
    "engine_tables",
    "mapping_path",
    "match",
]

_NAMESPACE = "entityresolution_idnamespace"
_WORKFLOW = "entityresolution_idmappingworkflow"
#: The columns of a populated ID mapping table, as queries name them (lower case, as SQL folds them).
MAPPING_COLUMNS = ("sourceid", "targetid")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_READERS = {".csv": "read_csv_auto", ".parquet": "read_parquet", ".pq": "read_parquet"}


class EntityResolution:
    """The local stand-in for the AWS Entity Resolution resources Clean Rooms references."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def register_namespace(self, arn: str, *, type: str, path: str | Path, id_column: str) -> None:
        """Declare ID namespace ``arn``: ``type`` SOURCE or TARGET, its records in ``path``.

        Raises:
            ValueError: a bad type, or a file that is not CSV/Parquet.
        """
        if type not in ("SOURCE", "TARGET"):
            raise ValueError(f"ID namespace type must be SOURCE or TARGET, not {type!r}")
        if Path(path).suffix.lower() not in _READERS:
            raise ValueError(f"{path}: an ID namespace's data must be a .csv or .parquet file")
        _column_name(id_column)
        record = {"arn": arn, "type": type, "path": str(path), "idColumn": id_column}
        with self._store.lock:
            self._store.put(_NAMESPACE, arn, record)
            self._store.commit()

    def register_workflow(self, arn: str, *, rules: Sequence[Sequence[str]]) -> None:
        """Declare ID mapping workflow ``arn``: rule-based matching, ``rules`` of matching keys."""
        if not rules or not all(rules):
            raise ValueError(f"{arn}: an ID mapping workflow needs at least one rule of matching keys")
        for rule in rules:
            for key in rule:
                _column_name(key)
        with self._store.lock:
            self._store.put(_WORKFLOW, arn, {"arn": arn, "rules": [list(r) for r in rules]})
            self._store.commit()


def _column_name(name: str) -> None:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{name!r} is not a column name (letters, digits and _ only)")


def mapping_path(results_root: Path, table_id: str) -> Path:
    """Where the pairs of a populated ID mapping table are kept."""
    return results_root / ".id-mapping" / f"{table_id}.csv"


# -- ID namespace associations ---------------------------------------------------------------------


def _build_namespace_association(
    ctx: RequestContext, params: dict[str, Any], membership: Record
) -> dict[str, Any]:
    arn = params["inputReferenceConfig"]["inputReferenceArn"]
    namespace = _namespace(ctx, arn, "inputReferenceConfig.inputReferenceArn")
    count = ctx.store.count("id_namespace_association", membershipId=membership["id"])
    invariants.within_quota(ctx, "ID namespace associations per membership", count + 1)
    for other in ctx.store.find("id_namespace_association", membershipId=membership["id"]):
        if other["inputReferenceConfig"]["inputReferenceArn"] == arn:
            raise conflict(
                f"{arn} is already associated with membership {membership['id']}", reason="ALREADY_EXISTS"
            )
    return {
        "membershipId": membership["id"],
        "membershipArn": membership["arn"],
        "collaborationId": membership["collaborationId"],
        "collaborationArn": membership["collaborationArn"],
        "inputReferenceProperties": {
            "idNamespaceType": namespace["type"],
            "idMappingWorkflowsSupported": [{"type": "RULE_BASED"}],
        },
    }


def _namespace(ctx: RequestContext, arn: str, field: str) -> Record:
    record = ctx.store.get(_NAMESPACE, arn)
    if record is None:
        raise validation(
            f"{arn} is not an Entity Resolution ID namespace the local backend knows; declare it "
            "(kind: IdNamespaceAssociation's localData) so the local stand-in has its records",
            field=field,
        )
    return record


def _delete_namespace_association(ctx: RequestContext, record: Record, _: dict[str, Any]) -> None:
    for table in ctx.store.find("id_mapping_table", membershipId=record["membershipId"]):
        sources = table["inputReferenceProperties"]["idMappingTableInputSource"]
        if any(s["idNamespaceAssociationId"] == record["id"] for s in sources):
            raise conflict(
                f"ID namespace association {record['id']} is used by ID mapping table {table['id']}; "
                "delete the table first",
                reason="SUBRESOURCES_EXIST",
            )


# -- ID mapping tables ------------------------------------------------------------------------------


def _build_mapping_table(ctx: RequestContext, params: dict[str, Any], membership: Record) -> dict[str, Any]:
    arn = params["inputReferenceConfig"]["inputReferenceArn"]
    workflow = ctx.store.get(_WORKFLOW, arn)
    if workflow is None:
        raise validation(
            f"{arn} is not an Entity Resolution ID mapping workflow the local backend knows; declare "
            "it (kind: IdMappingTable's localWorkflow) so the local stand-in can match",
            field="inputReferenceConfig.inputReferenceArn",
        )
    count = ctx.store.count("id_mapping_table", membershipId=membership["id"])
    invariants.within_quota(ctx, "ID mapping tables per membership", count + 1)
    name = params["name"]
    if ctx.store.find("id_mapping_table", membershipId=membership["id"], name=name):
        raise conflict(
            f"membership {membership['id']} already has an ID mapping table named {name!r}",
            reason="ALREADY_EXISTS",
        )
    sources = _input_sources(ctx, membership["collaborationId"])
    return {
        "membershipId": membership["id"],
        "membershipArn": membership["arn"],
        "collaborationId": membership["collaborationId"],
        "collaborationArn": membership["collaborationArn"],
        "inputReferenceProperties": {"idMappingTableInputSource": sources},
        "_rules": workflow["rules"],
    }


def _input_sources(ctx: RequestContext, collaboration_id: str) -> list[dict[str, str]]:
    """The SOURCE and TARGET namespace associations of the collaboration (exactly one of each).

    The API takes no input sources: they are the workflow's; locally, the collaboration's one
    SOURCE and one TARGET association (undocumented; refusing when it is ambiguous is the safe side).
    """
    found: dict[str, list[Record]] = {"SOURCE": [], "TARGET": []}
    for record in ctx.store.find("id_namespace_association", collaborationId=collaboration_id):
        found[record["inputReferenceProperties"]["idNamespaceType"]].append(record)
    if len(found["SOURCE"]) != 1 or len(found["TARGET"]) != 1:
        raise validation(
            "an ID mapping table needs exactly one SOURCE and one TARGET ID namespace association in "
            f"the collaboration (found {len(found['SOURCE'])} and {len(found['TARGET'])})"
        )
    return [{"idNamespaceAssociationId": found[t][0]["id"], "type": t} for t in ("SOURCE", "TARGET")]


def _delete_mapping_table(ctx: RequestContext, record: Record, _: dict[str, Any]) -> None:
    mapping_path(ctx.results_root, record["id"]).unlink(missing_ok=True)


ID_TYPES: tuple[EmulatedType, ...] = (
    EmulatedType(
        name="id_namespace_association",
        resource="IdNamespaceAssociation",
        id_param="idNamespaceAssociationIdentifier",
        scope=Scope.MEMBERSHIP,
        arn="membership/{membershipId}/idnamespaceassociation/{id}",
        resource_type="MEMBERSHIP",
        build=_build_namespace_association,
        on_delete=_delete_namespace_association,
    ),
    EmulatedType(
        name="id_mapping_table",
        resource="IdMappingTable",
        id_param="idMappingTableIdentifier",
        scope=Scope.MEMBERSHIP,
        arn="membership/{membershipId}/idmappingtable/{id}",
        resource_type="MEMBERSHIP",
        build=_build_mapping_table,
        on_delete=_delete_mapping_table,
    ),
)
EMULATED_TYPES.update({t.name: t for t in ID_TYPES})
register_types(ID_TYPES)


# -- population: the rule-based match ----------------------------------------------------------------


@operation("PopulateIdMappingTable")
def populate_id_mapping_table(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    membership = ctx.own_membership(params["membershipIdentifier"], active=True)
    table = ctx.store.get("id_mapping_table", params["idMappingTableIdentifier"])
    if table is None or table["membershipId"] != membership["id"]:
        raise ctx.missing("MEMBERSHIP", params["idMappingTableIdentifier"], "IdMappingTable")
    job_type = params.get("jobType") or "BATCH"
    target = mapping_path(ctx.results_root, table["id"])
    if job_type == "DELETE_ONLY":
        target.unlink(missing_ok=True)
        pairs: list[tuple[str, str]] = []
    else:
        ends = {}
        for source in table["inputReferenceProperties"]["idMappingTableInputSource"]:
            association = ctx.store.get("id_namespace_association", source["idNamespaceAssociationId"])
            if association is None:
                raise conflict(
                    f"ID namespace association {source['idNamespaceAssociationId']} was deleted",
                    reason="INVALID_STATE",
                )
            arn = association["inputReferenceConfig"]["inputReferenceArn"]
            ends[source["type"]] = _namespace(ctx, arn, "idMappingTableIdentifier")
        pairs = match(ends["SOURCE"], ends["TARGET"], table["_rules"])
        if job_type == "INCREMENTAL" and target.exists():
            pairs = sorted(set(pairs) | set(_read_pairs(target)))
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(("sourceId", "targetId"))
            writer.writerows(pairs)
    ctx.store.put(
        "id_mapping_table",
        table["id"],
        {
            **table,
            "updateTime": ctx.timestamp(),
            "_populated": job_type != "DELETE_ONLY",
            "_pairs": len(pairs),
        },
    )
    return {"idMappingJobId": new_id()}


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="") as src:
        rows = list(csv.reader(src))[1:]
    return [(a, b) for a, b in rows]


def match(
    source: Mapping[str, Any], target: Mapping[str, Any], rules: Sequence[Sequence[str]]
) -> list[tuple[str, str]]:
    """The ``(sourceId, targetId)`` pairs of the rule-based exact match, sorted.

    A pair matches when, for at least one rule, every matching key is non-empty in both records and
    equal after trimming and lower-casing.
    """
    con = duckdb.connect()
    try:
        for name, ns in (("s", source), ("t", target)):
            reader = _READERS[Path(ns["path"]).suffix.lower()]
            literal = str(ns["path"]).replace("'", "''")  # a view's text cannot take a parameter
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM {reader}('{literal}')")
        clauses = []
        for rule in rules:
            keys = [
                f'lower(trim(CAST(s."{k}" AS VARCHAR))) = lower(trim(CAST(t."{k}" AS VARCHAR)))' for k in rule
            ]
            keys += [f"nullif(trim(CAST(s.\"{k}\" AS VARCHAR)), '') IS NOT NULL" for k in rule]
            clauses.append("(" + " AND ".join(keys) + ")")
        ids = f'CAST(s."{source["idColumn"]}" AS VARCHAR), CAST(t."{target["idColumn"]}" AS VARCHAR)'
        sql = f"SELECT DISTINCT {ids} FROM s JOIN t ON {' OR '.join(clauses)} ORDER BY 1, 2"
        try:
            return [(str(a), str(b)) for a, b in con.execute(sql).fetchall()]
        except duckdb.Error as exc:
            raise validation(
                f"the ID mapping workflow's rules do not fit the namespaces' data: {exc}"
            ) from None
    finally:
        con.close()


# -- protected queries through an ID mapping table ---------------------------------------------------


def engine_tables(
    ctx: RequestContext, collaboration_id: str, tables: Mapping[str, engine.Table]
) -> dict[str, engine.Table]:
    """The populated ID mapping tables of a collaboration, as the rule engine sees tables.

    The ID mapping table analysis rule "inherits the behaviors of the other analysis rules in the
    collaboration, as long as those analysis rules are homogeneous" (user guide): so each table gets
    a rule of the other tables' one type whose only columns, ``sourceId`` and ``targetId``, are join
    columns (dimension columns too where the namespace association's ``allowUseAsDimensionColumn``
    says so). Mixed rule types make no ID mapping table queryable (refused, the safe side).
    """
    out: dict[str, engine.Table] = {}
    types = {t.rule.type for t in tables.values() if t.rule is not None}
    for record in ctx.store.find("id_mapping_table", collaborationId=collaboration_id):
        path = mapping_path(ctx.results_root, record["id"])
        if not record.get("_populated") or not path.is_file():
            continue  # AWS lists an ID mapping table among the tables only once populated
        dims = _dimension_columns(ctx, record)
        rule: Rule | None = None
        if len(types) == 1:
            rule = _inherited(next(iter(types)), dims, tables.values())
        out[record["name"].lower()] = engine.Table(
            name=record["name"].lower(),
            owner=record["_account"],
            columns={c: "string" for c in MAPPING_COLUMNS},
            rule=rule,
            data=str(path),
        )
    return out


def _dimension_columns(ctx: RequestContext, record: Record) -> frozenset[str]:
    dims = set()
    for source in record["inputReferenceProperties"]["idMappingTableInputSource"]:
        association = ctx.store.get("id_namespace_association", source["idNamespaceAssociationId"]) or {}
        if (association.get("idMappingConfig") or {}).get("allowUseAsDimensionColumn"):
            dims.add("sourceid" if source["type"] == "SOURCE" else "targetid")
    return frozenset(dims)


def _inherited(kind: str, dims: frozenset[str], others: Any) -> Rule:
    joins = frozenset(MAPPING_COLUMNS)
    if kind == "AGGREGATION":
        return AggregationRule(frozenset(), joins, dims, frozenset(), ())
    if kind == "LIST":
        return ListRule(joins, dims)
    customs = [t.rule for t in others if isinstance(t.rule, CustomRule)]
    return CustomRule(
        allowed_analyses=frozenset().union(*(r.allowed_analyses for r in customs)),
        allowed_providers=frozenset().union(*(r.allowed_providers for r in customs)),
        disallowed_output_columns=joins - dims,
    )


def check_query(ctx: RequestContext, collaboration_id: str, sql: str, dialect: str) -> None:
    """``check_mapping_joins`` for the collaboration's populated ID mapping tables."""
    dims = {
        r["name"].lower(): _dimension_columns(ctx, r)
        for r in ctx.store.find("id_mapping_table", collaborationId=collaboration_id)
        if r.get("_populated")
    }
    check_mapping_joins(sql, dialect, frozenset(dims), dims)


def check_mapping_joins(
    sql: str, dialect: str, names: frozenset[str], dims: Mapping[str, frozenset[str]]
) -> None:
    """Refuse a query that uses an ID mapping table other than through the overlap (user guide).

    The table must sit on the inner side of every join (``t LEFT JOIN idmt``, ``idmt RIGHT JOIN t``
    and inner joins only; no CROSS, FULL or implicit joins); its ``sourceId`` and ``targetId`` both
    appear in join conditions (``requireOverlap``) and nowhere else (SELECT, WHERE, GROUP BY,
    HAVING, ORDER BY), unless allowed as dimension columns.

    Raises:
        QueryRejected: with reason DISALLOWED_CONSTRUCT and the fragment.
    """
    if not names:
        return
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return  # the engine reports the syntax error
    aliases: dict[str, str] = {}
    for table in tree.find_all(exp.Table):
        if table.name.lower() not in names:
            continue
        aliases[table.alias_or_name.lower()] = table.name.lower()
        _check_position(table)
    if not aliases:
        return
    for star in tree.find_all(exp.Star):
        if isinstance(star.parent, exp.Count):
            continue  # COUNT(*) reads no column
        raise refuse(
            Reason.DISALLOWED_CONSTRUCT,
            f"{star.parent.sql() if star.parent else '*'}: a query over an ID mapping table names "
            "its columns (SELECT * would output the mapping)",
        )
    joined: dict[str, set[str]] = {a: set() for a in aliases}
    for column in tree.find_all(exp.Column):
        qualifier = column.table.lower()
        name = column.name.lower()
        if qualifier not in aliases and not (not qualifier and name in MAPPING_COLUMNS):
            continue
        join = column.find_ancestor(exp.Join)
        on = join.args.get("on") if join is not None else None
        in_on = on is not None and (column is on or column in set(on.find_all(exp.Column)))
        alias = qualifier or next(iter(aliases))
        if in_on:
            joined.setdefault(alias, set()).add(name)
        elif name not in dims.get(aliases.get(alias, ""), frozenset()):
            raise refuse(
                Reason.DISALLOWED_CONSTRUCT,
                f"{column.sql()}: an ID mapping table's columns may be used only in JOIN conditions",
            )
    for alias, used in joined.items():
        missing = [c for c in MAPPING_COLUMNS if c not in used]
        if missing:
            raise refuse(
                Reason.DISALLOWED_CONSTRUCT,
                f"ID mapping table {aliases[alias]!r} must be joined on both sourceId and targetId "
                f"(requireOverlap); {', '.join(missing)} is not joined",
            )


def _check_position(table: exp.Table) -> None:
    parent = table.parent
    select = table.find_ancestor(exp.Select)
    joins = list(select.args.get("joins") or []) if select is not None else []
    bad = f"ID mapping table {table.name!r} must be on the inner side of every join"
    if isinstance(parent, exp.From):
        if any(
            j.side not in ("", "RIGHT") or j.kind in ("CROSS", "OUTER") or not j.args.get("on") for j in joins
        ):
            raise refuse(Reason.DISALLOWED_CONSTRUCT, f"{bad} (only INNER and RIGHT joins may follow it)")
        return
    if isinstance(parent, exp.Join):
        later = joins[joins.index(parent) + 1 :] if parent in joins else []
        if parent.side not in ("", "LEFT") or parent.kind in ("CROSS", "OUTER") or not parent.args.get("on"):
            raise refuse(
                Reason.DISALLOWED_CONSTRUCT, f"{bad} (join it with INNER JOIN or as the right of LEFT JOIN)"
            )
        if any(j.side in ("RIGHT", "FULL") for j in later):
            raise refuse(Reason.DISALLOWED_CONSTRUCT, f"{bad} (no RIGHT or FULL join may follow it)")
        return
    raise refuse(
        Reason.DISALLOWED_CONSTRUCT,
        f"ID mapping table {table.name!r} may be read only in a FROM or JOIN clause",
    )


# -- what every member sees ------------------------------------------------------------------------

_SHARED_KEY, _SHARED_FIELDS = output_fields("GetCollaborationIdNamespaceAssociation")
_SHARED_LIST_KEY, _SHARED_SUMMARY = summary_fields("ListCollaborationIdNamespaceAssociations")


@operation("GetCollaborationIdNamespaceAssociation")
def get_collaboration_id_namespace_association(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """Any member's ID namespace association in the collaboration."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    for record in _shared(ctx, "id_namespace_association", collaboration["id"]):
        if record["id"] == params["idNamespaceAssociationIdentifier"]:
            return {_SHARED_KEY: ctx.view(record, _SHARED_FIELDS)}
    raise ctx.missing("COLLABORATION", params["idNamespaceAssociationIdentifier"], "ID namespace association")


@operation("ListCollaborationIdNamespaceAssociations")
def list_collaboration_id_namespace_associations(
    ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    """Every member's ID namespace associations in the collaboration."""
    collaboration = ctx.visible_collaboration(params["collaborationIdentifier"])
    records = _shared(ctx, "id_namespace_association", collaboration["id"])
    return listing(ctx, records, params, _SHARED_LIST_KEY, lambda r: ctx.view(r, _SHARED_SUMMARY))
