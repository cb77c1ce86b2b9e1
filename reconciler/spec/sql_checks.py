"""Layer 4 of validation: analysis-template SQL, read with sqlglot in its collaboration's dialect.

A template's SQL must parse as exactly one query, read only tables associated to its
collaboration (by association name), use only tables that can be queried together through a
template (CUSTOM rules, all of one type), and declare every ``:parameter`` it uses. Each
problem is reported at the template's ``source`` node in the YAML, with the offending SQL
fragment in the message.

The collaboration's ``analyticsEngine`` picks the dialect (``DIALECTS``): SPARK templates are
Spark SQL; CLEAN_ROOMS_SQL templates are read as Redshift, the closest sqlglot dialect to the
legacy engine's PostgreSQL-like SQL. This module parses SQL only to check references; the query
engine (``reconciler.engine``) enforces the rules when a template runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from reconciler.errors import Diagnostic, ReconcilerError, Severity
from reconciler.spec.checks.view import ANY_QUERY, suggest
from reconciler.spec.models import AnalysisTemplateSpec, ConfiguredTableSpec, CustomRuleSpec
from reconciler.spec.stack import Check, Stack

__all__ = ["CHECKS", "DIALECTS", "dialect_of", "parse_template"]

#: analyticsEngine -> sqlglot dialect that reads its SQL (no engine given: SPARK, the only one
#: AWS accepts for new collaborations).
DIALECTS: dict[str, str] = {"SPARK": "spark", "CLEAN_ROOMS_SQL": "redshift"}

_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _parses(parse: Callable[[str], object]) -> Callable[[str], bool]:
    """A test that ``parse`` accepts a value (date, timestamp and time defaults)."""

    def test(value: str) -> bool:
        try:
            parse(value)
        except ValueError:
            return False
        return True

    return test


#: Parameter type -> (test of a default value's text, what a valid one looks like). Types not
#: listed (strings, binary) take any text.
PARAMETER_VALUES: dict[str, tuple[Callable[[str], bool], str]] = {
    **dict.fromkeys(
        ("SMALLINT", "INTEGER", "BIGINT", "INT", "LONG", "SHORT", "TINYINT"),
        (lambda s: bool(_INTEGER.match(s)), "a whole number such as 42"),
    ),
    **dict.fromkeys(
        ("DECIMAL", "REAL", "DOUBLE_PRECISION", "DOUBLE", "FLOAT", "NUMERIC"),
        (lambda s: bool(_NUMBER.match(s)), "a number such as 2.5"),
    ),
    "BOOLEAN": (lambda s: s.lower() in ("true", "false"), "true or false"),
    "DATE": (_parses(dt.date.fromisoformat), "a date such as 2025-03-01"),
    **dict.fromkeys(
        ("TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMP_LTZ", "TIMESTAMP_NTZ"),
        (_parses(dt.datetime.fromisoformat), "a timestamp such as 2025-03-01 12:00:00"),
    ),
    **dict.fromkeys(("TIME", "TIMETZ"), (_parses(dt.time.fromisoformat), "a time such as 12:00:00")),
}


@dataclass(frozen=True)
class ParsedTemplate:
    """A template's SQL as sqlglot read it: the statements, or the parse problem."""

    dialect: str
    statements: tuple[exp.Expr, ...] = ()
    error: str = ""


def dialect_of(stack: Stack, template: AnalysisTemplateSpec) -> str:
    """The sqlglot dialect of the template's collaboration (spark when unknown)."""
    collab = stack.collaboration(template.collaboration)
    engine = collab.analyticsEngine if collab is not None else None
    return DIALECTS.get(engine or "SPARK", "spark")


def parse_template(stack: Stack, template: AnalysisTemplateSpec) -> ParsedTemplate | None:
    """Parse the template's SQL in its collaboration's dialect.

    Args:
        stack: the stack holding the template.
        template: an analysis template of the stack.

    Returns:
        The parsed statements or the parse error; None when the SQL could not be read at all
        (layer 1 already reported that) or the template is not SQL.
    """
    sql = stack.template_sql(template)
    if sql is None or template.format != "SQL":
        return None
    return _parse_sql(sql, dialect_of(stack, template))


@functools.lru_cache(maxsize=4096)
def _parse_sql(sql: str, dialect: str) -> ParsedTemplate:
    """Parse once per (text, dialect): the four checks of this layer share the result."""
    try:
        statements = tuple(s for s in sqlglot.parse(sql, read=dialect) if s is not None)
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f"line {first.get('line', '?')}, column {first.get('col', '?')}" if first else ""
        near = " ".join((str(first.get("start_context", "")) + str(first.get("highlight", ""))).split())
        reason = str(first.get("description", exc)).split("\n")[0]
        message = f"{reason} at {where}" + (f', near "{near}"' if near else "")
        return ParsedTemplate(dialect, error=message)
    except TokenError as exc:
        return ParsedTemplate(dialect, error=str(exc))
    except RecursionError:  # sqlglot's parser recurses once per nesting level
        return ParsedTemplate(dialect, error="the SQL is nested too deeply to read")
    return ParsedTemplate(dialect, statements)


def _query(stack: Stack, template: AnalysisTemplateSpec) -> exp.Query | None:
    """The template's one query statement, or None when layer 4's first check reports it."""
    parsed = parse_template(stack, template)
    if parsed is None or parsed.error or len(parsed.statements) != 1:
        return None
    statement = parsed.statements[0]
    return statement if isinstance(statement, exp.Query) else None


def _diag(
    stack: Stack,
    template: AnalysisTemplateSpec,
    code: str,
    summary: str,
    *,
    severity: Severity = Severity.ERROR,
    detail: str = "",
    hint: str = "",
) -> Diagnostic:
    return Diagnostic(
        summary=summary,
        location=stack.locate(template, "source"),
        severity=severity,
        detail=detail,
        hint=hint,
        code=code,
    )


def _fragment(node: exp.Expr, dialect: str, limit: int = 80) -> str:
    text = " ".join(node.sql(dialect=dialect).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _table_references(query: exp.Query) -> list[exp.Table]:
    """Table references of the query that are not its own CTEs."""
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    return [t for t in query.find_all(exp.Table) if not (t.name.lower() in ctes and not t.db)]


def _associations(stack: Stack) -> dict[str, dict[str, ConfiguredTableSpec]]:
    """Collaboration -> association name (lower case, as AWS stores it) -> its configured table."""
    found: dict[str, dict[str, ConfiguredTableSpec]] = {}
    for table in stack.configured_tables:
        for a in table.associations:
            found.setdefault(a.collaboration, {}).setdefault(a.name.lower(), table)
    return found


# --------------------------------------------------------------------------- checks


def check_template_parses(stack: Stack) -> Iterator[Diagnostic]:
    """Template SQL parses, in the collaboration's dialect, as exactly one query.

    Codes:
        template-sql-parse (error): the SQL does not parse in the dialect of the collaboration (Spark SQL for
            SPARK, Redshift for CLEAN_ROOMS_SQL).
            Fix: correct the SQL at the line and column given.
        template-multiple-statements (error): the SQL holds more than one statement.
            Fix: keep one query per template.
        template-not-query (error): the statement is not a query (INSERT, DROP, CACHE TABLE...); templates may
            only SELECT.
            Fix: write the template as a SELECT (WITH ... SELECT, or a set operation of SELECTs).
    """
    for template in stack.analysis_templates:
        parsed = parse_template(stack, template)
        if parsed is None:
            continue
        if parsed.error:
            yield _diag(
                stack,
                template,
                "template-sql-parse",
                f'SQL of template "{template.name}" does not parse as {parsed.dialect} SQL: {parsed.error}',
                hint="the collaboration's analyticsEngine decides the dialect",
            )
        elif not parsed.statements:
            yield _diag(stack, template, "template-sql-parse", f'SQL of template "{template.name}" is empty')
        elif len(parsed.statements) > 1:
            second = _fragment(parsed.statements[1], parsed.dialect)
            yield _diag(
                stack,
                template,
                "template-multiple-statements",
                f'SQL of template "{template.name}" has {len(parsed.statements)} statements; '
                f'the second is "{second}"',
                hint="a template holds exactly one query",
            )
        elif not isinstance(parsed.statements[0], exp.Query):
            yield _diag(
                stack,
                template,
                "template-not-query",
                f'SQL of template "{template.name}" is not a query: '
                f'"{_fragment(parsed.statements[0], parsed.dialect)}"',
                hint="templates may only read data with SELECT",
            )


def check_template_tables(
    stack: Stack, *, associations: dict[str, dict[str, ConfiguredTableSpec]] | None = None
) -> Iterator[Diagnostic]:
    """Templates read only tables associated to their collaboration, by association name.

    Codes:
        template-unknown-table (error): the SQL reads a table that is not associated to the template's
            collaboration (or names it with a schema or catalog, or reads a table function).
            Fix: use the association name of a table associated to the collaboration (a did-you-mean hint is
                given).
        template-referenced-tables (error): ``referencedTables`` differs from the tables the SQL reads.
            Fix: list exactly the association names the SQL reads, or leave ``referencedTables`` out.
    """
    collaborations = {c.key for c in stack.collaborations}
    by_collaboration = associations if associations is not None else _associations(stack)
    for template in stack.analysis_templates:
        query = _query(stack, template)
        if query is None or template.collaboration not in collaborations:
            continue
        dialect = dialect_of(stack, template)
        associated = by_collaboration.get(template.collaboration, {})
        read: list[str] = []
        for table in _table_references(query):
            name = table.name.lower()
            if name in associated and not table.db and not table.catalog:
                read.append(name)
                continue
            qualified = bool(table.db or table.catalog)
            yield _diag(
                stack,
                template,
                "template-unknown-table",
                f'template "{template.name}" reads "{_fragment(table, dialect)}", which is not a table '
                "associated "
                f'to collaboration "{template.collaboration}"',
                detail=f"associated tables: {', '.join(sorted(associated)) or 'none'}",
                hint="name the table by its association name alone"
                if qualified and name in associated
                else suggest(name, associated),
            )
        if template.referencedTables is not None:
            declared = {t.lower() for t in template.referencedTables}
            if declared != set(read):
                yield Diagnostic(
                    summary=f'referencedTables of template "{template.name}" is {sorted(declared)}, '
                    f"but its SQL reads {sorted(set(read))}",
                    location=stack.locate(template, "referencedTables"),
                    hint="list exactly the tables the SQL reads, or leave referencedTables out to derive it",
                    code="template-referenced-tables",
                )


def check_template_rules(
    stack: Stack, *, associations: dict[str, dict[str, ConfiguredTableSpec]] | None = None
) -> Iterator[Diagnostic]:
    """The tables a template reads can run it: all have CUSTOM rules, and they approve it.

    Codes:
        template-table-without-rule (error): the template reads a table that has no analysis rule; AWS
            refuses every query on it.
            Fix: add an analysis rule (CUSTOM) to that table.
        template-mixes-rule-types (error): the template reads tables with different analysis rule types,
            which AWS refuses to query together.
            Fix: give every table the template reads the same (CUSTOM) rule type.
        template-table-not-custom (error): the template reads AGGREGATION or LIST tables; analysis templates
            run only on tables with a CUSTOM rule.
            Fix: use a CUSTOM rule on those tables, or run the query directly instead of as a template.
        template-not-approved (warning): a table's custom rule neither lists the template nor allows ANY_QUERY
            with the template's owner as an analysis provider, so the template cannot run yet.
            Fix: add the template's name to that table's ``allowedAnalyses``.
    """
    by_collaboration = associations if associations is not None else _associations(stack)
    members = {c.key: c.members for c in reversed(stack.collaborations)}
    for template in stack.analysis_templates:
        query = _query(stack, template)
        if query is None:
            continue
        associated = by_collaboration.get(template.collaboration, {})
        tables: dict[str, ConfiguredTableSpec] = {}
        for ref in _table_references(query):
            if ref.name.lower() in associated and not ref.db:
                tables.setdefault(ref.name.lower(), associated[ref.name.lower()])
        without = sorted(name for name, t in tables.items() if t.analysisRule is None)
        for name in without:
            yield _diag(
                stack,
                template,
                "template-table-without-rule",
                f'template "{template.name}" reads table "{name}", which has no analysis rule',
                detail="AWS refuses every query on a configured table without an analysis rule",
                hint=f'add an analysisRule (CUSTOM) to the table behind "{name}"',
            )
        types = {name: t.analysisRule.type for name, t in tables.items() if t.analysisRule is not None}
        if len(set(types.values())) > 1:
            mix = ", ".join(f"{name} ({kind})" for name, kind in sorted(types.items()))
            yield _diag(
                stack,
                template,
                "template-mixes-rule-types",
                f'template "{template.name}" reads tables of different rule types: {mix}',
                detail="AWS refuses a query that references tables with different analysis rule types",
                hint="give every table the template reads the same rule type",
            )
            continue
        legacy = sorted(name for name, kind in types.items() if kind != "CUSTOM")
        if legacy:
            yield _diag(
                stack,
                template,
                "template-table-not-custom",
                f'template "{template.name}" reads {", ".join(legacy)}, whose rule type is '
                f"{types[legacy[0]]}; analysis templates run only on tables with a CUSTOM rule",
                hint="use a CUSTOM rule on those tables, or run the query directly",
            )
            continue
        if template.owner not in members.get(template.collaboration, {}):
            continue  # an unknown owner is reported by layer 3; approval cannot be judged
        for name, table in sorted(tables.items()):
            rule = table.analysisRule
            if isinstance(rule, CustomRuleSpec) and not _approves(rule, template):
                yield _diag(
                    stack,
                    template,
                    "template-not-approved",
                    f'table "{name}" does not approve template "{template.name}"',
                    severity=Severity.WARNING,
                    detail=f"its allowedAnalyses are {rule.policy.allowedAnalyses}; the template runs only "
                    "when "
                    f'every table it reads lists it, or allows ANY_QUERY with "{template.owner}" as a '
                    "provider",
                    hint=f'add "{template.name}" to allowedAnalyses of table "{table.name}"',
                )


def check_template_refused(stack: Stack) -> Iterator[Diagnostic]:
    """The analysis rules let the template run: it is checked as the engine checks a query.

    Layers 1-4 read a template's references; this runs the query engine's rule check
    (``reconciler.engine.check``, exactly what a protected query meets in the emulator) on the
    template's SQL with its default parameter values, as a member who can query, taking the template
    as approved (approval is ``template-not-approved``). No data is read. Templates that earlier
    checks report, or with a parameter that has no default, are left to those checks and to runs.

    Codes:
        template-always-refused (error): the analysis rules of a table the template reads refuse its
            SQL whoever runs it (a disallowed output column inside ``COUNT(DISTINCT ...)``, an aggregate
            over a derived column under ``COLUMNS_ONLY``...), so every run of it would be refused.
            Fix: rewrite the SQL as the hint says (e.g. count rows of a per-user CTE), or the rule.
    """
    from reconciler.engine import check, rules
    from reconciler.engine.from_spec import build, template_arn
    from reconciler.errors import QueryRejected

    associations = _associations(stack)
    for collaboration in stack.collaborations:
        templates = [
            t
            for t in stack.analysis_templates
            if t.collaboration == collaboration.key
            and t.format == "SQL"  # a PySpark template's code is no query to check
            and stack.template_sql(t) is not None  # unreadable or absent: reported by layer 1
            and all(p.defaultValue is not None for p in t.parameters)
        ]
        queriers = [m.accountId for m in collaboration.members.values() if "CAN_QUERY" in m.abilities]
        if not templates or not queriers:
            continue
        try:
            facts = build(stack, collaboration.key, read_data=False)
        except ReconcilerError:
            continue  # a rule the engine cannot read: reported by the analysis-rule checks
        arns = frozenset(template_arn(t.name) for t in templates)  # every template approved
        approved = dataclasses.replace(
            facts.collaboration,
            tables={
                name: dataclasses.replace(table, rule=dataclasses.replace(table.rule, allowed_analyses=arns))
                if isinstance(table.rule, rules.CustomRule)
                else table
                for name, table in facts.collaboration.tables.items()
            },
        )
        for template in templates:
            alone = _only(stack, template)
            reported = (
                *check_template_parses(alone),
                *check_template_tables(alone, associations=associations),
                *check_template_rules(alone, associations=associations),
                *check_template_parameters(alone),
            )
            if not any(d.severity is Severity.ERROR for d in reported):
                owner = collaboration.members.get(template.owner)
                querier = owner.accountId if owner and owner.accountId in queriers else queriers[0]
                try:
                    request = facts.request(querier, template=template.name)
                except (QueryRejected, ReconcilerError):
                    continue  # its parameters: reported by check_template_parameters
                try:
                    check(request, approved)
                except QueryRejected as exc:
                    verdict = exc.verdict
                    if verdict is None or verdict.reason is rules.Reason.TEMPLATE_NOT_ALLOWED:
                        continue
                    plural = "s" if "," in verdict.table else ""
                    whose = f' of table{plural} "{verdict.table}"' if verdict.table else ""
                    yield _diag(
                        stack,
                        template,
                        "template-always-refused",
                        f'template "{template.name}" is always refused by the {verdict.rule or "analysis"} '
                        f"rule{whose}: {verdict.message}",
                        detail=f"at: {verdict.fragment}" if verdict.fragment else "",
                        hint=exc.hint
                        or _REFUSED_HINTS.get(verdict.reason or rules.Reason.OTHER)
                        or "rewrite the SQL so the rule allows it, or change the table's analysis rule",
                    )


#: Reason -> how a template the rules always refuse is usually fixed (others: the generic hint).
_REFUSED_HINTS = {
    "output_column_disallowed": "count rows of a per-user CTE (SELECT COUNT(*) FROM (SELECT DISTINCT "
    "user_id ...)) instead of aggregating the disallowed column in the final SELECT",
    "aggregate_expression_not_allowed": "under COLUMNS_ONLY, aggregate a column of the table itself "
    "(not an expression or a CTE's derived column)",
}


def _only(stack: Stack, template: AnalysisTemplateSpec) -> Stack:
    """``stack`` with ``template`` as its only analysis template (to ask the checks about it alone)."""
    return dataclasses.replace(stack, analysis_templates=[template])


def _approves(rule: CustomRuleSpec, template: AnalysisTemplateSpec) -> bool:
    policy = rule.policy
    if template.name in policy.allowedAnalyses:
        return True
    return ANY_QUERY in policy.allowedAnalyses and template.owner in (policy.allowedAnalysisProviders or ())


def check_template_parameters(stack: Stack) -> Iterator[Diagnostic]:
    """Every ``:parameter`` the SQL uses is declared, every declared one is used, defaults fit their type.

    Codes:
        template-parameter-undeclared (error): the SQL uses ``:name`` but ``parameters`` does not declare it.
            Fix: declare it under ``parameters`` with a type (and a default if runs may omit it).
        template-parameter-unused (warning): a declared parameter that the SQL never uses.
            Fix: remove it, or use it in the SQL as ``:name``.
        template-parameter-default (error): a ``defaultValue`` that is not a value of the parameter's type.
            Fix: write a value of the declared type (e.g. 42 for INTEGER, 2025-03-01 for DATE).
    """
    for template in stack.analysis_templates:
        for i, param in enumerate(template.parameters):
            check = PARAMETER_VALUES.get(param.type)
            if param.defaultValue is not None and check is not None and not check[0](param.defaultValue):
                yield Diagnostic(
                    summary=f'default "{param.defaultValue}" of parameter "{param.name}" is not a '
                    f"valid {param.type} value",
                    location=stack.locate(template, "parameters", i, "defaultValue"),
                    hint=f"use {check[1]}",
                    code="template-parameter-default",
                )
        query = _query(stack, template)
        if query is None:
            continue
        used: dict[str, None] = {}
        for placeholder in query.find_all(exp.Placeholder):
            if placeholder.name:
                used.setdefault(placeholder.name, None)
        declared = {p.name for p in template.parameters}
        for name in used:
            if name not in declared:
                yield _diag(
                    stack,
                    template,
                    "template-parameter-undeclared",
                    f'SQL of template "{template.name}" uses parameter ":{name}", which is not declared',
                    detail=f"declared parameters: {', '.join(sorted(declared)) or 'none'}",
                    hint=suggest(name, declared)
                    or f"declare it: parameters: [{{name: {name}, type: STRING}}]",
                )
        for i, param in enumerate(template.parameters):
            if param.name not in used:
                yield Diagnostic(
                    summary=f'parameter "{param.name}" of template "{template.name}" is never used in its '
                    "SQL",
                    location=stack.locate(template, "parameters", i, "name"),
                    severity=Severity.WARNING,
                    hint=f"remove it, or use it in the SQL as :{param.name}",
                    code="template-parameter-unused",
                )


#: Layer 4, in the order they run.
CHECKS: tuple[Check, ...] = (
    check_template_parses,
    check_template_tables,
    check_template_rules,
    check_template_parameters,
    check_template_refused,
)
