"""SimpleDB adapter: Select paging, batched writes and deletes, and botocore errors → error taxonomy.

Everything that knows the SimpleDB wire shape lives here; the logic modules see ``Item``s only. Every call
goes through a retry policy (``ratecontrol``), which paces, retries and gives up.
"""

import base64
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from simpledb_backup.aws.ratecontrol import (
    NETWORK_ERRORS,
    Fault,
    RateController,
    RetriesExhaustedError,
    RetryPolicy,
    is_throttle,
)
from simpledb_backup.aws.selectparse import PARSED_ITEMS as _PARSED_ITEMS
from simpledb_backup.aws.selectparse import adapter_select as _adapter_select
from simpledb_backup.aws.selectparse import parse_select_quickly as _parse_select_quickly
from simpledb_backup.aws.selectparse import parse_select_response as parse_select_response
from simpledb_backup.capacity import DomainSize
from simpledb_backup.errors import (
    AccessDeniedError,
    DomainNotFoundError,
    InvalidRequestError,
    LimitExceededError,
    NetworkError,
    NextTokenRefusedError,
    SimpleDBBackupError,
    StorageError,
    ThrottledError,
)
from simpledb_backup.items import (
    MAX_ATTRIBUTES_PER_PUT,
    MAX_BATCH_ITEMS,
    MAX_BATCH_REQUEST_BYTES,
    Item,
    make_item,
    validate_item,
)

T = TypeVar("T")

_ACCESS_DENIED = {
    "AccessDenied",
    "AccessFailure",
    "AuthFailure",
    "AuthorizationFailure",
    "UnauthorizedOperation",
}
_LIMITS = {
    "NumberItemAttributesExceeded",
    "NumberDomainAttributesExceeded",
    "NumberDomainBytesExceeded",
    "NumberSubmittedAttributesExceeded",
    "NumberSubmittedItemsExceeded",
    "NumberDomainsExceeded",
}
# "Item.N.Attribute.M.Name=...&...Value=...&...Replace=true&": the parameter names around each pair.
_REQUEST_OVERHEAD_PER_PAIR = 80


def select_expression(domain: str, where: str | None = None) -> str:
    """``select * from `domain``` with an optional where clause, quoting the domain as SimpleDB requires."""
    # Not SQL: a SimpleDB Select built only from quote_name()/quote_value() output and an operator-given where.
    expression = f"select * from {quote_name(domain)}"  # noqa: S608
    return f"{expression} where {where}" if where else expression


def quote_name(name: str) -> str:
    """Backtick-quote a domain or attribute name; a backtick inside is doubled (Select quoting rules)."""
    return "`" + name.replace("`", "``") + "`"


def quote_value(value: str) -> str:
    """Single-quote a value; a quote inside is doubled (Select quoting rules)."""
    return "'" + value.replace("'", "''") + "'"


def translate_error(error: ClientError, operation: str, domain: str) -> Exception:
    """Map a SimpleDB ClientError to the taxonomy; the caller raises the result ``from error``."""
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    if code == "NoSuchDomain":
        return DomainNotFoundError(f"SimpleDB domain {domain!r} does not exist")
    if code in _ACCESS_DENIED:
        return AccessDeniedError(f"access denied to {operation} on SimpleDB domain {domain!r}: {message}")
    if is_throttle(error):
        return ThrottledError(f"SimpleDB kept refusing {operation} on {domain!r} ({code}) after every retry")
    if code in _LIMITS:
        return LimitExceededError(f"SimpleDB limit reached by {operation} on {domain!r}: {code}: {message}")
    if code == "InvalidNextToken":  # the token expired or the service lost it: the caller can query again
        return NextTokenRefusedError(
            f"SimpleDB refused the NextToken of a {operation} on {domain!r}: {message}"
        )
    if code in {"InvalidQueryExpression", "InvalidParameterValue", "InvalidSortExpression"}:
        return InvalidRequestError(f"SimpleDB refused {operation} on {domain!r}: {code}: {message}")
    return StorageError(f"SimpleDB {operation} on {domain!r} failed: {code}: {message}")


def exhausted_error(error: RetriesExhaustedError, domain: str) -> SimpleDBBackupError:
    """The error for a call that kept failing for the whole time budget; raised ``from error.last_error``."""
    last = error.last_error
    if isinstance(last, ClientError):
        code = last.response.get("Error", {}).get("Code", "")
        status = last.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        last_answer = f"the last answer: {code} (HTTP {status})"
    else:
        last_answer = f"the last error: {last}"
    failing = (
        f"{error.operation} on domain {domain!r} for {error.failing_for:.0f} s "
        f"({error.attempts} attempts; {last_answer}); a job slows down under throttling "
        "and gives up only when a call has kept failing this long"
    )
    if error.fault is Fault.NETWORK:
        return NetworkError(f"SimpleDB could not be reached for {failing}")
    return ThrottledError(f"SimpleDB kept throttling {failing}")


def network_error(error: Exception, operation: str, domain: str) -> NetworkError:
    """A network fault that a retry policy let through (one that does not retry it)."""
    return NetworkError(f"SimpleDB could not be reached for {operation} on domain {domain!r}: {error}")


def _decode(text: str, encoding: str | None) -> str:
    # SimpleDB returns names and values holding XML-invalid characters base64-encoded and says so with
    # AlternateNameEncoding / AlternateValueEncoding (Developer Guide, "Working with XML-Restricted Characters").
    if encoding == "base64":
        return base64.b64decode(text).decode("utf-8")
    return text


def item_from_wire(wire: dict[str, Any]) -> Item:
    return make_item(
        _decode(wire["Name"], wire.get("AlternateNameEncoding")),
        (
            (
                _decode(pair["Name"], pair.get("AlternateNameEncoding")),
                _decode(pair["Value"], pair.get("AlternateValueEncoding")),
            )
            for pair in wire.get("Attributes", [])
        ),
    )


def _put_pairs(item: Item) -> list[dict[str, Any]]:
    # Replace=True on every pair: the first pair of a name clears its old values, and every value of the
    # request survives (documented multi-value Replace), so afterwards each name holds exactly these values.
    return [
        {"Name": attribute, "Value": value, "Replace": True}
        for attribute, values in item.attributes.items()
        for value in values
    ]


def request_size_bound(item: Item) -> int:
    """An upper bound of what an item adds to a BatchPutAttributes request.

    The 1 MB limit applies to the form-encoded body, where percent-encoding at most triples a byte.
    """
    size = 3 * len(item.name.encode("utf-8"))
    for attribute, values in item.attributes.items():
        attribute_bytes = 3 * len(attribute.encode("utf-8"))
        for value in values:
            size += attribute_bytes + 3 * len(value.encode("utf-8")) + _REQUEST_OVERHEAD_PER_PAIR
    return size


def plan_put_batches(items: Iterable[Item]) -> Iterator[list[Item]]:
    """Group items into BatchPutAttributes calls: at most 25 items and under the 1 MB request limit.

    Every item is checked against SimpleDB's limits before its batch is formed, so nothing is sent for a
    batch that SimpleDB would refuse. An item too large to share a batch goes alone; ``put_items`` sends
    such a batch with PutAttributes.
    """
    batch: list[Item] = []
    size = 0
    for item in items:
        validate_item(item)
        item_size = request_size_bound(item)
        if batch and (len(batch) == MAX_BATCH_ITEMS or size + item_size > MAX_BATCH_REQUEST_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch


class SimpleDB:
    """One domain-agnostic SimpleDB adapter; every call goes through the job's one retry policy.

    ``retry_policy`` defaults to a new :class:`RateController` with its default settings. Give each job (a
    restore, a backup service) an adapter of its own, so its workers share one policy.
    """

    def __init__(self, client: Any, retry_policy: RetryPolicy | None = None) -> None:
        self.client = client
        self.retry_policy: RetryPolicy = retry_policy or RateController()
        client.meta.events.register(
            "before-parse.simpledb.Select", _parse_select_quickly, unique_id="simpledb-backup-select-parser"
        )

    def _call(self, operation: str, domain: str, function: Callable[[], T]) -> T:
        # The policy replays a call whose answer never came back (a reset connection, a read timeout), and the
        # request may have been applied before the connection dropped. Every call made here is safe to replay:
        # - BatchPutAttributes / PutAttributes send Replace=true with every pair (_put_pairs), so a replay sets
        #   each attribute to exactly the request's values again; the later PutAttributes chunks of a large
        #   item add pairs without Replace, and SimpleDB keeps one copy of an identical name/value pair, so
        #   their replay adds nothing;
        # - (Batch)DeleteAttributes of what is already gone succeeds and changes nothing;
        # - Select, GetAttributes and DomainMetadata only read (a Select page is asked for again by the same
        #   NextToken); CreateDomain of an existing domain succeeds (it is idempotent).
        try:
            return self.retry_policy.call(operation, function)
        except RetriesExhaustedError as error:
            raise exhausted_error(error, domain) from error.last_error
        except ClientError as error:
            raise translate_error(error, operation, domain) from error
        except NETWORK_ERRORS as error:
            raise network_error(error, operation, domain) from error

    def domain_metadata(self, domain: str) -> DomainSize:
        answer = self._call("DomainMetadata", domain, lambda: self.client.domain_metadata(DomainName=domain))
        return DomainSize(
            item_count=int(answer.get("ItemCount", 0)),
            attribute_name_count=int(answer.get("AttributeNameCount", 0)),
            attribute_value_count=int(answer.get("AttributeValueCount", 0)),
            item_names_size_bytes=int(answer.get("ItemNamesSizeBytes", 0)),
            attribute_names_size_bytes=int(answer.get("AttributeNamesSizeBytes", 0)),
            attribute_values_size_bytes=int(answer.get("AttributeValuesSizeBytes", 0)),
        )

    def domain_exists(self, domain: str) -> bool:
        try:
            self.domain_metadata(domain)
        except DomainNotFoundError:
            return False
        return True

    def create_domain(self, domain: str) -> None:
        self._call("CreateDomain", domain, lambda: self.client.create_domain(DomainName=domain))

    def delete_domain(self, domain: str) -> None:
        """Delete a domain and everything in it (idempotent: a domain that is gone is fine)."""
        self._call("DeleteDomain", domain, lambda: self.client.delete_domain(DomainName=domain))

    def select_page(
        self, domain: str, expression: str, next_token: str | None
    ) -> tuple[list[Item], str | None]:
        """One Select page with ConsistentRead; returns its items and the NextToken (None at the end)."""
        arguments: dict[str, Any] = {"SelectExpression": expression, "ConsistentRead": True}
        if next_token:
            arguments["NextToken"] = next_token
        answer = self._call("Select", domain, lambda: self._select(arguments))
        items = answer.get(_PARSED_ITEMS)
        if items is None:
            items = [item_from_wire(wire) for wire in answer.get("Items", [])]
        return items, answer.get("NextToken")

    def select_all(self, domain: str, expression: str) -> Iterator[list[Item]]:
        """Every page of a Select, following NextToken to the end."""
        next_token: str | None = None
        while True:
            items, next_token = self.select_page(domain, expression, next_token)
            if items:
                yield items
            if not next_token:
                return

    def _select(self, arguments: dict[str, Any]) -> dict[str, Any]:
        _adapter_select.active = True
        try:
            answer: dict[str, Any] = self.client.select(**arguments)
        finally:
            _adapter_select.active = False
        return answer

    def get_item(self, domain: str, name: str) -> Item | None:
        answer = self._call(
            "GetAttributes",
            domain,
            lambda: self.client.get_attributes(DomainName=domain, ItemName=name, ConsistentRead=True),
        )
        item = item_from_wire({"Name": name, "Attributes": answer.get("Attributes", [])})
        return item if item.attributes else None

    def put_items(self, domain: str, batch: list[Item]) -> int:
        """Write a batch planned by ``plan_put_batches``; returns the number of API calls made."""
        if len(batch) == 1 and request_size_bound(batch[0]) > MAX_BATCH_REQUEST_BYTES:
            return self._put_one(domain, batch[0])
        entries = [{"Name": item.name, "Attributes": _put_pairs(item)} for item in batch]
        self._call(
            "BatchPutAttributes",
            domain,
            lambda: self.client.batch_put_attributes(DomainName=domain, Items=entries),
        )
        return 1

    def write_items(self, domain: str, items: Iterable[Item]) -> int:
        """Write items one planned batch after another; returns the number of API calls made."""
        return sum(self.put_items(domain, batch) for batch in plan_put_batches(items))

    def _put_one(self, domain: str, item: Item) -> int:
        pairs = _put_pairs(item)
        calls = 0
        # PutAttributes takes 256 attributes a call at most; later calls must not Replace what earlier ones set.
        for start in range(0, len(pairs), MAX_ATTRIBUTES_PER_PUT):
            chunk = pairs[start : start + MAX_ATTRIBUTES_PER_PUT]
            if start:
                seen = {pair["Name"] for pair in pairs[:start]}
                chunk = [{**pair, "Replace": pair["Name"] not in seen} for pair in chunk]
            self._call(
                "PutAttributes",
                domain,
                lambda chunk=chunk: self.client.put_attributes(  # type: ignore[misc]
                    DomainName=domain, ItemName=item.name, Attributes=chunk
                ),
            )
            calls += 1
        return calls

    def delete_items(self, domain: str, deletions: list[tuple[str, list[tuple[str, str]] | None]]) -> int:
        """Delete whole items (``None``) or given name/value pairs, 25 items a BatchDeleteAttributes call.

        The API wants a value with every attribute it deletes, so pairs are named one by one.
        """
        calls = 0
        for start in range(0, len(deletions), MAX_BATCH_ITEMS):
            chunk = deletions[start : start + MAX_BATCH_ITEMS]
            entries = [
                {"Name": name}
                if pairs is None
                else {
                    "Name": name,
                    "Attributes": [{"Name": attribute, "Value": value} for attribute, value in pairs],
                }
                for name, pairs in chunk
            ]
            self._call(
                "BatchDeleteAttributes",
                domain,
                lambda entries=entries: self.client.batch_delete_attributes(  # type: ignore[misc]
                    DomainName=domain, Items=entries
                ),
            )
            calls += 1
        return calls

    def delete_item(self, domain: str, name: str) -> None:
        self._call(
            "DeleteAttributes",
            domain,
            lambda: self.client.delete_attributes(DomainName=domain, ItemName=name),
        )
