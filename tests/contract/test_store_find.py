"""The emulator store's ``find`` and ``count`` by field index answer what a scan of every record would."""

from __future__ import annotations

import random
from typing import Any

from reconciler.emulator.store import Regional, Store


def _scan(store: Store, kind: str, **equal: Any) -> list[dict[str, Any]]:
    return [r for r in store.all(kind) if all(r.get(k) == v for k, v in equal.items())]


def test_find_matches_a_full_scan_through_puts_deletes_commits_and_rollbacks() -> None:
    rng = random.Random(7)
    store = Store.open(None)
    try:
        store.find("t", membershipId="m0")  # the index exists before the writes it must follow
        for step in range(600):
            rid = f"r{rng.randrange(40)}"
            if rng.random() < 0.25:
                store.delete("t", rid)
            else:
                record = {"id": rid, "membershipId": f"m{rng.randrange(3)}", "name": f"n{rng.randrange(5)}"}
                if rng.random() < 0.1:
                    record.pop("name")  # a missing field is found as None
                store.put("t", rid, record)
            if step % 7 == 0:
                store.rollback()
            elif step % 3 == 0:
                store.commit()
            for membership in ("m0", "m1", "m2", "m9"):
                assert store.find("t", membershipId=membership) == _scan(store, "t", membershipId=membership)
                for name in ("n0", "n4", None):
                    both = {"membershipId": membership, "name": name}
                    assert store.find("t", **both) == _scan(store, "t", **both)
                    assert store.count("t", **both) == len(_scan(store, "t", **both))
                scanned = _scan(store, "t", membershipId=membership)
                assert store.count("t", membershipId=membership) == len(scanned)
            # an unhashable value: a scan
            assert store.find("t", tags={"a": "b"}) == _scan(store, "t", tags={"a": "b"})
    finally:
        store.close()


def test_a_record_moved_to_another_value_leaves_its_old_bucket() -> None:
    store = Store.open(None)
    try:
        store.put("t", "a", {"status": "ACTIVE"})
        store.put("t", "b", {"status": "ACTIVE"})
        store.commit()
        assert [r["status"] for r in store.find("t", status="ACTIVE")] == ["ACTIVE", "ACTIVE"]
        store.put("t", "a", {"status": "REMOVED"})
        store.commit()
        assert store.find("t", status="ACTIVE") == [{"status": "ACTIVE"}]
        assert store.find("t", status="REMOVED") == [{"status": "REMOVED"}]
    finally:
        store.close()


def test_a_region_counts_and_finds_its_own_records_and_those_without_an_arn() -> None:
    rng = random.Random(11)
    store = Store.open(None)
    arns = [
        "arn:aws:cleanrooms:us-east-1:111122223333:configuredtable/{}",
        "arn:aws:cleanrooms:eu-west-1:111122223333:configuredtable/{}",
        "not:an-arn",  # malformed: in no Region
        None,  # no ARN (members, rules): seen from every Region
    ]
    views = {region: Regional(store, region) for region in ("us-east-1", "eu-west-1", "ap-south-1")}
    try:
        views["us-east-1"].count("t", _account="a0")  # an index that must follow the writes
        for step in range(400):
            rid = f"r{rng.randrange(30)}"
            if rng.random() < 0.2:
                store.delete("t", rid)
            else:
                record: dict[str, Any] = {"id": rid, "_account": f"a{rng.randrange(2)}"}
                arn = rng.choice(arns)
                if arn is not None:
                    record["arn"] = arn.format(rid)
                store.put("t", rid, record)
            store.commit() if step % 5 else store.rollback()
            for region, view in views.items():
                for account in ("a0", "a1"):
                    here = [
                        r
                        for r in store.find("t", _account=account)
                        if "arn" not in r or r["arn"].split(":")[3:4] == [region]
                    ]
                    assert view.find("t", _account=account) == here
                    assert view.count("t", _account=account) == len(here)
    finally:
        store.close()
