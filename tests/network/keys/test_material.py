"""KeyMaterial and xor: the one-time-pad algebra in both modes, validation, no bits in reprs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from network.keys import KeyMaterial, xor


def blocks(n: int):
    return st.lists(st.integers(0, 1), min_size=n, max_size=n).map(
        lambda bits: KeyMaterial.from_bits(np.array(bits, dtype=np.uint8))
    )


@given(data=st.data(), n=st.integers(0, 64))
def test_xor_is_a_one_time_pad_group(data, n):
    """Involution (decrypting with the same pad), commutativity, associativity, identity."""
    key, pad, other = data.draw(blocks(n)), data.draw(blocks(n)), data.draw(blocks(n))
    zero = KeyMaterial.from_bits(np.zeros(n, dtype=np.uint8))
    assert xor(xor(key, pad), pad) == key
    assert xor(key, pad) == xor(pad, key)
    assert xor(xor(key, pad), other) == xor(key, xor(pad, other))
    assert xor(key, zero) == key
    expected = [a ^ b for a, b in zip(key.bits.tolist(), pad.bits.tolist(), strict=True)]
    assert xor(key, pad).bits.tolist() == expected


def test_accounting_mode_carries_the_altered_flag_through_xor():
    clean, altered = KeyMaterial.counted(8), KeyMaterial.counted(8, altered=True)
    assert xor(clean, clean) == clean
    assert xor(altered, clean).altered and xor(clean, altered).altered
    assert xor(xor(altered, clean), clean) != clean


def test_bits_are_copied_and_read_only():
    source = np.array([1, 0, 1], dtype=np.uint8)
    key = KeyMaterial.from_bits(source)
    source[0] = 0
    assert key.bits.tolist() == [1, 0, 1] and not key.bits.flags.writeable


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_bits": -1}, ValueError, "n_bits=-1"),
        ({"n_bits": True}, TypeError, "n_bits=True"),
        ({"n_bits": 2.0}, TypeError, "n_bits=2.0"),
        ({"n_bits": 3, "bits": np.zeros(2, dtype=np.uint8)}, ValueError, "n_bits=3"),
        ({"n_bits": 2, "bits": np.zeros(2, dtype=np.int64)}, ValueError, "dtype int64"),
        (
            {"n_bits": 2, "bits": np.zeros(2, dtype=np.uint8), "altered": True},
            ValueError,
            "accounting mode",
        ),
    ],
)
def test_bad_blocks_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        KeyMaterial(**kwargs)


@pytest.mark.parametrize(
    ("a", "b", "error", "match"),
    [
        (KeyMaterial.counted(2), KeyMaterial.counted(3), ValueError, "2 and 3 bits"),
        (
            KeyMaterial.counted(2),
            KeyMaterial.from_bits(np.zeros(2, dtype=np.uint8)),
            ValueError,
            "accounting-mode block with a material-mode",
        ),
        (KeyMaterial.counted(2), np.zeros(2, dtype=np.uint8), TypeError, "two KeyMaterial"),
    ],
)
def test_xor_refuses_mismatched_blocks(a, b, error, match):
    with pytest.raises(error, match=match):
        xor(a, b)


def test_repr_never_shows_bits():
    key = KeyMaterial.from_bits(np.array([1, 1, 0, 1, 0, 0, 1, 1], dtype=np.uint8))
    assert repr(key) == "KeyMaterial(n_bits=8, mode='material')"
    assert repr(KeyMaterial.counted(4, altered=True)) == (
        "KeyMaterial(n_bits=4, mode='accounting', altered=True)"
    )
