"""Checking a protected query against the analysis rules: stages S0 to S6, then the DuckDB SQL.

``check`` runs the stages of ANALYSIS_RULES.md section 4 in order; the first failing stage
decides the reason. Text is read in the collaboration's dialect (Spark SQL for SPARK, the
Redshift-like Clean Rooms SQL otherwise) within the budget of ``budget``, every check runs on
the binder's facts about that tree (``bind``: base columns, not names; the allow-list; the
comparison positions), and only the canonical tree the binder wrote is turned into DuckDB SQL,
with output-constraint / threshold suppression (S7) and non-failing operations (``safe``)
written into the same statement. A construct sqlglot cannot render faithfully for DuckDB is
refused, never approximated. Nothing here touches data: ``run`` executes the result.
"""

from __future__ import annotations

import difflib
import functools
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, SqlglotError, UnsupportedError
from sqlglot.tokenizer_core import Token, TokenType

from reconciler.collector import collector_paused
from reconciler.dp import DPQuery
from reconciler.engine import custom, dp_query, flat, safe, suppress, templates
from reconciler.engine.bind import bind
from reconciler.engine.budget import LIMITS, OverBudget, check_tokens, check_tree
from reconciler.engine.facts import Collaboration, Request, Table
from reconciler.engine.functions import Type, name_of
from reconciler.engine.rules import CustomRule, Reason, RuleType
from reconciler.engine.scopes import Binding
from reconciler.engine.spark import semantics, target
from reconciler.engine.values import type_of
from reconciler.engine.verdict import Verdict, fragment, refuse, spans
from reconciler.errors import QueryRejected

__all__ = ["CheckState", "Prepared", "check", "enforce", "parse"]

_E = TypeVar("_E", bound=exp.Expr)

# sqlglot's recursive-descent parser uses about 20 Python frames per nested parenthesis; the token
# budget (``budget.Limits.nesting``) keeps a query well inside this limit, and a deeper structure
# the token check cannot see (a long NOT NOT ... chain) fails with RecursionError, which is a refusal.
_RECURSION_LIMIT = 12_000
if sys.getrecursionlimit() < _RECURSION_LIMIT:
    sys.setrecursionlimit(_RECURSION_LIMIT)

#: First keywords of statements that reach files, settings, extensions or the catalog (5.2, 8.6.2).
SYSTEM_KEYWORDS = frozenset(
    "COPY EXPORT IMPORT ATTACH DETACH LOAD INSTALL FORCE PRAGMA SET RESET USE CALL CHECKPOINT ADD LIST "
    "REFRESH SHOW DESCRIBE DESC SUMMARIZE MSCK GRANT REVOKE VACUUM UNLOAD".split()
)
_SYSTEM_ROOTS: tuple[type[exp.Expr], ...] = (
    exp.Set, exp.Pragma, exp.Copy, exp.Attach, exp.Detach, exp.Describe, exp.Summarize, exp.Show,
    exp.Use, exp.Install, exp.Export, exp.Refresh, exp.LoadData, exp.Grant,
)  # fmt: skip
_WRITES: tuple[type[exp.Expr], ...] = (
    exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Merge, exp.TruncateTable,
    exp.Cache, exp.Uncache, exp.Transaction, exp.Commit, exp.Rollback, exp.Analyze, exp.Command,
)  # fmt: skip
_DENIED_FUNCTIONS = frozenset(
    "getenv current_setting glob query query_table sniff_csv read_text read_blob getvariable set_variable "
    "which_secret current_database current_schema current_schemas reflect java_method input_file_name "
    "current_catalog current_user session_user user version pragma import_module current_version "
    "current_role current_session current_statement current_transaction current_user_id current_account "
    "current_client current_ip_address current_region current_warehouse".split()
)
_DENIED_PREFIXES = (
    "read_",
    "duckdb_",
    "pragma_",
    "sqlite_",
    "parquet_",
    "iceberg_",
    "delta_",
    "pg_",
    "json_execute",
)
_SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "system", "temp"})
_SYSTEM_TABLE_PREFIXES = (
    "duckdb_", "pg_", "sqlite_", "pragma_", "padb_", "stcs_", "stl_", "stll_", "stv_", "svcs_", "svl_",
    "svv_",
    "sys_", "systable_", "information_schema",
)  # fmt: skip
_MAX_TABLES = 15


@dataclass(frozen=True)
class Prepared:
    """A query that passed every check, ready for ``run.execute``.

    Attributes:
        sql: the DuckDB statement to execute, with suppression already written in.
        tables: the configured tables it reads (each must be visible under its association name).
        verdict: the allowed Verdict.
        rule_type: the rule type shared by every referenced table.
        dp: for a query over tables with differential privacy, what ``engine.dp_query.build``
            found (its ``kinds`` are what the budget is charged); ``run`` then answers with noise
            and never runs ``sql`` as it is.
        dp_tables: table name -> user identifier column of the tables with differential privacy.
        spark: for a SPARK collaboration without DP, renders (``spark_sql``, ``spark_refusal``):
            the same checked statement as Spark SQL that never fails on a value (``spark.target``),
            or why ``--engine spark`` cannot run it. Rendered on first use (a second check).
    """

    sql: str
    tables: tuple[Table, ...]
    verdict: Verdict = field(default_factory=lambda: Verdict(True))
    rule_type: RuleType = RuleType.CUSTOM
    dp: DPQuery | None = None
    dp_tables: Mapping[str, str] = field(default_factory=dict)
    spark: Callable[[], tuple[str, str]] | None = field(default=None, repr=False, compare=False)

    @property
    def spark_sql(self) -> str:
        """The statement as Spark SQL (SPARK collaborations, no DP), rendered on first use."""
        return self._spark_target()[0]

    @property
    def spark_refusal(self) -> str:
        """Why ``--engine spark`` cannot run it (the default engine can), or ""."""
        return self._spark_target()[1]

    def _spark_target(self) -> tuple[str, str]:
        # rendered only for --engine spark: on a 100 KB query it costs more than the whole check
        if self.spark is None:
            return "", ""
        cached: tuple[str, str] | None = self.__dict__.get("_spark_cache")
        if cached is None:
            cached = self.spark()
            object.__setattr__(self, "_spark_cache", cached)
        return cached


@dataclass
class CheckState:
    """What the stages know about one query so far (each stage fills in more)."""

    request: Request
    collaboration: Collaboration
    tokens: list[Token] = field(default_factory=list)
    tree: exp.Expr = field(default_factory=exp.Select)
    references: list[exp.Table] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    rule_type: RuleType = RuleType.CUSTOM
    binding: Binding | None = None
    dp: DPQuery | None = None
    dp_tables: dict[str, str] = field(default_factory=dict)
    #: every node of ``tree`` in ``find_all``'s order while the tree is as parsed (None after a change)
    nodes: list[exp.Expr] | None = None
    _by_type: tuple[list[exp.Expr], dict[type[exp.Expr], list[int]]] | None = None

    def find_all(self, *types: type[_E]) -> list[_E]:
        """``tree.find_all(*types)``, from the node list of ``check_tree`` while it holds."""
        nodes = self.nodes
        if nodes is None:
            return list(self.tree.find_all(*types))
        if self._by_type is None or self._by_type[0] is not nodes:  # positions by node type, once
            by_type: dict[type[exp.Expr], list[int]] = {}
            for position, node in enumerate(nodes):
                by_type.setdefault(type(node), []).append(position)
            self._by_type = (nodes, by_type)
        found = [p for kind, at in self._by_type[1].items() if issubclass(kind, types) for p in at]
        return [nodes[p] for p in sorted(found)]  # type: ignore[misc]  # the types filtered them

    @property
    def controls(self) -> bool:
        """True when a referenced custom rule sets thresholds or comparison controls (8.6.4 applies)."""
        return any(isinstance(t.rule, CustomRule) and t.rule.has_controls for t in self.tables.values())

    @property
    def dialect_key(self) -> str:
        """Which AWS SQL reference the query is written against (``functions`` dialects)."""
        return "spark" if self.collaboration.engine == "SPARK" else "clean_rooms_sql"

    def bind(self) -> Binding:
        """Bind the tree (once): the canonical tree and the facts the rule checks read."""
        if self.binding is None:
            self.nodes = None  # the binder rewrites the tree
            self.binding = bind(
                self.tree,
                self.tables,
                refuse=self.binding_refuse,
                dialect=self.dialect_key,
                controls=self.controls,
            )
            self.tree = self.binding.tree
        return self.binding

    def binding_refuse(self, reason: Reason, message: str, node: exp.Expr | None) -> QueryRejected:
        """``refuse`` as the binder and the rewrites call it."""
        return self.refuse(reason, message, node)

    def dp_refuse(self, message: str, node: exp.Expr | None, hint: str = "") -> QueryRejected:
        """A refusal of differential privacy's query shapes (reason ``other``)."""
        tables = ", ".join(sorted(self.dp_tables))
        refusal = self.refuse(
            Reason.OTHER, f"differential privacy: {message}", node, table=tables, rule="CUSTOM"
        )
        refusal.hint = hint
        return refusal

    def written(self, node: exp.Expr) -> str:
        """A node as the query wrote it (the canonical tree renames what it names)."""
        return fragment(node, self.dialect, self.request.sql)

    @property
    def dialect(self) -> str:
        return self.collaboration.dialect

    def refuse(
        self, reason: Reason, message: str, node: exp.Expr | str | None = None, **kw: str
    ) -> QueryRejected:
        """A refusal; it names the referenced tables and each one's rule type when no single one is blamed."""
        if not kw.get("table") and self.tables:
            names = sorted(self.tables)
            rules = [str(rule.type) if (rule := self.tables[n].rule) is not None else "-" for n in names]
            kw["table"] = ", ".join(names)
            kw["rule"] = rules[0] if len(set(rules)) == 1 else ", ".join(rules)
        return refuse(reason, message, node, dialect=self.dialect, source=self.request.sql, **kw)


# -- S0 to S5 -------------------------------------------------------------------------------------
def s0_abilities(ctx: CheckState) -> None:
    """S0: the querier can query; every receiver can receive results."""
    abilities = ctx.collaboration.abilities
    if "CAN_QUERY" not in abilities.get(ctx.request.querier, frozenset()):
        raise ctx.refuse(Reason.OTHER, f"member {ctx.request.querier} does not have the CAN_QUERY ability")
    for receiver in ctx.request.receivers:
        if "CAN_RECEIVE_RESULTS" not in abilities.get(receiver, frozenset()):
            raise ctx.refuse(Reason.OTHER, f"result receiver {receiver} does not have CAN_RECEIVE_RESULTS")


def s1_parse(ctx: CheckState) -> None:
    """S1 and S2: the text parses into exactly one statement (one trailing ``;`` is fine)."""
    text = ctx.request.sql
    if len(text) > ctx.collaboration.max_query_chars:
        raise ctx.refuse(
            Reason.OTHER, f"query text is over the {ctx.collaboration.max_query_chars} character limit"
        )
    try:
        tokens, statements = parse(text, ctx.dialect)
    except OverBudget as exc:
        raise ctx.refuse(Reason.OTHER, str(exc)) from None
    except RecursionError:
        raise ctx.refuse(
            Reason.PARSE_ERROR,
            "the query nests expressions too deeply for the local engine; write it flatter",
        ) from None
    except SqlglotError as exc:
        tokens = _tokens_or_empty(text, ctx.dialect)
        if _statement_count(tokens) > 1:
            raise ctx.refuse(Reason.MULTI_STATEMENT, "send exactly one SQL statement", text) from None
        if tokens and tokens[0].text.upper() in SYSTEM_KEYWORDS:
            raise ctx.refuse(
                Reason.FILE_OR_SYSTEM_ACCESS, "statements that reach the system are refused", text
            ) from None
        message, near = parse_problem(exc, text, tokens)
        raise ctx.refuse(Reason.PARSE_ERROR, message, near) from None
    present = [s for s in statements if s is not None]
    if not present:
        raise ctx.refuse(Reason.PARSE_ERROR, "the query is empty", text)
    if len(present) > 1 or _statement_count(tokens) > 1:
        raise ctx.refuse(Reason.MULTI_STATEMENT, f"send exactly one SQL statement, not {len(present)}", text)
    ctx.tokens = tokens[:1]  # S3 reads the first; the rest are freed now, not by the collector later
    del tokens
    ctx.tree = present[0]
    try:
        ctx.nodes = check_tree(ctx.tree)
        hints = ctx.find_all(exp.Hint)
        if hints:
            for hint in hints:  # Spark join hints change how, not what (8.6.4)
                hint.pop()
            ctx.nodes = check_tree(ctx.tree)
    except OverBudget as exc:
        raise ctx.refuse(Reason.OTHER, str(exc), exc.node) from None
    spans(ctx.tree, ctx.nodes)


def s3_system_access(ctx: CheckState) -> None:
    """S3: no file, network, extension, settings or catalog access anywhere (5.2)."""
    tree = ctx.tree
    first = ctx.tokens[0].text.upper().split()[0] if ctx.tokens and ctx.tokens[0].text.strip() else ""
    if isinstance(tree, _SYSTEM_ROOTS) or (
        first in SYSTEM_KEYWORDS and not isinstance(tree, (exp.Query, exp.Subquery))
    ):
        raise ctx.refuse(Reason.FILE_OR_SYSTEM_ACCESS, f"{first or 'this'} statements are refused", tree)
    for table in ctx.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise ctx.refuse(Reason.FILE_OR_SYSTEM_ACCESS, "table functions are refused", table)
        names = [p.name.lower() for p in table.parts]
        name = names[-1]
        if any(ch in part for part in names for ch in "/\\:.") or any(
            p in _SYSTEM_SCHEMAS for p in names[:-1]
        ):
            raise ctx.refuse(Reason.FILE_OR_SYSTEM_ACCESS, "paths and system schemas cannot be read", table)
        if name.startswith(_SYSTEM_TABLE_PREFIXES) and name not in ctx.collaboration.tables:
            raise ctx.refuse(Reason.FILE_OR_SYSTEM_ACCESS, "system catalog tables cannot be read", table)
    for func in ctx.find_all(exp.Func):
        name = name_of(func).lower()
        if name in _DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES) or name.endswith("_scan"):
            raise ctx.refuse(
                Reason.FILE_OR_SYSTEM_ACCESS, f"function {name.upper()} reaches the system", func
            )


def s4_query_only(ctx: CheckState) -> None:
    """S4: only SELECT, WITH ... SELECT and set operations of selects."""
    tree = ctx.tree
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        raise ctx.refuse(Reason.DISALLOWED_CONSTRUCT, "only SELECT queries can run", tree)
    for node in ctx.find_all(*_WRITES):
        raise ctx.refuse(Reason.DISALLOWED_CONSTRUCT, "only SELECT queries can run", node)
    for parameter in ctx.find_all(exp.Parameter):
        raise ctx.refuse(
            Reason.DISALLOWED_CONSTRUCT,
            "positional parameters cannot be bound; an analysis template names its parameters (:name)",
            parameter,
        )
    for dot in ctx.find_all(exp.Dot):
        if isinstance(dot.this, exp.Literal):
            raise ctx.refuse(
                Reason.DISALLOWED_CONSTRUCT,
                "a string literal cannot be dereferenced (in Spark SQL, quote identifiers with backticks)",
                dot,
            )


def bind_parameters(ctx: CheckState) -> None:
    """Template runs: replace ``:name`` placeholders with typed literals (8.3); direct SQL has none."""
    if ctx.find_all(exp.Placeholder):
        templates.bind(ctx.tree, ctx.request.parameters)
        ctx.nodes = None  # placeholders were replaced


def s5_tables(ctx: CheckState) -> None:
    """S5: tables resolve to associations with rules of one type; receivers and analyses allowed."""
    known = ctx.collaboration.tables
    ctes = {cte.alias_or_name.lower() for cte in ctx.find_all(exp.CTE)}
    for name in sorted(ctes & set(known)):
        raise ctx.refuse(Reason.OTHER, f"a CTE may not be named like the table {name!r}; rename it", name)
    for table in ctx.find_all(exp.Table):
        name = table.name.lower()
        if table.args.get("db") or table.args.get("catalog"):
            raise ctx.refuse(
                Reason.OTHER, "name tables by their association name alone, not qualified", table
            )
        if name in ctes:
            continue
        found = known.get(name)
        if found is None:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; the tables are {sorted(known)}"
            raise ctx.refuse(
                Reason.OTHER, f"table {name!r} is not associated with this collaboration{hint}", table
            )
        if found.rule is None:
            raise ctx.refuse(
                Reason.OTHER, "the table has no analysis rule, so it cannot be queried", table, table=name
            )
        ctx.references.append(table)
        ctx.tables[name] = found
    if not ctx.tables:
        raise ctx.refuse(Reason.OTHER, "the query reads no configured table", ctx.tree)
    if len(ctx.tables) > _MAX_TABLES:
        raise ctx.refuse(Reason.OTHER, f"a query may reference at most {_MAX_TABLES} configured tables")
    types = {t.rule.type for t in ctx.tables.values() if t.rule is not None}
    if len(types) > 1:
        listed = ", ".join(f"{t.name} ({t.rule.type if t.rule else '-'})" for t in ctx.tables.values())
        raise ctx.refuse(
            Reason.OTHER, f"tables with different analysis rule types cannot be queried together: {listed}"
        )
    ctx.rule_type = types.pop()
    for found_table in ctx.tables.values():
        _check_table_access(ctx, found_table)


def _check_table_access(ctx: CheckState, table: Table) -> None:
    rule = table.rule
    assert rule is not None
    kw = {"table": table.name, "rule": str(rule.type)}
    if rule.additional_analyses == "REQUIRED":
        raise ctx.refuse(
            Reason.OTHER, "the table requires an additional analysis, which cannot run locally", **kw
        )
    for receiver in ctx.request.receivers:
        if table.receivers is not None and receiver not in table.receivers:
            raise ctx.refuse(
                Reason.OTHER, f"the collaboration analysis rule does not allow receiver {receiver}", **kw
            )
        custom_receivers = rule.allowed_result_receivers if isinstance(rule, CustomRule) else None
        if custom_receivers is not None and receiver not in custom_receivers:
            raise ctx.refuse(Reason.OTHER, f"the custom rule does not allow result receiver {receiver}", **kw)
    if isinstance(rule, CustomRule) and rule.has_controls and ctx.collaboration.engine != "SPARK":
        raise ctx.refuse(Reason.OTHER, "thresholds and comparison controls need a SPARK collaboration", **kw)
    if isinstance(rule, CustomRule) and rule.threshold is not None:
        identity = rule.threshold.identity_column
        kind = type_of(table.columns.get(identity, ""))
        if kind not in (Type.STRING, Type.UNKNOWN):
            raise ctx.refuse(
                Reason.OTHER,
                f"the identity column {identity} of {table.name} is {table.columns[identity]}, "
                "not a string type; "
                "AWS accepts aggregation thresholds only on string identity columns",
                **kw,
            )


def s6_rules(ctx: CheckState) -> None:
    """S6: the checks of the rule type (aggregation 7, list 8.1, custom 8.2 and 8.6).

    Aggregation and list rules check their fixed query shape on the parsed tree first (what a
    name cannot change), then bind; the custom rule approves the request first (C1). The rest of
    every rule reads the binding.
    """
    if ctx.rule_type is RuleType.AGGREGATION:
        flat.check_aggregation(ctx)
    elif ctx.rule_type is RuleType.LIST:
        flat.check_list(ctx)
    else:
        custom.check_approval(ctx)
        ctx.bind()
        custom.check_differential_privacy(ctx)
        custom.check_controls(ctx)


STAGES: tuple[Callable[[CheckState], None], ...] = (
    s0_abilities,
    s1_parse,
    s3_system_access,
    s4_query_only,
    bind_parameters,
    s5_tables,
    s6_rules,
)


def check(request: Request, collaboration: Collaboration) -> Prepared:
    """Run every stage; return the DuckDB statement to execute, or raise the refusal.

    For a SPARK collaboration the Spark SQL is rendered only when asked for (``Prepared.spark_sql``),
    by checking the request again with rendering on.

    Args:
        request: who runs what.
        collaboration: tables, rules, members and engine.

    Returns:
        The Prepared query (DuckDB SQL with suppression written in).

    Raises:
        QueryRejected: the first failing stage's Verdict, before any data is read.
    """
    with collector_paused():
        return _check(request, collaboration, render_spark=False)


def _render_spark(request: Request, collaboration: Collaboration) -> tuple[str, str]:
    with collector_paused():
        prepared = _check(request, collaboration, render_spark=True)
    return prepared._spark_target()


def _check(request: Request, collaboration: Collaboration, *, render_spark: bool) -> Prepared:
    ctx = CheckState(request, collaboration)
    for stage in STAGES:
        stage(ctx)
    binding = ctx.bind()
    refuse = ctx.binding_refuse
    spark = ctx.collaboration.engine == "SPARK"
    spark_sql, spark_refusal = "", ""
    spark_target: Callable[[], tuple[str, str]] | None = None
    if spark:
        semantics.check(binding, refuse)
    if ctx.dp_tables:
        safe.nonfailing(binding)
        if spark:
            semantics.apply(binding)
        ctx.dp = dp_query.build(binding, ctx.dp_tables, refuse=ctx.dp_refuse, written=ctx.written)
    else:
        suppress.apply(ctx, binding)
        safe.split_aggregates(binding, refuse)
        safe.nonfailing(binding)
        if spark:
            if render_spark:
                try:
                    spark_sql = target.render(binding)
                except target.SparkUnsupported as exc:
                    spark_refusal = str(exc)
                rendered = (spark_sql, spark_refusal)
                spark_target = lambda: rendered  # noqa: E731 - already rendered
            else:
                spark_target = functools.partial(_render_spark, request, collaboration)
            semantics.apply(binding)
    try:
        sql = binding.tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE, copy=False)
    except UnsupportedError as exc:
        raise ctx.refuse(
            Reason.DISALLOWED_CONSTRUCT, f"cannot be run faithfully on the local engine: {_first_line(exc)}"
        ) from None
    ordered = tuple(ctx.tables[name] for name in sorted(ctx.tables))
    return Prepared(
        sql=sql,
        tables=ordered,
        rule_type=ctx.rule_type,
        dp=ctx.dp,
        dp_tables=ctx.dp_tables,
        spark=spark_target,
    )


def enforce(request: Request, collaboration: Collaboration) -> Verdict:
    """Check a query and return its Verdict instead of raising (for tests and linters).

    Args:
        request: who runs what.
        collaboration: tables, rules, members and engine.

    Returns:
        ``Verdict(allowed=True)`` or the refusal of the first failing stage.
    """
    try:
        check(request, collaboration)
    except QueryRejected as exc:
        verdict: Verdict = exc.verdict
        return verdict
    return Verdict(True)


# -- helpers --------------------------------------------------------------------------------------
def parse(text: str, dialect: str) -> tuple[list[Token], tuple[exp.Expr | None, ...]]:
    """Tokenize and parse, within the token budget (the caller owns the tree and may change it).

    Args:
        text: the query text.
        dialect: the sqlglot dialect to read it in.

    Returns:
        The tokens and the parsed statements.

    Raises:
        sqlglot.errors.SqlglotError: the text does not tokenize or parse.
        OverBudget: too many tokens, or parentheses nested too deeply.
        RecursionError: a structure nested too deeply for the parser.
    """
    d = Dialect.get_or_raise(dialect)
    tokens = d.tokenize(text)
    check_tokens(tokens, LIMITS)
    return tokens, tuple(d.parser(error_level=ErrorLevel.RAISE).parse(tokens, text))


def _tokens_or_empty(text: str, dialect: str) -> list[Token]:
    try:
        return Dialect.get_or_raise(dialect).tokenize(text)
    except SqlglotError:
        return []


def _statement_count(tokens: list[Token]) -> int:
    count, pending = 0, False
    for token in tokens:
        if token.token_type is TokenType.SEMICOLON:
            count += pending
            pending = False
        else:
            pending = True
    return count + pending


#: What a query may start with; a first word close to one of these is probably a typo of it.
_STATEMENT_STARTS = ("SELECT", "WITH", "VALUES")


def parse_problem(exc: SqlglotError, text: str, tokens: list[Token]) -> tuple[str, str]:
    """Say why ``text`` does not parse in the user's words: where, near what, no parser internals.

    sqlglot's messages name its Python classes ("Required keyword: 'expression' missing for
    <class '...Mul'>"); the user needs the line, the column and the text around the spot.

    Returns:
        The message ("the query does not parse near `FROM` (line 1, column 9)...") and the
        fragment of the query up to that spot.
    """
    errors = getattr(exc, "errors", None) or []
    if errors:
        first = errors[0]
        highlight = str(first.get("highlight") or "")
        line, end = int(first.get("line") or 1), int(first.get("col") or 1)
        column = max(1, end - len(highlight) + 1)
        described = next(
            (str(e.get("description")) for e in errors if "<class" not in str(e.get("description"))), ""
        )
        what = (
            described.replace("Invalid expression / Unexpected token", "unexpected word").lower()
            if described
            else "something is missing at or just before it"
        )
        near = f"{first.get('start_context') or ''}{highlight}"
        message = f"the query does not parse near `{highlight}` (line {line}, column {column}): {what}"
    else:
        said = str(exc)
        seen = said.partition("'")[2].rpartition("'")[0] if said.startswith("Error tokenizing") else ""
        start = text.find(seen) if seen else -1
        opened = max((seen.rfind(mark) for mark in ("'", '"', "`", "/*")), default=-1)
        at = start + opened if start >= 0 and opened >= 0 else len(text)
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        near = text[at : at + 40]
        message = (
            f"the query does not parse near line {line}, column {column}:"
            " a quote or comment opened there is never closed"
        )
    first_word = tokens[0].text.upper() if tokens else ""
    guess = difflib.get_close_matches(first_word, _STATEMENT_STARTS, n=1) if first_word else []
    if guess and guess[0] != first_word:
        message += f" (the query starts with {tokens[0].text}: did you mean {guess[0]}?)"
    return message, near.strip() or text


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
