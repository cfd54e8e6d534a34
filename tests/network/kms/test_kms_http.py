"""The KMEs over real sockets: httpx clients with the test PKI against uvicorn (mutual TLS)."""

from __future__ import annotations

import base64
import concurrent.futures
import ssl
import uuid

import httpx
import numpy as np
import pytest

from network.kms.pki import client_ssl_context, create_test_pki
from network.kms.service import MSG_EXTENSION_UNSUPPORTED, MSG_KEYS_NOT_FOUND, MSG_SIZE_NOT_BYTES
from tests.network.kms.kms_helpers import SAES, https_client

STATUS_FIELDS = {
    "source_KME_ID",
    "target_KME_ID",
    "master_SAE_ID",
    "slave_SAE_ID",
    "key_size",
    "stored_key_count",
    "max_key_count",
    "max_key_per_request",
    "max_key_size",
    "min_key_size",
    "max_SAE_ID_count",
}


def pools(service):
    ledger = service.supply.key_ledger()
    return ledger.stored.copy(), ledger.consumed.copy(), service.pending_count()


def same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_master_slave_flow_over_https(cluster, pki_dir, service):
    with (
        https_client(cluster, pki_dir, "alice") as alice,
        https_client(cluster, pki_dir, "bob") as bob,
    ):
        status = alice.get("/api/v1/keys/bob/status")
        assert status.status_code == 200 and set(status.json()) == STATUS_FIELDS
        assert status.json()["source_KME_ID"] == "crl-user"
        assert status.json()["target_KME_ID"] == "eed-user"
        count = status.json()["stored_key_count"]
        assert count > 0

        sent = alice.post("/api/v1/keys/bob/enc_keys", json={"number": 2, "size": 512})
        assert sent.status_code == 200, sent.text
        keys = sent.json()["keys"]
        assert len(keys) == 2 and all(len(base64.b64decode(k["key"])) == 64 for k in keys)
        ids = {"key_IDs": [{"key_ID": k["key_ID"]} for k in keys]}
        got = bob.post("/api/v1/keys/alice/dec_keys", json=ids)
        assert got.status_code == 200
        assert [k["key"] for k in got.json()["keys"]] == [k["key"] for k in keys]
        again = bob.post("/api/v1/keys/alice/dec_keys", json=ids)
        assert again.status_code == 400 and again.json()["message"] == MSG_KEYS_NOT_FOUND
        assert alice.get("/api/v1/keys/bob/status").json()["stored_key_count"] == count - 4

        # GET forms: query number/size, and a single key_ID.
        one = alice.get("/api/v1/keys/bob/enc_keys", params={"number": 1, "size": 64})
        assert one.status_code == 200 and len(base64.b64decode(one.json()["keys"][0]["key"])) == 8
        key_id = one.json()["keys"][0]["key_ID"]
        got = bob.get("/api/v1/keys/alice/dec_keys", params={"key_ID": key_id})
        assert got.status_code == 200 and got.json()["keys"] == one.json()["keys"]
        default = alice.get("/api/v1/keys/bob/enc_keys")
        assert len(base64.b64decode(default.json()["keys"][0]["key"])) == 32  # key_size 256
    service.supply.check_ledger()


def test_route_extension_over_https(cluster, pki_dir):
    with https_client(cluster, pki_dir, "alice") as alice:
        body = {"extension_mandatory": [{"abft_route_type": "multipath"}]}
        answer = alice.post("/api/v1/keys/bob/enc_keys", json=body)
        assert answer.status_code == 200
        extension = answer.json()["keys"][0]["key_extension"]
        assert extension["abft_route_type"] == "multipath" and len(extension["abft_paths"]) == 2
        body = {"extension_mandatory": [{"abc_route_type": "direct"}]}
        answer = alice.post("/api/v1/keys/bob/enc_keys", json=body)
        assert answer.status_code == 400
        assert answer.json() == {
            "message": MSG_EXTENSION_UNSUPPORTED,
            "details": [{"extension_mandatory_unsupported": "abc_route_type is not supported"}],
        }


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/api/v1/keys/bob/enc_keys", {"content": b"{not json"}),
        ("post", "/api/v1/keys/bob/enc_keys", {"content": b"[1, 2]"}),
        ("post", "/api/v1/keys/bob/enc_keys", {"content": b"\xff\xfe"}),
        ("post", "/api/v1/keys/bob/enc_keys", {"json": {"number": "2"}}),
        ("post", "/api/v1/keys/bob/enc_keys", {"json": {"number": 2.0}}),
        ("post", "/api/v1/keys/bob/enc_keys", {"json": {"number": -1}}),
        ("post", "/api/v1/keys/bob/enc_keys", {"json": {"number": 10**40}}),
        ("post", "/api/v1/keys/bob/enc_keys", {"json": {"size": 10**40}}),
        ("post", "/api/v1/keys/bob/enc_keys", {"json": {"size": 100}}),
        ("post", "/api/v1/keys/bob/enc_keys", {"json": {"numbr": 2}}),
        ("post", "/api/v1/keys/bob/enc_keys", {"content": b" " * (70 * 1024)}),
        ("post", "/api/v1/keys/nobody/enc_keys", {"json": {}}),
        ("get", "/api/v1/keys/bob/enc_keys", {"params": {"number": "-1"}}),
        ("get", "/api/v1/keys/bob/enc_keys", {"params": {"number": "1e3"}}),
        ("get", "/api/v1/keys/bob/enc_keys", {"params": {"size": "12"}}),
        ("get", "/api/v1/keys/bob/enc_keys", {"params": {"count": "1"}}),
        ("get", "/api/v1/keys/bob/enc_keys", {"params": [("number", "1"), ("number", "2")]}),
        ("get", "/api/v1/keys/nobody/status", {}),
        ("get", "/api/v1/keys/bob/dec_keys", {"params": {"key_ID": "x"}}),
        ("get", "/api/v1/keys/bob/dec_keys", {}),
        ("post", "/api/v1/keys/bob/dec_keys", {"json": {"key_IDs": [{"key_ID": "zz"}]}}),
        ("post", "/api/v1/keys/bob/dec_keys", {"json": {"key_IDs": "abc"}}),
        ("post", "/api/v1/keys/bob/dec_keys", {"json": {"key_IDs": [{"key_ID": 5}]}}),
        ("post", "/api/v1/keys/bob/dec_keys", {"json": {"keys": []}}),
    ],
)
def test_malformed_requests_give_400_and_change_no_pool(
    cluster, pki_dir, service, method, path, kwargs
):
    before = pools(service)
    # alice asks her KME; dec_keys requests go to alice's KME too, naming bob as master.
    with https_client(cluster, pki_dir, "alice") as alice:
        answer = getattr(alice, method)(path, **kwargs)
    assert answer.status_code == 400, answer.text
    assert set(answer.json()) <= {"message", "details"} and answer.json()["message"]
    assert same(before, pools(service))


def test_size_message_is_the_spec_s(cluster, pki_dir):
    with https_client(cluster, pki_dir, "alice") as alice:
        answer = alice.post("/api/v1/keys/bob/enc_keys", json={"size": 100})
    assert answer.json()["message"] == MSG_SIZE_NOT_BYTES


def test_unknown_key_id_and_foreign_slave(cluster, pki_dir, service):
    with (
        https_client(cluster, pki_dir, "alice") as alice,
        https_client(cluster, pki_dir, "bob") as bob,
        https_client(cluster, pki_dir, "dave") as dave,
    ):
        unknown = bob.get("/api/v1/keys/alice/dec_keys", params={"key_ID": str(uuid.uuid4())})
        assert unknown.status_code == 400 and unknown.json()["message"] == MSG_KEYS_NOT_FOUND
        key_id = alice.get("/api/v1/keys/bob/enc_keys").json()["keys"][0]["key_ID"]
        before = pools(service)
        # dave presents a valid certificate but to bob's KME, which does not serve him: 401.
        with https_client(cluster, pki_dir, "dave", node="eed-user") as stray:
            answer = stray.get("/api/v1/keys/alice/dec_keys", params={"key_ID": key_id})
        assert answer.status_code == 401 and answer.content == b""
        # at his own KME the key is not there.
        answer = dave.get("/api/v1/keys/alice/dec_keys", params={"key_ID": key_id})
        assert answer.status_code == 400
        assert same(before, pools(service))
        assert bob.get("/api/v1/keys/alice/dec_keys", params={"key_ID": key_id}).status_code == 200


def test_exhausted_pool_gives_503_with_an_error_body(pki_dir):
    from network.kms.server import KMSCluster
    from tests.network.kms.kms_helpers import make_service

    service = make_service(prefill_s=0.001)
    with (
        KMSCluster(service, pki_dir=pki_dir) as cluster,
        https_client(cluster, pki_dir, "alice") as alice,
    ):
        before = pools(service)
        answer = alice.post("/api/v1/keys/bob/enc_keys", json={"number": 100, "size": 4096})
        assert answer.status_code == 503
        assert answer.json()["message"].startswith("not enough key")
        assert same(before, pools(service))


def test_missing_wrong_or_server_certificate_is_refused(cluster, pki_dir, tmp_path, service):
    _, port = cluster.addresses["crl-user"]
    url = f"https://localhost:{port}/api/v1/keys/bob/enc_keys"
    before = pools(service)
    # No client certificate: the TLS handshake fails (TLS 1.3 reports it on first read).
    with pytest.raises((httpx.TransportError, ssl.SSLError)):
        httpx.get(url, verify=client_ssl_context(pki_dir, None))
    # A certificate named "alice" from another CA.
    create_test_pki(tmp_path, saes={"alice": "crl-user"})
    rogue = ssl.create_default_context(cafile=str(pki_dir / "ca.pem"))
    rogue.load_cert_chain(str(tmp_path / "alice.pem"), str(tmp_path / "alice.key"))
    with pytest.raises((httpx.TransportError, ssl.SSLError)):
        httpx.get(url, verify=rogue)
    # A KME's server certificate (right CA) presented as a client names no SAE.
    kme = ssl.create_default_context(cafile=str(pki_dir / "ca.pem"))
    kme.load_cert_chain(str(pki_dir / "EED.pem"), str(pki_dir / "EED.key"))
    try:
        answer = httpx.get(url, verify=kme)
    except (httpx.TransportError, ssl.SSLError):
        pass  # OpenSSL may refuse a certificate without clientAuth usage in the handshake
    else:
        assert answer.status_code == 401 and answer.content == b""
    assert same(before, pools(service))


def test_many_pairs_at_once_never_share_a_key(cluster, pki_dir, service):
    pairs = [("alice", "bob"), ("carol", "dave"), ("erin", "alice"), ("frank", "carol")]

    def run(pair):
        master, slave = pair
        got = []
        with (
            https_client(cluster, pki_dir, master) as m,
            https_client(cluster, pki_dir, slave) as s,
        ):
            for _ in range(5):
                sent = m.post(f"/api/v1/keys/{slave}/enc_keys", json={"number": 4, "size": 128})
                assert sent.status_code == 200, sent.text
                ids = [{"key_ID": k["key_ID"]} for k in sent.json()["keys"]]
                back = s.post(f"/api/v1/keys/{master}/dec_keys", json={"key_IDs": ids})
                assert back.status_code == 200, back.text
                assert back.json()["keys"] == sent.json()["keys"]
                got.extend((k["key_ID"], k["key"]) for k in sent.json()["keys"])
        return got

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, pairs * 2, timeout=120))
    keys = [item for result in results for item in result]
    assert len(keys) == 8 * 5 * 4
    assert len({key_id for key_id, _ in keys}) == len(keys)
    assert len({value for _, value in keys}) == len(keys)
    assert service.pending_count() == 0
    service.supply.check_ledger()


def test_every_sae_in_the_map_reaches_its_kme(cluster, pki_dir):
    for sae in SAES:
        peer = "alice" if sae != "alice" else "bob"
        with https_client(cluster, pki_dir, sae) as client:
            assert client.get(f"/api/v1/keys/{peer}/status").status_code == 200
