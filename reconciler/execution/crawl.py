"""The crawl: one read of a stack's resources through the clients, fast, as one State.

``Crawl.run`` reads every member account on a bounded thread pool: the top-level List calls per
account, ``ListTagsForResource`` to keep only the resources tagged with this stack, a Get per
managed resource (skipped, with ``refresh="changed"``, when the List summary equals the one
recorded at the last full read: ``execution.conditional``), then the children of each (a List
under the parent, or the parent's ``analysisRuleTypes`` for kinds without a List). With
``refresh="summaries"`` an unchanged summary is trusted for the tags and the List-less children
too: neither ``ListTagsForResource`` nor their Gets are made. Each call is a task
of its own that queues its follow-ups, so the pool stays busy across the levels. Resources
found are then named (members by member key), their references turned back into Refs, and
returned as a ``State``.

Everything it knows about resource types comes from the descriptors in ``planner.registry``:
which List finds a kind, which Get reads it, which parameters address it, which kind it lives
under. There is no per-kind code here.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from reconciler.collector import collector_paused, older_objects_frozen
from reconciler.errors import BackendError
from reconciler.execution.clients import Account, Accounts
from reconciler.execution.conditional import CONDITIONAL, listed_digest
from reconciler.execution.state import ADDRESS_TAG, STACK_TAG, Read, State
from reconciler.planner.addresses import NAME_PARTS, Address, Kind, parse
from reconciler.planner.normal_form import normalize_observed
from reconciler.planner.registry import REGISTRY, SELF, ResourceType, descriptor
from reconciler.planner.resource import ObservedResource, encode

__all__ = ["Crawl", "ReadCall", "Tally", "own_id"]

#: One read call with retries: (account, operation, parameters, service) -> response.
ReadCall = Callable[[Account, str, Mapping[str, Any], str], dict[str, Any]]
#: A unit of the crawl's work; it returns the tasks that follow from what it found.
Task = Callable[[], list[Callable[[], Any]]]

#: Statuses that mean the resource is gone for good (they are not observed state)... INACTIVE is
#: an ML input channel whose data was deleted (the API has no other delete for it)...
_GONE_STATUSES = frozenset({"REMOVED", "LEFT", "COLLABORATION_DELETED", "DELETED", "INACTIVE"})
#: ... except a member's: one that left or was removed can never rejoin, so the plan must know it
#: (to refuse adding it back), and it is observed with its final status (``ObservedResource.gone``).
_FINAL_MEMBER_STATUSES = frozenset({"LEFT", "REMOVED"})


@dataclass
class _Found:
    """A resource met during the crawl, before normalization."""

    kind: Kind
    address: Address
    account: Account
    raw: dict[str, Any]
    tags: dict[str, str] | None
    context: dict[str, str]  # identifier parameters that address it (and its children)
    parent: Address | None = None  # for untaggable kinds: named after their parent
    managed: bool = True  # False for an adopted resource (``existing: true``) and its untagged children
    under: _Found | None = None  # the resource it was found under (untaggable kinds)
    listed: str = ""  # digest of its List summary (conditional types), recorded with the read
    update_time: str = ""  # that summary's updateTime, as text
    trusted: bool = False  # reused with its recorded tags (``summaries``): so are its children


@dataclass
class Tally:
    """How far a read has got, for a progress line: calls finished and calls known so far.

    ``known`` grows while the read finds resources (each has calls of its own to make).
    """

    done: int = 0
    known: int = 0


class Crawl:
    """One read of ``stack``: what was found so far, shared by the workers under one lock.

    Args:
        stack: the stack name (value of the ``reconciler:stack`` tag).
        accounts: the accounts to read from (a member met during the read may join them).
        call: makes one read call, with retries.
        known: the cached State; its addresses help name members of accounts that have left
            the spec, and its regions are read too (a collaboration the spec moved to another
            region is still found where it is). The cloud, not the cache, decides what exists.
        adopt: resources made outside the stack (``existing: true``), by Address: (id, name).
            They are found by id, else by name, and observed as unmanaged (never deleted).
        foreign: resources of members whose accounts the backend cannot act as (``--as`` on
            AWS), by Address: name. They are read through a readable member's view (a
            collaboration its members see), unmanaged, so references to them resolve.
    """

    def __init__(
        self,
        stack: str,
        *,
        accounts: Accounts,
        call: ReadCall,
        known: State | None = None,
        refresh: str = "full",
        adopt: Mapping[Address, tuple[str | None, str | None]] | None = None,
        foreign: Mapping[Address, str] | None = None,
    ) -> None:
        self.stack = stack
        self.known = known if refresh != "full" and known is not None else State({}, stack)
        #: ``summaries``: a managed resource whose summary is unchanged keeps its recorded tags
        #: and children; by ARN, as a List names it.
        self.trusted = {r.arn: r for r in self.known if r.arn and r.managed} if refresh == "summaries" else {}
        #: Gets skipped because the List summary was unchanged (conditional reads).
        self.reused = 0
        self.accounts = accounts
        self.call = call
        #: Address -> every resource found there (tags can claim one address twice: ``_state`` picks).
        self.found: dict[Address, list[_Found]] = {}
        self.seen_arns: set[str] = set()
        #: Things the user should know about the read (bad tags, members that cannot be read).
        self.problems: list[str] = []
        self.adopt = {
            f"id:{rid}" if rid else f"name:{a.kind}:{name}": a for a, (rid, name) in (adopt or {}).items()
        }
        self.foreign = {(a.kind, name): a for a, name in (foreign or {}).items()}
        self.member_keys = dict(accounts.names)
        for resource in known or ():
            if resource.address.kind is Kind.MEMBER and resource.account_id:
                self.member_keys.setdefault(resource.account_id, resource.address.part("member"))
            if resource.region and resource.account_id and resource.kind is not Kind.MEMBER:
                # the spec may have moved its collaboration elsewhere: still read where it was
                accounts.also_in(resource.account_id, resource.region)
        self.lock = threading.Lock()

    def run(self, parallelism: int, tally: Tally | None = None, stop: threading.Event | None = None) -> State:
        """Crawl every account with ``parallelism`` workers and return what was found.

        Args:
            parallelism: worker threads.
            tally: counts the calls as they are queued and finished (a progress line reads it).
            stop: once set (Ctrl-C), queued calls are skipped and, when the calls in flight have
                ended, ``KeyboardInterrupt`` is raised.

        Returns:
            The observed State (normalized attributes, ids, ARNs, owners).

        Raises:
            BackendError: the first call that failed (after its retries); the read stops.
        """
        tasks = [task for account in self.accounts for task in self._roots(account)]
        with older_objects_frozen():
            _run_all(tasks, parallelism, tally or Tally(), stop or threading.Event())
            with collector_paused():
                return self._state()

    # -- tasks --------------------------------------------------------------------------------

    def _roots(self, account: Account) -> list[Task]:
        """The top-level List calls of one account (kinds found without a parent)."""
        roots = [d for d in REGISTRY.values() if d.list and not _list_parent(d)]
        return [self._list(d, account, None, {}) for d in roots]

    def _list(
        self,
        d: ResourceType,
        account: Account,
        parent: _Found | None,
        context: Mapping[str, str],
        token: str | None = None,
    ) -> Task:
        """One page of ``d.list`` (the next page is a follow-up task)."""

        def task() -> list[Callable[[], Any]]:
            assert d.list is not None
            accepted = _inputs(d, d.list)
            params: dict[str, Any] = {k: v for k, v in context.items() if k in accepted}
            if "status" in accepted and "ACTIVE" in _enum(d, d.list, "status"):
                params["status"] = "ACTIVE"
            if token:
                params["nextToken"] = token
            page = self.call(account, d.list, params, d.service)
            out: list[Callable[[], Any]] = []
            if page.get("nextToken"):
                out.append(self._list(d, account, parent, context, page["nextToken"]))
            for item in page.get(d.list_key, []):
                final = d.kind is Kind.MEMBER and item.get("status") in _FINAL_MEMBER_STATUSES
                gone = item.get("status") in _GONE_STATUSES or item.get("memberStatus") in _GONE_STATUSES
                if gone and not final:
                    continue
                if d.taggable:
                    out.extend(self._summary(d, account, item, context))
                elif parent is not None:
                    address = _untagged_address(d.kind, parent.address, item, self.member_keys)
                    found = _Found(d.kind, address, account, dict(item), None, dict(context), parent.address)
                    found.managed = parent.managed
                    found.under = parent
                    out.extend(self._record(found))
                    out.extend(self._discovered(found))
            return out

        return task

    def _summary(
        self, d: ResourceType, account: Account, item: Mapping[str, Any], context: Mapping[str, str]
    ) -> list[Task]:
        """What to do about a taggable resource a List returned: its tags, or its Get, or nothing."""
        arn = str(item.get(d.arn_field, ""))
        owner = _arn_account(arn)
        if owner != account.account_id:
            # another account's resource, seen through a shared collaboration: read it here only
            # when its owner cannot be read and the stack names it
            hint = self.foreign.get((d.kind, str(item.get("name"))))
            if self.accounts.get(owner) is not None or hint is None or not self._first_sight(arn):
                return []
            params = {**context, **{k: item[d.id_field] for k, v in d.identifiers.items() if v == SELF}}
            return [self._get(d, account, hint, params, None, managed=False)]
        if not self._first_sight(arn):
            return []
        recorded = self.trusted.get(arn)
        if recorded is not None:
            params = {**context, **{k: item[d.id_field] for k, v in d.identifiers.items() if v == SELF}}
            found = self._reusable(
                d, account, recorded.address, item, listed_digest(d.kind, item), None, params
            )
            if found is not None:
                found.trusted = True
                return self._record(found)
        return [self._tags(d, account, item, context)]

    def _first_sight(self, arn: str) -> bool:
        with self.lock:
            if arn in self.seen_arns:
                return False
            self.seen_arns.add(arn)
            return True

    def _tags(
        self, d: ResourceType, account: Account, summary: Mapping[str, Any], context: Mapping[str, str]
    ) -> Task:
        """ListTagsForResource; only resources tagged with this stack go on to a Get."""

        def task() -> list[Callable[[], Any]]:
            arn, rid = summary[d.arn_field], summary[d.id_field]
            listed = self.call(account, "ListTagsForResource", {"resourceArn": arn}, d.service)
            tags = dict(listed["tags"])
            params = {**context, **{k: rid for k, v in d.identifiers.items() if v == SELF}}
            if tags.get(STACK_TAG) != self.stack:
                adopted = self.adopt.get(f"id:{rid}") or self.adopt.get(
                    f"name:{d.kind}:{summary.get('name')}"
                )
                if adopted is None:
                    return []
                return [self._get(d, account, adopted, params, tags, managed=False)]
            try:
                address = parse(tags.get(ADDRESS_TAG, ""))
            except ValueError as exc:
                with self.lock:
                    self.problems.append(f"{arn}: bad {ADDRESS_TAG} tag ({exc}); ignored")
                return []
            digest = listed_digest(d.kind, summary)
            found = self._reusable(d, account, address, summary, digest, tags, params)
            if found is not None:
                return self._record(found)
            if digest is None:
                return [self._get(d, account, address, params, tags)]
            update_time = str(summary.get(CONDITIONAL[d.kind].field))
            return [self._get(d, account, address, params, tags, listed=(digest, update_time))]

        return task

    def _reusable(
        self,
        d: ResourceType,
        account: Account,
        address: Address,
        summary: Mapping[str, Any],
        listed: str | None,
        tags: dict[str, str] | None,
        params: Mapping[str, str],
    ) -> _Found | None:
        """The resource as its last full read saw it, when its List summary has not changed since.

        ``tags`` None: the tags that read recorded (``summaries``); without them, None.
        """
        if listed is None:
            return None
        read = self.known.reads.get(address)
        recorded = self.known.get(address)
        if read is None or recorded is None or read.listed != listed:
            return None
        if tags is None:
            if read.tags is None:
                return None
            tags = dict(read.tags)
        if recorded.arn != summary.get(d.arn_field) or recorded.region != account.region:
            return None
        with self.lock:
            self.reused += 1
        found = _Found(d.kind, address, account, dict(read.raw), tags, dict(params))
        found.listed, found.update_time = read.listed, read.update_time
        return found

    def _get(
        self,
        d: ResourceType,
        account: Account,
        address: Address,
        context: Mapping[str, str],
        tags: dict[str, str] | None,
        *,
        managed: bool = True,
        under: _Found | None = None,
        listed: tuple[str, str] | None = None,
    ) -> Task:
        """The Get of one managed resource, then the crawl of its children.

        ``listed`` (summary digest, its updateTime) is recorded with the response, for the next
        conditional read.

        For a ``singleton`` kind (no List) the Get is how the crawl learns whether there is one:
        ResourceNotFoundException means there is none.
        """

        def task() -> list[Callable[[], Any]]:
            assert d.get is not None
            accepted = _inputs(d, d.get)
            try:
                raw = self.call(
                    account, d.get, {k: v for k, v in context.items() if k in accepted}, d.service
                )
            except BackendError as exc:
                if d.singleton and exc.code == "ResourceNotFoundException":
                    return []
                raise
            found = _Found(d.kind, address, account, dict(d.resource_in(raw)), tags, dict(context))
            found.managed = managed
            found.under = under
            if listed is not None:
                found.listed, found.update_time = listed
            return self._record(found)

        return task

    def _record(self, found: _Found) -> list[Callable[[], Any]]:
        """Keep a found resource and return the tasks that find its children."""
        with self.lock:
            self.found.setdefault(found.address, []).append(found)
        out: list[Callable[[], Any]] = []
        for child in _children(found.kind):
            if child.list:
                out.append(self._list(child, found.account, found, found.context))
                continue
            if child.singleton:
                out.extend(self._child(child, found, found.context, "", under=None))
                continue
            # No List operation: the parent's response names the children's types.
            for key in (k for k in child.identifiers if child.identifiers[k] != SELF):
                if key in found.context or f"{key}s" not in found.raw:
                    continue
                for value in found.raw[f"{key}s"]:
                    params = {**found.context, key: value}
                    out.extend(self._child(child, found, params, f"{key}={value}", under=found))
        return out

    def _child(
        self, child: ResourceType, found: _Found, params: Mapping[str, str], which: str, under: _Found | None
    ) -> list[Callable[[], Any]]:
        """The Get of a List-less child of ``found``; with ``summaries``, its recorded read instead.

        Its read is recorded under its parent's summary digest and ``which`` of its kind it is,
        so a child is reused only while its parent's summary (``analysisRuleTypes``...) holds.
        """
        address = Address(child.kind, found.address.parts)
        listed = (f"{found.listed}/{which}", found.update_time) if found.listed else None
        read = self.known.reads.get(address) if found.trusted else None
        if listed is None or read is None or read.listed != listed[0]:
            return [
                self._get(
                    child,
                    found.account,
                    address,
                    params,
                    None,
                    managed=found.managed,
                    under=under,
                    listed=listed,
                )
            ]
        with self.lock:
            self.reused += 1
        reused = _Found(child.kind, address, found.account, dict(read.raw), None, dict(params))
        reused.managed, reused.under = found.managed, under
        reused.listed, reused.update_time = read.listed, read.update_time
        return self._record(reused)

    def _discovered(self, found: _Found) -> list[Task]:
        """A member account the spec no longer names: crawl it too, when the clients can act as it.

        Locally every account is simulated, so resources of a member removed from the spec are
        still found (and deleted). On AWS there are no credentials for it; it is noted instead.
        """
        account_id = str(found.raw.get("accountId", ""))
        if not account_id:
            return []
        key = self.member_keys.get(account_id, account_id)
        account = self.accounts.join(account_id, member=key, region=found.account.region)
        if account is not None:
            return self._roots(account)
        if self.accounts.first_refusal(account_id):
            with self.lock:
                self.problems.append(
                    f"account {account_id} is a member of {found.parent} but not of the spec;"
                    " its resources are not read (no credentials for it)"
                )
        return []

    # -- the result -----------------------------------------------------------------------------

    def _identified(self) -> list[_Found]:
        """One resource per address: the one whose parents are the stack's, parents first.

        Tags say which address a resource claims; its own parent identifiers say whether the
        claim holds. A membership whose collaboration is not the one at its parent address (a
        collaboration deleted and made again, a copied tag), or anything under a parent that was
        not identified, is never taken for the stack's resource: the read notes it instead.
        """
        chosen: dict[Address, _Found] = {}
        for address in sorted(self.found):
            candidates = [f for f in self.found[address] if self._holds(f, chosen)]
            if len(candidates) > 1:
                self.problems.append(f"two resources carry the address {address}; keeping the first")
            if candidates:
                chosen[address] = candidates[0]
        return list(chosen.values())

    def _holds(self, f: _Found, chosen: Mapping[Address, _Found]) -> bool:
        """Whether ``f``'s parents are the resources identified at its parent addresses."""
        if f.under is not None:
            return chosen.get(f.under.address) is f.under
        if f.tags is None:
            return True  # another member's resource, read through a shared view: nothing claims it
        for ref in descriptor(f.kind).references.values():
            if ref.derive is None:
                continue
            value = f.raw.get(ref.response_field)
            if not isinstance(value, str):
                continue
            parent_address = ref.derive(f.address)
            parent = chosen.get(parent_address)
            if parent is None or own_id(parent.kind, parent.raw, parent.context) != value:
                where = (
                    "is not read"
                    if parent is None
                    else f"is {own_id(parent.kind, parent.raw, parent.context)}"
                )
                self.problems.append(
                    f"{f.raw.get('arn') or f.address} carries the tag of {f.address}, but its"
                    f" {ref.response_field} is {value} while {parent_address} {where}; not taken as the"
                    " stack's (its parent was deleted, or the tag was copied)"
                )
                return False
        return True

    def _state(self) -> State:
        found = self._identified()
        # Tagged resources name their owner: use that to name members by key, not account id.
        member_keys = dict(self.member_keys)
        for f in found:
            meanings = NAME_PARTS[f.kind]
            if f.tags is not None and f.account.account_id not in member_keys:
                for meaning in ("member", "owner"):
                    if meaning in meanings:
                        member_keys[f.account.account_id] = f.address.part(meaning)
        for f in found:
            if f.parent is not None and "member" in NAME_PARTS[f.kind]:
                f.address = _untagged_address(f.kind, f.parent, f.raw, member_keys)
        ids: dict[str, Address] = {}
        for f in found:
            d = descriptor(f.kind)
            for key in (d.id_field, d.arn_field):
                if key and isinstance(f.raw.get(key), str):
                    ids[f.raw[key]] = f.address
        resources = {}
        reads = {}
        for f in sorted(found, key=lambda f: f.address):
            if f.listed:  # the response without its HTTP metadata (ML Gets return it at the top)
                raw = {k: v for k, v in f.raw.items() if k != "ResponseMetadata"}
                reads[f.address] = Read(f.listed, f.update_time, encode(raw), f.tags)
            attributes = normalize_observed(f.kind, f.raw, address=f.address, ids=ids, tags=f.tags)
            resources[f.address] = ObservedResource(
                f.address,
                attributes,
                owner=member_keys.get(f.account.account_id, f.account.member),
                account_id=str(f.raw.get("accountId") or f.account.account_id),
                id=own_id(f.kind, f.raw, f.context),
                arn=f.raw.get(descriptor(f.kind).arn_field) or None,
                managed=f.managed,
                region=f.account.region,
                gone=str(f.raw.get("status"))
                if f.kind is Kind.MEMBER and f.raw.get("status") in _FINAL_MEMBER_STATUSES
                else "",
            )
        return State(resources, self.stack, reads)


def own_id(kind: Kind, raw: Mapping[str, Any], context: Mapping[str, Any]) -> str | None:
    """The id that names a resource in its own operations (its type or account for sub-resources).

    Args:
        kind: the resource's Kind.
        raw: the resource object of an API response.
        context: the identifier parameters it was addressed with (its parents' ids).

    Returns:
        The id, or None when the response names none.
    """
    d = descriptor(kind)
    if d.id_field in raw:
        return str(raw[d.id_field])
    for name in d.identifiers:
        if name not in context:
            response_name = {v: k for k, v in d.response_renames.items()}.get(name, name)
            value = raw.get(response_name) or raw.get(name)
            if value is not None:
                return str(value)
    for key in ("accountId", "type"):
        if key in raw:
            return str(raw[key])
    return None


def _run_all(roots: Sequence[Task], parallelism: int, tally: Tally, stop: threading.Event) -> None:
    """Run tasks on a bounded pool; each returns follow-up tasks, which are queued at once.

    Workers queue the follow-ups themselves (no central loop waiting on every future), so the
    pool stays busy across levels of the crawl and the cost per task stays constant however
    many are queued. The first error stops the run: queued tasks are skipped, and it is raised.
    ``stop`` (Ctrl-C) skips the queued tasks too and raises ``KeyboardInterrupt`` once no call is
    in flight, so the clients are never closed under a running call. ``tally`` counts the tasks
    (one read call each) queued and finished.
    """
    lock = threading.Lock()
    finished = threading.Event()
    outstanding = 0
    errors: list[BaseException] = []

    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="read") as pool:

        def submit(task: Task, counted: bool = True) -> None:
            nonlocal outstanding
            with lock:
                outstanding += 1
                tally.known += counted
            pool.submit(run, task, counted)

        def run(task: Task, counted: bool) -> None:
            nonlocal outstanding
            try:
                if not errors and not stop.is_set():
                    for follow_up in task():
                        submit(follow_up)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                with lock:
                    errors.append(exc)
            finally:
                with lock:
                    outstanding -= 1
                    tally.done += counted
                    if outstanding == 0:
                        finished.set()

        if not roots:
            return
        submit(lambda: list(roots), counted=False)  # one task queues the roots, so their order is kept
        finished.wait()
    if errors:
        raise errors[0]
    if stop.is_set():
        raise KeyboardInterrupt


# -- helpers driven by the service model and the descriptors -------------------------------------


def _inputs(d: ResourceType, operation: str) -> Mapping[str, Any]:
    shape = d.model.operation_model(operation).input_shape
    return shape.members if shape is not None else {}


def _enum(d: ResourceType, operation: str, member: str) -> list[str]:
    shape = _inputs(d, operation).get(member)
    return list(getattr(shape, "enum", []) or [])


@functools.cache
def _children(kind: Kind) -> tuple[ResourceType, ...]:
    """The types found under a resource of ``kind`` (registry order), worked out once per kind:
    every found resource asks, so a 10,000-resource crawl asked 200,000 times."""
    return tuple(child for child in REGISTRY.values() if _list_parent(child) is kind)


def _list_parent(d: ResourceType) -> Kind | None:
    """The kind under which ``d`` is found: the referenced kind its List (or Get) needs an id of."""
    operation = d.list or d.get
    if operation is None:
        return None
    required = d.model.operation_model(operation).input_shape.required_members
    candidates = [
        ref.kind for name, ref in d.references.items() if name in required and d.identifiers.get(name) != SELF
    ]
    if not candidates:
        return None
    # The deepest referenced kind is the one whose response carries the rest of the context.
    return max(candidates, key=lambda k: list(Kind).index(k))


def _untagged_address(
    kind: Kind, parent: Address, item: Mapping[str, Any], member_keys: Mapping[str, str]
) -> Address:
    """Name an untaggable child by its parent: same parts, plus a member key for members."""
    extra = NAME_PARTS[kind][len(parent.parts) :]
    parts = list(parent.parts)
    for meaning in extra:
        account = str(item.get("accountId", ""))
        parts.append(member_keys.get(account, account) if meaning == "member" else str(item.get(meaning, "")))
    return Address(kind, tuple(parts))


def _arn_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""
