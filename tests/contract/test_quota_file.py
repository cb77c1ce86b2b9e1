"""The local quota file (``.reconciler/quotas.yaml``) raises adjustable quotas as Service Quotas would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from contract_helpers import error_of

from reconciler import emulator
from reconciler.emulator.errors import LocalBackendError

CREATOR = "100000000000"


def _collaboration(client: Any, invitees: int) -> Any:
    return client.create_collaboration(
        members=[
            {"accountId": f"2000000000{i:02d}", "memberAbilities": [], "displayName": f"m{i}"}
            for i in range(invitees)
        ],
        name="many",
        creatorMemberAbilities=["CAN_QUERY", "CAN_RECEIVE_RESULTS"],
        creatorDisplayName="creator",
        queryLogStatus="DISABLED",
    )


def test_members_per_collaboration_is_enforced_at_the_default(tmp_path: Path) -> None:
    with emulator.connect(tmp_path / "local.duckdb") as emu:
        client = emu.client(account_id=CREATOR)
        _collaboration(client, 5)
        error = error_of(lambda: _collaboration(client, 6))
    assert error["Error"]["Code"] == "ServiceQuotaExceededException"
    assert error["quotaName"] == "Members invited per collaboration" and error["quotaValue"] == 5


def test_the_quota_file_raises_an_adjustable_quota(tmp_path: Path) -> None:
    (tmp_path / "quotas.yaml").write_text("quotas:\n  Members invited per collaboration: 10\n")
    with emulator.connect(tmp_path / "local.duckdb") as emu:
        client = emu.client(account_id=CREATOR)
        created = _collaboration(client, 8)["collaboration"]
        assert len(client.list_members(collaborationIdentifier=created["id"])["memberSummaries"]) == 9
        error = error_of(lambda: _collaboration(client, 11))
    assert error["quotaValue"] == 10


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("quotas:\n  Analysis rule size: 200\n", "not adjustable"),
        ("quotas:\n  Members invited per collaboration: 3\n", "below AWS's default"),
        ("quotas:\n  Members per collab: 10\n", "is not a quota"),
        ("quotas:\n  Members invited per collaboration: ten\n", "must be a number"),
        ("Members invited per collaboration: 10\n", "one mapping 'quotas:'"),
        ("quotas: [\n", "cannot read"),
    ],
)
def test_a_quota_service_quotas_would_not_accept_is_a_clear_error(
    tmp_path: Path, text: str, says: str
) -> None:
    (tmp_path / "quotas.yaml").write_text(text)
    with pytest.raises(LocalBackendError) as info:
        emulator.connect(tmp_path / "local.duckdb")
    assert says in info.value.message and str(tmp_path / "quotas.yaml") in info.value.message
    assert not (tmp_path / "local.duckdb").exists()  # nothing half-written
