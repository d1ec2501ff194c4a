"""Every region is served, us-east-1 (sdb.amazonaws.com) included, each with its own data."""

from __future__ import annotations

from typing import Any

import pytest
from moto import mock_aws

import sdblocal
from engine.conftest import Transport
from engine.helpers import get, put


@pytest.fixture
def inprocess() -> Transport:
    sdblocal.activate()
    return Transport("inprocess", None, sdblocal.controls)


def test_regions_are_separate(inprocess: Transport) -> None:
    with mock_aws():
        east, west = inprocess.client("us-east-1"), inprocess.client("eu-west-1")
        assert west.meta.endpoint_url == "https://sdb.eu-west-1.amazonaws.com"
        east.create_domain(DomainName="shared-name")
        west.create_domain(DomainName="shared-name")
        west.create_domain(DomainName="west-only")
        put(east, "shared-name", "i", ("where", "east"))
        put(west, "shared-name", "i", ("where", "west"))
        assert get(east, "shared-name", "i") == {("where", "east")}
        assert get(west, "shared-name", "i") == {("where", "west")}
        assert east.list_domains()["DomainNames"] == ["shared-name"]
        assert west.list_domains()["DomainNames"] == ["shared-name", "west-only"]


@pytest.mark.parametrize("region", ["us-west-2", "ap-southeast-2", "sa-east-1", "eu-central-1", "ap-south-2"])
def test_any_region(inprocess: Transport, region: str) -> None:
    with mock_aws():
        sdb = inprocess.client(region)
        sdb.create_domain(DomainName="dom")
        put(sdb, "dom", "i", ("a", "1"))
        assert (
            sdb.select(SelectExpression="select count(*) from dom")["Items"][0]["Attributes"][0]["Value"]
            == "1"
        )


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_regions_over_the_server(transport: Transport, region: str) -> None:
    sdb: Any = transport.client(region)
    sdb.create_domain(DomainName="dom")
    put(sdb, "dom", "i", ("region", region))
    assert get(sdb, "dom", "i") == {("region", region)}
