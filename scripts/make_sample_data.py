"""Generate the small, deterministic local sample data of the example stacks in ``reconciler/examples/``.

Every dataset is a named generator of rows (a seeded ``random.Random``, so the same bytes come
out on every run) written as CSV (the ``csv`` module) or Parquet (DuckDB's ``COPY``, no pyarrow).
The data is shaped for demos and query tests: the retail stacks have campaigns whose overlap with
the retailer's customers is well above the aggregation threshold of 25 distinct users and
campaigns well below it, so threshold suppression is visible.

Usage::

    python3 scripts/make_sample_data.py            # rewrite every stack's data/ folder
    python3 scripts/make_sample_data.py --out DIR  # write under DIR/<stack>/data/ instead
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import random
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

Row = tuple[object, ...]

REPO_ROOT = Path(__file__).resolve().parent.parent
SPECS = REPO_ROOT / "reconciler" / "examples"  # the example stacks ship inside the package


@dataclass(frozen=True)
class Dataset:
    """One sample file: where it goes, its columns as (name, DuckDB type), and its rows."""

    stack: str
    path: str  # relative to the stack directory, as the spec's localData says
    columns: tuple[tuple[str, str], ...]
    rows: Callable[[], Iterator[Row]]


# --------------------------------------------------------------------------- helpers


def hashed_email(user: int) -> str:
    """A SHA-256 of a synthetic address, as clean-room partners match on."""
    return hashlib.sha256(f"user{user:05d}@example.com".encode()).hexdigest()


def user_id(user: int) -> str:
    return f"u{user:05d}"


def day(rng: random.Random, start: dt.date, days: int) -> str:
    return (start + dt.timedelta(days=rng.randrange(days))).isoformat()


def money(rng: random.Random, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 2)


def quota_assignment(rng: random.Random, users: Sequence[int], quotas: dict[str, int]) -> dict[int, str]:
    """Give each of ``users`` one label, exactly ``quotas[label]`` users per label (shuffled)."""
    shuffled = list(users)
    rng.shuffle(shuffled)
    labels = [label for label, count in quotas.items() for _ in range(count)]
    return dict(zip(shuffled, labels, strict=False))


SPRING = dt.date(2025, 3, 1)
SEASON_DAYS = 122  # March to June

# --------------------------------------------------------------------------- retail / adtech

#: Retail customers are users 0..399, ad-tech users 200..599: 200 overlap.
RETAIL_USERS = range(0, 400)
ADTECH_USERS = range(200, 600)
#: Overlapping users per campaign: three campaigns clear the threshold of 25, two do not.
OVERLAP_CAMPAIGNS = {
    "spring_sale": 80,
    "summer_launch": 45,
    "back_to_school": 30,
    "loyalty_push": 14,
    "flash_clearance": 6,
}
CHANNELS = ("display", "social", "video", "search")
CATEGORIES = ("electronics", "apparel", "home", "grocery", "beauty")
REGIONS = ("north", "south", "east", "west")


def purchases(seed: int) -> Callable[[], Iterator[Row]]:
    def rows() -> Iterator[Row]:
        rng = random.Random(seed)
        for user in RETAIL_USERS:
            for _ in range(rng.randint(1, 4)):
                yield (
                    hashed_email(user),
                    day(rng, SPRING, SEASON_DAYS),
                    rng.choice(CATEGORIES),
                    money(rng, 5, 400),
                    REGIONS[user % len(REGIONS)],
                )

    return rows


def impressions(seed: int) -> Callable[[], Iterator[Row]]:
    def rows() -> Iterator[Row]:
        rng = random.Random(seed)
        overlap = [u for u in ADTECH_USERS if u in RETAIL_USERS]
        campaign = quota_assignment(rng, overlap, OVERLAP_CAMPAIGNS)
        outside = [u for u in ADTECH_USERS if u not in RETAIL_USERS]
        campaign.update({u: rng.choice(tuple(OVERLAP_CAMPAIGNS)) for u in outside})
        for user in ADTECH_USERS:
            if user not in campaign:  # overlapping users beyond the quotas saw no campaign
                continue
            for _ in range(rng.randint(1, 5)):
                yield (
                    hashed_email(user),
                    campaign[user],
                    day(rng, SPRING, SEASON_DAYS),
                    rng.choice(CHANNELS),
                )

    return rows


PURCHASE_COLUMNS = (
    ("hashed_email", "VARCHAR"),
    ("purchase_date", "DATE"),
    ("product_category", "VARCHAR"),
    ("purchase_amount", "DECIMAL(10,2)"),
    ("store_region", "VARCHAR"),
)
IMPRESSION_COLUMNS = (
    ("hashed_email", "VARCHAR"),
    ("campaign_name", "VARCHAR"),
    ("impression_date", "DATE"),
    ("channel", "VARCHAR"),
)

# --------------------------------------------------------------------------- org A / org B

AGE_GROUPS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")


def demographics(
    seed: int, users: range, metric: Callable[[random.Random], float]
) -> Callable[[], Iterator[Row]]:
    def rows() -> Iterator[Row]:
        rng = random.Random(seed)
        for user in users:
            yield (
                user_id(user),
                AGE_GROUPS[rng.randrange(len(AGE_GROUPS))],
                rng.choice(REGIONS),
                metric(rng),
            )

    return rows


# --------------------------------------------------------------------------- AMC-style multiparty

AMC_USERS = range(0, 800)
AMC_CAMPAIGNS = ("cmp_alpha", "cmp_bravo", "cmp_charlie", "cmp_delta")
PLACEMENTS = ("homepage", "search_results", "product_detail", "checkout")
NETWORKS = ("streamco", "sportsnet", "kidsplay")
SEGMENTS = ("outdoor_enthusiasts", "new_parents", "pet_owners", "home_improvers", "commuters")
INCOME_BANDS = ("low", "middle", "upper_middle", "high")
PRODUCT_LINES = ("tents", "backpacks", "footwear", "jackets")


def events(
    seed: int, users: Sequence[int], per_user: tuple[int, int], make: Callable[[random.Random, int], Row]
) -> Callable[[], Iterator[Row]]:
    def rows() -> Iterator[Row]:
        rng = random.Random(seed)
        for user in users:
            for _ in range(rng.randint(*per_user)):
                yield make(rng, user)

    return rows


#: ml-lookalike: 1,200 publisher users in three taste groups of 20 items each; a user's events are
#: mostly in its group, so a seed drawn from one group has lookalikes in that group.
LOOKALIKE_USERS = range(1200)
TASTES = ("outdoor", "tech", "home")


def interactions(seed: int) -> Callable[[], Iterator[Row]]:
    def rows() -> Iterator[Row]:
        rng = random.Random(seed)
        for u in LOOKALIKE_USERS:
            group = u % len(TASTES)
            for _ in range(4):
                own = rng.random() < 0.8
                item = group * 20 + rng.randrange(20) if own else rng.randrange(20 * len(TASTES))
                when = dt.datetime(2026, 1, 1) + dt.timedelta(minutes=rng.randrange(180 * 24 * 60))
                yield user_id(u), f"{TASTES[item // 20]}-{item % 20:02d}", when.isoformat(sep=" ")

    return rows


def customers(seed: int) -> Callable[[], Iterator[Row]]:
    """The advertiser's 600 customers, 450 of them publisher users; the loyal ones like the outdoors."""

    def rows() -> Iterator[Row]:
        rng = random.Random(seed)
        known = sample(seed + 1, LOOKALIKE_USERS, 450)
        for u in [*known, *range(5000, 5150)]:
            loyal = u in LOOKALIKE_USERS and u % len(TASTES) == 0 and rng.random() < 0.85
            yield (
                user_id(u),
                "loyal" if loyal else "occasional",
                money(rng, 200, 900) if loyal else money(rng, 5, 150),
            )

    return rows


def sample(seed: int, population: range, k: int) -> list[int]:
    return sorted(random.Random(seed).sample(population, k))


DATASETS: tuple[Dataset, ...] = (
    Dataset(
        "ml-lookalike",
        "data/interactions.csv",
        (("user_id", "VARCHAR"), ("item_id", "VARCHAR"), ("event_time", "TIMESTAMP")),
        interactions(seed=401),
    ),
    Dataset(
        "ml-lookalike",
        "data/customers.csv",
        (("user_id", "VARCHAR"), ("segment", "VARCHAR"), ("lifetime_value", "DOUBLE")),
        customers(seed=402),
    ),
    Dataset("retail-adtech", "data/purchases.csv", PURCHASE_COLUMNS, purchases(seed=101)),
    Dataset("retail-adtech", "data/impressions.parquet", IMPRESSION_COLUMNS, impressions(seed=102)),
    Dataset("retail-adtech-classic", "data/purchases.csv", PURCHASE_COLUMNS, purchases(seed=101)),
    Dataset("retail-adtech-classic", "data/impressions.parquet", IMPRESSION_COLUMNS, impressions(seed=102)),
    Dataset(
        "org-a-org-b",
        "data/customer_profiles.csv",
        (
            ("user_id", "VARCHAR"),
            ("age_group", "VARCHAR"),
            ("region", "VARCHAR"),
            ("purchase_amount", "DECIMAL(10,2)"),
        ),
        demographics(201, range(0, 12_000), lambda rng: money(rng, 10, 900)),
    ),
    Dataset(
        "org-a-org-b",
        "data/engagement_metrics.parquet",
        (
            ("user_id", "VARCHAR"),
            ("age_group", "VARCHAR"),
            ("region", "VARCHAR"),
            ("engagement_score", "DOUBLE"),
        ),
        demographics(202, range(3_000, 15_000), lambda rng: round(rng.betavariate(2, 5) * 100, 1)),
    ),
    Dataset(
        "amc-multiparty",
        "data/conversions.csv",
        (
            ("user_id", "VARCHAR"),
            ("conversion_date", "DATE"),
            ("product_line", "VARCHAR"),
            ("conversion_value", "DECIMAL(10,2)"),
        ),
        events(
            301,
            sample(311, AMC_USERS, 320),
            (1, 3),
            lambda rng, u: (
                user_id(u),
                day(rng, SPRING, SEASON_DAYS),
                rng.choice(PRODUCT_LINES),
                money(rng, 20, 600),
            ),
        ),
    ),
    Dataset(
        "amc-multiparty",
        "data/retail_media_impressions.parquet",
        (
            ("user_id", "VARCHAR"),
            ("campaign_id", "VARCHAR"),
            ("impression_date", "DATE"),
            ("placement", "VARCHAR"),
        ),
        events(
            302,
            sample(312, AMC_USERS, 500),
            (1, 4),
            lambda rng, u: (
                user_id(u),
                rng.choice(AMC_CAMPAIGNS),
                day(rng, SPRING, SEASON_DAYS),
                rng.choice(PLACEMENTS),
            ),
        ),
    ),
    Dataset(
        "amc-multiparty",
        "data/tv_exposures.parquet",
        (
            ("user_id", "VARCHAR"),
            ("campaign_id", "VARCHAR"),
            ("exposure_date", "DATE"),
            ("network", "VARCHAR"),
        ),
        events(
            303,
            sample(313, AMC_USERS, 350),
            (1, 3),
            lambda rng, u: (
                user_id(u),
                rng.choice(AMC_CAMPAIGNS[:3]),
                day(rng, SPRING, SEASON_DAYS),
                rng.choice(NETWORKS),
            ),
        ),
    ),
    Dataset(
        "amc-multiparty",
        "data/audience_segments.csv",
        (("user_id", "VARCHAR"), ("segment", "VARCHAR"), ("household_income_band", "VARCHAR")),
        events(
            304,
            sample(314, AMC_USERS, 600),
            (1, 2),
            lambda rng, u: (user_id(u), rng.choice(SEGMENTS), INCOME_BANDS[u % len(INCOME_BANDS)]),
        ),
    ),
)

# --------------------------------------------------------------------------- writers


def write_csv(target: Path, dataset: Dataset) -> None:
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([name for name, _ in dataset.columns])
        writer.writerows(dataset.rows())


def write_parquet(target: Path, dataset: Dataset) -> None:
    """Write the rows as CSV first, then let DuckDB ``COPY`` them to Parquet, typed, in row order."""
    staging = target.with_suffix(".staging.csv")
    write_csv(staging, dataset)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET threads = 1")
        columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in dataset.columns) + "}"
        source, dest = (str(p).replace("'", "''") for p in (staging, target))
        con.execute(
            f"COPY (SELECT * FROM read_csv('{source}', header = true, columns = {columns})) "
            f"TO '{dest}' (FORMAT parquet)"
        )
    finally:
        con.close()
        staging.unlink(missing_ok=True)


WRITERS: dict[str, Callable[[Path, Dataset], None]] = {".csv": write_csv, ".parquet": write_parquet}


def generate(out_root: Path = SPECS) -> list[Path]:
    """Write every dataset under ``out_root/<stack>/<path>`` and return the paths written.

    Args:
        out_root: the folder that holds the stack directories (``reconciler/examples/`` by default).

    Returns:
        The files written, in ``DATASETS`` order.
    """
    written = []
    for dataset in DATASETS:
        target = out_root / dataset.stack / dataset.path
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write next to the target, then rename: a crash never leaves a half-written file behind.
        with tempfile.NamedTemporaryFile(dir=target.parent, suffix=target.suffix, delete=False) as tmp:
            partial = Path(tmp.name)
        try:
            WRITERS[target.suffix](partial, dataset)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SPECS, help="folder holding the stack directories")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(f"{path.stat().st_size:>8}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
