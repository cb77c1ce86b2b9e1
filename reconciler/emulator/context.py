"""What a handler sees of one request: the caller, the clock, the store and permission-aware lookups.

Lookups that take the caller into account (``visible_collaboration``, ``own_membership``,
``own_configured_table``) raise the error AWS would give when the caller may not see the
resource; plain accessors (``collaboration``, ``configured_table``, ...) do not check anything
and return None when absent. Record layouts are documented in ``reconciler.emulator.resource_types``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.model import OperationModel

from reconciler.emulator.catalog import Catalog
from reconciler.emulator.errors import ServiceError, access_denied, not_found
from reconciler.emulator.quotas import QuotaLimits
from reconciler.emulator.store import Record, Regional
from reconciler.emulator.tokens import Paging

__all__ = ["RequestContext"]

#: Member statuses that can still see and act in a collaboration.
PRESENT = ("INVITED", "ACTIVE")


@dataclass
class RequestContext:
    """One request: the calling account and region, the operation, and the emulator's services.

    Attributes:
        account_id: the calling account (from the client's credentials).
        region: the region the client was built for.
        operation: the botocore OperationModel being answered.
        store: the emulator's Store as the caller's region sees it (``Regional``: ``get``/``find``/
            ``all``/``by_arn``/``put``/``delete``).
        catalog: the Glue stand-in (``lookup(account_id, database, table)``).
        results_root: where ``s3://BUCKET/KEY`` results land, as ``results_root/BUCKET/KEY``.
        clock: returns the emulator's current time (timezone-aware).
        paging: for a List operation, where its page starts and how to make the next token.
        limits: the quotas in effect (``quotas.QuotaLimits``).
        queries: the emulator's protected-query runner (``queries.QueryRunner``).
    """

    account_id: str
    region: str
    operation: OperationModel
    store: Regional
    catalog: Catalog
    results_root: Path
    clock: Callable[[], dt.datetime]
    paging: Paging | None = None
    limits: QuotaLimits = field(default_factory=QuotaLimits)
    queries: Any = None

    # -- time and names ----------------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The emulator's current time (UTC)."""
        return self.clock()

    def timestamp(self) -> float:
        """The current time as epoch seconds, the form records store."""
        return self.clock().timestamp()

    def limit(self, quota: str) -> float:
        """The value of ``quota`` (a name of ``quotas.QUOTAS``) in the caller's Region."""
        return self.limits.limit(quota, self.region)

    def arn(self, resource: str, account_id: str | None = None) -> str:
        """``arn:aws:cleanrooms:REGION:ACCOUNT:resource`` for the caller (or ``account_id``)."""
        return f"arn:aws:cleanrooms:{self.region}:{account_id or self.account_id}:{resource}"

    # -- errors shaped by the operation ------------------------------------------------------

    def missing(self, resource_type: str, resource_id: str, what: str = "") -> ServiceError:
        """ResourceNotFoundException if the operation declares it, else AccessDeniedException (as AWS).

        ``resource_type`` is the model's ``ResourceType`` value naming the resource, or the one
        it lives in when the enum has no value for its kind (``errors.not_found``).
        """
        if any(e.name == "ResourceNotFoundException" for e in self.operation.error_shapes):
            return not_found(resource_type, resource_id, what)
        return access_denied(f"{what or resource_type.lower()} {resource_id} is not accessible")

    # -- plain accessors (no permission checks) ---------------------------------------------

    def collaboration(self, collaboration_id: str) -> Record | None:
        """The collaboration record, or None."""
        return self.store.get("collaboration", collaboration_id)

    def member(self, collaboration_id: str, account_id: str) -> Record | None:
        """The member record (status, abilities, payment) of ``account_id``, or None."""
        return self.store.get("member", f"{collaboration_id}/{account_id}")

    def members(self, collaboration_id: str) -> list[Record]:
        """Every member record of the collaboration, the creator first."""
        return self.store.find("member", collaborationId=collaboration_id)

    def membership(self, membership_id: str) -> Record | None:
        """The membership record, or None."""
        return self.store.get("membership", membership_id)

    def configured_table(self, configured_table_id: str) -> Record | None:
        """The configured table record, or None."""
        return self.store.get("configured_table", configured_table_id)

    def table_rule(self, configured_table_id: str) -> Record | None:
        """The configured table's one analysis rule (any type), or None."""
        for kind in ("AGGREGATION", "LIST", "CUSTOM"):
            rule = self.store.get("configured_table_analysis_rule", f"{configured_table_id}/{kind}")
            if rule is not None:
                return rule
        return None

    def associations(self, collaboration_id: str) -> list[Record]:
        """Associations of the collaboration's ACTIVE memberships (what schemas show)."""
        active = {
            m["id"] for m in self.store.find("membership", collaborationId=collaboration_id, status="ACTIVE")
        }
        return [a for a in self.store.all("configured_table_association") if a["membershipId"] in active]

    def association_by_name(self, collaboration_id: str, name: str) -> Record | None:
        """The association whose (schema) name is ``name`` in the collaboration, or None."""
        active = {
            m["id"] for m in self.store.find("membership", collaborationId=collaboration_id, status="ACTIVE")
        }
        for record in self.store.find("configured_table_association", name=name):
            if record["membershipId"] in active:
                return record
        return None

    def association_rule(self, association_id: str, rule_type: str | None = None) -> Record | None:
        """The association's collaboration analysis rule (of ``rule_type`` or any), or None."""
        types = (rule_type,) if rule_type else ("AGGREGATION", "LIST", "CUSTOM")
        for kind in types:
            rule = self.store.get("configured_table_association_analysis_rule", f"{association_id}/{kind}")
            if rule is not None:
                return rule
        return None

    # -- permission-aware lookups ------------------------------------------------------------

    def visible_collaboration(self, collaboration_id: str) -> Record:
        """The collaboration, if the caller is a present (invited or active) member.

        Raises:
            ServiceError: not found / access denied, as the operation declares.
        """
        record = self.collaboration(collaboration_id)
        if record is None:
            raise self.missing("COLLABORATION", collaboration_id)
        member = self.member(collaboration_id, self.account_id)
        if member is None or member["status"] not in PRESENT:
            raise access_denied(
                f"account {self.account_id} is not a member of collaboration {collaboration_id}"
            )
        return record

    def own_membership(self, membership_id: str, *, active: bool = False) -> Record:
        """The caller's membership ``membership_id``; with ``active``, it must be ACTIVE.

        Raises:
            ServiceError: ResourceNotFound (another account's or unknown id), AccessDenied (not active).
        """
        record = self.membership(membership_id)
        if record is None or record["_account"] != self.account_id:
            raise self.missing("MEMBERSHIP", membership_id)
        if active and record["status"] != "ACTIVE":
            raise access_denied(
                f"membership {membership_id} is {record['status']}; it can no longer change anything"
            )
        return record

    def own_configured_table(self, configured_table_id: str) -> Record:
        """The caller's configured table (another account's looks absent, as on AWS)."""
        record = self.configured_table(configured_table_id)
        if record is None or record["_account"] != self.account_id:
            raise self.missing("CONFIGURED_TABLE", configured_table_id)
        return record

    def view(self, record: Record, fields: Any) -> dict[str, Any]:
        """Project ``record`` onto ``fields`` (an iterable of member names), dropping absent ones."""
        return {k: record[k] for k in fields if record.get(k) is not None}
