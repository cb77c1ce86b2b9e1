"""The planted fixture: two members' tables, canaries, small groups, policy variants and datasets.

``purchases`` (owner R, the querier) and ``impressions`` (owner A) share part of their users.
Every table has

- a string identity ``user_id`` (thresholded in most variants), some rows with a NULL identity;
- a disallowed output column of canaries (``purchases.email``, one per user, some NULL;
  ``impressions.device``, one per row) that is in neither comparison list;
- a column that is in the data file but not an allowed column (``secret``, ``hidden``), canaries;
- a comparison-controlled column that may be output but compared in no way (``tier``, ``code``,
  ``amount``...), allowed dimensions (``region``, ``category``, ``channel``, ``campaign``), numbers and
  a date;
- planted small groups: regions ``isle1``..``isle4`` with 1 to 4 users, the category ``gems``
  (3 users), the combination (south, tools) (2 users); channel ``kiosk`` (2 users), campaign
  ``c9`` (1 user), the combination (tv, c3) (3 users). The big groups have 15 or more users.

Minimums: 5 distinct identities for purchases, 4 for impressions.

Datasets (same identities and rows, other values): ``base``; ``relabeled`` (``email`` and ``device``
mapped through a NULL-preserving random bijection onto strings of other lengths and characters,
for P3); ``zero`` and ``huge`` (the values, not the identities, of the rows of the small regions
of purchases and of the channel kiosk of impressions set to 0 / non-numeric text, or to huge
numbers, for P4).
"""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from reconciler.engine import Collaboration, Table, parse_policy

R, A = "111111111111", "222222222222"
ABILITIES = {R: frozenset({"CAN_QUERY", "CAN_RECEIVE_RESULTS"}), A: frozenset({"CAN_RECEIVE_RESULTS"})}

#: Allowed columns per table, in table order, with types (the data file has one more column).
COLUMNS: dict[str, dict[str, str]] = {
    "purchases": {
        "user_id": "VARCHAR",
        "region": "VARCHAR",
        "category": "VARCHAR",
        "tier": "VARCHAR",
        "amount": "DOUBLE",
        "qty": "INTEGER",
        "code": "VARCHAR",
        "pdate": "DATE",
        "email": "VARCHAR",
    },
    "impressions": {
        "user_id": "VARCHAR",
        "channel": "VARCHAR",
        "campaign": "VARCHAR",
        "idate": "DATE",
        "cost": "DOUBLE",
        "clicks": "INTEGER",
        "device": "VARCHAR",
    },
}
#: The column of the data file that is not an allowed column.
UNLISTED = {"purchases": "secret", "impressions": "hidden"}
#: The disallowed output column of canaries that is in neither comparison list (P3 relabels it).
SECRET_COLUMN = {"purchases": "email", "impressions": "device"}
MINIMUM = {"purchases": 5, "impressions": 4}
IDENTITY = "user_id"
#: Allowed dimensions (literal comparisons allowed under the recommended policy).
DIMENSIONS = {"purchases": ("region", "category"), "impressions": ("channel", "campaign")}
DATES = {"purchases": "pdate", "impressions": "idate"}
NUMBERS = {"purchases": ("amount", "qty"), "impressions": ("cost", "clicks")}
#: Output-allowed columns that no comparison list names.
CONTROLLED = {"purchases": ("tier", "code", "amount", "qty"), "impressions": ("cost", "clicks")}

BIG_REGIONS = ("north", "south", "east")
SMALL_REGIONS = {"isle1": 1, "isle2": 2, "isle3": 3, "isle4": 4}
BIG_CATEGORIES = ("books", "games", "tools")
BIG_CHANNELS = ("web", "tv", "radio")
BIG_CAMPAIGNS = ("c1", "c2", "c3")
#: Small groups (column values -> they must never appear as a thresholded output group).
SMALL_GROUPS: dict[str, list[dict[str, str]]] = {
    "purchases": [{"region": r} for r in SMALL_REGIONS]
    + [
        {"category": "gems"},
        {"region": "north", "category": "gems"},
        {"region": "south", "category": "tools"},
    ]
    + [{"tier": "platinum"}],
    "impressions": [{"channel": "kiosk"}, {"campaign": "c9"}, {"channel": "tv", "campaign": "c3"}],
}
#: The rows P4 perturbs: the small regions of purchases, the small channel of impressions.
PERTURBED = {"purchases": ("region", tuple(SMALL_REGIONS)), "impressions": ("channel", ("kiosk",))}

_TOKEN = string.ascii_uppercase + string.digits


def _token(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choice(_TOKEN) for _ in range(n))


@dataclass
class Fixture:
    """Rows of every dataset (table -> list of dicts, data-file column order) and the canaries."""

    rows: dict[str, list[dict[str, Any]]]
    identities: list[str]
    canaries: dict[str, set[str]] = field(default_factory=dict)  # column "table.col" -> planted values
    relabel: dict[str, dict[str, str]] = field(default_factory=dict)  # "table.col" -> old -> new


def _users(rng: random.Random, n: int) -> list[str]:
    seen: set[str] = set()
    users = []
    while len(users) < n:
        u = "UID" + _token(rng, 7)
        if u not in seen:
            seen.add(u)
            users.append(u)
    return users


def build(seed: int = 20240611) -> Fixture:
    """Deterministic base rows (about 300 per table)."""
    rng = random.Random(seed)
    users = _users(rng, 140)
    day0 = dt.date(2024, 1, 1)
    purchases: list[dict[str, Any]] = []
    emails = {u: (None if i % 10 == 7 else "CANARYE" + _token(rng)) for i, u in enumerate(users)}
    tiers = {
        u: ("platinum" if i in (1, 2) else ("gold", "silver", "bronze")[i % 3]) for i, u in enumerate(users)
    }

    def purchase(user: str | None, region: str, category: str) -> None:
        purchases.append(
            {
                "user_id": user,
                "region": region,
                "category": category,
                "tier": tiers.get(user or "", "bronze"),
                "amount": round(rng.uniform(1, 100), 2),
                "qty": rng.randint(1, 9),
                "code": str(1000 + len(purchases)),  # unique: a total tie-break; valid hex, base64, JSON
                "pdate": day0 + dt.timedelta(days=rng.randint(0, 180)),
                "email": emails.get(user or ""),
                "secret": "CANARYS" + _token(rng),
            }
        )

    for i, user in enumerate(users[:90]):
        region = BIG_REGIONS[i % 3]
        # south never buys tools except users 1 and 4 (the planted small combination)
        cats = ("books", "games") if region == "south" else BIG_CATEGORIES
        for _ in range(rng.randint(2, 3)):
            purchase(user, region, rng.choice(cats))
    for user in (users[1], users[4]):
        purchase(user, "south", "tools")
    for user in (users[0], users[3], users[6]):
        purchase(user, "north", "gems")
    start = 90
    for region, n in SMALL_REGIONS.items():
        for user in users[start : start + n]:
            for _ in range(rng.randint(1, 3)):
                purchase(user, region, rng.choice(BIG_CATEGORIES))
        start += n
    for region in ("north", "isle2", "isle3"):
        purchase(None, region, "books")  # NULL identities count for nobody

    impressions: list[dict[str, Any]] = []

    def impression(user: str | None, channel: str, campaign: str) -> None:
        impressions.append(
            {
                "user_id": user,
                "channel": channel,
                "campaign": campaign,
                "idate": day0 + dt.timedelta(days=rng.randint(0, 180)),
                "cost": round(0.1 + len(impressions) * 0.017 + rng.uniform(0, 0.01), 4),  # unique per row
                "clicks": rng.randint(1, 20),
                "device": None if rng.random() < 0.08 else "CANARYD" + _token(rng),
                "hidden": "CANARYH" + _token(rng),
            }
        )

    for user in users[40:140]:
        for _ in range(rng.randint(2, 3)):
            channel = rng.choice(BIG_CHANNELS)
            campaigns = ("c1", "c2") if channel == "tv" else BIG_CAMPAIGNS
            impression(user, channel, rng.choice(campaigns))
    for user in users[100:103]:
        impression(user, "tv", "c3")
    for user in (users[50], users[95]):
        impression(user, "kiosk", "c1")
    impression(users[97], "web", "c9")
    for channel in ("web", "kiosk"):
        impression(None, channel, "c2")

    fx = Fixture({"purchases": purchases, "impressions": impressions}, users)
    for table, rows in fx.rows.items():
        for col in (SECRET_COLUMN[table], UNLISTED[table]):
            fx.canaries[f"{table}.{col}"] = {r[col] for r in rows if r[col] is not None}
    fx.canaries["*.user_id"] = set(users)
    for table in fx.rows:
        col = SECRET_COLUMN[table]
        fx.relabel[f"{table}.{col}"] = _bijection(rng, sorted(fx.canaries[f"{table}.{col}"]))
    return fx


#: Relabeled values include strings that cast to numbers, booleans or JSON, and the empty string,
#: so that an implicit cast or a value-dependent function decides differently on the two datasets.
_SPECIAL = ["true", "false", "0", "1", "-3.5", "42", "", " padded ", "{}", '{"a": 1}', "2024-01-01", "ZZ"]


def _bijection(rng: random.Random, values: Sequence[str]) -> dict[str, str]:
    alphabet = string.ascii_letters + string.digits + "_-.:/ #"
    out: dict[str, str] = {}
    used: set[str] = set()
    specials = list(_SPECIAL)
    rng.shuffle(specials)
    for v in values:
        while True:
            new = (
                specials.pop()
                if specials
                else "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
            )
            if new not in used and new != v:
                break
        used.add(new)
        out[v] = new
    return out


def dataset(fx: Fixture, name: str) -> dict[str, list[dict[str, Any]]]:
    """The rows of one dataset: base, relabeled, zero or huge."""
    out = {t: [dict(r) for r in rows] for t, rows in fx.rows.items()}
    if name == "relabeled":
        for table, rows in out.items():
            col = SECRET_COLUMN[table]
            mapping = fx.relabel[f"{table}.{col}"]
            for r in rows:
                if r[col] is not None:
                    r[col] = mapping[r[col]]
    elif name in ("zero", "huge"):
        for table, rows in out.items():
            key, values = PERTURBED[table]
            for r in rows:
                if r[key] not in values:
                    continue
                if table == "purchases":
                    if name == "zero":
                        r.update(amount=0.0, qty=0, code="x!{", pdate=dt.date(1, 1, 1))
                    else:
                        r.update(amount=1e308, qty=2147483647, code="9" * 40, pdate=dt.date(9999, 12, 31))
                else:
                    if name == "zero":
                        r.update(cost=0.0, clicks=0)
                    else:
                        r.update(cost=-1e308, clicks=2147483647)
    elif name != "base":
        raise ValueError(name)
    return out


DATASETS = ("base", "relabeled", "zero", "huge")


def write(fx: Fixture, directory: Path) -> dict[str, dict[str, str]]:
    """Write every dataset as Parquet; return dataset -> table -> path."""
    con = duckdb.connect()
    paths: dict[str, dict[str, str]] = {}
    for name in DATASETS:
        paths[name] = {}
        for table, rows in dataset(fx, name).items():
            cols = {**COLUMNS[table], UNLISTED[table]: "VARCHAR"}
            con.execute(f"CREATE OR REPLACE TABLE t ({', '.join(f'{c} {ty}' for c, ty in cols.items())})")
            con.executemany(
                f"INSERT INTO t VALUES ({', '.join('?' * len(cols))})", [[r[c] for c in cols] for r in rows]
            )
            path = directory / f"{name}-{table}.parquet"
            con.execute(f"COPY t TO '{path}' (FORMAT parquet)")
            paths[name][table] = str(path)
    con.close()
    return paths


# ---------------------------------------------------------------------------------------------
# policy variants


def _threshold(
    table: str, expression_type: str, overrides: Mapping[str, int] | None = None
) -> dict[str, Any]:
    t: dict[str, Any] = {
        "identityColumns": [IDENTITY],
        "minimumIdentityCount": MINIMUM[table],
        "type": "COUNT_DISTINCT",
        "allowedAggregateExpressionType": expression_type,
    }
    if overrides:
        t["outputColumnThresholds"] = [
            {"outputColumnName": k, "minimumIdentityCount": v} for k, v in overrides.items()
        ]
    return t


def _controls(table: str) -> dict[str, list[str]]:
    return {
        "allowedLiteralComparisonColumns": [*DIMENSIONS[table], DATES[table]],
        "allowedColumnComparisonColumns": [IDENTITY],
    }


@dataclass(frozen=True)
class Variant:
    """One policy per table, and what it implies for the properties."""

    name: str
    policies: Mapping[str, Mapping[str, Any]]
    thresholded: bool
    controlled: bool  # comparison controls set (P3 applies)
    identity_disallowed: bool
    exempt: Mapping[str, frozenset[str]]  # table -> columns with an override of 0

    def minimum(self, table: str) -> int:
        return MINIMUM[table] if self.thresholded else 0


def _custom(
    table: str, *, disallow_identity: bool, threshold: Any = None, controls: bool = False
) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "allowedAnalyses": ["ANY_QUERY"],
        "allowedAnalysisProviders": [R],
        "disallowedOutputColumns": ([IDENTITY] if disallow_identity else []) + [SECRET_COLUMN[table]],
    }
    if threshold is not None:
        rule["aggregationThresholds"] = [threshold]
    if controls:
        rule["comparisonControls"] = _controls(table)
    return {"custom": rule}


def variants() -> dict[str, Variant]:
    tables = list(COLUMNS)
    out = {}
    for name, kind in (
        ("recommended_columns_only", "COLUMNS_ONLY"),
        ("recommended_any_expression", "ANY_EXPRESSION"),
    ):
        out[name] = Variant(
            name,
            {
                t: _custom(t, disallow_identity=True, threshold=_threshold(t, kind), controls=True)
                for t in tables
            },
            thresholded=True,
            controlled=True,
            identity_disallowed=True,
            exempt={},
        )
    out["override_zero"] = Variant(
        "override_zero",
        {
            t: _custom(
                t,
                disallow_identity=True,
                threshold=_threshold(t, "ANY_EXPRESSION", {"region": 0} if t == "purchases" else None),
                controls=True,
            )
            for t in tables
        },
        thresholded=True,
        controlled=True,
        identity_disallowed=True,
        exempt={"purchases": frozenset({"region"})},
    )
    out["thresholds_only"] = Variant(
        "thresholds_only",
        {t: _custom(t, disallow_identity=False, threshold=_threshold(t, "ANY_EXPRESSION")) for t in tables},
        thresholded=True,
        controlled=False,
        identity_disallowed=False,
        exempt={},
    )
    out["disallowed_only"] = Variant(
        "disallowed_only",
        {t: _custom(t, disallow_identity=True) for t in tables},
        thresholded=False,
        controlled=False,
        identity_disallowed=True,
        exempt={},
    )
    return out


VARIANTS = variants()


def collaboration(variant: Variant, paths: Mapping[str, str]) -> Collaboration:
    tables = {}
    for name, cols in COLUMNS.items():
        owner = R if name == "purchases" else A
        rule = parse_policy(variant.policies[name], columns=list(cols))
        tables[name] = Table(name, owner, dict(cols), rule, data=paths[name])
    return Collaboration("SPARK", ABILITIES, tables)


def canaries(fx: Fixture, variant: Variant) -> set[str]:
    """The planted values that no result under this variant may contain."""
    out = set()
    for table in COLUMNS:
        out |= fx.canaries[f"{table}.{SECRET_COLUMN[table]}"] | fx.canaries[f"{table}.{UNLISTED[table]}"]
    if variant.identity_disallowed:
        out |= fx.canaries["*.user_id"]
    return out
