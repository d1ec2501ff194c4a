"""SimpleDB errors, with the codes, HTTP statuses and messages of the API reference (2009-04-15).

Every error the engine raises is an :class:`SdbError`; the wire layer turns it into AWS's XML error
document (``<Response><Errors><Error>…``) so botocore raises ``ClientError`` with the right
``Error.Code`` and HTTP status.
"""

from __future__ import annotations


class SdbError(Exception):
    """One SimpleDB error: ``code`` and ``status`` as in the Developer Guide's "API Error Codes" table."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


# --- request shape -------------------------------------------------------------------------------


def missing_parameter(name: str) -> SdbError:
    return SdbError("MissingParameter", f"The request must contain the parameter {name}", 400)


def invalid_parameter(message: str) -> SdbError:
    return SdbError("InvalidParameterValue", message, 400)


def invalid_action(action: str) -> SdbError:
    return SdbError("InvalidAction", f"The action {action} is not valid for this web service.", 400)


# --- domains -------------------------------------------------------------------------------------


def no_such_domain() -> SdbError:
    return SdbError("NoSuchDomain", "The specified domain does not exist.", 400)


def number_domains_exceeded() -> SdbError:
    return SdbError("NumberDomainsExceeded", "Number of domains limit exceeded", 409)


def invalid_next_token() -> SdbError:
    return SdbError("InvalidNextToken", "The specified next token is not valid.", 400)


# --- items and attributes ------------------------------------------------------------------------


def number_item_attributes_exceeded() -> SdbError:
    return SdbError("NumberItemAttributesExceeded", "Too many attributes in this item", 409)


def number_submitted_attributes_exceeded() -> SdbError:
    return SdbError("NumberSubmittedAttributesExceeded", "Too many attributes in a single call", 409)


def number_submitted_items_exceeded(limit: int) -> SdbError:
    return SdbError(
        "NumberSubmittedItemsExceeded",
        f"Too many items in a single call. Up to {limit} items per call allowed.",
        409,
    )


def duplicate_item_name(item_name: str) -> SdbError:
    return SdbError("DuplicateItemName", f"Item {item_name} was specified more than once.", 400)


# --- conditional put / delete (Expected.*) -------------------------------------------------------


def conditional_check_failed_exists(name: str) -> SdbError:
    return SdbError(
        "ConditionalCheckFailed", f"Conditional check failed. Attribute ({name}) value exists.", 409
    )


def conditional_check_failed_value(name: str, value: str, expected: str) -> SdbError:
    return SdbError(
        "ConditionalCheckFailed",
        f"Conditional check failed. Attribute ({name}) value is ({value}) but was expected ({expected})",
        409,
    )


def attribute_does_not_exist(name: str) -> SdbError:
    return SdbError("AttributeDoesNotExist", f"Attribute ({name}) does not exist", 404)


def multi_valued_attribute(name: str) -> SdbError:
    return SdbError(
        "MultiValuedAttribute",
        f"Attribute ({name}) is multi-valued. Conditional check can only be performed on a single-valued attribute",
        409,
    )


def exists_and_expected_value() -> SdbError:
    return SdbError(
        "ExistsAndExpectedValue", "Expected.Exists=false and Expected.Value cannot be specified together", 400
    )


def incomplete_expected_expression() -> SdbError:
    return SdbError(
        "IncompleteExpectedExpression",
        "If Expected.Exists=true or unspecified, then Expected.Value has to be specified",
        400,
    )


# --- select --------------------------------------------------------------------------------------


def invalid_query_expression(detail: str = "") -> SdbError:
    message = "The specified query expression syntax is not valid."
    return SdbError("InvalidQueryExpression", f"{message} {detail}".strip(), 400)


def invalid_sort_expression() -> SdbError:
    return SdbError(
        "InvalidSortExpression",
        "The sort attribute must be present in at least one of the predicates, and the predicate cannot "
        "include the is null comparison operator.",
        400,
    )


def invalid_number_predicates() -> SdbError:
    return SdbError("InvalidNumberPredicates", "Too many predicates in the query expression.", 400)


def invalid_number_value_tests() -> SdbError:
    return SdbError(
        "InvalidNumberValueTests", "Too many value tests per predicate in the query expression.", 400
    )


def too_many_requested_attributes() -> SdbError:
    return SdbError("TooManyRequestedAttributes", "Too many attributes requested.", 400)


# --- injected ------------------------------------------------------------------------------------


def service_unavailable() -> SdbError:
    return SdbError(
        "ServiceUnavailable",
        "Service AmazonSimpleDB is currently unavailable. Please try again later",
        503,
    )
