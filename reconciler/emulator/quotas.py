"""AWS Clean Rooms' quotas as data: the table of the AWS quotas page, and the limits in effect.

``QUOTAS`` is the "AWS Clean Rooms quotas" page of the user guide
(https://docs.aws.amazon.com/clean-rooms/latest/userguide/clean-rooms-quotas.html), one row per
quota: its name as AWS writes it, the default (per Region where the page gives Region values),
whether Service Quotas can raise it, and where the emulator enforces it (``enforced``; a quota of
something the emulator does not model says why not). This table is the only place a quota's
value is written: handlers read it through ``QuotaLimits.limit`` (``RequestContext.limit``), and a
test checks the few limits the rule engine keeps as its own constants against it.

``QuotaLimits`` are the quotas in effect: the defaults, with adjustable ones raised as Service
Quotas would raise them (``QuotaLimits(raised={...})``). The local backend reads them from the
quota file next to its database, ``.reconciler/quotas.yaml`` (``QuotaLimits.from_file``)::

    # Increases Service Quotas approved for these accounts (quota name as on the quotas page).
    quotas:
      Members invited per collaboration: 10

A quota the page marks not adjustable cannot be raised, and no quota can be lowered below AWS's
default (the emulator would then refuse what AWS accepts): either is an error naming the file.

Sizes in kilobytes are counted as 1,000 bytes, as the engine counts query text. The page also
lists a request-rate quota for every API operation (5 per second for most); the emulator does
not throttle by rate (``RECONCILER_LOCAL_FAULTS`` can inject ThrottlingException instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = ["QUOTAS", "QUOTA_FILE", "QuotaLimits", "Quota", "QuotaError", "quota"]

#: The quota file's name, next to the local backend's database (``.reconciler/quotas.yaml``).
QUOTA_FILE = "quotas.yaml"


class QuotaError(ValueError):
    """A raised quota that Service Quotas would not accept (unknown, not adjustable, or lowered)."""


@dataclass(frozen=True)
class Quota:
    """One row of the AWS quotas page.

    Attributes:
        name: the quota's name on the page (also the ``quotaName`` of ServiceQuotaExceededException).
        default: the default in each supported Region (or in the Regions ``regions`` does not list).
        adjustable: whether Service Quotas can raise it.
        description: the page's description.
        unit: what ``default`` counts ("" for a count, ``KB``, ``vCPU``, ``per second``).
        regions: Region -> default, where the page gives a Region its own value.
        enforced: where the emulator enforces it, or why it does not.
    """

    name: str
    default: float
    adjustable: bool
    description: str
    unit: str = ""
    regions: Mapping[str, float] = field(default_factory=dict)
    enforced: str = ""

    def default_in(self, region: str) -> float:
        """The default in ``region``."""
        return self.regions.get(region, self.default)


_NO_JOBS = "not enforced: protected jobs are not emulated"
_ONE_AT_A_TIME = "met by construction: the local query runner runs one query at a time"

#: The quotas page, in its order.
QUOTAS: tuple[Quota, ...] = (
    Quota(
        "Analysis rule size",
        100,
        False,
        "Maximum size of JSON for an analysis rule",
        unit="KB",
        enforced="Create/Update(ConfiguredTable|ConfiguredTableAssociation)AnalysisRule",
    ),
    Quota(
        "Analysis templates per membership",
        25,
        True,
        "Maximum number of analysis templates per membership",
        enforced="CreateAnalysisTemplate",
    ),
    Quota(
        "Collaborations created per account",
        10,
        True,
        "Maximum number of collaborations created per account",
        enforced="CreateCollaboration (collaborations the account created and has not deleted)",
    ),
    Quota(
        "Columns per configured table allowlist",
        100,
        True,
        "Maximum number of columns that can be allowlisted per configured table",
        enforced="CreateConfiguredTable, UpdateConfiguredTable",
    ),
    Quota(
        "Concurrent PySpark job vCPU usage per account",
        512,
        True,
        "Maximum total vCPU usage of all concurrently running PySpark jobs per account",
        unit="vCPU",
        regions={"us-east-1": 1024},
        enforced=_NO_JOBS,
    ),
    Quota(
        "Concurrent PySpark jobs per account",
        2,
        True,
        "Maximum number of concurrently running PySpark jobs per account",
        regions={"us-east-1": 5},
        enforced=_NO_JOBS,
    ),
    Quota(
        "Concurrent SQL queries per account",
        2,
        True,
        "Maximum number of concurrently running SQL queries per account",
        regions={"us-east-1": 5},
        enforced=_ONE_AT_A_TIME,
    ),
    Quota(
        "Concurrent SQL query vCPU usage per account",
        512,
        True,
        "Maximum total vCPU usage of all concurrently running SQL queries per account",
        unit="vCPU",
        enforced="not enforced: local queries have no worker sizes",
    ),
    Quota(
        "Concurrent ongoing job per membership",
        1,
        False,
        "Maximum number of concurrent ongoing jobs per membership",
        enforced=_NO_JOBS,
    ),
    Quota(
        "Concurrent ongoing queries per membership",
        5,
        False,
        "Maximum number of concurrent ongoing queries per membership",
        enforced="StartProtectedQuery (queries SUBMITTED or STARTED)",
    ),
    Quota(
        "Configured audience model associations per membership",
        5,
        True,
        "Maximum number of configured audience model associations per membership",
        enforced="not enforced: Clean Rooms ML is not emulated yet",
    ),
    Quota(
        "Configured tables per account",
        250,
        True,
        "Maximum number of configured tables created per account",
        enforced="CreateConfiguredTable",
    ),
    Quota(
        "Configured tables per protected query",
        15,
        True,
        "Maximum number of configured tables in a protected query",
        enforced="the rule engine (reconciler/engine/enforce.py: the query FAILS with reason other)",
    ),
    Quota(
        "ID mapping tables per membership",
        5,
        True,
        "Maximum number of ID mapping tables per membership",
        enforced="CreateIdMappingTable",
    ),
    Quota(
        "ID namespace associations per membership",
        10,
        True,
        "Maximum number of ID namespace associations per membership",
        enforced="CreateIdNamespaceAssociation",
    ),
    Quota(
        "Members invited per collaboration",
        5,
        True,
        "Maximum number of members invited per collaboration",
        enforced="CreateCollaboration, CreateCollaborationChangeRequest (ADD_MEMBER)",
    ),
    Quota(
        "Memberships per account",
        100,
        True,
        "Maximum number of memberships per account",
        enforced="CreateMembership (ACTIVE memberships)",
    ),
    Quota(
        "Query text length (with differential privacy)",
        8,
        False,
        "Maximum text length of a SQL query statement that uses differential privacy",
        unit="KB",
        enforced="protected query run (the query FAILS with reason other)",
    ),
    Quota(
        "Query text length on Clean Rooms SQL analytics engine",
        90,
        False,
        "Maximum text length of a SQL query statement on the Clean Rooms SQL analytics engine",
        unit="KB",
        enforced="the rule engine (reconciler/engine/facts.py)",
    ),
    Quota(
        "Query text length on Spark analytics engine",
        500,
        False,
        "Maximum text length of a SQL query statement on the Spark analytics engine",
        unit="KB",
        enforced="the rule engine (reconciler/engine/facts.py)",
    ),
    Quota(
        "Request rate per API operation",
        5,
        True,
        "Maximum calls per second of each API operation (the page lists one quota per operation)",
        unit="per second",
        enforced="not enforced (RECONCILER_LOCAL_FAULTS injects ThrottlingException instead)",
    ),
)

_BY_NAME = {q.name: q for q in QUOTAS}


def quota(name: str) -> Quota:
    """The row named ``name``.

    Raises:
        KeyError: no quota has that name (a typo in a handler).
    """
    return _BY_NAME[name]


class QuotaLimits:
    """The quotas in effect: AWS's defaults, with adjustable ones raised.

    Args:
        raised: quota name -> value (every Region), as a Service Quotas increase would set it.

    Raises:
        QuotaError: an unknown quota, one that is not adjustable, or a value below the default.
    """

    def __init__(self, raised: Mapping[str, float] | None = None) -> None:
        self._raised = dict(raised or {})
        for name, value in self._raised.items():
            row = _BY_NAME.get(name)
            if row is None:
                raise QuotaError(f"{name!r} is not a quota of AWS Clean Rooms")
            if not row.adjustable:
                raise QuotaError(f"the quota {name!r} is not adjustable on AWS, so it cannot be raised")
            if value < max([row.default, *row.regions.values()]):
                raise QuotaError(f"the quota {name!r} cannot be set below AWS's default {row.default:g}")

    @classmethod
    def from_file(cls, path: Path) -> QuotaLimits:
        """The quotas of a quota file (``quotas: {name: value}``); AWS's defaults when it is absent.

        Raises:
            QuotaError: the file is not of that form, or Service Quotas would not accept a value.
        """
        if not path.is_file():
            return cls()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise QuotaError(f"{path}: cannot read the quota file: {exc}") from None
        raised = data.get("quotas") if isinstance(data, dict) else None
        if not isinstance(raised, dict) or set(data) != {"quotas"}:
            raise QuotaError(f"{path}: a quota file is one mapping 'quotas:' of quota name -> value")
        for name, value in raised.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise QuotaError(f"{path}: the value of quota {name!r} must be a number, not {value!r}")
        try:
            return cls(raised)
        except QuotaError as exc:
            raise QuotaError(f"{path}: {exc}") from None

    def limit(self, name: str, region: str) -> float:
        """The value of quota ``name`` in ``region``."""
        return self._raised.get(name, quota(name).default_in(region))
