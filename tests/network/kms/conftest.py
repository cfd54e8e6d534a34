"""Fixtures of the KMS tests: a test PKI, a KMS over the Cambridge network, a running cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from network.kms.pki import create_test_pki
from network.kms.server import KMSCluster
from network.kms.service import KeyManagementService
from network.topology import scenario
from tests.network.kms.kms_helpers import SAES, make_service


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    create_test_pki(folder, saes=SAES, kme_nodes=scenario("cambridge").key_holding_nodes)
    return folder


@pytest.fixture
def service() -> KeyManagementService:
    return make_service()


@pytest.fixture
def cluster(service, pki_dir) -> Iterator[KMSCluster]:
    with KMSCluster(service, pki_dir=pki_dir) as running:
        yield running
