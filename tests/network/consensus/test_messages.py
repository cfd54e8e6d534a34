"""Canonical encodings (injective, field-sensitive) and message validation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from network.consensus import (
    NULL_DIGEST,
    Checkpoint,
    Commit,
    NewView,
    Prepare,
    PrePrepare,
    Reply,
    Request,
    ViewChange,
    batch_digest,
    message_digest,
)

u64 = st.integers(0, 2**64 - 1)
digests = st.binary(min_size=16, max_size=16)
requests = st.builds(Request, u64, u64, st.binary(max_size=20))
votes = st.builds(Prepare, u64, u64, digests, u64) | st.builds(Commit, u64, u64, digests, u64)
messages = (
    requests
    | votes
    | st.builds(Reply, u64, u64, u64, st.binary(max_size=10), u64)
    | st.builds(Checkpoint, u64, digests, u64)
    | st.builds(PrePrepare, u64, u64, st.lists(requests, max_size=3).map(tuple), u64)
)


@settings(max_examples=400, deadline=None)
@given(messages, messages)
def test_encoding_is_injective(a, b):
    assert (a.encode() == b.encode()) == (a == b)
    assert (a.digest == b.digest) == (a == b)


def test_every_field_changes_the_digest():
    base = Commit(3, 17, NULL_DIGEST, 2)
    variants = [
        Commit(4, 17, NULL_DIGEST, 2),
        Commit(3, 18, NULL_DIGEST, 2),
        Commit(3, 17, batch_digest((Request(9, 1, b""),)), 2),
        Commit(3, 17, NULL_DIGEST, 1),
        Prepare(3, 17, NULL_DIGEST, 2),  # same fields, another type
    ]
    assert len({base.digest, *(v.digest for v in variants)}) == 6


def test_batches_are_named_by_their_request_digests():
    r1, r2 = Request(5, 1, b"a"), Request(6, 1, b"b")
    assert batch_digest((r1, r2)) == message_digest(r1.digest + r2.digest)
    assert batch_digest((r1, r2)) != batch_digest((r2, r1))
    assert batch_digest(()) == NULL_DIGEST == message_digest(b"")
    pp = PrePrepare(0, 1, (r1, r2), 0, ({0: None}, {}))
    # the clients' authenticators travel along but are not part of what is agreed on
    assert pp.digest == PrePrepare(0, 1, (r1, r2), 0).digest
    assert pp.batch == batch_digest((r1, r2))


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: Prepare(-1, 1, NULL_DIGEST, 0), ValueError, "view=-1"),
        (lambda: Prepare(0, 1, b"short", 0), ValueError, "16-byte digest"),
        (lambda: Commit(0, 1.5, NULL_DIGEST, 0), TypeError, "seq=1.5"),
        (lambda: Request(1, 1, "text"), TypeError, "operation='text' must be bytes"),
        (lambda: Checkpoint(2**64, NULL_DIGEST, 0), ValueError, "seq="),
        (lambda: PrePrepare(0, 1, ("x",), 0), TypeError, "tuple of Request"),
        (lambda: PrePrepare(0, 1, (), 0, ({},)), ValueError, "client_auths has 1"),
        (
            lambda: ViewChange(
                1, 0, NULL_DIGEST, ((0, NULL_DIGEST),), ((1, NULL_DIGEST),), (), (), 0
            ),
            TypeError,
            "prepared entries must be 3-tuples",
        ),
        (
            lambda: NewView(1, (), 0, NULL_DIGEST, ((1, b"x"),), (), 0),
            ValueError,
            "decisions digest must be a 16-byte digest",
        ),
    ],
)
def test_malformed_messages_are_refused(build, error, match):
    with pytest.raises(error, match=match):
        build()
