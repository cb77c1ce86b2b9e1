"""Layer 3 of validation: the semantic checks, as a visible pipeline of small named functions.

Layers 1 and 2 (shape and types; AWS's limits from botocore) have run when these do, so every
field has the right type and every enum value is one AWS knows. The checks here look across
resources: references between them, rules that contradict each other, what AWS would refuse
at apply time, and the privacy mistakes AWS would happily accept. They live by subject in
``collaborations``, ``references``, ``analysis_rules`` and ``moves``, sharing ``view``.

Each function in ``CHECKS`` is a ``Check``: it takes the loaded ``Stack`` and yields
``Diagnostic``s; it never raises for bad input. Its docstring's ``Codes:`` section lists the
stable ``code`` of every Diagnostic it makes, its severity, what it catches and the usual fix;
the README's table of checks is generated from those docstrings (``spec.catalog``), so it cannot
go stale.

Position: every Diagnostic points at the YAML node that is wrong, through ``stack.locate``.
Template SQL is checked separately, in ``reconciler.spec.sql_checks`` (layer 4).
"""

from __future__ import annotations

from reconciler.spec.checks.analysis_rules import (
    check_aggregation_rule,
    check_associations,
    check_custom_rule,
    check_differential_privacy,
    check_list_rule,
    check_rule_columns,
    check_rule_engine,
)
from reconciler.spec.checks.collaborations import (
    check_analytics_engine,
    check_creator_is_member,
    check_member_accounts,
    check_membership_payment,
    check_payment,
    check_query_abilities,
    check_result_configuration,
    check_role_accounts,
)
from reconciler.spec.checks.identity import check_identity
from reconciler.spec.checks.ml import check_ml_channels, check_ml_references
from reconciler.spec.checks.moves import check_moved
from reconciler.spec.checks.references import (
    check_collaboration_references,
    check_duplicate_addresses,
    check_local_data,
    check_member_references,
    check_owners,
    check_table_regions,
    check_template_references,
)
from reconciler.spec.stack import Check

__all__ = ["CHECKS"]

#: Layer 3, in the order they run; each is small, named, and documented in the README table.
CHECKS: tuple[Check, ...] = (
    check_duplicate_addresses,
    check_creator_is_member,
    check_member_accounts,
    check_query_abilities,
    check_payment,
    check_membership_payment,
    check_analytics_engine,
    check_result_configuration,
    check_role_accounts,
    check_collaboration_references,
    check_owners,
    check_member_references,
    check_template_references,
    check_local_data,
    check_table_regions,
    check_rule_columns,
    check_aggregation_rule,
    check_list_rule,
    check_custom_rule,
    check_differential_privacy,
    check_rule_engine,
    check_associations,
    check_moved,
    check_ml_references,
    check_ml_channels,
    check_identity,
)
