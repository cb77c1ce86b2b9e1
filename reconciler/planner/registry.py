"""The registry of resource types: each Clean Rooms resource type described once, as data.

A ``ResourceType`` says, for one ``Kind``: the AWS service whose API manages it (``cleanrooms``,
or ``cleanroomsml`` for the ML resources), its operations (create / get / list / update /
delete), the key of the resource in their responses, its identifier fields, its references to
other resources (parents first), whether it is taggable, whether deleting it is irreversible, and
what its normal form needs (defaults, ordered lists, response renames; ``normal_form`` applies
them). ``ResourceType.request`` builds the parameters of one operation (Refs left for apply).

Which fields are create-only and which are updatable is *not* written here: it is derived at run
time from botocore's service model (a field of ``Create*`` whose name, or its declared alias, is
not a field of ``Update*`` is create-only; nested structures are compared member by member), and
cross-checked against a copy of the design's ``immutability.yaml`` in ``tests/planner``. Adding a
resource type means adding one descriptor to ``REGISTRY``; diff, plan and render read the table.

This module does not call AWS and does not decide actions (that is ``diff.py``).

>>> descriptor("membership").service, descriptor("membership").create
('cleanrooms', 'CreateMembership')
>>> is_create_only(Kind.MEMBERSHIP, "collaborationIdentifier")
True
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.model import ListShape, ServiceModel, Shape, StructureShape

from reconciler.aws_model import service_model
from reconciler.planner.addresses import Address, Kind
from reconciler.planner.resource import DesiredResource, ObservedResource, Ref

__all__ = [
    "REGISTRY",
    "SELF",
    "SERVICES",
    "Reference",
    "ResourceType",
    "complete_request",
    "descriptor",
    "is_create_only",
]

#: The AWS services whose resources the registry describes (botocore service names).
SERVICES = ("cleanrooms", "cleanroomsml")

#: In ``ResourceType.identifiers``: "this resource's own id".
SELF = "@self"

OperationRole = Literal["create", "get", "list", "update", "delete"]


@dataclass(frozen=True)
class Reference:
    """A request field that points at another managed resource.

    Args:
        kind: the Kind pointed at.
        response_field: dotted path of the same value in Get/List responses (``membershipId``).
        field: which value of the target the API wants (``"id"`` or ``"arn"``).
        derive: for parents: the target's Address computed from this resource's own Address.
            Without it, observed values are mapped back through the id/ARN table.
    """

    kind: Kind
    response_field: str
    field: str = "id"
    derive: Callable[[Address], Address] | None = None


def _parent(kind: Kind, *meanings: str) -> Callable[[Address], Address]:
    return lambda a: Address(kind, tuple(a.part(m) for m in meanings))


@dataclass(frozen=True)
class ResourceType:
    """Everything the planner and the backend need to know about one resource type.

    Args:
        kind: the Kind described.
        service: the botocore name of the AWS service whose API manages it (``SERVICES``);
            its clients are made per (account, region, service).
        create, get, list, update, delete: operation names (None when the API has none).
        response_key: key of the resource in the Create/Get/Update response ("": the response
            is the resource itself, as in the ``cleanroomsml`` API).
        list_key: key of the summaries list in the List response.
        id_field, arn_field: the response members that hold its id and ARN (``cleanroomsml``
            resources are named by ARN only: ``trainingDatasetArn`` is both).
        singleton: at most one per parent and no List: the crawl reads it with a Get under its
            parent, and ResourceNotFoundException means there is none (an ML configuration, a
            configured audience model's policy).
        identifiers: request field -> where its value comes from: ``SELF`` (own id) or an
            attribute name (its value, often a Ref). Each operation takes those its input has.
        references: request field path -> Reference, for fields that point at other resources.
        follows: resources this one comes after although no field points at them, derived from
            its own Address (a membership follows its member: created after, deleted before).
        fields_shape: the shape whose members are the fields (default: the Create input).
        response_renames: response field -> request field, where the API names them apart.
        update_aliases: create field -> the Update input's name for it.
        delegated: fields sent on create but managed through another Kind (a collaboration's
            members are ``member`` resources), so never compared on this one.
        via_change_request: field -> collaboration change type that changes it in place.
        defaults: dotted path -> the value the service assumes when the field is absent.
        computed_if_absent: fields the service fills when the request omits them.
        outputs: response fields compared as attributes but never sent (a PySpark template's
            ``sourceMetadata``: the hashes AWS takes of its artifacts); create-only.
        ordered_lists: dotted paths of lists whose order the service keeps and means.
        create_first_on: create-only fields that are unique names: when one of them changes the
            new resource can be created before the old one is deleted.
        taggable: changes to ``tags`` go through TagResource/UntagResource.
        irreversible_delete: why deleting it can never be undone ("" when it can).
        caller: who makes the calls, in words.
        called_by_collaboration_owner: the calls are made by the collaboration's creator, not by
            the account the resource is about (members: change requests, DeleteMember).
    """

    kind: Kind
    create: str | None
    get: str | None
    list: str | None
    update: str | None
    delete: str | None
    response_key: str
    list_key: str
    identifiers: Mapping[str, str]
    service: str = "cleanrooms"
    id_field: str = "id"
    arn_field: str = "arn"
    singleton: bool = False
    references: Mapping[str, Reference] = field(default_factory=dict)
    follows: tuple[Callable[[Address], Address], ...] = ()
    fields_shape: str | None = None
    response_renames: Mapping[str, str] = field(default_factory=dict)
    update_aliases: Mapping[str, str] = field(default_factory=dict)
    delegated: frozenset[str] = frozenset()
    via_change_request: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    computed_if_absent: frozenset[str] = frozenset()
    outputs: frozenset[str] = frozenset()
    ordered_lists: frozenset[str] = frozenset()
    create_first_on: frozenset[str] = frozenset()
    taggable: bool = True
    irreversible_delete: str = ""
    caller: str = "the owner"
    called_by_collaboration_owner: bool = False

    # -- derived from the service model ---------------------------------------------------

    @property
    def model(self) -> ServiceModel:
        """botocore's model of this type's service."""
        return service_model(self.service)

    def resource_in(self, response: Mapping[str, Any]) -> Any:
        """The resource object of a Create/Get/Update response (None when it has none)."""
        return response if not self.response_key else response.get(self.response_key)

    def operation(self, role: OperationRole) -> str | None:
        """The API operation for a role (``"create"``, ``"update"``, ...), or None."""
        return getattr(self, role)  # type: ignore[no-any-return]

    @functools.cached_property
    def _fields_shape(self) -> StructureShape:
        model = self.model
        if self.fields_shape:
            shape = model.shape_for(self.fields_shape)
        else:
            assert self.create is not None, f"{self.kind}: needs create or fields_shape"
            shape = model.operation_model(self.create).input_shape
        assert isinstance(shape, StructureShape)
        return shape

    @functools.cached_property
    def fields(self) -> tuple[str, ...]:
        """Every attribute a desired resource of this type may carry (Create input members, outputs)."""
        return (*self._fields_shape.members, *sorted(self.outputs))

    @functools.cached_property
    def updatable(self) -> tuple[str, ...]:
        """Top-level fields an update changes in place (Update* input, tags, change requests)."""
        update_members = self._update_members()
        out = [
            f
            for f in self.fields
            if f not in self.delegated
            and (
                self.update_aliases.get(f, f) in update_members
                or f in self.via_change_request
                or (f == "tags" and self.taggable)
            )
            and f not in self.identifiers
        ]
        return tuple(out)

    @functools.cached_property
    def create_only(self) -> tuple[str, ...]:
        """Field paths whose change forces a replacement (dotted for nested ones).

        A top-level field is create-only when Update* lacks it; a structure that Update* also
        takes is compared member by member (``parameters.accessBudget.resourceArn``).
        """
        update_members = self._update_members()
        out: list[str] = []
        for name, shape in self._fields_shape.members.items():
            if name in self.delegated or name in self.via_change_request or name == "tags":
                continue
            alias = self.update_aliases.get(name, name)
            if alias not in update_members or name in self.identifiers:
                out.append(name)
            else:
                out.extend(_nested_create_only(name, shape, update_members[alias]))
        return (*out, *sorted(self.outputs))

    @functools.cached_property
    def clearing(self) -> Mapping[str, Any]:
        """Optional updatable fields Update* can clear, with the value that clears each.

        AWS has no "unset" in Update* requests: an omitted field keeps its value. A field is
        cleared by sending its empty value, which the service model must allow: ``""`` for a
        string whose minimum length is 0 (and whose pattern takes ``""``), ``[]`` / ``{}`` for a
        list / map with no minimum. Enums and structures have no empty value, so an optional
        field of those kinds cannot be removed in place (see ``cannot_clear``). ``canonical``
        treats a clearing value as absent, so a cleared field and an absent one compare equal.
        """
        update_members = self._update_members()
        required = set(self._fields_shape.required_members)
        out: dict[str, Any] = {}
        for name in self.updatable:
            shape = update_members.get(self.update_aliases.get(name, name))
            if name in required or shape is None:
                continue
            empty = _empty_value(shape)
            if empty is not _NO_EMPTY:
                out[name] = empty
        return out

    @functools.cached_property
    def cannot_clear(self) -> frozenset[str]:
        """Optional fields sent through Update* that no Update* request can remove again.

        Removing one from the spec forces a replacement (diff says so); tags and fields changed
        through change requests are removed by their own calls.
        """
        required = set(self._fields_shape.required_members)
        return frozenset(
            name
            for name in self.updatable
            if name not in required
            and name not in self.clearing
            and name != "tags"
            and name not in self.via_change_request
        )

    def _update_members(self) -> Mapping[str, Shape]:
        if self.update is None:
            return {}
        shape = self.model.operation_model(self.update).input_shape
        return dict(shape.members) if shape is not None else {}

    @property
    def parents(self) -> tuple[Kind, ...]:
        """Kinds this one depends on (from its references), in declaration order."""
        return tuple(dict.fromkeys(r.kind for r in self.references.values()))

    def compared(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """The attributes a diff compares: everything but delegated fields."""
        return {k: v for k, v in attributes.items() if k not in self.delegated}

    def request(
        self,
        role: OperationRole,
        resource: DesiredResource | ObservedResource,
        *,
        fields: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Build one operation's parameters for a resource (Refs left for apply to resolve).

        Args:
            role: which operation.
            resource: the desired resource (create, update) or observed one (get, delete).
            fields: for update: the top-level fields to send (default: every updatable field
                the Update input takes).

        Returns:
            The parameters: identifiers (``SELF`` as ``Ref(address, "id")``) plus, for create,
            every attribute, and for update the chosen fields under the Update input's names.
        """
        op = self.operation(role)
        if op is None:
            raise ValueError(f"{self.kind} has no {role} operation")
        accepted = self.model.operation_model(op).input_shape.members
        params: dict[str, Any] = {}
        for name, source in self.identifiers.items():
            if name not in accepted:
                continue
            if source == SELF:
                params[name] = Ref(resource.address, "id")
            elif source in resource.attributes:
                params[name] = resource.attributes[source]
        if role == "create":
            params.update({k: v for k, v in resource.attributes.items() if k in accepted})
            params = complete_request(op, params, service=self.service)
        elif role == "update":
            chosen = self.updatable if fields is None else tuple(fields)
            for name in chosen:
                alias = self.update_aliases.get(name, name)
                if alias not in accepted or name in params:
                    continue
                if name in resource.attributes:
                    params[alias] = resource.attributes[name]
                elif name in self.clearing:
                    params[alias] = copy.deepcopy(self.clearing[name])
        return params


def complete_request(
    operation: str, params: Mapping[str, Any], *, service: str = "cleanrooms"
) -> dict[str, Any]:
    """Parameters for ``operation`` with the required empty lists and maps put back.

    The normal form drops empty values (so ``[]`` and absent compare equal), but some requests
    require them (``memberAbilities: []`` for a member who may not query).

    Args:
        operation: the API operation name.
        params: its parameters (Refs allowed).
        service: the operation's service.

    Returns:
        A new dict.
    """
    out: dict[str, Any] = _with_required_empties(
        service_model(service).operation_model(operation).input_shape, params
    )
    return out


def _with_required_empties(shape: Shape, value: Any) -> Any:
    """Put back the required empty lists and maps that the normal form drops (``memberAbilities: []``)."""
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        out = {
            k: _with_required_empties(shape.members[k], v) if k in shape.members else v
            for k, v in value.items()
        }
        for name in shape.required_members:
            if name not in out and shape.members[name].type_name in ("list", "map"):
                out[name] = [] if shape.members[name].type_name == "list" else {}
        return out
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_with_required_empties(shape.member, v) for v in value]
    return value


_NO_EMPTY = object()


def _empty_value(shape: Shape) -> Any:
    """The empty value a request may carry for ``shape`` (``""``, ``[]``, ``{}``), or ``_NO_EMPTY``."""
    meta = shape.metadata
    if meta.get("min", 0) > 0:
        return _NO_EMPTY
    if shape.type_name == "string" and not shape.enum and re.fullmatch(meta.get("pattern", ".*"), ""):
        return ""
    if shape.type_name == "list":
        return []
    if shape.type_name == "map":
        return {}
    return _NO_EMPTY


def _nested_create_only(prefix: str, create_shape: Shape, update_shape: Shape) -> list[str]:
    if not (isinstance(create_shape, StructureShape) and isinstance(update_shape, StructureShape)):
        return []
    out: list[str] = []
    for name, shape in create_shape.members.items():
        path = f"{prefix}.{name}"
        if name not in update_shape.members:
            out.append(path)
        else:
            out.extend(_nested_create_only(path, shape, update_shape.members[name]))
    return out


_COLLAB = _parent(Kind.COLLABORATION, "collaboration")
_MEMBERSHIP_OF_OWNER = _parent(Kind.MEMBERSHIP, "collaboration", "owner")

_RULE_RENAMES = {"policy": "analysisRulePolicy", "type": "analysisRuleType"}
_JOIN_DEFAULTS = {
    "analysisRulePolicy.v1.aggregation.allowedJoinOperators": ["AND"],
    "analysisRulePolicy.v1.list.allowedJoinOperators": ["AND"],
}

#: Every managed resource type. Order = Kind order (parents first); the Clean Rooms ML types are
#: rows of ``ml_types`` (imported at the end of this module, as they build on the names above).
REGISTRY: dict[Kind, ResourceType] = {
    d.kind: d
    for d in (
        ResourceType(
            kind=Kind.COLLABORATION,
            create="CreateCollaboration",
            get="GetCollaboration",
            list="ListCollaborations",
            update="UpdateCollaboration",
            delete="DeleteCollaboration",
            response_key="collaboration",
            list_key="collaborationList",
            identifiers={"collaborationIdentifier": SELF},
            response_renames={"autoApprovedChangeTypes": "autoApprovedChangeRequestTypes"},
            delegated=frozenset(
                {
                    "members",
                    "creatorMemberAbilities",
                    "creatorMLMemberAbilities",
                    "creatorDisplayName",
                    "creatorPaymentConfiguration",
                }
            ),
            via_change_request={"autoApprovedChangeRequestTypes": "EDIT_AUTO_APPROVED_CHANGE_TYPES"},
            defaults={"isMetricsEnabled": False},
            irreversible_delete="deleting a collaboration ends every member's access to it for good",
            caller="the collaboration creator",
        ),
        ResourceType(
            kind=Kind.MEMBER,
            create=None,  # created by CreateCollaboration or an ADD_MEMBER change request
            get=None,
            list="ListMembers",
            update=None,  # abilities change through GRANT/REVOKE change requests
            delete="DeleteMember",
            response_key="member",
            list_key="memberSummaries",
            identifiers={"collaborationIdentifier": "collaborationIdentifier", "accountId": "accountId"},
            references={
                "collaborationIdentifier": Reference(Kind.COLLABORATION, "collaborationId", derive=_COLLAB)
            },
            fields_shape="MemberSpecification",
            response_renames={"abilities": "memberAbilities", "mlAbilities": "mlMemberAbilities"},
            via_change_request={
                "memberAbilities": "GRANT_RECEIVE_RESULTS_ABILITY/REVOKE_RECEIVE_RESULTS_ABILITY",
                "mlMemberAbilities": "GRANT_/REVOKE_CAN_RECEIVE_MODEL_OUTPUT and _INFERENCE_OUTPUT",
            },
            taggable=False,
            irreversible_delete="a removed member can never rejoin the collaboration",
            caller="the collaboration creator",
            called_by_collaboration_owner=True,
        ),
        ResourceType(
            kind=Kind.MEMBERSHIP,
            create="CreateMembership",
            get="GetMembership",
            list="ListMemberships",
            update="UpdateMembership",
            delete="DeleteMembership",
            response_key="membership",
            list_key="membershipSummaries",
            identifiers={"membershipIdentifier": SELF},
            references={
                "collaborationIdentifier": Reference(Kind.COLLABORATION, "collaborationId", derive=_COLLAB)
            },
            follows=(_parent(Kind.MEMBER, "collaboration", "member"),),
            update_aliases={"paymentConfiguration": "membershipPaymentConfiguration"},
            defaults={"isMetricsEnabled": False},
            irreversible_delete="deleting a membership is leaving the collaboration; a member cannot rejoin",
            caller="the member",
        ),
        ResourceType(
            kind=Kind.CONFIGURED_TABLE,
            create="CreateConfiguredTable",
            get="GetConfiguredTable",
            list="ListConfiguredTables",
            update="UpdateConfiguredTable",
            delete="DeleteConfiguredTable",
            response_key="configuredTable",
            list_key="configuredTableSummaries",
            identifiers={"configuredTableIdentifier": SELF},
            ordered_lists=frozenset({"tableReference.snowflake.tableSchema.v1"}),
            caller="the table owner",
        ),
        ResourceType(
            kind=Kind.ANALYSIS_RULE,
            create="CreateConfiguredTableAnalysisRule",
            get="GetConfiguredTableAnalysisRule",
            list=None,  # at most one per table; found through the table's analysisRuleTypes
            update="UpdateConfiguredTableAnalysisRule",
            delete="DeleteConfiguredTableAnalysisRule",
            response_key="analysisRule",
            list_key="",
            identifiers={
                "configuredTableIdentifier": "configuredTableIdentifier",
                "analysisRuleType": "analysisRuleType",
            },
            references={
                "configuredTableIdentifier": Reference(
                    Kind.CONFIGURED_TABLE,
                    "configuredTableId",
                    derive=_parent(Kind.CONFIGURED_TABLE, "owner", "table"),
                )
            },
            response_renames=_RULE_RENAMES,
            defaults=_JOIN_DEFAULTS,
            taggable=False,
            caller="the table owner",
        ),
        ResourceType(
            kind=Kind.ASSOCIATION,
            create="CreateConfiguredTableAssociation",
            get="GetConfiguredTableAssociation",
            list="ListConfiguredTableAssociations",
            update="UpdateConfiguredTableAssociation",
            delete="DeleteConfiguredTableAssociation",
            response_key="configuredTableAssociation",
            list_key="configuredTableAssociationSummaries",
            identifiers={
                "membershipIdentifier": "membershipIdentifier",
                "configuredTableAssociationIdentifier": SELF,
            },
            references={
                "membershipIdentifier": Reference(
                    Kind.MEMBERSHIP, "membershipId", derive=_MEMBERSHIP_OF_OWNER
                ),
                "configuredTableIdentifier": Reference(Kind.CONFIGURED_TABLE, "configuredTableId"),
            },
            create_first_on=frozenset({"name"}),
            caller="the table owner",
        ),
        ResourceType(
            kind=Kind.ASSOCIATION_RULE,
            create="CreateConfiguredTableAssociationAnalysisRule",
            get="GetConfiguredTableAssociationAnalysisRule",
            list=None,
            update="UpdateConfiguredTableAssociationAnalysisRule",
            delete="DeleteConfiguredTableAssociationAnalysisRule",
            response_key="analysisRule",
            list_key="",
            identifiers={
                "membershipIdentifier": "membershipIdentifier",
                "configuredTableAssociationIdentifier": "configuredTableAssociationIdentifier",
                "analysisRuleType": "analysisRuleType",
            },
            references={
                "membershipIdentifier": Reference(
                    Kind.MEMBERSHIP, "membershipIdentifier", derive=_MEMBERSHIP_OF_OWNER
                ),
                "configuredTableAssociationIdentifier": Reference(
                    Kind.ASSOCIATION,
                    "configuredTableAssociationId",
                    derive=_parent(Kind.ASSOCIATION, "collaboration", "owner", "name"),
                ),
            },
            response_renames=_RULE_RENAMES,
            taggable=False,
            caller="the table owner",
        ),
        ResourceType(
            kind=Kind.ANALYSIS_TEMPLATE,
            create="CreateAnalysisTemplate",
            get="GetAnalysisTemplate",
            list="ListAnalysisTemplates",
            update="UpdateAnalysisTemplate",
            delete="DeleteAnalysisTemplate",
            response_key="analysisTemplate",
            list_key="analysisTemplateSummaries",
            identifiers={"membershipIdentifier": "membershipIdentifier", "analysisTemplateIdentifier": SELF},
            references={
                "membershipIdentifier": Reference(
                    Kind.MEMBERSHIP, "membershipId", derive=_MEMBERSHIP_OF_OWNER
                )
            },
            computed_if_absent=frozenset({"schema", "sourceMetadata"}),
            outputs=frozenset({"sourceMetadata"}),
            ordered_lists=frozenset({"analysisParameters"}),
            create_first_on=frozenset({"name"}),
            caller="the template's author",
        ),
        ResourceType(
            kind=Kind.PRIVACY_BUDGET_TEMPLATE,
            create="CreatePrivacyBudgetTemplate",
            get="GetPrivacyBudgetTemplate",
            list="ListPrivacyBudgetTemplates",
            update="UpdatePrivacyBudgetTemplate",
            delete="DeletePrivacyBudgetTemplate",
            response_key="privacyBudgetTemplate",
            list_key="privacyBudgetTemplateSummaries",
            identifiers={
                "membershipIdentifier": "membershipIdentifier",
                "privacyBudgetTemplateIdentifier": SELF,
                "privacyBudgetType": "privacyBudgetType",
            },
            references={
                "membershipIdentifier": Reference(
                    Kind.MEMBERSHIP, "membershipId", derive=_MEMBERSHIP_OF_OWNER
                ),
                "parameters.accessBudget.resourceArn": Reference(
                    Kind.ASSOCIATION, "parameters.accessBudget.resourceArn", field="arn"
                ),
            },
            computed_if_absent=frozenset({"autoRefresh"}),
            caller="the member who owns the budgeted tables",
        ),
    )
}


from reconciler.planner.ml_types import ML_TYPES  # noqa: E402 - its rows use ResourceType and _parent

REGISTRY.update({d.kind: d for d in ML_TYPES})

from reconciler.planner.id_types import ID_TYPES  # noqa: E402 - likewise

REGISTRY.update({d.kind: d for d in ID_TYPES})


def descriptor(kind: Kind | str) -> ResourceType:
    """The ResourceType of a Kind.

    Args:
        kind: a Kind or its value.

    Returns:
        The registered descriptor.
    """
    return REGISTRY[Kind(kind)]


def is_create_only(kind: Kind, path: str) -> bool:
    """Whether changing the field at ``path`` (dotted, may index lists) forces a replacement.

    Args:
        kind: the resource's Kind.
        path: e.g. ``parameters.accessBudget.resourceArn`` or ``allowedColumns[2]``.

    Returns:
        True if ``path`` is, or lies inside, a create-only field.
    """
    bare = path.split("[", 1)[0]
    return any(bare == p or bare.startswith(p + ".") for p in descriptor(kind).create_only)
