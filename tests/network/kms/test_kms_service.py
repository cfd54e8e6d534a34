"""KMEs of ETSI GS QKD 014 without HTTP: flows, error codes, one-time delivery, concurrency."""

from __future__ import annotations

import base64
import threading
import uuid

import numpy as np
import pytest

from network.byzantine import PassiveCopy
from network.kms.service import (
    MSG_EXTENSION_UNMET,
    MSG_EXTENSION_UNSUPPORTED,
    MSG_KEYS_NOT_FOUND,
    MSG_SIZE_NOT_BYTES,
    KeyManagementService,
    KMEConfig,
    KMSError,
    check_sae_id,
)
from tests.network.kms.kms_helpers import SAES, make_service, run_threads


def refused(call, *args, **kwargs) -> KMSError:
    with pytest.raises(KMSError) as info:
        call(*args, **kwargs)
    return info.value


def snapshot(service: KeyManagementService):
    ledger = service.supply.key_ledger()
    return ledger.stored.copy(), ledger.consumed.copy(), service.pending_count()


def unchanged(service, before) -> bool:
    after = snapshot(service)
    return all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.fixture
def kmes(service):
    return {sae: service.kme(node) for sae, node in SAES.items()}


def test_master_and_slave_get_the_same_keys_once(service, kmes):
    sent = kmes["alice"].get_enc_keys("alice", "bob", number=3, size=256)
    assert len(sent["keys"]) == 3
    for key in sent["keys"]:
        assert uuid.UUID(key["key_ID"]).version == 4
        assert len(base64.b64decode(key["key"])) == 32
        assert key["key_extension"]["abft_route_type"] in ("direct", "indirect")
    ids = [key["key_ID"] for key in sent["keys"]]
    got = kmes["bob"].get_dec_keys("bob", "alice", ids[::-1])
    assert [k["key_ID"] for k in got["keys"]] == ids[::-1]
    assert [k["key"] for k in got["keys"]] == [k["key"] for k in sent["keys"]][::-1]
    error = refused(kmes["bob"].get_dec_keys, "bob", "alice", ids[:1])
    assert (error.status_code, error.message) == (400, MSG_KEYS_NOT_FOUND)
    assert error.body()["details"] == [{"key_IDs_not_found": ids[:1]}]


def test_keys_are_the_network_pool_bits(service, kmes):
    stored_before = service.supply.key_ledger().stored.copy()
    sent = kmes["carol"].get_enc_keys("carol", "erin", number=2, size=64)  # CRL - ENG direct
    link = service.supply.topology.link_id("CRL", "ENG")
    ledger = service.supply.key_ledger()
    assert stored_before[link] - ledger.stored[link] == 128
    assert ledger.delivered[link] == 128
    assert sent["keys"][0]["key_extension"]["abft_paths"] == [["CRL", "ENG"]]


def test_status_reports_the_real_stored_key_count(service, kmes):
    status = kmes["carol"].status("carol", "erin")
    link = service.supply.topology.link_id("CRL", "ENG")
    stored = int(service.supply.key_ledger().stored[link])
    assert status == {
        "source_KME_ID": "CRL",
        "target_KME_ID": "ENG",
        "master_SAE_ID": "carol",
        "slave_SAE_ID": "erin",
        "key_size": 256,
        "stored_key_count": stored // 256,
        "max_key_count": (1 << 20) // 256,
        "max_key_per_request": 128,
        "max_key_size": 8192,
        "min_key_size": 8,
        "max_SAE_ID_count": 0,
    }
    kmes["carol"].get_enc_keys("carol", "erin", number=5)
    assert kmes["carol"].status("carol", "erin")["stored_key_count"] == (stored - 5 * 256) // 256


def test_only_the_named_slave_may_fetch(service, kmes):
    sent = kmes["alice"].get_enc_keys("alice", "bob", number=1, size=128)
    key_id = sent["keys"][0]["key_ID"]
    # dave is at EED, not bob's KME (eed-user): not an SAE of this KME.
    assert refused(kmes["bob"].get_dec_keys, "dave", "alice", [key_id]).status_code == 401
    # The master itself cannot fetch the slave's copy.
    assert refused(kmes["bob"].get_dec_keys, "alice", "alice", [key_id]).status_code == 401
    # Another slave registered elsewhere, at its own KME: the key is not there.
    error = refused(kmes["dave"].get_dec_keys, "dave", "alice", [key_id])
    assert (error.status_code, error.message) == (400, MSG_KEYS_NOT_FOUND)
    # The wrong master in the URL: not found either.
    error = refused(kmes["bob"].get_dec_keys, "bob", "carol", [key_id])
    assert error.message == MSG_KEYS_NOT_FOUND
    assert kmes["bob"].get_dec_keys("bob", "alice", [key_id])["keys"][0]["key_ID"] == key_id


def test_a_wrong_slave_takes_nothing(service):
    # Two SAEs at one KME: the one not named as slave gets 401 and the key stays.
    saes = {"alice": "crl-user", "bob": "eed-user", "bob2": "eed-user"}
    local = KeyManagementService(service.supply, saes)
    sent = local.kme("crl-user").get_enc_keys("alice", "bob", size=64)
    key_id = sent["keys"][0]["key_ID"]
    assert refused(local.kme("eed-user").get_dec_keys, "bob2", "alice", [key_id]).status_code == 401
    assert local.pending_count() == 1
    assert (
        local.kme("eed-user").get_dec_keys("bob", "alice", [key_id])["keys"][0]["key"]
        == (sent["keys"][0]["key"])
    )


def test_unregistered_or_foreign_caller_is_unauthorized(service, kmes):
    before = snapshot(service)
    for caller in ("mallory", "bob", None, 7):
        error = refused(kmes["alice"].get_enc_keys, caller, "bob")
        assert error.status_code == 401 and error.body() is None
        assert refused(kmes["alice"].status, caller, "bob").status_code == 401
    assert unchanged(service, before)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 12}, MSG_SIZE_NOT_BYTES),
        ({"size": -3}, MSG_SIZE_NOT_BYTES),
        ({"size": 0}, "requested parameters do not adhere to KME configuration"),
        ({"size": 8200}, "requested parameters do not adhere to KME configuration"),
        ({"size": 10**30}, "requested parameters do not adhere to KME configuration"),
        ({"number": 0}, "requested parameters do not adhere to KME configuration"),
        ({"number": -1}, "requested parameters do not adhere to KME configuration"),
        ({"number": 129}, "requested parameters do not adhere to KME configuration"),
        ({"number": 2**70}, "requested parameters do not adhere to KME configuration"),
        ({"number": True}, "bad request format"),
        ({"number": 1.0}, "bad request format"),
        ({"size": "256"}, "bad request format"),
        ({"additional_slave_sae_ids": ["dave"]}, "requested parameters do not adhere"),
        ({"additional_slave_sae_ids": "dave"}, "bad request format"),
        ({"extension_mandatory": [{"abc_route_type": "direct"}]}, MSG_EXTENSION_UNSUPPORTED),
        ({"extension_mandatory": [{"abft_route_type": "teleport"}]}, MSG_EXTENSION_UNSUPPORTED),
        ({"extension_mandatory": {"abft_route_type": "direct"}}, "bad request format"),
        ({"extension_optional": ["direct"]}, "bad request format"),
        ({"extension_mandatory": [{"abft_route_type": "direct"}]}, MSG_EXTENSION_UNMET),
        (
            {
                "extension_mandatory": [
                    {"abft_route_type": "indirect"},
                    {"abft_route_type": "multipath"},
                ]
            },
            MSG_EXTENSION_UNMET,
        ),
    ],
)
def test_bad_key_requests_give_400_and_change_nothing(service, kmes, kwargs, message):
    before = snapshot(service)
    error = refused(kmes["alice"].get_enc_keys, "alice", "bob", **kwargs)
    assert error.status_code == 400 and error.message.startswith(message), error
    assert unchanged(service, before)


def test_unsupported_extension_details_name_it(kmes):
    error = refused(
        kmes["alice"].get_enc_keys,
        "alice",
        "bob",
        extension_mandatory=[{"abc_route_type": "direct"}],
    )
    assert error.body() == {
        "message": MSG_EXTENSION_UNSUPPORTED,
        "details": [{"extension_mandatory_unsupported": "abc_route_type is not supported"}],
    }


def test_unknown_or_same_kme_slave_gives_400(service, kmes):
    before = snapshot(service)
    for slave in ("nobody", "alice", "../etc", 3):
        assert refused(kmes["alice"].get_enc_keys, "alice", slave).status_code == 400
        assert refused(kmes["alice"].status, "alice", slave).status_code == 400
    assert refused(kmes["bob"].get_dec_keys, "bob", "nobody", [str(uuid.uuid4())]).status_code == (
        400
    )
    assert unchanged(service, before)


@pytest.mark.parametrize(
    "key_ids",
    [
        [],
        ["not-a-uuid"],
        ["{12345678-1234-1234-1234-123456789abc}"],
        [7],
        "bc490419-7d60-487f-adc1-4ddcc177c139",
        ["bc490419-7d60-487f-adc1-4ddcc177c139"] * 2,
        [str(uuid.uuid4()) for _ in range(129)],
    ],
)
def test_bad_key_ids_give_400_and_change_nothing(service, kmes, key_ids):
    kmes["alice"].get_enc_keys("alice", "bob", size=64)
    before = snapshot(service)
    assert refused(kmes["bob"].get_dec_keys, "bob", "alice", key_ids).status_code == 400
    assert unchanged(service, before)


def test_one_unknown_id_in_a_batch_returns_nothing(service, kmes):
    sent = kmes["alice"].get_enc_keys("alice", "bob", number=2, size=64)
    ids = [key["key_ID"] for key in sent["keys"]]
    error = refused(kmes["bob"].get_dec_keys, "bob", "alice", [*ids, str(uuid.uuid4())])
    assert error.message == MSG_KEYS_NOT_FOUND and service.pending_count() == 2
    assert len(kmes["bob"].get_dec_keys("bob", "alice", [i.upper() for i in ids])["keys"]) == 2


def test_route_extension_mandatory_and_optional(service, kmes):
    direct = kmes["carol"].get_enc_keys(
        "carol", "erin", extension_mandatory=[{"abft_route_type": "direct"}]
    )
    assert direct["keys"][0]["key_extension"]["abft_route_type"] == "direct"
    multi = kmes["alice"].get_enc_keys(
        "alice", "bob", extension_mandatory=[{"abft_route_type": "multipath"}]
    )
    assert len(multi["keys"][0]["key_extension"]["abft_paths"]) == 2
    # An optional route type that cannot be met falls back to the shortest path.
    fallback = kmes["alice"].get_enc_keys(
        "alice", "bob", extension_optional=[{"abft_route_type": "direct"}, {"abc_x": 1}]
    )
    assert fallback["keys"][0]["key_extension"]["abft_route_type"] == "indirect"


def test_exhausted_pool_gives_503_and_consumes_nothing():
    service = make_service(prefill_s=1.0, capacity_bits=300)
    before = snapshot(service)
    error = refused(service.kme("crl-user").get_enc_keys, "alice", "bob", number=2, size=256)
    assert error.status_code == 503 and error.body()["message"].startswith("not enough key")
    assert unchanged(service, before)
    assert service.kme("crl-user").status("alice", "bob")["stored_key_count"] == 1


def test_pending_keys_are_bounded():
    service = make_service(config=KMEConfig(max_pending_keys=3))
    kme = service.kme("crl-user")
    kme.get_enc_keys("alice", "bob", number=3, size=64)
    before = snapshot(service)
    assert refused(kme.get_enc_keys, "alice", "bob", size=64).status_code == 503
    assert unchanged(service, before)


def test_exposure_is_reported_on_both_sides():
    service = make_service(behaviours={"ENG": PassiveCopy()})
    sent = service.kme("crl-user").get_enc_keys("alice", "bob", size=64)
    extension = sent["keys"][0]["key_extension"]
    assert extension == {
        "abft_route_type": "indirect",
        "abft_paths": [["crl-user", "ENG", "eed-user"]],
        "abft_exposed": True,
        "abft_exposed_to": ["ENG"],
    }
    got = service.kme("eed-user").get_dec_keys("bob", "alice", [sent["keys"][0]["key_ID"]])
    assert got["keys"][0]["key_extension"] == extension


def test_concurrent_pairs_never_get_a_key_twice(service):
    pairs = [("alice", "bob"), ("carol", "dave"), ("erin", "alice"), ("frank", "carol")]
    sent: dict[str, tuple[str, str, str]] = {}
    lock = threading.Lock()
    errors = []

    def master(m, s):
        try:
            for _ in range(10):
                keys = service.kme(SAES[m]).get_enc_keys(m, s, number=3, size=128)["keys"]
                with lock:
                    for key in keys:
                        assert key["key_ID"] not in sent
                        sent[key["key_ID"]] = (m, s, key["key"])
        except Exception as exc:
            errors.append(exc)

    run_threads(master, pairs * 2)
    assert not errors and len(sent) == 8 * 10 * 3
    assert len({value for _, _, value in sent.values()}) == len(sent)

    # Two threads race for every key on the slave's side: exactly one gets it.
    won: list[str] = []

    def slave(key_id, m, s):
        try:
            got = service.kme(SAES[s]).get_dec_keys(s, m, [key_id])["keys"][0]
            with lock:
                won.append(key_id)
                assert got["key"] == sent[key_id][2]
        except KMSError as exc:
            assert exc.message == MSG_KEYS_NOT_FOUND

    run_threads(slave, [(key_id, m, s) for key_id, (m, s, _) in sent.items() for _ in range(2)])
    assert sorted(won) == sorted(sent) and service.pending_count() == 0
    service.supply.check_ledger()


def test_config_and_service_validation(service):
    with pytest.raises(ValueError, match="key_size"):
        KMEConfig(key_size=4096, max_key_size=2048)
    with pytest.raises(ValueError, match="max_key_per_request"):
        KMEConfig(max_key_per_request=0)
    with pytest.raises(ValueError, match="SAE ID"):
        KeyManagementService(service.supply, {"bad id": "CRL"})
    with pytest.raises(ValueError, match="has no KME"):
        KeyManagementService(service.supply, {"a": "relay-north"})
    with pytest.raises(TypeError, match="KeySupply"):
        KeyManagementService(object(), {})
    with pytest.raises(KeyError, match="no KME"):
        service.kme("relay-west")
    with pytest.raises(ValueError):
        check_sae_id("-x")
