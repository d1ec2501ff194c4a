"""The SimpleDB wire protocol: query-string requests in, AWS's XML documents out.

``sdb_dispatch`` is the handler moto calls for every request to a SimpleDB endpoint, in-process
(``mock_aws()``, through moto's botocore stubber) and in moto's server (through its Flask app). It
applies the test controls (throttling, latency, fault injection, call counts), decodes the request
parameters (SimpleDB signs with SigV2, so they are all form fields), runs the operation on the
engine of the request's account and region and writes the response the way the 2009-04-15 API does,
``BoxUsage`` included.

The engines are found where moto keeps every service's backends (``moto.backends.get_backend``),
which ``sdblocal.activate()`` fills with :class:`sdblocal.backend.SimpleDBEngine`; this
module never imports the backend or the activation, which import it (through ``sdblocal.urls``).
"""

from __future__ import annotations

import itertools
import os
import re
import uuid
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from moto.backends import get_backend
from moto.core.models import DEFAULT_ACCOUNT_ID

from . import controls, errors
from .engine import SimpleDBEngine
from .forms import decode_form
from .model import DeleteAttribute, Expected, PutAttribute
from .select import PageShape, parse
from .xmltext import element, escape

NAMESPACE = "http://sdb.amazonaws.com/doc/2009-04-15/"
DEFAULT_REGION = "us-east-1"

# sdb.amazonaws.com is us-east-1; every other region is sdb.<region>.amazonaws.com.
_HOST = re.compile(r"sdb(?:\.([a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?", re.IGNORECASE)
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")
_ATTRIBUTE_FIELD = re.compile(r"Attribute\.(\d+)\.(Name|Value|Replace)")
_ITEM_NAME_FIELD = re.compile(r"Item\.(\d+)\.ItemName")
_ITEM_ATTRIBUTE_FIELD = re.compile(r"Item\.(\d+)\.Attribute\.(\d+)\.(Name|Value|Replace)")
_ATTRIBUTE_NAME_FIELD = re.compile(r"AttributeName\.(\d+)")

# BoxUsage: machine hours the service bills for the call; figures of the order the service returns.
_BOX_USAGE = {
    "CreateDomain": "0.0055590278",
    "DeleteDomain": "0.0055590278",
    "ListDomains": "0.0000071759",
    "DomainMetadata": "0.0000071759",
    "PutAttributes": "0.0000219907",
    "BatchPutAttributes": "0.0000462183",
    "GetAttributes": "0.0000093382",
    "DeleteAttributes": "0.0000219907",
    "BatchDeleteAttributes": "0.0000462183",
    "Select": "0.0000228616",
}
_ERROR_BOX_USAGE = "0.0000219907"

# Request IDs: unique, shaped like AWS's (a UUID), without a system call for randomness per request.
_REQUEST_PREFIX = str(uuid.uuid4())[:24]
_REQUEST_NUMBERS = itertools.count(1)


def _request_id() -> str:
    return f"{_REQUEST_PREFIX}{next(_REQUEST_NUMBERS) % 16**12:012x}"


Params = dict[str, str]
Response = tuple[int, dict[str, str], str]


# --- request decoding ----------------------------------------------------------------------------


def _request_params(request: Any) -> tuple[Params, int]:
    """Every form field and query-string parameter, and the body size in bytes."""
    body: bytes = request.get_data(cache=True, parse_form_data=False) or b""
    params: Params = {}
    if request.query_string:
        query = request.query_string.decode("latin-1")
        params.update(parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace"))
    params.update(decode_form(body))
    if not body and not params:  # a server that already consumed the body into the form
        params.update({k: v for k, v in request.form.items()})
    return params, len(body)


def _required(params: Params, name: str) -> str:
    value = params.get(name)
    if value is None:
        raise errors.missing_parameter(name)
    return value


def _flag(raw: str | None, name: str) -> bool | None:
    """A boolean parameter: "true" or "false" (any case), None when absent."""
    if raw is None:
        return None
    if raw == "true":  # what botocore sends
        return True
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise errors.invalid_parameter(
        f"Value ({raw}) for parameter {name} is invalid. The {name} flag should be either true or false."
    )


def _boolean(params: Params, name: str) -> bool | None:
    return _flag(params.get(name), name)


def _attribute_fields(params: Params, pattern: re.Pattern[str]) -> dict[int, dict[str, str]]:
    """``Attribute.N.Field`` parameters grouped by N, in N order."""
    fields: dict[int, dict[str, str]] = {}
    for key, value in params.items():
        match = pattern.fullmatch(key)
        if match:
            fields.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return dict(sorted(fields.items()))


def _put_attributes(fields: Mapping[int, Mapping[str, str]]) -> list[PutAttribute]:
    attributes = []
    for field in fields.values():
        name, value, replace = field.get("Name"), field.get("Value"), field.get("Replace")
        if name is None:
            raise errors.SdbError(
                "MissingParameter", f"Attribute.Name missing for Attribute.Value='{value}'."
            )
        if value is None:
            raise errors.SdbError("MissingParameter", f"Attribute.Value missing for Attribute.Name='{name}'.")
        attributes.append(PutAttribute(name, value, replace == "true" or bool(_flag(replace, "Replace"))))
    return attributes


def _delete_attributes(fields: Mapping[int, Mapping[str, str]]) -> list[DeleteAttribute]:
    attributes = []
    for field in fields.values():
        name = field.get("Name")
        if name is None:
            raise errors.SdbError(
                "MissingParameter", f"Attribute.Name missing for Attribute.Value='{field.get('Value')}'."
            )
        attributes.append(DeleteAttribute(name, field.get("Value")))
    return attributes


def _expected(params: Params) -> Expected | None:
    name = params.get("Expected.Name")
    value = params.get("Expected.Value")
    exists = _boolean(params, "Expected.Exists")
    if name is None:
        if value is not None or exists is not None:
            raise errors.missing_parameter("Expected.Name")
        return None
    return Expected(name, value, exists)


def _numbered(params: Params, pattern: re.Pattern[str]) -> dict[int, str]:
    """``Prefix.N`` parameters by N, in N order."""
    found: dict[int, str] = {}
    for key, value in params.items():
        match = pattern.fullmatch(key)
        if match:
            found[int(match.group(1))] = value
    return dict(sorted(found.items()))


@lru_cache(maxsize=65536)
def _batch_key(key: str) -> tuple[int, tuple[int, int] | None, str] | None:
    """(item N, (N, attribute M) or None, field) of ``Item.N.ItemName`` / ``Item.N.Attribute.M.Field``.

    Cached: every batch repeats the same few thousand keys, and matching each anew was a large part
    of a write's cost.
    """
    match = _ITEM_NAME_FIELD.fullmatch(key)
    if match:
        return int(match.group(1)), None, "ItemName"
    match = _ITEM_ATTRIBUTE_FIELD.fullmatch(key)
    if match:
        item = int(match.group(1))
        return item, (item, int(match.group(2))), match.group(3)
    return None


def _batch_fields(params: Params) -> tuple[dict[int, str], dict[int, dict[int, dict[str, str]]]]:
    """The item names by N, in N order, and each item's ``Attribute.M.Field`` values grouped by M in M order."""
    names: dict[int, str] = {}
    by_attribute: dict[tuple[int, int], dict[str, str]] = {}
    for key, parsed in zip(params, map(_batch_key, params), strict=True):
        if parsed is None:
            continue
        item, pair, field = parsed
        if pair is None:
            names[item] = params[key]
        else:
            by_attribute.setdefault(pair, {})[field] = params[key]
    fields: dict[int, dict[int, dict[str, str]]] = {}
    for (item, attribute), values in sorted(by_attribute.items()):
        fields.setdefault(item, {})[attribute] = values
    return dict(sorted(names.items())), fields


# --- operations ----------------------------------------------------------------------------------

Operation = Callable[[SimpleDBEngine, Params, int], str | None]


def _create_domain(backend: SimpleDBEngine, params: Params, _size: int) -> None:
    backend.create_domain(_required(params, "DomainName"))


def _delete_domain(backend: SimpleDBEngine, params: Params, _size: int) -> None:
    backend.delete_domain(_required(params, "DomainName"))


def _list_domains(backend: SimpleDBEngine, params: Params, _size: int) -> str:
    raw = params.get("MaxNumberOfDomains")
    max_number: int | None = None
    if raw is not None:
        try:
            max_number = int(raw)
        except ValueError:
            raise errors.invalid_parameter(
                f"Value ({raw}) for parameter MaxNumberOfDomains is invalid. "
                "MaxNumberOfDomains must be between 1 and 100."
            ) from None
    names, token = backend.list_domains(max_number, params.get("NextToken"))
    body = "".join(f"<DomainName>{escape(n)}</DomainName>" for n in names)
    return body + (f"<NextToken>{token}</NextToken>" if token else "")


def _domain_metadata(backend: SimpleDBEngine, params: Params, _size: int) -> str:
    metadata = backend.domain_metadata(_required(params, "DomainName"))
    return "".join(f"<{k}>{v}</{k}>" for k, v in metadata.items())


def _get_attributes(backend: SimpleDBEngine, params: Params, _size: int) -> str:
    _boolean(params, "ConsistentRead")  # accepted; reads here are always consistent
    names = list(_numbered(params, _ATTRIBUTE_NAME_FIELD).values())
    pairs = backend.get_attributes(_required(params, "DomainName"), _required(params, "ItemName"), names)
    return "".join(
        "<Attribute>"
        + element("Name", n, "AlternateNameEncoding")
        + element("Value", v, "AlternateValueEncoding")
        + "</Attribute>"
        for n, v in pairs
    )


def _put(backend: SimpleDBEngine, params: Params, _size: int) -> None:
    domain, item = _required(params, "DomainName"), _required(params, "ItemName")
    attributes = _put_attributes(_attribute_fields(params, _ATTRIBUTE_FIELD))
    if not attributes:
        raise errors.missing_parameter("Attribute.1.Name")
    backend.put_attributes(domain, item, attributes, _expected(params))


def _delete(backend: SimpleDBEngine, params: Params, _size: int) -> None:
    domain, item = _required(params, "DomainName"), _required(params, "ItemName")
    attributes = _delete_attributes(_attribute_fields(params, _ATTRIBUTE_FIELD))
    backend.delete_attributes(domain, item, attributes, _expected(params))


def _batch_put(backend: SimpleDBEngine, params: Params, size: int) -> None:
    domain = _required(params, "DomainName")
    names, fields = _batch_fields(params)
    if not names:
        raise errors.missing_parameter("Item.1.ItemName")
    items = []
    for index, name in names.items():
        attributes = _put_attributes(fields.get(index, {}))
        if not attributes:
            raise errors.missing_parameter(f"Item.{index}.Attribute.1.Name")
        items.append((name, attributes))
    backend.batch_put_attributes(domain, items, size)


def _batch_delete(backend: SimpleDBEngine, params: Params, size: int) -> None:
    domain = _required(params, "DomainName")
    names, fields = _batch_fields(params)
    if not names:
        raise errors.missing_parameter("Item.1.ItemName")
    items = [(name, _delete_attributes(fields.get(index, {}))) for index, name in names.items()]
    backend.batch_delete_attributes(domain, items, size)


def _select(backend: SimpleDBEngine, params: Params, _size: int) -> str:
    _boolean(params, "ConsistentRead")
    expression = _required(params, "SelectExpression")
    next_token = params.get("NextToken")
    parse(expression)  # a malformed expression is refused before it uses up a quirk (parses are cached)
    quirks = controls.select_quirks(next_token)
    if quirks.refuse_token:
        raise errors.invalid_next_token()  # as the service answers a token that has expired
    shape = PageShape(quirks.max_items or None, quirks.empty, quirks.utf16_order)
    outcome = backend.select(expression, next_token, shape)
    body = "".join(outcome.fragments)
    return body + (f"<NextToken>{outcome.next_token}</NextToken>" if outcome.next_token else "")


OPERATIONS: dict[str, Operation] = {
    "CreateDomain": _create_domain,
    "DeleteDomain": _delete_domain,
    "ListDomains": _list_domains,
    "DomainMetadata": _domain_metadata,
    "PutAttributes": _put,
    "GetAttributes": _get_attributes,
    "DeleteAttributes": _delete,
    "BatchPutAttributes": _batch_put,
    "BatchDeleteAttributes": _batch_delete,
    "Select": _select,
}
_WITH_RESULT = {"ListDomains", "DomainMetadata", "GetAttributes", "Select"}


# --- response documents --------------------------------------------------------------------------


def success_document(action: str, result: str | None, request_id: str) -> str:
    parts = ['<?xml version="1.0"?>\n', f'<{action}Response xmlns="{NAMESPACE}">']
    if result is not None:
        parts.append(f"<{action}Result>{result}</{action}Result>")
    box_usage = _BOX_USAGE.get(action, _ERROR_BOX_USAGE)
    parts.append(
        f"<ResponseMetadata><RequestId>{request_id}</RequestId><BoxUsage>{box_usage}</BoxUsage></ResponseMetadata>"
    )
    parts.append(f"</{action}Response>")
    return "".join(parts)


def error_document(error: errors.SdbError, request_id: str) -> str:
    return (
        '<?xml version="1.0"?>\n'
        f"<Response><Errors><Error><Code>{error.code}</Code><Message>{escape(error.message)}</Message>"
        f"<BoxUsage>{_ERROR_BOX_USAGE}</BoxUsage></Error></Errors><RequestID>{request_id}</RequestID></Response>"
    )


def _headers(request_id: str) -> dict[str, str]:
    return {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}


# --- routing -------------------------------------------------------------------------------------


def request_region(request: Any, full_url: str) -> str:
    """The region of a request moto hands over (see :func:`region_of`)."""
    return region_of(urlsplit(full_url).hostname or "", request.headers.get("Authorization", "") or "")


def region_of(host: str, authorization: str) -> str:
    """The region a request is for, from its host name and its Authorization header.

    The host says it for real endpoints (``sdb.amazonaws.com`` is us-east-1). SigV2, which SimpleDB
    uses, carries no region, so a request to a local endpoint (http://127.0.0.1:5000) falls back to a
    SigV4 credential scope if there is one, then to us-east-1.
    """
    match = _HOST.fullmatch(host)
    if match:
        return (match.group(1) or DEFAULT_REGION).lower()
    scope = _CREDENTIAL_SCOPE.search(authorization)
    if scope:
        return scope.group(1)
    return DEFAULT_REGION


def _account() -> str:
    return os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)


def _engine(account: str, region: str) -> SimpleDBEngine:
    engine = getattr(get_backend("sdb")[account][region], "engine", None)
    if not isinstance(engine, SimpleDBEngine):
        raise RuntimeError("sdblocal.activate() must run before the engine serves SimpleDB requests")
    return engine


def _metered_domain(action: str, params: Params) -> str | None:
    """The domain a write or Select call is for, as its throttle sees it (None: not metered)."""
    if action != "Select":
        return params.get("DomainName")
    try:
        return parse(params.get("SelectExpression", "")).domain
    except errors.SdbError:
        return None  # a malformed expression is refused by the engine, unthrottled


def _throttled(action: str, params: Params, region: str) -> bool:
    if not controls.is_capped(action):
        return False
    domain = _metered_domain(action, params)
    return domain is not None and not controls.admit(action, (_account(), region, domain))


def sdb_dispatch(request: Any, full_url: str, headers: Any) -> Response:
    """moto's handler for every SimpleDB request (see sdblocal/urls.py)."""
    params, size = _request_params(request)
    return answer(params, size, request_region(request, full_url))


def answer_form(body: bytes, host: str, authorization: str) -> Response:
    """The answer to a SimpleDB request that is a form body, as the server's lean path receives it."""
    return answer(decode_form(body), len(body), region_of(host, authorization))


def answer(params: Params, size: int, region: str) -> Response:
    """The answer to a SimpleDB request: its parameters, the body's size in bytes, its region."""
    request_id = _request_id()
    action = params.get("Action", "")
    operation = OPERATIONS.get(action)
    if operation is not None:
        controls.record_call(action)
        if _throttled(action, params, region):
            # An empty bucket answers at once: no latency, no fault draw, the engine untouched.
            error = errors.service_unavailable()
            return error.status, _headers(request_id), error_document(error, request_id)
    # Latency before anything else, outside every lock, so that parallel clients overlap it.
    controls.apply_latency()
    try:
        if controls.should_fault():
            raise errors.service_unavailable()  # before the engine runs: a faulted call changes nothing
        if operation is None:
            raise errors.missing_parameter("Action") if not action else errors.invalid_action(action)
        result = operation(_engine(_account(), region), params, size)
    except errors.SdbError as error:
        return error.status, _headers(request_id), error_document(error, request_id)
    if action in _WITH_RESULT:
        result = result or ""
    return 200, _headers(request_id), success_document(action, result, request_id)
