"""The operations of SimpleDB on the domains of one account in one region.

Plain Python, no moto and no wire format: :mod:`sdblocal.responses` decodes requests into these calls
and :mod:`sdblocal.backend` gives moto one engine per account and region. Data semantics and limits
are in :mod:`sdblocal.model`, the Select language in :mod:`sdblocal.select`.

Concurrency: one short-held lock per engine, shared with its domains. Items are immutable snapshots
(a write replaces the :class:`~sdblocal.model.Item`), so a Select copies references to a chunk of
items under the lock and evaluates them after releasing it; a long scan never blocks writers for long.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from . import errors
from .model import (
    MAX_DOMAINS,
    MAX_LIST_DOMAINS,
    DeleteAttribute,
    Domain,
    Expected,
    PutAttribute,
    apply_delete,
    apply_put,
    check_expected,
    decode_token,
    encode_token,
    validate_batch,
    validate_delete,
    validate_domain_name,
    validate_expected,
    validate_item_name,
    validate_put,
)
from .select import PLAIN_PAGE, PageShape, SelectOutcome, execute, parse


class SimpleDBEngine:
    """All SimpleDB domains of one account in one region."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.domains: dict[str, Domain] = {}

    # -- domains

    def create_domain(self, domain_name: str) -> None:
        validate_domain_name(domain_name)
        with self.lock:
            if domain_name in self.domains:
                return  # CreateDomain is idempotent
            if len(self.domains) >= MAX_DOMAINS:
                raise errors.number_domains_exceeded()
            self.domains[domain_name] = Domain(domain_name, self.lock)

    def delete_domain(self, domain_name: str) -> None:
        validate_domain_name(domain_name)
        with self.lock:
            self.domains.pop(domain_name, None)  # deleting an unknown domain succeeds, as on AWS

    def list_domains(self, max_number: int | None, next_token: str | None) -> tuple[list[str], str | None]:
        limit = MAX_LIST_DOMAINS if max_number is None else max_number
        if not 1 <= limit <= MAX_LIST_DOMAINS:
            raise errors.invalid_parameter(
                f"Value ({limit}) for parameter MaxNumberOfDomains is invalid. "
                "MaxNumberOfDomains must be between 1 and 100."
            )
        with self.lock:
            names = sorted(self.domains)
        if next_token is not None:
            after = decode_token(next_token)
            if not after.startswith("domain:"):
                raise errors.invalid_next_token()
            names = [n for n in names if n > after.removeprefix("domain:")]
        page = names[:limit]
        token = encode_token("domain:" + page[-1]) if len(names) > limit else None
        return page, token

    def domain(self, domain_name: str) -> Domain:
        with self.lock:
            return self._domain(domain_name)

    def _domain(self, domain_name: str) -> Domain:
        domain = self.domains.get(domain_name)
        if domain is None:
            raise errors.no_such_domain()
        return domain

    def domain_metadata(self, domain_name: str) -> dict[str, int]:
        with self.lock:
            return self._domain(domain_name).metadata()

    # -- items

    def get_attributes(self, domain_name: str, item_name: str, names: Sequence[str]) -> list[tuple[str, str]]:
        validate_item_name(item_name)
        with self.lock:
            item = self._domain(domain_name).get(item_name)  # a read never creates the item
        if item is None:
            return []
        wanted = set(names)
        return [(n, v) for n, v in item.pairs() if not wanted or n in wanted]

    def put_attributes(
        self,
        domain_name: str,
        item_name: str,
        attributes: Sequence[PutAttribute],
        expected: Expected | None = None,
    ) -> None:
        validate_item_name(item_name)
        validate_put(attributes)
        validate_expected(expected)
        with self.lock:
            domain = self._domain(domain_name)
            old = domain.get(item_name)
            check_expected(old, expected)
            domain.store(item_name, apply_put(item_name, old, attributes))

    def delete_attributes(
        self,
        domain_name: str,
        item_name: str,
        attributes: Sequence[DeleteAttribute],
        expected: Expected | None = None,
    ) -> None:
        validate_item_name(item_name)
        validate_delete(attributes)
        validate_expected(expected)
        with self.lock:
            domain = self._domain(domain_name)
            old = domain.get(item_name)
            check_expected(old, expected)
            if old is not None:
                domain.store(item_name, apply_delete(item_name, old, attributes))

    def batch_put_attributes(
        self,
        domain_name: str,
        items: Sequence[tuple[str, Sequence[PutAttribute]]],
        request_bytes: int = 0,
    ) -> None:
        validate_batch(items, request_bytes)
        for _, attributes in items:
            validate_put(attributes)
        with self.lock:
            domain = self._domain(domain_name)
            # All-or-nothing: every new item is computed (and checked) before any is stored.
            new = [(name, apply_put(name, domain.get(name), attributes)) for name, attributes in items]
            for name, item in new:
                domain.store(name, item)

    def batch_delete_attributes(
        self,
        domain_name: str,
        items: Sequence[tuple[str, Sequence[DeleteAttribute]]],
        request_bytes: int = 0,
    ) -> None:
        validate_batch(items, request_bytes)
        for _, attributes in items:
            validate_delete(attributes)
        with self.lock:
            domain = self._domain(domain_name)
            for name, attributes in items:
                old = domain.get(name)
                if old is not None:
                    domain.store(name, apply_delete(name, old, attributes))

    # -- select

    def select(
        self, expression: str, next_token: str | None = None, shape: PageShape = PLAIN_PAGE
    ) -> SelectOutcome:
        query = parse(expression)
        return execute(query, self.domain(query.domain), next_token, shape)
