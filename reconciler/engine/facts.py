"""What the engine is told about a collaboration: tables, rules, members, and one query request.

These are plain frozen values built from API-shaped dicts (``Table.from_api``) or from a spec
(``reconciler.engine.from_spec``), so the emulator, the CLI and tests all feed the engine the
same way. Nothing here reads SQL or data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.engine.rules import Rule, parse_policy

__all__ = ["Collaboration", "Request", "Table"]


@dataclass(frozen=True)
class Table:
    """One configured table association as the querier sees it.

    Args:
        name: the association name (lower case): how SQL names the table.
        owner: account ID of the member who owns the configured table.
        columns: allowed column name -> type (any SQL type name, or "" when unknown), in table order.
        rule: the configured table's analysis rule, or None (then it cannot be queried).
        receivers: the collaboration analysis rule's ``allowedResultReceivers`` (None: no such rule).
        data: path of the local CSV or Parquet file holding the table's rows ("" when none).
    """

    name: str
    owner: str
    columns: Mapping[str, str]
    rule: Rule | None
    receivers: frozenset[str] | None = None
    data: str = ""

    @classmethod
    def from_api(
        cls,
        association: Mapping[str, Any],
        configured_table: Mapping[str, Any],
        *,
        analysis_rule: Mapping[str, Any] | None = None,
        association_rule: Mapping[str, Any] | None = None,
        owner: str = "",
        column_types: Mapping[str, str] | None = None,
        data: str = "",
    ) -> Table:
        """Build a Table from API responses (``GetConfiguredTableAssociation`` and friends).

        Args:
            association: the ``configuredTableAssociation`` dict (its ``name`` is the SQL name).
            configured_table: the ``configuredTable`` dict (``allowedColumns``).
            analysis_rule: the ``analysisRule`` dict of the configured table, if any.
            association_rule: the ``analysisRule`` dict of the association, if any.
            owner: the owning account (defaults to the account in the configured table's ARN).
            column_types: column -> type from the local data, when known.
            data: local CSV/Parquet path.

        Returns:
            The Table.
        """
        allowed = [c.lower() for c in configured_table.get("allowedColumns", ())]
        types = {k.lower(): v for k, v in (column_types or {}).items()}
        rule = None
        if analysis_rule is not None:
            rule = parse_policy(analysis_rule["policy"], columns=allowed)
        receivers = None
        if association_rule is not None:
            body = association_rule.get("policy", {}).get("v1", {})
            inner: Mapping[str, Any] = next(iter(body.values()), {}) if body else {}
            if "allowedResultReceivers" in inner:
                receivers = frozenset(inner["allowedResultReceivers"])
        arn = str(configured_table.get("arn", ""))
        return cls(
            name=str(association["name"]).lower(),
            owner=owner or (arn.split(":")[4] if arn.count(":") >= 5 else ""),
            columns={c: types.get(c, "") for c in allowed},
            rule=rule,
            receivers=receivers,
            data=data,
        )


@dataclass(frozen=True)
class Collaboration:
    """The collaboration around a query: its engine, who may do what, and its tables by SQL name.

    Args:
        engine: ``SPARK`` or ``CLEAN_ROOMS_SQL`` (the collaboration's ``analyticsEngine``).
        abilities: account ID -> member abilities (``CAN_QUERY``, ``CAN_RECEIVE_RESULTS``, ...).
        tables: association name -> Table.
    """

    engine: str
    abilities: Mapping[str, frozenset[str]]
    tables: Mapping[str, Table]

    @property
    def dialect(self) -> str:
        """sqlglot dialect the collaboration's query text is written in (ANALYSIS_RULES.md, Dialect)."""
        return "spark" if self.engine == "SPARK" else "redshift"

    @property
    def max_query_chars(self) -> int:
        """Query-text limit of the engine (section 9): 500 KB on Spark, 90 KB on Clean Rooms SQL."""
        return 500_000 if self.engine == "SPARK" else 90_000


@dataclass(frozen=True)
class Request:
    """One protected query: who runs it, who receives it, and either SQL or a template run.

    Args:
        querier: account ID of the member running the query.
        sql: the query text (for a template run: the template's text).
        receivers: account IDs that will receive results (empty for a local dry run).
        template_arn: the analysis template's ARN when this is a template run.
        template_creator: account ID that created the template (for provider approval).
        parameters: template parameter values, already typed and defaulted by ``templates.bind``.
    """

    querier: str
    sql: str
    receivers: Sequence[str] = ()
    template_arn: str = ""
    template_creator: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
