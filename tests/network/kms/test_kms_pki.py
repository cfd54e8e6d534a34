"""The test PKI: certificates chain to the CA, carry the right names and usages."""

from __future__ import annotations

import json
import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from network.kms.pki import create_test_pki, read_pki_map, sae_id_from_certificate


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("pki")
    create_test_pki(path, saes={"alice": "A", "bob": "B"}, kme_nodes=["C"], hosts=["kme.test"])
    return path


def load(folder, name) -> x509.Certificate:
    return x509.load_pem_x509_certificate((folder / f"{name}.pem").read_bytes())


def test_every_certificate_is_issued_by_the_ca(folder):
    ca = load(folder, "ca")
    for name in ("alice", "bob", "A", "B", "C"):
        cert = load(folder, name)
        cert.verify_directly_issued_by(ca)  # raises if the signature does not verify
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name
        key_mode = stat.S_IMODE((folder / f"{name}.key").stat().st_mode)
        assert key_mode == 0o600
    assert not (folder / "ca.key").exists()


def test_usages_and_host_names(folder):
    sae = load(folder, "alice").extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    kme = load(folder, "C").extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(sae) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert list(kme) == [ExtendedKeyUsageOID.SERVER_AUTH]
    names = load(folder, "C").extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert set(names.value.get_values_for_type(x509.DNSName)) == {"localhost", "kme.test"}
    assert {str(ip) for ip in names.value.get_values_for_type(x509.IPAddress)} == {
        "127.0.0.1",
        "::1",
    }


def test_sae_id_comes_from_a_client_certificate_only(folder):
    assert sae_id_from_certificate((folder / "bob.pem").read_text()) == "bob"
    assert sae_id_from_certificate((folder / "C.pem").read_bytes()) is None
    assert sae_id_from_certificate((folder / "ca.pem").read_bytes()) is None
    assert sae_id_from_certificate(b"not a certificate") is None


def test_maps(folder):
    assert read_pki_map(folder) == ({"alice": "A", "bob": "B"}, ["A", "B", "C"])
    assert json.loads((folder / "saes.json").read_text()) == {"alice": "A", "bob": "B"}


@pytest.mark.parametrize(
    ("saes", "kme_nodes", "match"),
    [
        ({}, (), "non-empty"),
        ({"bad name": "A"}, (), "SAE ID"),
        ({"alice": "alice"}, (), "both an SAE and a KME"),
        ({"alice": "A"}, ["../x"], "KME node name"),
    ],
)
def test_bad_requests_write_nothing(tmp_path, saes, kme_nodes, match):
    with pytest.raises(ValueError, match=match):
        create_test_pki(tmp_path / "out", saes=saes, kme_nodes=kme_nodes)
    assert not (tmp_path / "out").exists()
