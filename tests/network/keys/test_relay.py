"""Hop-by-hop OTP relay: correctness, one-time use, behaviours, exposure, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

import network.keys.store as store_module
from network.byzantine import PassiveCopy, Withhold
from network.errors import InsufficientKeyError
from network.keys import KEY_MODES, Delivery, KeyMaterial, KeyStore, relay_otp
from tests.network.keys.behaviours import Drop, FlipBit, Garbage, Spy

MODES = list(KEY_MODES)
CHAIN = ("A", "B", "C", "D")
LINKS = {("A", "B"): 0, ("B", "C"): 1, ("C", "D"): 2}


def chain_store(mode: str, bits: int = 512) -> KeyStore:
    store = KeyStore(3, mode=mode)
    store.deposit([bits] * 3)
    return store


def ledger_of(store: KeyStore) -> dict[str, list[int]]:
    ledger = store.ledger()
    return {name: getattr(ledger, name).tolist() for name in ledger.__dataclass_fields__}


def test_material_relay_delivers_the_first_hops_key_and_uses_each_pad_once(monkeypatch):
    stream = np.random.default_rng(11).integers(0, 256, 3 * 32, dtype=np.uint8)
    monkeypatch.setattr(store_module.secrets, "token_bytes", lambda n: stream[:n].tobytes())
    store = chain_store("material", bits=256)
    link_bits = np.unpackbits(stream).reshape(3, 256)  # deposit splits the stream per link

    delivery = relay_otp(store, CHAIN, 100, link_of=LINKS, rng=0)

    assert delivery.delivered and delivery.correct and not delivery.exposed
    assert np.array_equal(delivery.source_key.bits, link_bits[0, :100])
    assert np.array_equal(delivery.target_key.bits, delivery.source_key.bits)
    assert delivery.consumed_bits == 300 and delivery.links == (0, 1, 2)
    assert store.available.tolist() == [156, 156, 156]
    assert store.ledger().delivered.tolist() == [100, 100, 100]
    # each hop's pad is gone: the next block of every link starts at bit 100
    for link in range(3):
        block = store.take(link, 8)
        assert block.offset == 100
        assert np.array_equal(block.ends[0].bits, link_bits[link, 100:108])
    store.check_ledger()


def test_corruption_propagates_as_xor_through_the_one_time_pads():
    """Two relays each flip one bit: the target ends with exactly those two bits flipped."""
    store = chain_store("material")
    delivery = relay_otp(
        store,
        CHAIN,
        64,
        link_of=LINKS,
        behaviours={"B": FlipBit(index=5), "C": FlipBit(index=40)},
        rng=0,
    )
    assert delivery.delivered and not delivery.correct
    difference = np.flatnonzero(delivery.source_key.bits != delivery.target_key.bits)
    assert difference.tolist() == [5, 40]
    assert delivery.exposed and delivery.exposed_to == ("B", "C")
    assert store.ledger().delivered.tolist() == [0, 0, 0]  # a wrong key is not delivered key


@pytest.mark.parametrize("mode", MODES)
def test_withholding_stops_the_key_and_later_hops_keep_their_pads(mode):
    store = chain_store(mode)
    delivery = relay_otp(store, CHAIN, 64, link_of=LINKS, behaviours={"C": Drop()}, rng=0)
    assert not delivery.delivered and not delivery.correct
    assert delivery.reason == "withheld by node C" and delivery.target_key is None
    assert not delivery.exposed  # Drop is not compromised
    assert delivery.consumed_bits == 128 and delivery.links == (0, 1)
    assert store.available.tolist() == [448, 448, 512]
    assert store.ledger().delivered.tolist() == [0, 0, 0]
    assert not delivery.secure


@pytest.mark.parametrize("mode", MODES)
def test_a_compromised_withholder_still_learns_the_key(mode):
    delivery = relay_otp(
        chain_store(mode), CHAIN, 64, link_of=LINKS, behaviours={"B": Withhold()}, rng=0
    )
    assert not delivery.delivered and delivery.exposed and delivery.exposed_to == ("B",)


@pytest.mark.parametrize("mode", MODES)
def test_corruption_is_detected_in_both_modes(mode):
    delivery = relay_otp(
        chain_store(mode), CHAIN, 64, link_of=LINKS, behaviours={"C": FlipBit()}, rng=0
    )
    assert delivery.delivered and not delivery.correct and delivery.exposed


def test_passive_copy_sees_the_key_and_leaves_no_trace():
    spy = Spy()
    store = chain_store("material")
    delivery = relay_otp(store, CHAIN, 64, link_of=LINKS, behaviours={"B": spy}, rng=0)
    assert delivery.delivered and delivery.correct and delivery.exposed
    assert delivery.exposed_to == ("B",) and delivery.shares_exposed == 1
    assert len(spy.seen) == 1 and spy.seen[0] == delivery.source_key
    honest = relay_otp(store, CHAIN, 64, link_of=LINKS, rng=0)
    assert (honest.delivered, honest.correct) == (delivery.delivered, delivery.correct)
    assert relay_otp(store, CHAIN, 8, link_of=LINKS, behaviours={"C": PassiveCopy()}).exposed


@pytest.mark.parametrize("mode", MODES)
def test_direct_link_is_one_block_and_end_behaviours_do_not_matter(mode):
    store = chain_store(mode)
    delivery = relay_otp(
        store, ("B", "C"), 32, link_of=LINKS, behaviours={"B": Drop(), "C": FlipBit()}, rng=0
    )
    assert delivery.delivered and delivery.correct and not delivery.exposed
    assert delivery.consumed_bits == 32 and delivery.links == (1,)
    assert store.available.tolist() == [512, 480, 512]


@pytest.mark.parametrize("mode", MODES)
def test_consecutive_relays_never_share_key(mode):
    store = chain_store(mode, bits=200)
    first = relay_otp(store, CHAIN, 100, link_of=LINKS)
    second = relay_otp(store, CHAIN[::-1], 100, link_of=LINKS)
    assert first.correct and second.correct
    if mode == "material":
        assert not np.array_equal(first.source_key.bits, second.source_key.bits)
    assert store.available.tolist() == [0, 0, 0]
    with pytest.raises(InsufficientKeyError):
        relay_otp(store, CHAIN, 1, link_of=LINKS)
    assert store.ledger().delivered.tolist() == [200, 200, 200]


def test_link_of_may_be_a_callable_or_a_mapping_in_either_orientation():
    store = chain_store("accounting")
    by_call = relay_otp(store, CHAIN, 8, link_of=lambda u, v: LINKS.get((u, v), LINKS.get((v, u))))
    reverse = relay_otp(store, CHAIN[::-1], 8, link_of=LINKS)
    assert by_call.links == (0, 1, 2) and reverse.links == (2, 1, 0)


def test_repr_hides_the_key_bits():
    delivery = relay_otp(chain_store("material"), CHAIN, 64, link_of=LINKS)
    text = repr(delivery)
    assert text.startswith("Delivery(source='A', target='D', n_bits=64, delivered=True")
    assert "[" not in text and "bits=" not in text.replace("n_bits=", "").replace(
        "consumed_bits=", ""
    )


@pytest.mark.parametrize(
    ("path", "kwargs", "error", "match"),
    [
        (("A", "B", "A"), {}, ValueError, "visits a node twice"),
        (("A",), {}, ValueError, "at least two nodes"),
        ("AB", {}, TypeError, "sequence of nodes"),
        (("A", "C"), {}, ValueError, "no link between 'A' and 'C'"),
        (("A", "B"), {"n_bits": 0}, ValueError, "n_bits=0"),
        (("A", "B", "C"), {"behaviours": {"B": "honest"}}, TypeError, r"behaviours\['B'\]"),
        (("A", "B", "C"), {"behaviours": ["B"]}, TypeError, "behaviours must map"),
        (("A", "B"), {"link_of": lambda u, v: 7}, ValueError, "returned link 7"),
        (("A", "B"), {"link_of": lambda u, v: "0"}, TypeError, "not an integer link id"),
        (("A", "B"), {"link_of": 3}, TypeError, "link_of must be"),
        (("A", "B"), {"rng": 1.5}, TypeError, "rng=1.5"),
        (CHAIN, {"n_bits": 600}, InsufficientKeyError, "link 0 holds 512 bits, 600 requested"),
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_bad_inputs_raise_clear_errors_and_consume_nothing(mode, path, kwargs, error, match):
    store = chain_store(mode)
    store.take(2, 100)  # the last hop is the shortest
    before = ledger_of(store)
    arguments = {"n_bits": 64, "link_of": LINKS, **kwargs}
    with pytest.raises(error, match=match):
        relay_otp(store, path, arguments.pop("n_bits"), **arguments)
    assert ledger_of(store) == before
    store.check_ledger()


def test_the_last_hop_short_of_key_consumes_nothing():
    store = chain_store("material")
    store.take(2, 500)
    with pytest.raises(InsufficientKeyError, match="link 2 holds 12 bits"):
        relay_otp(store, CHAIN, 64, link_of=LINKS)
    assert store.available.tolist() == [512, 512, 12]
    store.check_ledger()


def test_a_behaviour_returning_no_decision_is_named():
    with pytest.raises(TypeError, match="behaviour of node 'B' returned 'forward'"):
        relay_otp(chain_store("accounting"), CHAIN, 8, link_of=LINKS, behaviours={"B": Garbage()})


def test_delivery_validates_its_fields():
    key = KeyMaterial.counted(8)
    common = {
        "source": "A",
        "target": "B",
        "paths": (("A", "B"),),
        "n_bits": 8,
        "exposed": False,
        "exposed_to": (),
        "consumed_bits": 8,
        "links": (0,),
        "source_key": key,
    }
    with pytest.raises(ValueError, match="reason=None must be given exactly"):
        Delivery(delivered=False, correct=False, **common)
    with pytest.raises(ValueError, match="correct=True needs delivered=True"):
        Delivery(delivered=False, correct=True, reason="x", **common)
    with pytest.raises(ValueError, match="needs target_key"):
        Delivery(delivered=True, correct=True, **common)
    assert Delivery(delivered=True, correct=True, target_key=key, **common).secure
