"""Authenticators: the fast hash against the reference one, rejection, pad indexing, exhaustion."""

from __future__ import annotations

import secrets

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from network.consensus import (
    DirectedKeyChannel,
    KeyDirectory,
    PadReceiver,
    PadSender,
    Tag,
    Verdict,
    message_digest,
)
from network.consensus._gf64 import DigestHasher
from qkdcircuits.postprocessing import KeyPool, polynomial_hash

TAG = 64


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**64 - 1), st.binary(min_size=16, max_size=16))
def test_table_hash_equals_the_postprocessing_polynomial_hash(key, digest):
    assert DigestHasher(key)(digest) == polynomial_hash(digest, key)


def test_hash_key_and_pads_come_from_the_pools_in_order():
    bits = np.frombuffer(secrets.token_bytes(64), dtype=np.uint8)
    bits = np.unpackbits(bits)  # 512 bits: hash key + 7 pads
    reference = KeyPool(bits.copy())
    channel = DirectedKeyChannel.from_bits(bits)
    sender = PadSender(channel, prefetch_pads=3)
    key = reference.take(TAG).to_int()
    digest = message_digest(b"m")
    for _ in range(7):
        tag = sender.sign(digest)
        pad = reference.take(TAG)
        assert tag.pad_offset == pad.offset
        assert tag.value == polynomial_hash(digest, key) ^ pad.to_int()
    assert sender.sign(digest) is None  # the pool is empty: no tag without key
    assert channel.sender_pool.remaining == 0


def _pair(n_pads: int, **settings: int) -> tuple[DirectedKeyChannel, PadSender, PadReceiver]:
    channel = DirectedKeyChannel.from_secrets(TAG * (n_pads + 1))
    return channel, PadSender(channel), PadReceiver(channel, **settings)


def test_every_forged_or_altered_message_is_rejected():
    """100 % rejection over 2,000 trials of each kind (a false accept has probability ~2^-62)."""
    _, sender, receiver = _pair(8000, window_pads=8000, max_skip_pads=8000)
    other = _pair(4000)[1]  # a different channel's key: a node impersonating the sender
    verdicts = {"altered": [], "forged": [], "foreign": []}
    for trial in range(2000):
        message = secrets.token_bytes(40)
        tag = sender.sign(message_digest(message))
        altered = bytearray(message)
        altered[trial % 40] ^= 1 << (trial % 8)
        verdicts["altered"].append(receiver.verify(message_digest(bytes(altered)), tag))
        forged = Tag(sender.sign(message_digest(message)).pad_offset, secrets.randbits(64))
        verdicts["forged"].append(receiver.verify(message_digest(message), forged))
        foreign = other.sign(message_digest(message))
        foreign = Tag(sender.sign(message_digest(message)).pad_offset, foreign.value)
        verdicts["foreign"].append(receiver.verify(message_digest(message), foreign))
    for kind, results in verdicts.items():
        assert results == [Verdict.FORGED] * 2000, kind


def test_replayed_stale_out_of_window_and_malformed_tags():
    channel, sender, receiver = _pair(64, window_pads=4, max_skip_pads=16)
    digest = message_digest(b"prepare")
    tags = [sender.sign(digest) for _ in range(30)]
    assert receiver.verify(digest, tags[0]) == Verdict.OK
    assert receiver.verify(digest, tags[0]) == Verdict.REPLAYED
    # a pad taken early (reordering) and used from the window is gone after one use too
    assert receiver.verify(digest, tags[3]) == Verdict.OK
    assert receiver.verify(digest, tags[2]) == Verdict.OK
    assert receiver.verify(digest, tags[2]) == Verdict.REPLAYED
    before = channel.receiver_pool.remaining
    # a tag 20 pads ahead of the last verified one: refused without consuming key
    assert receiver.verify(digest, tags[21]) == Verdict.OUT_OF_WINDOW
    assert channel.receiver_pool.remaining == before
    assert receiver.verify(digest, tags[10]) == Verdict.OK
    # tags[1] waited while 9 later pads were verified: beyond the 4-pad window, discarded
    assert receiver.verify(digest, tags[1]) == Verdict.STALE
    assert receiver.verify(digest, tags[8]) == Verdict.OK  # inside the window, still usable
    assert receiver.verify(digest, Tag(tags[9].pad_offset + 1, 0)) == Verdict.MALFORMED
    assert receiver.verify(digest, Tag(0, 0)) == Verdict.MALFORMED  # the hash key's offset
    assert receiver.discarded >= 1


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_pads_are_used_once_whatever_the_network_does(data):
    """Random drops, duplicates, reordering and forgeries: every pad verifies at most one tag.

    Accepted tags carry genuine messages; no offset is accepted twice; a message whose first
    copy arrives within the window is accepted exactly once; forgeries never pass.
    """
    count = data.draw(st.integers(1, 40))
    window = data.draw(st.integers(1, 50))
    channel, sender, receiver = _pair(count + 10, window_pads=window, max_skip_pads=count + 10)
    messages = [secrets.token_bytes(8) for _ in range(count)]
    tags = [sender.sign(message_digest(m)) for m in messages]
    deliveries = []
    for index in range(count):
        copies = data.draw(st.integers(0, 3))  # 0: dropped, >1: duplicated
        deliveries += [("genuine", index)] * copies
        if data.draw(st.booleans()):
            deliveries.append(("forged", index))
    order = data.draw(st.permutations(range(len(deliveries))))
    accepted_offsets = []
    seen = set()
    for position in order:
        kind, index = deliveries[position]
        tag = tags[index]
        if kind == "forged":
            forged = Tag(tag.pad_offset, tag.value ^ (1 + data.draw(st.integers(0, 2**63))))
            assert receiver.verify(message_digest(messages[index]), forged) != Verdict.OK
            seen.add(index)  # the pad is spent by the forgery
            continue
        verdict = receiver.verify(message_digest(messages[index]), tag)
        if verdict == Verdict.OK:
            accepted_offsets.append(tag.pad_offset)
            assert index not in seen
        else:
            assert verdict in (Verdict.REPLAYED, Verdict.STALE)
            if window >= count and index not in seen:
                pytest.fail(f"first copy of message {index} rejected: {verdict}")
        seen.add(index)
    assert len(accepted_offsets) == len(set(accepted_offsets))
    # the receiver never took more key than the sender used
    assert channel.receiver_pool.consumed <= channel.sender_pool.consumed + 16 * TAG


def test_key_exhaustion_leaves_receivers_without_tags():
    directory = KeyDirectory(prefetch_pads=1)
    directory.add(0, 1, DirectedKeyChannel.from_secrets(TAG * 3))  # hash key + 2 pads
    directory.add(1, 0, DirectedKeyChannel.from_secrets(TAG * 3))
    alice, bob = directory.endpoint(0), directory.endpoint(1)
    digest = message_digest(b"commit")
    results = [bob.verify(0, digest, alice.authenticate(digest, [1])) for _ in range(4)]
    assert results == [True, True, False, False]
    assert alice.stats.unauthenticated == 2
    assert bob.stats.verdicts == {Verdict.OK: 2, Verdict.MISSING: 2}
    # key refilled on both sides: authentication resumes
    directory.channel(0, 1).refill(np.unpackbits(np.frombuffer(secrets.token_bytes(8), np.uint8)))
    assert bob.verify(0, digest, alice.authenticate(digest, [1]))


def test_replenishing_channels_stay_in_step_and_never_run_out():
    channel = DirectedKeyChannel.from_secrets(TAG * 2, replenish_bits=TAG * 4)
    sender, receiver = PadSender(channel, prefetch_pads=2), PadReceiver(channel)
    digest = message_digest(b"x")
    assert all(receiver.verify(digest, sender.sign(digest)) == Verdict.OK for _ in range(50))
    total = channel.sender_pool.consumed + channel.sender_pool.remaining
    assert total == channel.receiver_pool.consumed + channel.receiver_pool.remaining


def test_key_material_comes_from_secrets_not_a_seed():
    # two directories built the same way hold different keys (equal with probability 2^-64)
    first = KeyDirectory.from_secrets([0, 1], bits_per_channel=256).channel(0, 1)
    second = KeyDirectory.from_secrets([0, 1], bits_per_channel=256).channel(0, 1)
    assert first.sender_pool.take(TAG).to_int() != second.sender_pool.take(TAG).to_int()


def test_unknown_senders_and_bad_channels():
    directory = KeyDirectory.from_secrets([0, 1], bits_per_channel=512)
    bob = directory.endpoint(1)
    digest = message_digest(b"x")
    assert not bob.verify(5, digest, {})
    assert bob.stats.verdicts == {Verdict.UNKNOWN_SENDER: 1}
    assert not bob.verify(0, digest, {1: (64, 0)})  # not a Tag
    with pytest.raises(ValueError, match="no key channel from 0 to 9"):
        directory.channel(0, 9)
    with pytest.raises(ValueError, match="node=9 has no key channel"):
        directory.endpoint(9)
    with pytest.raises(ValueError, match="already registered"):
        directory.add(0, 1, DirectedKeyChannel.from_secrets(64))
    pool = KeyPool(np.zeros(64, dtype=np.uint8))
    with pytest.raises(ValueError, match="two copies"):
        DirectedKeyChannel(pool, pool)
    other = KeyPool(np.zeros(128, dtype=np.uint8))
    with pytest.raises(ValueError, match="out of step"):
        DirectedKeyChannel(pool, other)
    with pytest.raises(ValueError, match="window_pads=0"):
        KeyDirectory(window_pads=0)
