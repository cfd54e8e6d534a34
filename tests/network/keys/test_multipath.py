"""Multipath relay: Shamir shares over node-disjoint paths, secrecy below k, key confirmation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from network.errors import InsufficientKeyError
from network.keys import KEY_MODES, KeyStore, relay_multipath
from qkdcircuits.postprocessing import split_key
from tests.helpers import FALSE_ALARM
from tests.network.keys.behaviours import Drop, FlipBit, Spy

MODES = list(KEY_MODES)


def fan(n_paths: int, hops: int = 2) -> tuple[list[tuple], dict[tuple, int]]:
    """``n_paths`` node-disjoint paths s -> p{i}_1 -> ... -> t, and their link ids."""
    paths, links = [], {}
    for i in range(n_paths):
        path = ("s", *(f"p{i}_{j}" for j in range(1, hops)), "t")
        paths.append(path)
        for u, v in itertools.pairwise(path):
            links[u, v] = len(links)
    return paths, links


def fan_store(mode: str, links: dict, bits: int = 4096) -> KeyStore:
    store = KeyStore(len(links), mode=mode)
    store.deposit([bits] * len(links))
    return store


@pytest.mark.parametrize("mode", MODES)
def test_honest_paths_deliver_the_key_and_consume_a_share_per_hop(mode):
    paths, links = fan(3, hops=3)
    store = fan_store(mode, links)
    delivery = relay_multipath(store, paths, 100, threshold=2, link_of=links, rng=0)
    assert delivery.delivered and delivery.correct and not delivery.exposed
    assert delivery.target_key == delivery.source_key
    assert (delivery.shares_arrived, delivery.confirmations) == (3, 1)
    # shares are whole bytes: 104 bits on each of the 9 hops
    assert delivery.consumed_bits == 9 * 104 and sorted(delivery.links) == list(range(9))
    assert store.available.tolist() == [4096 - 104] * 9
    assert store.ledger().delivered.tolist() == [104] * 9
    store.check_ledger()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("n", "k"), [(3, 2), (4, 2), (4, 3), (3, 3), (3, 1)])
def test_the_target_never_accepts_a_wrong_key_and_delivers_when_enough_paths_are_clean(mode, n, k):
    """Every assignment of corrupting or withholding relays to the paths: the key is delivered
    when at least k paths are clean (in accounting mode: iff), and a delivered key is always
    the source's. (In material mode, equal corruptions of two shares can cancel in the
    interpolation, e.g. all Lagrange weights are 1 for x = 1, 2, 3; the key is then correct.)"""
    paths, links = fan(n)
    for faults in itertools.product((None, "flip", "drop"), repeat=n):
        behaviours = {
            f"p{i}_1": FlipBit(index=3) if fault == "flip" else Drop()
            for i, fault in enumerate(faults)
            if fault is not None
        }
        store = fan_store(mode, links, bits=64)
        delivery = relay_multipath(
            store, paths, 64, threshold=k, link_of=links, behaviours=behaviours, rng=0
        )
        clean = faults.count(None)
        if clean >= k:
            assert delivery.delivered, faults
        if mode == "accounting":  # any altered share spoils a subset
            assert delivery.delivered == (clean >= k), faults
        if delivery.delivered:
            assert delivery.correct and delivery.target_key == delivery.source_key
        else:
            assert delivery.target_key is None and not delivery.correct
        assert delivery.shares_arrived == n - faults.count("drop")
        assert delivery.confirmations <= len(list(itertools.combinations(range(n), k)))


def test_reasons_say_why_the_key_was_not_delivered():
    paths, links = fan(3)

    def attempt(behaviours):
        store = fan_store("material", links)
        return relay_multipath(store, paths, 16, threshold=2, link_of=links, behaviours=behaviours)

    dropped = attempt({"p0_1": Drop(), "p2_1": Drop()})
    assert dropped.reason == "1 of 3 shares arrived, 2 needed (withheld by p0_1, p2_1)"
    corrupted = attempt({"p0_1": FlipBit(), "p1_1": FlipBit()})
    assert corrupted.reason == (
        "no 2 of the 3 shares that arrived pass key confirmation (3 checked of 3)"
    )
    assert corrupted.confirmations == 3


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_exposed_iff_compromised_nodes_see_at_least_k_shares(mode, k):
    paths, links = fan(4, hops=3)
    for spied in range(5):
        behaviours = {f"p{i}_{1 + i % 2}": Spy() for i in range(spied)}
        delivery = relay_multipath(
            fan_store(mode, links),
            paths,
            24,
            threshold=k,
            link_of=links,
            behaviours=behaviours,
            rng=0,
        )
        assert delivery.delivered and delivery.correct
        assert delivery.shares_exposed == spied
        assert delivery.exposed == (spied >= k)
        assert set(delivery.exposed_to) == set(behaviours)


def test_a_spy_behind_a_withholder_sees_nothing():
    paths, links = fan(2, hops=3)
    delivery = relay_multipath(
        fan_store("material", links),
        paths,
        16,
        threshold=1,
        link_of=links,
        behaviours={"p0_1": Drop(), "p0_2": Spy()},
    )
    assert delivery.delivered and delivery.shares_exposed == 0 and not delivery.exposed
    assert delivery.links.count(links["p0_2", "t"]) == 0  # the hop after the drop is unused


def test_k_shares_seen_by_spies_rebuild_the_key():
    """The adversary's view really holds the key once it has k shares (k = 2 of 3)."""
    from qkdcircuits.postprocessing import KeyShare, combine_key

    paths, links = fan(3)
    spies = {"p0_1": Spy(), "p2_1": Spy()}
    delivery = relay_multipath(
        fan_store("material", links), paths, 40, threshold=2, link_of=links, behaviours=spies
    )
    shares = [
        KeyShare(x=x, data=np.packbits(spies[node].seen[0].bits), n_bits=40)
        for x, node in ((1, "p0_1"), (3, "p2_1"))
    ]
    assert delivery.exposed
    assert np.array_equal(combine_key(shares), delivery.source_key.bits)


@pytest.mark.parametrize(
    ("k", "observed"),
    [(2, (1,)), (2, (3,)), (2, (255,)), pytest.param(3, (2, 5), marks=pytest.mark.slow)],
)
def test_fewer_than_k_shares_are_consistent_with_every_key_byte_equally(k, observed):
    """Brute force over GF(2^8): enumerating every secret byte and every choice of the k - 1
    random coefficients, each (secret byte, values of the k - 1 observed shares) pair occurs
    exactly once. So whatever k - 1 shares show, every secret byte is equally consistent."""
    secret_bytes = np.repeat(np.arange(256, dtype=np.uint8), 256)  # byte b holds b // 256
    linear = np.tile(np.arange(256, dtype=np.uint8), 256)  # ... and coefficient b % 256
    key = np.unpackbits(secret_bytes)
    seen = np.zeros(256 * 256 ** len(observed), dtype=bool)
    for top in range(256) if k == 3 else [None]:
        rows = [linear] if top is None else [linear, np.full(linear.size, top, dtype=np.uint8)]
        shares = split_key(
            key, threshold=k, n_shares=max(k, *observed), coefficients=np.array(rows)
        )
        code = secret_bytes.astype(np.int64)
        for x in observed:
            code = code * 256 + shares[x - 1].data
        assert np.unique(code).size == code.size and not seen[code].any()
        seen[code] = True
    assert seen.all()


def test_a_compromised_share_is_statistically_independent_of_the_key():
    """Through the relay, one spied path of n = 3, k = 2: a chi-squared test of independence
    between key bytes and the spied share bytes (high nibbles, 16 x 16 table) does not reject
    at the suite's false-alarm rate; the same test rejects for k = 1, where the share is the
    key, so it can fail."""
    paths, links = fan(3)

    def table(k: int) -> np.ndarray:
        counts = np.zeros((16, 16), dtype=np.int64)
        for _ in range(12):
            spy = Spy()
            store = fan_store("material", links, bits=8192)
            delivery = relay_multipath(
                store, paths, 8192, threshold=k, link_of=links, behaviours={"p1_1": spy}
            )
            key_bytes = np.packbits(delivery.source_key.bits)
            share_bytes = np.packbits(spy.seen[0].bits)
            np.add.at(counts, (key_bytes >> 4, share_bytes >> 4), 1)
        return counts

    assert stats.chi2_contingency(table(2)).pvalue > FALSE_ALARM
    assert stats.chi2_contingency(table(1)).pvalue < FALSE_ALARM


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 4),
    interior=st.integers(1, 3),
    mode=st.sampled_from(MODES),
)
def test_random_behaviours_respect_the_guarantees(data, n, interior, mode):
    """Random honest / spying / withholding / corrupting interior nodes on n paths:
    exposed iff >= k paths had a compromised node before any withholder; delivered when >= k
    paths are free of withholders and corrupters (accounting mode: iff); a delivered key is
    always correct."""
    k = data.draw(st.integers(1, n), label="k")
    paths, links = fan(n, hops=interior + 1)
    kinds = st.sampled_from(["honest", "spy", "drop", "flip"])
    behaviours, seen_paths, clean_paths = {}, 0, 0
    for path in paths:
        saw, clean = False, True
        for position, node in enumerate(path[1:-1]):
            kind = data.draw(kinds, label=str(node))
            if kind == "spy":
                behaviours[node] = Spy()
            elif kind == "drop":
                behaviours[node] = Drop()
                clean = False
                break  # nodes after a withholder never get the share
            elif kind == "flip":
                behaviours[node] = FlipBit(index=position)  # two flips never cancel
                saw, clean = True, False
            saw = saw or kind == "spy"
        seen_paths += saw
        clean_paths += clean
    store = fan_store(mode, links, bits=64)
    delivery = relay_multipath(
        store, paths, 32, threshold=k, link_of=links, behaviours=behaviours, rng=0
    )
    assert delivery.exposed == (seen_paths >= k)
    if clean_paths >= k:
        assert delivery.delivered
    if mode == "accounting":
        assert delivery.delivered == (clean_paths >= k)
    assert delivery.correct == delivery.delivered
    if delivery.delivered:
        assert delivery.target_key == delivery.source_key
    store.check_ledger()


@pytest.mark.parametrize(
    ("paths", "kwargs", "error", "match"),
    [
        ([("s", "p0_1", "t"), ("s", "p0_1", "t")], {}, ValueError, "must be node-disjoint"),
        ([("s", "p0_1", "t"), ("t", "p1_1", "s")], {}, ValueError, "joins 't' and 's'"),
        ([("s", "t"), ("s", "t")], {}, ValueError, "repeats the direct link"),
        ([], {}, TypeError, "non-empty sequence of paths"),
        ([("s", "p0_1", "t")], {"threshold": 2}, ValueError, r"threshold=2 not in \[1, 1\]"),
        ([("s", "p0_1", "t")], {"threshold": 0}, ValueError, "threshold=0"),
        ([("s", "p0_1", "t")], {"threshold": 1.0}, TypeError, "threshold=1.0"),
        ([("s", "p0_1", "t")], {"n_bits": 0}, ValueError, "n_bits=0"),
        ([("s", "p0_1", "s")], {}, ValueError, "visits a node twice"),
        ([("s", "p0_1", "t")], {"n_bits": 4097}, InsufficientKeyError, "link 0 holds 4096"),
    ],
)
def test_bad_inputs_raise_and_consume_nothing(paths, kwargs, error, match):
    _, links = fan(2)
    links["s", "t"] = len(links)
    store = fan_store("material", links)
    before = store.ledger().totals()
    arguments = {"n_bits": 64, "threshold": 1, "link_of": links, **kwargs}
    with pytest.raises(error, match=match):
        relay_multipath(store, paths, arguments.pop("n_bits"), **arguments)
    assert store.ledger().totals() == before
    store.check_ledger()


def test_a_direct_link_may_be_one_of_the_paths():
    paths, links = fan(2)
    links["s", "t"] = len(links)
    store = fan_store("material", links)
    delivery = relay_multipath(
        store, [*paths, ("s", "t")], 64, threshold=2, link_of=links, behaviours={"p0_1": Drop()}
    )
    assert delivery.delivered and delivery.correct and delivery.links.count(links["s", "t"]) == 1
