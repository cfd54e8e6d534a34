"""PBFT consensus with weighted quorums, authenticated by QKD keys: foundations.

:class:`WeightedQuorums` holds replica weights (WHEAT/AWARE) and refuses configurations with
``F* >= W/3``; every protocol message (frozen dataclasses with a canonical encoding) carries one
Wegman-Carter tag per receiver, keyed from pairwise key pools (:class:`KeyDirectory`,
:class:`DirectedKeyChannel`) with offset-indexed one-time pads.

Examples
--------
>>> from network.consensus import KeyDirectory, Prepare, WeightedQuorums, NULL_DIGEST
>>> WeightedQuorums((2, 1, 1, 1, 1, 1)).quorum  # W = 7, F* = 2
5
>>> keys = KeyDirectory.from_secrets([0, 1], bits_per_channel=1024)
>>> vote = Prepare(view=0, seq=1, batch=NULL_DIGEST, sender=0)
>>> keys.endpoint(1).verify(0, vote.digest, keys.endpoint(0).authenticate(vote.digest, [1]))
True
"""

from network.consensus.auth import (
    DIGEST_BYTES,
    Authenticator,
    AuthStats,
    DirectedKeyChannel,
    KeyDirectory,
    NodeKeys,
    PadReceiver,
    PadSender,
    Tag,
    Verdict,
    message_digest,
)
from network.consensus.messages import (
    NULL_DIGEST,
    BatchContent,
    Checkpoint,
    Commit,
    FetchState,
    FetchViewChange,
    Message,
    NewView,
    Outgoing,
    Packet,
    Prepare,
    PrePrepare,
    RelayedViewChange,
    Reply,
    Request,
    StateTransfer,
    Status,
    ViewChange,
    ViewChangeAck,
    batch_digest,
)
from network.consensus.quorums import ConsensusError, QuorumError, WeightedQuorums

__all__ = [
    "DIGEST_BYTES",
    "NULL_DIGEST",
    "AuthStats",
    "Authenticator",
    "BatchContent",
    "Checkpoint",
    "Commit",
    "ConsensusError",
    "DirectedKeyChannel",
    "FetchState",
    "FetchViewChange",
    "KeyDirectory",
    "Message",
    "NewView",
    "NodeKeys",
    "Outgoing",
    "Packet",
    "PadReceiver",
    "PadSender",
    "PrePrepare",
    "Prepare",
    "QuorumError",
    "RelayedViewChange",
    "Reply",
    "Request",
    "StateTransfer",
    "Status",
    "Tag",
    "Verdict",
    "ViewChange",
    "ViewChangeAck",
    "WeightedQuorums",
    "batch_digest",
    "message_digest",
]
