from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.planner.addresses import NAME_PARTS, Address, Kind, parse


@pytest.mark.parametrize(
    ("text", "kind", "parts"),
    [
        ("collaboration.retail", Kind.COLLABORATION, ("retail",)),
        ("membership.retail.adtech", Kind.MEMBERSHIP, ("retail", "adtech")),
        ("member.retail.adtech", Kind.MEMBER, ("retail", "adtech")),
        ("configured_table.adtech.impressions", Kind.CONFIGURED_TABLE, ("adtech", "impressions")),
        ("association.retail.adtech.impressions", Kind.ASSOCIATION, ("retail", "adtech", "impressions")),
        ('collaboration."retail ad. campaign"', Kind.COLLABORATION, ("retail ad. campaign",)),
    ],
)
def test_parse_and_print_round_trip(text: str, kind: Kind, parts: tuple[str, ...]) -> None:
    address = parse(text)
    assert address == Address(kind, parts)
    assert str(address) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("widget.x", "unknown resource kind 'widget'"),
        ("membership.retail", "does not have the form membership.<collaboration>.<member>"),
        ("collaboration.a.b", "does not have the form"),
        ("collaboration.", "malformed address"),
        ('collaboration."open', "malformed address"),
        ("collaboration.a b", "malformed address"),
    ],
)
def test_bad_addresses_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("<", "<").replace("(", r"\(")):
        parse(text)


def test_addresses_sort_parents_first_then_by_name() -> None:
    texts = [
        "association.r.a.t",
        "collaboration.z",
        "membership.r.a",
        "collaboration.a",
        "configured_table.a.t",
    ]
    assert [str(a) for a in sorted(map(parse, texts))] == [
        "collaboration.a",
        "collaboration.z",
        "membership.r.a",
        "configured_table.a.t",
        "association.r.a.t",
    ]


def test_part_by_meaning() -> None:
    address = parse("association.retail.adtech.imps")
    assert address.part("owner") == "adtech"
    assert address.collaboration == "retail"
    assert parse("configured_table.adtech.t").collaboration is None
    with pytest.raises(KeyError):
        address.part("table")


def test_wrong_part_count_is_refused() -> None:
    with pytest.raises(ValueError, match="2 name part"):
        Address.of(Kind.MEMBERSHIP, "only-one")


@given(kind=st.sampled_from(list(Kind)), data=st.data())
def test_any_names_round_trip(kind: Kind, data: st.DataObject) -> None:
    parts = tuple(data.draw(st.text(min_size=1, max_size=12)) for _ in NAME_PARTS[kind])
    address = Address(kind, parts)
    assert parse(str(address)) == address
