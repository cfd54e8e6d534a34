"""KeyStore: deposits with carry and capacity, atomic takes, discard, the ledger, one-time use."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import network.keys.store as store_module
from network.errors import InsufficientKeyError
from network.keys import KEY_MODES, UNLIMITED_BITS, KeyStore
from tests.helpers import binomial_tolerance

MODES = list(KEY_MODES)


def snapshot(store: KeyStore) -> dict[str, list[int]]:
    ledger = store.ledger()
    return {name: getattr(ledger, name).tolist() for name in ledger.__dataclass_fields__}


# -- deposits -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_fractions_are_carried_per_link(mode):
    store = KeyStore(3, mode=mode)
    for _ in range(10):
        store.deposit([0.1, 2.5, 0.0])
    # hand count: 10 x 0.1 = 1 bit; 10 x 2.5 = 25 bits; nothing on link 2
    assert store.available.tolist() == [1, 25, 0]
    assert store.ledger().generated.tolist() == [1, 25, 0]


@pytest.mark.parametrize("mode", MODES)
def test_capacity_discards_and_counts_the_overflow(mode):
    store = KeyStore(3, mode=mode, capacity_bits=[100, 50, 0])
    store.deposit([80, 80, 80])
    store.deposit([80, 10, 1])
    ledger = store.ledger()
    assert ledger.stored.tolist() == [100, 50, 0]
    assert ledger.generated.tolist() == [160, 90, 81]
    assert ledger.discarded.tolist() == [60, 40, 81]
    store.check_ledger()


def test_capacity_scalar_and_unlimited():
    assert KeyStore(2, capacity_bits=7).capacity_bits.tolist() == [7, 7]
    assert KeyStore(2).capacity_bits.tolist() == [UNLIMITED_BITS] * 2


@pytest.mark.parametrize(
    ("amounts", "error", "match"),
    [
        ([1.0, -1.0], ValueError, r"bits_per_link\[1\]=-1.0"),
        ([1.0, np.nan], ValueError, r"bits_per_link\[1\]=nan"),
        ([np.inf, 1.0], ValueError, r"bits_per_link\[0\]=inf"),
        ([1.0, 2.0, 3.0], ValueError, r"shape \(3,\)"),
        (["a", "b"], TypeError, "numeric"),
        ([True, False], TypeError, "numeric"),
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_bad_deposits_raise_and_deposit_nothing(mode, amounts, error, match):
    store = KeyStore(2, mode=mode)
    store.deposit([10.5, 3.0])
    before = snapshot(store)
    with pytest.raises(error, match=match):
        store.deposit(amounts)
    assert snapshot(store) == before
    store.deposit([0.5, 0.0])  # the carried half bit is still there
    assert store.available.tolist() == [11, 3]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_links": 0}, ValueError, "n_links=0"),
        ({"n_links": 2.0}, TypeError, "n_links=2.0"),
        ({"n_links": 2, "mode": "bits"}, ValueError, "mode='bits'"),
        ({"n_links": 2, "capacity_bits": -1}, ValueError, "capacity_bits=-1"),
        ({"n_links": 2, "capacity_bits": [1, 2, 3]}, ValueError, "capacity_bits has shape"),
        ({"n_links": 2, "capacity_bits": 1.5}, TypeError, "capacity_bits=1.5"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    n_links = kwargs.pop("n_links")
    with pytest.raises(error, match=match):
        KeyStore(n_links, **kwargs)


def test_material_bits_come_from_the_operating_system(monkeypatch):
    """Deposited bits are the bytes of secrets.token_bytes, split per link in link order."""
    stream = np.random.default_rng(3).integers(0, 256, 8, dtype=np.uint8)
    calls = []

    def fake_token_bytes(n: int) -> bytes:
        calls.append(n)
        return stream[:n].tobytes()

    monkeypatch.setattr(store_module.secrets, "token_bytes", fake_token_bytes)
    store = KeyStore(3, mode="material")
    store.deposit([16, 0, 40])
    assert calls == [7]  # 56 bits in one request
    bits = np.unpackbits(stream[:7])
    assert np.array_equal(store.take(0, 16).ends[1].bits, bits[:16])
    assert np.array_equal(store.take(2, 40).ends[0].bits, bits[16:56])


def test_material_bits_are_balanced_and_differ_between_stores():
    n = 20_000
    first, second = KeyStore(1, mode="material"), KeyStore(1, mode="material")
    first.deposit([n])
    second.deposit([n])
    a, b = first.take(0, n).ends[0].bits, second.take(0, n).ends[0].bits
    assert abs(a.mean() - 0.5) < binomial_tolerance(0.5, n)
    assert abs((a != b).mean() - 0.5) < binomial_tolerance(0.5, n)


# -- takes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_take_returns_identical_ends_and_consecutive_offsets(mode):
    store = KeyStore(2, mode=mode)
    store.deposit([300, 0])
    first, second = store.take(0, 100), store.take(0, 150)
    assert (first.offset, second.offset) == (0, 100)
    assert first.ends[0] == first.ends[1]
    assert first.ends[0].mode == mode and first.n_bits == 100
    assert store.available.tolist() == [50, 0]
    ledger = store.ledger()
    assert ledger.consumed.tolist() == [250, 0] and ledger.stored.tolist() == [50, 0]


@pytest.mark.parametrize("mode", MODES)
def test_insufficient_key_raises_and_consumes_nothing(mode):
    store = KeyStore(2, mode=mode)
    store.deposit([64, 64])
    before = snapshot(store)
    with pytest.raises(InsufficientKeyError, match="link 1 holds 64 bits, 65 requested"):
        store.take(1, 65)
    assert snapshot(store) == before
    store.check_ledger()  # in material mode, the pools still hold all 64 bits


@pytest.mark.parametrize("mode", MODES)
def test_take_path_is_all_or_nothing(mode):
    store = KeyStore(3, mode=mode)
    store.deposit([100, 100, 40])
    before = snapshot(store)
    with pytest.raises(InsufficientKeyError, match="link 2"):
        store.take_path([0, 1, 2], 50)
    # a link used twice must hold both requests
    with pytest.raises(InsufficientKeyError, match="link 0 holds 100 bits, 120 requested"):
        store.take_path([0, 1, 0], 60)
    assert snapshot(store) == before
    blocks = store.take_path([0, 2, 1], [10, 40, 30])
    assert [(b.link, b.n_bits) for b in blocks] == [(0, 10), (2, 40), (1, 30)]
    assert store.available.tolist() == [90, 70, 0]


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((3, 1), ValueError, r"link=3 not in \[0, 3\)"),
        ((-1, 1), ValueError, r"link=-1 not in"),
        ((0, 0), ValueError, "n_bits=0"),
        ((0, 1.0), TypeError, "n_bits=1.0"),
        ((True, 1), TypeError, "link=True"),
        ((0.0, 1), TypeError, "link=0.0"),
    ],
)
def test_bad_take_arguments(args, error, match):
    store = KeyStore(3)
    store.deposit([10, 10, 10])
    with pytest.raises(error, match=match):
        store.take(*args)
    assert store.available.tolist() == [10, 10, 10]


def test_available_is_a_read_only_copy():
    store = KeyStore(2)
    store.deposit([5, 5])
    view = store.available
    with pytest.raises(ValueError):
        view[0] = 100
    assert store.available.tolist() == [5, 5]


# -- ledger, discard ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_discard_throws_stored_key_away_and_keeps_the_stream_offsets(mode):
    store = KeyStore(2, mode=mode)
    store.deposit([100, 30])
    store.take(0, 10)
    assert store.discard(0) == 90
    assert store.available.tolist() == [0, 30]
    store.deposit([20, 0])
    block = store.take(0, 20)
    assert block.offset == 100  # the discarded bits left the stream; they are never handed out
    ledger = store.ledger()
    assert ledger.discarded.tolist() == [90, 0]
    assert ledger.generated.tolist() == [120, 30]
    store.check_ledger()


def test_mark_delivered_cannot_exceed_consumed():
    store = KeyStore(2)
    store.deposit([100, 100])
    store.take(0, 40)
    store.mark_delivered([0, 0], 20)
    with pytest.raises(ValueError, match="link 0: 41 bits delivered would exceed the 40"):
        store.mark_delivered(0, 1)
    with pytest.raises(ValueError, match="link 1"):
        store.mark_delivered([1], 1)
    assert store.ledger().delivered.tolist() == [40, 0]


def test_check_ledger_detects_a_broken_balance():
    store = KeyStore(2, mode="material")
    store.deposit([10, 10])
    store.check_ledger()
    store._stored[1] += 1  # what a bookkeeping bug would do
    with pytest.raises(RuntimeError, match="key ledger of link 1 is inconsistent"):
        store.check_ledger()
    store._stored[1] -= 1
    store._pools[0][1].take(1)  # one end's pool out of step with the ledger
    with pytest.raises(RuntimeError, match=r"link 0: pools hold \[10, 9\] bits"):
        store.check_ledger()


def test_ledger_totals_and_repr_show_no_bits():
    store = KeyStore(2, mode="material")
    store.deposit([64, 64])
    store.take(1, 8)
    totals = store.ledger().totals()
    assert totals == {
        "generated_bits": 128,
        "stored_bits": 120,
        "consumed_bits": 8,
        "delivered_bits": 0,
        "discarded_bits": 0,
    }
    assert repr(store.take(0, 8)) == "LinkKey(link=0, offset=0, n_bits=8)"
    assert "[" not in repr(store.ledger())


# -- properties over random operation sequences ---------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("deposit"),
            st.lists(st.floats(0, 400, allow_nan=False), min_size=3, max_size=3),
        ),
        st.tuples(st.just("take"), st.tuples(st.integers(0, 2), st.integers(64, 160))),
        st.tuples(
            st.just("path"),
            st.tuples(st.lists(st.integers(0, 2), min_size=1, max_size=3), st.integers(64, 96)),
        ),
        st.tuples(st.just("deliver"), st.tuples(st.integers(0, 2), st.integers(1, 64))),
        st.tuples(st.just("discard"), st.integers(0, 2)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(ops=operations, capacity=st.integers(0, 600), mode=st.sampled_from(MODES))
def test_ledger_conservation_and_one_time_use(ops, capacity, mode):
    """generated = stored + consumed + discarded and delivered <= consumed after every step;
    material mode: no two takes of a link overlap in offsets or return equal blocks."""
    store = KeyStore(3, mode=mode, capacity_bits=capacity)
    taken: list = []
    for op, arg in ops:
        try:
            if op == "deposit":
                store.deposit(arg)
            elif op == "take":
                taken.append(store.take(*arg))
            elif op == "path":
                taken.extend(store.take_path(*arg))
            elif op == "deliver":
                store.mark_delivered(*arg)
            else:
                store.discard(arg)
        except InsufficientKeyError:
            pass
        except ValueError as error:  # delivering more than was consumed
            assert op == "deliver" and "exceed" in str(error)
        ledger = store.ledger()
        assert np.array_equal(ledger.generated, ledger.stored + ledger.consumed + ledger.discarded)
        assert np.all(ledger.delivered <= ledger.consumed)
        assert np.all(ledger.stored <= capacity) and np.all(ledger.stored >= 0)
        store.check_ledger()
    for link in range(3):
        blocks = sorted((b for b in taken if b.link == link), key=lambda b: b.offset)
        for before, after in itertools.pairwise(blocks):
            assert before.offset + before.n_bits <= after.offset
        assert sum(b.n_bits for b in blocks) == store.ledger().consumed[link]
    if mode == "material":
        # 64+ fresh random bits: two equal blocks would mean a bit handed out twice
        seen = {b.ends[0].bits.tobytes() for b in taken}
        assert len(seen) == len(taken)
        assert all(np.array_equal(b.ends[0].bits, b.ends[1].bits) for b in taken)
