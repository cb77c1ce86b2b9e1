"""The state cache: atomic, round-trips Refs, and never fails a plan on a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.execution.state import Read, State, StateCache, document_text
from reconciler.planner.addresses import Address, Kind
from reconciler.planner.resource import ObservedResource, Ref
from reconciler.userfiles import write_atomically

COLLAB = Address.of(Kind.COLLABORATION, "retail")
MEMBERSHIP = Address.of(Kind.MEMBERSHIP, "retail", "adtech")


def _state() -> State:
    return State(
        {
            COLLAB: ObservedResource(
                COLLAB, {"name": "retail"}, owner="retailer", account_id="1" * 12, id="c1", arn="arn:c1"
            ),
            MEMBERSHIP: ObservedResource(
                MEMBERSHIP,
                {"collaborationIdentifier": Ref(COLLAB, "id")},
                owner="adtech",
                id="m1",
                arn="arn:m1",
            ),
        },
        "demo",
    )


def test_round_trip_keeps_ids_owners_and_refs(tmp_path: Path) -> None:
    cache = StateCache(tmp_path / ".reconciler" / "state.json")
    cache.save("local", _state())
    cache.save("aws", State({}, "demo"))
    loaded = cache.load("local", "demo")
    assert loaded.fingerprint() == _state().fingerprint()
    assert loaded.get(MEMBERSHIP) is not None
    assert loaded.get(MEMBERSHIP).attributes["collaborationIdentifier"] == Ref(COLLAB, "id")  # type: ignore[union-attr]
    assert len(cache.load("aws", "demo")) == 0 and not cache.problem


def test_the_document_has_one_resource_per_line_and_reads_back_as_written(tmp_path: Path) -> None:
    cache = StateCache(tmp_path / "state.json")
    cache.save("local", _state())
    text = cache.path.read_text()
    doc = json.loads(text)
    assert text == document_text(doc) and text.endswith("}\n")
    resources = doc["entries"]["local/demo"]["resources"]
    lines = [line.strip().rstrip(",") for line in text.splitlines()]
    assert len(resources) == 2
    assert [json.loads(line) for line in lines if line.startswith('{"')] == resources
    odd = {"b": [1, {"c": None}], "a": {}, "n": {"d": {"e": {"f": {"g": [True, 1.5, "\u00e9"]}}}}}
    assert json.loads(document_text(odd)) == odd


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"formatVersion": 1, "entries": {"local/demo": {"resources": [{"no": 1}]}}}', "bad entry"),
        (b"\x00\x01garbage", "corrupt"),
        (b"\xff\xfe\xfd", "unreadable"),
        (json.dumps({"formatVersion": 7}).encode(), "unknown format"),
    ],
)
def test_a_bad_cache_is_empty_with_a_reason(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    cache = StateCache(path)
    assert len(cache.load("local", "demo")) == 0
    assert problem in cache.problem and "rebuilding it from tags" in cache.problem
    cache.save("local", _state())  # and it is replaced by a good one
    assert len(StateCache(path).load("local", "demo")) == 2


def test_an_unwritable_cache_is_only_a_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = StateCache(blocker / "state.json")
    cache.save("local", _state())
    assert "cannot write the state cache" in cache.problem and "continuing" in cache.problem


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "d" / "f.json"
    write_atomically(target, "one")
    write_atomically(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_the_journal_records_steps_and_is_folded_into_the_next_save(tmp_path: Path) -> None:
    cache = StateCache(tmp_path / "state.json")
    cache.save("local", _state())
    table = Address.of(Kind.CONFIGURED_TABLE, "retailer", "purchases")
    cache.record("local", "demo", table, ObservedResource(table, {"name": "purchases"}, id="t1"))
    cache.record("local", "demo", MEMBERSHIP, None)
    with open(cache.journal, "a", encoding="utf-8") as handle:
        handle.write('{"key": "local/demo", "put": {"addr')  # torn by a crash
    loaded = StateCache(tmp_path / "state.json").load("local", "demo")
    assert set(loaded.resources) == {COLLAB, table}
    cache.save("local", loaded)
    assert not cache.journal.exists()
    assert set(StateCache(tmp_path / "state.json").load("local", "demo").resources) == {COLLAB, table}


def test_the_file_spells_keys_as_every_other_file_does(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    StateCache(path).save("local", _state())
    doc = json.loads(path.read_text())
    assert doc["format_version"] == 2 and "formatVersion" not in doc
    (first, _) = doc["entries"]["local/demo"]["resources"]
    assert first["account_id"] == "1" * 12 and "accountId" not in first


def test_a_version_1_cache_and_journal_are_still_read_then_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    old = {"address": str(COLLAB), "id": "c1", "arn": "arn:c1", "owner": "retailer", "accountId": "1" * 12}
    entry = {"stack": "demo", "resources": [{**old, "attributes": {"name": "retail"}}]}
    path.write_text(json.dumps({"formatVersion": 1, "entries": {"local/demo": entry}}))
    table = Address.of(Kind.CONFIGURED_TABLE, "retailer", "purchases")
    put = {"address": str(table), "id": "t1", "accountId": "2" * 12, "attributes": {}}
    path.with_name("state.json.journal").write_text(json.dumps({"key": "local/demo", "put": put}) + "\n")
    cache = StateCache(path)
    loaded = cache.load("local", "demo")
    assert not cache.problem
    assert loaded.get(COLLAB) == ObservedResource(
        COLLAB, {"name": "retail"}, owner="retailer", account_id="1" * 12, id="c1", arn="arn:c1"
    )
    assert (resource := loaded.get(table)) is not None and resource.account_id == "2" * 12
    cache.save("local", loaded)
    assert json.loads(path.read_text())["format_version"] == 2


def test_recorded_reads_round_trip_and_a_step_result_drops_its_own(tmp_path: Path) -> None:
    cache = StateCache(tmp_path / ".reconciler" / "state.json")
    read = Read("d1", "2026-12-02 10:00:00+00:00", {"id": "m1", "queryLogStatus": "ENABLED"})
    state = _state()
    cache.save("local", State(state.resources, "demo", {MEMBERSHIP: read, COLLAB: read}))
    loaded = cache.load("local", "demo")
    assert loaded.reads == {MEMBERSHIP: read, COLLAB: read}
    # an apply step's result replaces the resource: its recorded read no longer says what is there
    cache.record("local", "demo", MEMBERSHIP, state.resources[MEMBERSHIP])
    assert cache.load("local", "demo").reads == {COLLAB: read}
    assert State(state.resources, "demo", {COLLAB: read}).without(COLLAB).reads == {}


@pytest.mark.parametrize("bad", [None, "x", {"listed": "", "raw": {}}, {"listed": "d", "raw": []}])
def test_a_malformed_recorded_read_is_ignored(tmp_path: Path, bad: object) -> None:
    cache = StateCache(tmp_path / ".reconciler" / "state.json")
    cache.save("local", _state())
    doc = json.loads(cache.path.read_text())
    doc["entries"]["local/demo"]["resources"][0]["read"] = bad
    cache.path.write_text(json.dumps(doc))
    loaded = cache.load("local", "demo")
    assert loaded.reads == {} and len(loaded) == 2 and not cache.problem
