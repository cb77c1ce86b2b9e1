"""ID namespace associations and ID mapping tables: registry rows and desired resources of the AMC example."""

from __future__ import annotations

from reconciler.planner import desired
from reconciler.planner.addresses import Address, Kind
from reconciler.planner.registry import descriptor, is_create_only
from reconciler.planner.resource import Ref
from reconciler.spec import load_stack


def test_the_entity_resolution_reference_is_create_only_and_names_update_in_place() -> None:
    assert is_create_only(Kind.ID_NAMESPACE_ASSOCIATION, "inputReferenceConfig.inputReferenceArn")
    assert is_create_only(Kind.ID_MAPPING_TABLE, "inputReferenceConfig")
    assert is_create_only(Kind.ID_MAPPING_TABLE, "name")  # UpdateIdMappingTable takes no name
    assert "name" in descriptor(Kind.ID_NAMESPACE_ASSOCIATION).updatable
    assert "idMappingConfig" in descriptor(Kind.ID_NAMESPACE_ASSOCIATION).updatable
    assert "kmsKeyArn" in descriptor(Kind.ID_MAPPING_TABLE).updatable


def test_the_amc_example_declares_two_namespaces_and_a_mapping_table_after_them() -> None:
    resources = {r.address: r for r in desired.resources(load_stack("specs/amc-multiparty"))}
    collab = "amc-outdoor-co-insights"
    source = Address.of(Kind.ID_NAMESPACE_ASSOCIATION, collab, "advertiser", "advertiser first-party ids")
    target = Address.of(Kind.ID_NAMESPACE_ASSOCIATION, collab, "retail_media", "amazon ids")
    table = Address.of(Kind.ID_MAPPING_TABLE, collab, "amc_service", "advertiser_to_amazon")
    assert {source, target, table} <= set(resources)
    attrs = resources[source].attributes
    assert "localNamespace" not in attrs and "owner" not in attrs  # local data is never sent
    assert attrs["membershipIdentifier"] == Ref(Address.of(Kind.MEMBERSHIP, collab, "advertiser"))
    assert resources[source].account_id == "482910375618"
    assert "localWorkflow" not in resources[table].attributes
    assert {source, target} <= set(resources[table].depends_on)
