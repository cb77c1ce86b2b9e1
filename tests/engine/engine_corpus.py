"""Load the data-driven query corpus (``tests/engine/cases/*.yaml``) into engine inputs.

Each file declares members, tables (columns, owner, API-shaped policy, optional collaboration
rule receivers), optional templates, and cases: SQL (or a template run) with the expected
verdict (``allowed`` or a reason class). ``bypass: true`` marks an attempt to get around the rules.
Fixture data for every table is generated with DuckDB into a temporary directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from reconciler.engine import Collaboration, Request, Table, Template, parse_policy
from reconciler.engine.templates import Parameter, request_for

CASES = Path(__file__).parent / "cases"


@dataclass
class Case:
    file: str
    index: int
    spec: dict[str, Any]
    suite: Suite

    @property
    def id(self) -> str:
        return f"{self.file}:{self.index}"

    @property
    def expect(self) -> str:
        return str(self.spec["expect"])

    def request(self) -> Request:
        """The Request for this case (a template run resolves parameters, which may refuse)."""
        s = self.suite
        member = self.spec.get("as", s.querier)
        querier = s.accounts[member]
        receivers = [s.accounts[r] for r in self.spec.get("receivers", [])]
        if "template" in self.spec:
            template = s.templates[self.spec["template"]]
            given = {k: str(v) for k, v in (self.spec.get("params") or {}).items()}
            return request_for(template, querier, given, receivers=receivers)
        return Request(querier=querier, sql=self.spec["sql"], receivers=receivers)


@dataclass
class Suite:
    file: str
    raw: dict[str, Any]
    accounts: dict[str, str] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.accounts = {name: str(m["account"]) for name, m in self.raw["members"].items()}
        for name, t in (self.raw.get("templates") or {}).items():
            params = [Parameter(p["name"], p["type"], p.get("defaultValue")) for p in t.get("parameters", [])]
            creator = self.accounts[t.get("creator", self.raw["querier"])]
            self.templates[name] = Template(name, t["sql"], params, t.get("arn", f"arn:tmpl/{name}"), creator)

    @property
    def querier(self) -> str:
        return str(self.raw["querier"])

    def collaboration(self, data_dir: Path | None = None) -> Collaboration:
        tables = {}
        for name, t in self.raw["tables"].items():
            columns = {c.lower(): str(ty) for c, ty in t["columns"].items()}
            policy = t.get("policy")
            rule = parse_policy(_accounts(policy, self.accounts), columns=list(columns)) if policy else None
            receivers = t.get("receivers")
            tables[name] = Table(
                name=name,
                owner=self.accounts[t["owner"]],
                columns=columns,
                rule=rule,
                receivers=None if receivers is None else frozenset(self.accounts[r] for r in receivers),
                data=str(data_dir / f"{self.file}-{name}.parquet") if data_dir else "",
            )
        abilities = {self.accounts[n]: frozenset(m["abilities"]) for n, m in self.raw["members"].items()}
        return Collaboration(self.raw.get("engine", "SPARK"), abilities, tables)

    def write_data(self, data_dir: Path, rows: int = 40) -> None:
        """Deterministic fixture rows for every table: identities u0..u29, categories x_0..x_4."""
        con = duckdb.connect()
        for name, t in self.raw["tables"].items():
            exprs = []
            for column, kind in t["columns"].items():
                kind = str(kind).upper()
                if column in ("user_id", "hashed_email", "email"):
                    exprs.append(f"'u' || (i % 30) AS {column}")
                elif kind in ("DOUBLE", "INTEGER", "BIGINT", "DECIMAL"):
                    exprs.append(f"CAST(i % 10 AS {kind}) AS {column}")
                elif kind == "DATE":
                    exprs.append(f"DATE '2024-01-01' + CAST(i % 60 AS INTEGER) AS {column}")
                else:
                    exprs.append(f"'{column}_' || (i % 5) AS {column}")
            path = data_dir / f"{self.file}-{name}.parquet"
            con.execute(
                f"COPY (SELECT {', '.join(exprs)} FROM range({rows}) r(i)) TO '{path}' (FORMAT parquet)"
            )
        con.close()


def _accounts(policy: Any, accounts: dict[str, str]) -> Any:
    """Member names in allowedAnalysisProviders / allowedResultReceivers become account IDs."""
    if isinstance(policy, dict):
        return {
            k: [accounts.get(v, v) for v in val]
            if k in ("allowedAnalysisProviders", "allowedResultReceivers")
            else _accounts(val, accounts)
            for k, val in policy.items()
        }
    if isinstance(policy, list):
        return [_accounts(v, accounts) for v in policy]
    return policy


def load() -> tuple[list[Suite], list[Case]]:
    suites, cases = [], []
    for path in sorted(CASES.glob("*.yaml")):
        suite = Suite(path.stem, yaml.safe_load(path.read_text()))
        suites.append(suite)
        cases += [Case(path.stem, i, spec, suite) for i, spec in enumerate(suite.raw["cases"])]
    return suites, cases
