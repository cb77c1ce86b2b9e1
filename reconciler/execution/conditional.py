"""Conditional reads: the resource types that may reuse their last full read while their summary is the same.

A List summary carries ``updateTime`` (and status, ``analysisRuleTypes``...). When the summary of
a resource equals the one the state recorded at its last full read (``Read.listed``: a digest of
the whole summary, so its ``updateTime`` and every other field it shows), a plan reuses the
recorded Get response instead of calling Get again. That holds only for changes that move the
summary, so each resource type is a row of ``CONDITIONAL`` below: the summary field the reuse
rests on, what does NOT move it, and which other read covers that. A type without a row is
always read (no List summary with ``updateTime``, few per stack, or unsure).

Tags never move ``updateTime`` (in the emulator, and AWS does not document that they do: the
safer answer), so tags are never reused: every taggable resource's ``ListTagsForResource`` is
made on every read, which also re-checks that it still carries this stack's identity tags.
Sub-resources without a List of their own (analysis rules, association analysis rules, an
audience model's policy, an ML configuration) have an ``updateTime`` no summary shows: they are
always read with their Get. ``--refresh=summaries`` trusts an unchanged summary for those too
(the crawl reuses the recorded tags and children's reads: fewest calls, blind to such changes
until ``apply`` or ``drift``, which read everything). ``--refresh=full`` (and ``drift``, by
default) reads everything.

The emulator moves ``updateTime`` on every Update* of a resource, as AWS does for the resources
whose documentation names the field "the time the resource was last updated".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.planner.addresses import Kind

__all__ = ["ALWAYS_READ", "CONDITIONAL", "Conditional", "listed_digest"]


@dataclass(frozen=True)
class Conditional:
    """One resource type whose Get may be skipped when its List summary is unchanged.

    Args:
        field: the summary field the reuse rests on (its List's summary shape has it).
        not_moved: what can change without moving it.
        covered_by: the read that finds those changes anyway.
    """

    field: str
    not_moved: str
    covered_by: str


_TAGS = "tags (TagResource/UntagResource)"
_TAG_READ = "ListTagsForResource, made for every taggable resource on every read"

#: Resource type -> why it is read on every plan, conditional reads or not.
ALWAYS_READ: Mapping[Kind, str] = {
    Kind.COLLABORATION: "one per stack; member abilities, payment and auto-approved change types change"
    " through change requests, whose effect on updateTime AWS does not document",
    Kind.MEMBER: "ListMembers is its only read (there is no Get)",
    Kind.MEMBERSHIP: "a few per stack; its abilities change through the collaboration's change requests"
    " (their effect on updateTime is undocumented)",
    Kind.ANALYSIS_RULE: "its own updateTime is in no List summary, and AWS does not document that"
    " updating a rule moves its table's",
    Kind.ASSOCIATION_RULE: "its own updateTime is in no List summary, and AWS does not document that"
    " updating it moves its association's",
    Kind.AUDIENCE_MODEL: "its request fields hold timestamps, which the recorded response keeps only as text",
    Kind.CONFIGURED_AUDIENCE_MODEL_POLICY: "a singleton without a List",
    Kind.ML_CONFIGURATION: "a singleton without a List",
}

#: Resource type -> why its Get may be skipped (every other type: ``ALWAYS_READ``).
CONDITIONAL: Mapping[Kind, Conditional] = {
    Kind.CONFIGURED_TABLE: Conditional(
        "updateTime",
        f"{_TAGS}; its analysis rule (a sub-resource with its own updateTime)",
        f"{_TAG_READ}; GetConfiguredTableAnalysisRule per rule type (analysisRuleTypes is in the summary)",
    ),
    Kind.ASSOCIATION: Conditional(
        "updateTime",
        f"{_TAGS}; its analysis rule (own updateTime)",
        f"{_TAG_READ}; GetConfiguredTableAssociationAnalysisRule per rule type (analysisRuleTypes is in"
        " the summary)",
    ),
    Kind.ANALYSIS_TEMPLATE: Conditional("updateTime", _TAGS, _TAG_READ),
    Kind.PRIVACY_BUDGET_TEMPLATE: Conditional("updateTime", _TAGS, _TAG_READ),
    Kind.TRAINING_DATASET: Conditional("updateTime", f"{_TAGS} (no Update: immutable)", _TAG_READ),
    Kind.CONFIGURED_AUDIENCE_MODEL: Conditional(
        "updateTime",
        f"{_TAGS}; its policy (PutConfiguredAudienceModelPolicy, a singleton without a List)",
        f"{_TAG_READ}; GetConfiguredAudienceModelPolicy on every read",
    ),
    Kind.CONFIGURED_AUDIENCE_MODEL_ASSOCIATION: Conditional("updateTime", _TAGS, _TAG_READ),
    Kind.CONFIGURED_MODEL_ALGORITHM: Conditional("updateTime", f"{_TAGS} (no Update: immutable)", _TAG_READ),
    Kind.CONFIGURED_MODEL_ALGORITHM_ASSOCIATION: Conditional(
        "updateTime", f"{_TAGS} (no Update: immutable)", _TAG_READ
    ),
    Kind.ML_INPUT_CHANNEL: Conditional(
        "updateTime", f"{_TAGS} (no Update; its status is in the summary)", _TAG_READ
    ),
    Kind.ID_NAMESPACE_ASSOCIATION: Conditional("updateTime", _TAGS, _TAG_READ),
    Kind.ID_MAPPING_TABLE: Conditional("updateTime", _TAGS, _TAG_READ),
}


def listed_digest(kind: Kind, summary: Mapping[str, Any]) -> str | None:
    """A digest of a List summary, for a type of ``CONDITIONAL`` whose summary has its field.

    The whole summary is hashed (``updateTime``, status, ``analysisRuleTypes``, name...), so any
    change a List shows means a Get.

    Args:
        kind: the resource's Kind.
        summary: the summary item as the List returned it.

    Returns:
        The digest, or None when the type is always read (or the summary lacks the field).

    >>> listed_digest(Kind.CONFIGURED_TABLE, {"id": "t", "updateTime": 1.0}) == listed_digest(
    ...     Kind.CONFIGURED_TABLE, {"updateTime": 1.0, "id": "t"})
    True
    >>> listed_digest(Kind.CONFIGURED_TABLE, {"id": "t"}) is None
    True
    >>> listed_digest(Kind.COLLABORATION, {"id": "c", "updateTime": 1.0}) is None
    True
    """
    row = CONDITIONAL.get(kind)
    if row is None or summary.get(row.field) is None:
        return None
    text = json.dumps(summary, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
