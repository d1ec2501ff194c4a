"""Fixtures for the template tests: the raw template and its CloudFormation form after both transforms."""

from typing import Any

import pytest
from cfnsupport import TEMPLATE_PATH, TWO_DOMAINS, translate

from stackbucket import load_template


@pytest.fixture(scope="session")
def raw_template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="session")
def translated() -> dict[str, Any]:
    """template.yaml translated with its parameter defaults."""
    return translate()


@pytest.fixture(scope="session")
def translated_two_domains() -> dict[str, Any]:
    return translate(TWO_DOMAINS)
