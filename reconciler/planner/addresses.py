"""Addresses: the stable, user-facing names of managed resources (never AWS ids).

An Address is a Kind plus the name parts that make it unique inside a stack, printed with dots:

=======================  ======================================  =====================================
Kind                     form                                    example
=======================  ======================================  =====================================
collaboration            ``collaboration.<c>``                   ``collaboration.retail``
member                   ``member.<c>.<member>``                 ``member.retail.adtech``
membership               ``membership.<c>.<member>``             ``membership.retail.adtech``
configured_table         ``configured_table.<owner>.<table>``    ``configured_table.adtech.impressions``
analysis_rule            ``analysis_rule.<owner>.<table>``       ``analysis_rule.adtech.impressions``
association              ``association.<c>.<owner>.<name>``      ``association.retail.adtech.imps``
association_rule         ``association_rule.<c>.<owner>.<name>`` ``association_rule.retail.adtech.imps``
analysis_template        ``analysis_template.<c>.<owner>.<name>`` ``analysis_template.retail.acme.reach``
privacy_budget_template  ``privacy_budget_template.<c>.<owner>`` ``privacy_budget_template.retail.acme``
=======================  ======================================  =====================================

Clean Rooms ML (``cleanroomsml``) resources: per account ``training_dataset``, ``audience_model``,
``configured_audience_model``, its ``configured_audience_model_policy`` and
``configured_model_algorithm``, each ``<kind>.<owner>.<name>``; per collaboration
``configured_audience_model_association`` (a ``cleanrooms`` resource),
``configured_model_algorithm_association`` and ``ml_input_channel``, each
``<kind>.<c>.<owner>.<name>``, and ``ml_configuration.<c>.<owner>`` (one per membership).

``<c>`` is the collaboration's name.

A configured table has at most one analysis rule (CreateConfiguredTableAnalysisRule), so the rule
type is an attribute of ``analysis_rule.<owner>.<table>``, not part of its address: changing
AGGREGATION to LIST is then one replacement whose privacy impact can be judged as a whole.
Member keys (``retailer``, ``adtech``) are the spec's logical names for accounts.

A name part that is not a plain identifier (``[A-Za-z0-9_-]+``) is printed in double quotes with
``\\"`` and ``\\\\`` escaped, so every Address round-trips through ``str`` and ``parse``.

This module knows nothing about attributes or AWS; ``registry`` describes each Kind.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from functools import total_ordering

__all__ = ["Address", "Kind", "parse"]


class Kind(enum.StrEnum):
    """Managed resource types; the value is the first part of every Address of that type."""

    COLLABORATION = "collaboration"
    MEMBER = "member"
    MEMBERSHIP = "membership"
    CONFIGURED_TABLE = "configured_table"
    ANALYSIS_RULE = "analysis_rule"
    ASSOCIATION = "association"
    ASSOCIATION_RULE = "association_rule"
    ANALYSIS_TEMPLATE = "analysis_template"
    PRIVACY_BUDGET_TEMPLATE = "privacy_budget_template"
    TRAINING_DATASET = "training_dataset"
    AUDIENCE_MODEL = "audience_model"
    CONFIGURED_AUDIENCE_MODEL = "configured_audience_model"
    CONFIGURED_AUDIENCE_MODEL_POLICY = "configured_audience_model_policy"
    CONFIGURED_AUDIENCE_MODEL_ASSOCIATION = "configured_audience_model_association"
    CONFIGURED_MODEL_ALGORITHM = "configured_model_algorithm"
    CONFIGURED_MODEL_ALGORITHM_ASSOCIATION = "configured_model_algorithm_association"
    ML_CONFIGURATION = "ml_configuration"
    ML_INPUT_CHANNEL = "ml_input_channel"
    ID_NAMESPACE_ASSOCIATION = "id_namespace_association"
    ID_MAPPING_TABLE = "id_mapping_table"


#: What each name part of a Kind's address means, in order; also fixes how many parts it has.
NAME_PARTS: dict[Kind, tuple[str, ...]] = {
    Kind.COLLABORATION: ("collaboration",),
    Kind.MEMBER: ("collaboration", "member"),
    Kind.MEMBERSHIP: ("collaboration", "member"),
    Kind.CONFIGURED_TABLE: ("owner", "table"),
    Kind.ANALYSIS_RULE: ("owner", "table"),
    Kind.ASSOCIATION: ("collaboration", "owner", "name"),
    Kind.ASSOCIATION_RULE: ("collaboration", "owner", "name"),
    Kind.ANALYSIS_TEMPLATE: ("collaboration", "owner", "name"),
    Kind.PRIVACY_BUDGET_TEMPLATE: ("collaboration", "owner"),
    Kind.TRAINING_DATASET: ("owner", "name"),
    Kind.AUDIENCE_MODEL: ("owner", "name"),
    Kind.CONFIGURED_AUDIENCE_MODEL: ("owner", "name"),
    Kind.CONFIGURED_AUDIENCE_MODEL_POLICY: ("owner", "name"),
    Kind.CONFIGURED_AUDIENCE_MODEL_ASSOCIATION: ("collaboration", "owner", "name"),
    Kind.CONFIGURED_MODEL_ALGORITHM: ("owner", "name"),
    Kind.CONFIGURED_MODEL_ALGORITHM_ASSOCIATION: ("collaboration", "owner", "name"),
    Kind.ML_CONFIGURATION: ("collaboration", "owner"),
    Kind.ML_INPUT_CHANNEL: ("collaboration", "owner", "name"),
    Kind.ID_NAMESPACE_ASSOCIATION: ("collaboration", "owner", "name"),
    Kind.ID_MAPPING_TABLE: ("collaboration", "owner", "name"),
}

_PLAIN = re.compile(r"[A-Za-z0-9_\-]+")
_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|([A-Za-z0-9_\-]+)')

#: Sort rank of each Kind: parents before children, so sorted plans read top-down.
_RANK = {kind: i for i, kind in enumerate(Kind)}


def _quote(part: str) -> str:
    if _PLAIN.fullmatch(part):
        return part
    return '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'


@total_ordering
@dataclass(frozen=True, slots=True)
class Address:
    """A resource's name in a stack: ``Kind`` plus name parts (see the module table).

    Addresses sort by kind (parents first, in ``Kind`` order) then by name parts, so sorted output
    is stable and reads from collaboration down to templates.

    >>> a = Address.of(Kind.MEMBERSHIP, "retail", "adtech")
    >>> str(a)
    'membership.retail.adtech'
    >>> parse("membership.retail.adtech") == a
    True
    >>> str(Address.of(Kind.COLLABORATION, "retail ad campaign"))
    'collaboration."retail ad campaign"'
    """

    kind: Kind
    parts: tuple[str, ...]
    _key: tuple[int, tuple[str, ...]] = field(init=False, repr=False, compare=False, hash=False)
    _text: str = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        expected = NAME_PARTS[self.kind]
        if len(self.parts) != len(expected):
            raise ValueError(
                f"a {self.kind} address has {len(expected)} name part(s) ({', '.join(expected)}),"
                f" got {len(self.parts)}: {self.parts!r}"
            )
        if any(not p for p in self.parts):
            raise ValueError(f"empty name part in {self.kind} address {self.parts!r}")
        # computed once: plans sort and print thousands of addresses
        object.__setattr__(self, "_key", (_RANK[self.kind], self.parts))
        object.__setattr__(self, "_text", ".".join([self.kind.value, *(_quote(p) for p in self.parts)]))

    @classmethod
    def of(cls, kind: Kind | str, *parts: str) -> Address:
        """Build an Address from a Kind and its name parts.

        Args:
            kind: the Kind (or its string value).
            *parts: the name parts, as many as ``NAME_PARTS[kind]`` lists.

        Returns:
            The Address; ``ValueError`` if the part count is wrong.
        """
        return cls(Kind(kind), tuple(parts))

    def part(self, meaning: str) -> str:
        """Return the name part with this meaning (``"collaboration"``, ``"owner"``, ...).

        Args:
            meaning: one of ``NAME_PARTS[self.kind]``.

        Returns:
            The part; ``KeyError`` if this kind has no such part.
        """
        try:
            return self.parts[NAME_PARTS[self.kind].index(meaning)]
        except ValueError:
            raise KeyError(f"{self.kind} address has no {meaning!r} part") from None

    @property
    def collaboration(self) -> str | None:
        """The collaboration this address lives in, or None for per-account kinds."""
        names = NAME_PARTS[self.kind]
        return self.parts[names.index("collaboration")] if "collaboration" in names else None

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Address):
            return NotImplemented
        return self._key < other._key

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Address({str(self)!r})"


def parse(text: str) -> Address:
    """Parse the printed form of an Address.

    Args:
        text: e.g. ``association.retail.adtech.impressions`` or ``collaboration."a b"``.

    Returns:
        The Address.

    Raises:
        ValueError: the text is not an address; the message says what was expected.
    """
    kind_text, dot, rest = text.partition(".")
    try:
        kind = Kind(kind_text)
    except ValueError:
        known = ", ".join(k.value for k in Kind)
        raise ValueError(
            f"unknown resource kind {kind_text!r} in address {text!r} (known: {known})"
        ) from None
    parts: list[str] = []
    pos = 0
    while dot and pos <= len(rest):
        match = _TOKEN.match(rest, pos)
        if match is None:
            raise ValueError(f"malformed address {text!r} at character {len(kind_text) + 1 + pos}")
        quoted, plain = match.groups()
        parts.append(re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else plain)
        pos = match.end()
        if pos == len(rest):
            break
        if rest[pos] != ".":
            raise ValueError(f"malformed address {text!r} at character {len(kind_text) + 1 + pos}")
        pos += 1
    expected = NAME_PARTS[kind]
    if len(parts) != len(expected):
        form = ".".join([kind.value, *(f"<{p}>" for p in expected)])
        raise ValueError(f"address {text!r} does not have the form {form}")
    return Address(kind, tuple(parts))
