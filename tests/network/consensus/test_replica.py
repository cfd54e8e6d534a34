"""PBFT replicas on the message network: normal case, checkpoints, view changes, keys, weights."""

from __future__ import annotations

import secrets

import numpy as np
import pytest

from network.consensus import (
    NULL_DIGEST,
    AlterRelays,
    Behaviour,
    Client,
    Coalition,
    Colluding,
    DirectedKeyChannel,
    DropRelays,
    EquivocatingPrimary,
    FetchViewChange,
    KeyDirectory,
    LinkProfile,
    NewView,
    Outgoing,
    Packet,
    PBFTConfig,
    Prepare,
    RelayedViewChange,
    Replica,
    SilentReplica,
    Tag,
    Verdict,
    WeightedQuorums,
    build_group,
    reconfiguration,
)
from network.consensus.ledger import ledger_machine
from network.simulation.events import seconds
from network.voting import LedgerStateMachine, SetExclusion, SetWeights

OP = LedgerStateMachine.encode(SetExclusion("node", (3,), True))


def _op(k: int) -> bytes:
    """A distinct ledger operation per ``k``: every node's weight set to ``1 - k / 100``."""
    return LedgerStateMachine.encode(SetWeights((1 - k / 100,) * 4))


def _config(n: int = 4, **kwargs) -> PBFTConfig:
    return PBFTConfig(WeightedQuorums.uniform(n), **kwargs)


def _batches(replica: Replica) -> list[tuple[int, bytes]]:
    return [(e.seq, e.digest) for e in replica.execution_log if e.kind == "batch"]


def _agree(group) -> list[tuple[int, bytes]]:
    """The common execution log of the correct replicas (asserting they agree)."""
    logs = [_batches(r) for r in group.correct_replicas()]
    longest = max(logs, key=len)
    for log in logs:
        assert log == longest[: len(log)]
    return longest


@pytest.mark.parametrize("n", [4, 7])
def test_one_request_costs_the_textbook_message_count(n):
    group = build_group(_config(n), seed=1)
    group.submit(0, OP)
    group.network.run()
    assert [c.result for c in group.clients[0].completed] == [b'{"ok":true,"version":1}']
    # request to the primary, pre-prepare to n-1 backups, prepare from n-1 backups to n-1
    # replicas, commit from n replicas to n-1, a reply from each replica (Castro-Liskov Fig. 1)
    expected = {
        "Request": 1,
        "PrePrepare": n - 1,
        "Prepare": (n - 1) ** 2,
        "Commit": n * (n - 1),
        "Reply": n,
    }
    assert group.network.sent_by_kind == expected
    assert group.network.sent == sum(expected.values())
    assert all(r.app.ledger.excluded_nodes == {3} for r in group.correct_replicas())


def test_batching_groups_requests_that_arrive_while_an_instance_runs():
    group = build_group(_config(max_in_flight=1, max_batch=64), clients=20, seed=2)
    for index in range(20):
        group.submit(index, OP)
    group.network.run()
    assert group.completed() == 20
    # the first request went alone; the other 19 waited and left in one batch
    assert group.network.sent_by_kind["PrePrepare"] == 2 * 3
    assert [r.last_executed for r in group.correct_replicas()] == [2, 2, 2, 2]


def test_checkpoints_move_the_watermark_and_collect_garbage():
    group = build_group(_config(checkpoint_interval=2, watermark_window=4), seed=3)
    for k in range(10):
        group.submit(0, _op(k))
    group.network.run()
    assert len(group.clients[0].completed) == 10
    for replica in group.correct_replicas():
        assert replica.last_executed == 10 and replica.low_watermark == 10
        assert not replica.slots and set(replica.own_checkpoints) == {10}
        checkpoints = [e for e in replica.execution_log if e.kind == "checkpoint"]
        assert [e.seq for e in checkpoints] == [2, 4, 6, 8, 10]
    digests = {r.own_checkpoints[10][0] for r in group.correct_replicas()}
    assert len(digests) == 1


@pytest.mark.parametrize(
    "behaviour", [EquivocatingPrimary(), SilentReplica()], ids=["equivocate", "silent"]
)
def test_view_change_replaces_a_faulty_primary(behaviour):
    group = build_group(_config(), clients=2, behaviours={0: behaviour}, seed=4)
    for index in range(2):
        for k in range(3):
            group.submit(index, _op(k))
    group.network.run(until=seconds(30))
    assert group.completed() == 6
    correct = group.correct_replicas()
    assert all(r.view >= 1 and r.active for r in correct)
    assert sum(r.stats.get("new_views", 0) for r in correct) >= 3
    log = _agree(group)
    executed = [k for r in correct[:1] for e in r.execution_log for k in e.requests]
    assert len(executed) == len(set(executed)) == 6  # each request exactly once
    if isinstance(behaviour, EquivocatingPrimary):
        assert (1, NULL_DIGEST) in log  # the null batch the primary showed two backups won


def test_colluding_replicas_above_the_threshold_break_agreement_and_below_do_not():
    def run(members):
        coalition = Coalition(members, side_b={3})
        behaviours = {m: Colluding(coalition) for m in members}
        group = build_group(_config(), behaviours=behaviours, seed=5)
        group.submit(0, OP)
        group.network.run(until=seconds(5))
        return {r.id: _batches(r)[:1] for r in group.correct_replicas()}

    above = run({0, 1})  # weight 2 > F* = 1
    assert above[2] and above[3] and above[2] != above[3]
    below = run({0})  # weight 1 = F*
    assert len({tuple(log) for log in below.values() if log}) == 1


class _NoNewView(Behaviour):
    """Never sends NEW-VIEW: every view change fails, so the timeouts double."""

    name = "no-new-view"

    def send(self, replica, sends, now):
        return [s for s in sends if type(getattr(s, "message", None)) is not NewView]


def test_view_change_timeouts_double_per_failed_view_up_to_the_cap():
    base, cap = seconds(0.2), seconds(1.6)
    config = _config(view_change_timeout_ns=base, max_view_change_timeout_ns=cap)
    behaviours = {0: SilentReplica(), **{r: _NoNewView() for r in (1, 2, 3)}}
    group = build_group(config, behaviours=behaviours, seed=6, retry_timeout_ns=seconds(0.05))
    replica = group.replicas[2][0]
    group.submit(0, OP)
    entered = []
    while group.network.queue.now < seconds(12) and len(entered) < 7:
        view = replica.view
        group.network.run(max_events=1)
        if replica.view != view:
            entered.append(group.network.queue.now)
    gaps = np.diff(entered) / base
    # waits of 2T, 4T, 8T, then the cap 8T, each plus a few ms of message delay
    assert np.allclose(gaps[:5], [2, 4, 8, 8, 8], atol=0.1), gaps


def _directory(n: int, clients: int, short: set[tuple[int, int]], bits: int) -> KeyDirectory:
    directory = KeyDirectory(prefetch_pads=1)
    for a in range(n + clients):
        for b in range(n + clients):
            if a != b and (a < n or b < n):
                if (a, b) in short:
                    directory.add(a, b, DirectedKeyChannel.from_secrets(bits))
                else:
                    directory.add(a, b, DirectedKeyChannel.from_secrets(4096, replenish_bits=4096))
    return directory


def test_a_primary_out_of_key_is_replaced_by_a_view_change():
    short = {(0, r) for r in (1, 2, 3)}  # the primary can tag two messages per backup
    keys = _directory(4, 1, short, bits=64 * 3)
    group = build_group(_config(), keys=keys, seed=7)
    for k in range(4):
        group.submit(0, _op(k))
    group.network.run(until=seconds(20))
    assert len(group.clients[0].completed) == 4
    assert all(r.view >= 1 for r in group.correct_replicas())
    primary = group.replicas[0][0]
    assert primary.keys.stats.unauthenticated > 0
    backups = group.correct_replicas()[1:]
    assert sum(r.keys.stats.verdicts.get(Verdict.MISSING, 0) for r in backups) > 0
    _agree(group)


def test_without_key_between_replicas_nothing_commits_but_nothing_breaks():
    short = {(a, b) for a in range(4) for b in range(4) if a != b}
    keys = _directory(4, 1, short, bits=64 * 2)  # hash key and one pad per channel
    group = build_group(_config(), keys=keys, seed=8)
    group.submit(0, OP)
    group.network.run(until=seconds(20))
    assert group.clients[0].completed == []  # liveness lost
    assert all(r.last_executed == 0 for r in group.correct_replicas())
    assert sum(r.keys.stats.unauthenticated for r in group.correct_replicas()) > 0


def test_a_partitioned_replica_catches_up_by_state_transfer():
    group = build_group(_config(checkpoint_interval=2, watermark_window=4), seed=9)
    group.network.set_partition([["0", "1", "2"], ["3"]])
    for k in range(12):
        group.submit(0, _op(k))
    group.network.run(until=seconds(5))
    assert group.replicas[3][0].last_executed == 0
    group.network.set_partition(None)
    for k in range(4):
        group.submit(0, LedgerStateMachine.encode(SetExclusion("node", (k,), True)))
    group.network.run(until=seconds(20))
    lagging, leader = group.replicas[3][0], group.replicas[0][0]
    assert any(e.kind == "state" for e in lagging.execution_log)
    assert lagging.last_executed == leader.last_executed == 16
    assert lagging.app.snapshot() == leader.app.snapshot()


def test_weight_changes_take_effect_at_the_same_sequence_number_everywhere():
    config = _config(checkpoint_interval=2, watermark_window=4)
    group = build_group(config, seed=10)
    group.submit(0, reconfiguration([1.2, 1, 1, 1]))
    group.submit(0, reconfiguration([3, 1, 1, 1]))  # F* = 3 >= W/3 = 2: refused
    group.submit(0, reconfiguration([1, 1, 1]))  # wrong size: refused
    group.network.run(until=seconds(2))
    for replica in group.correct_replicas():
        assert replica.last_executed == 3
        assert replica.quorums_for(6).weights == (1, 1, 1, 1)
        assert replica.quorums_for(7).weights == (1.2, 1, 1, 1)
        assert replica.stats["refused_reconfigurations"] == 2
    for k in range(8):
        group.submit(0, _op(k))
    group.network.run(until=seconds(10))
    results = [c.result for c in group.clients[0].completed]
    # executed at sequence number 1: checkpoint 2, window 4, so from sequence number 7 on
    assert results[0] == b"ok: weights take effect at sequence number 7"
    assert results[1].startswith(b"refused: weights (3, 1, 1, 1) with f=1: F*=3")
    assert results[2].startswith(b"refused: a reconfiguration must keep n=4")
    assert len(results) == 11  # ordering went on under the new weights
    for replica in group.correct_replicas():
        assert replica.last_executed == 11
        assert replica.quorums_for(11).weights == (1.2, 1, 1, 1)
    _agree(group)


def test_same_seed_same_run():
    def run():
        group = build_group(
            _config(),
            clients=3,
            behaviours={1: EquivocatingPrimary()},
            profile=LinkProfile(max_delay_ns=seconds(0.02), drop_prob=0.1, duplicate_prob=0.1),
            seed=11,
        )
        for index in range(3):
            for k in range(2):
                group.submit(index, _op(k))
        group.network.run(until=seconds(20))
        return (
            group.network.sent,
            group.network.queue.now,
            [_batches(r) for r in group.correct_replicas()],
            [[c.completed_ns for c in client.completed] for client in group.clients],
        )

    assert run() == run()


def test_forged_altered_and_replayed_packets_are_dropped_and_counted():
    group = build_group(_config(), seed=12)
    target = group.replicas[1][0]
    keys2, keys3 = group.keys.endpoint(2), group.keys.endpoint(3)
    genuine = Prepare(0, 1, NULL_DIGEST, 2)
    packet = Packet(genuine, keys2.authenticate(genuine.digest, [1]))
    altered = Packet(Prepare(0, 2, NULL_DIGEST, 2), packet.authenticator)
    impersonated = Prepare(0, 1, NULL_DIGEST, 2)  # tagged with replica 3's key
    forged = Packet(impersonated, keys3.authenticate(impersonated.digest, [1]))
    random_tag = Packet(genuine, {1: Tag(64 * 5, secrets.randbits(64))})
    assert target.on_message(packet, 0) == []  # accepted (a lone prepare sends nothing)
    for bad in (packet, altered, forged, random_tag):
        assert target.on_message(bad, 0) == []
    verdicts = target.keys.stats.verdicts
    assert verdicts[Verdict.OK] == 1
    assert verdicts[Verdict.REPLAYED] + verdicts[Verdict.FORGED] == 4
    assert set(target.slots[1].prepares) == {(0, NULL_DIGEST)}
    assert target.slots[1].prepares[(0, NULL_DIGEST)].senders == {2}  # the genuine one only


def test_twins_share_an_identity_and_its_keys_without_breaking_safety():
    group = build_group(_config(), clients=2, twins={2}, seed=13)
    first, second = group.replicas[2]
    assert first.keys is second.keys
    for index in range(2):
        for k in range(3):
            group.submit(index, _op(k))
    group.network.run(until=seconds(10))
    assert group.completed() == 6
    _agree(group)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"view_change_timeout_ns": -1}, "view_change_timeout_ns=-1 must be a positive"),
        ({"retransmit_ns": 0}, "retransmit_ns=0"),
        ({"max_view_change_timeout_ns": 10}, "max_view_change_timeout_ns=10 must be >="),
        ({"checkpoint_interval": 0}, "checkpoint_interval=0"),
        ({"checkpoint_interval": 2, "watermark_window": 5}, "multiple of checkpoint_interval"),
        ({"leader_order": (0, 1, 2, 9)}, "leader_order entry=9 is not a replica id"),
        ({"leader_order": (0, 1, 1, 2)}, "permutation"),
        ({"max_batch": 0}, "max_batch=0"),
    ],
)
def test_bad_configurations_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _config(**kwargs)


def test_bad_ids_and_keys_raise_clear_errors():
    config = _config()
    keys = KeyDirectory.from_secrets(range(6), bits_per_channel=256)
    with pytest.raises(ValueError, match="replica_id=9 is not a replica id"):
        Replica(config, 9, keys=keys.endpoint(1), app=ledger_machine(n_nodes=4))
    with pytest.raises(ValueError, match="keys belong to node 2, not replica 1"):
        Replica(config, 1, keys=keys.endpoint(2), app=ledger_machine(n_nodes=4))
    with pytest.raises(TypeError, match="apply/snapshot/restore"):
        Replica(config, 1, keys=keys.endpoint(1), app=object())
    with pytest.raises(ValueError, match="client_id=2 collides with replica ids"):
        Client(config, 2, keys=keys.endpoint(2))
    with pytest.raises(ValueError, match="retry_timeout_ns=-5"):
        Client(config, 4, keys=keys.endpoint(4), retry_timeout_ns=-5)
    with pytest.raises(ValueError, match="replica id=7 is not a replica id"):
        build_group(config, behaviours={7: SilentReplica()})
    with pytest.raises(ValueError, match="max_delay_ns=1 must be >= min_delay_ns=2"):
        LinkProfile(min_delay_ns=2, max_delay_ns=1)
    with pytest.raises(ValueError, match=r"drop_prob=1\.0 must be in"):
        LinkProfile(drop_prob=1.0)


def test_replicas_ignore_messages_from_unknown_or_impostor_senders():
    group = build_group(_config(), seed=14)
    replica = group.replicas[1][0]
    own = Prepare(0, 1, NULL_DIGEST, 1)  # claims to come from the receiver itself
    stranger = Prepare(0, 1, NULL_DIGEST, 9)
    for message in (own, stranger):
        assert replica.on_message(Packet(message, {}), 0) == []
    assert replica.stats["bad_sender"] == 2 and not replica.slots
    assert isinstance(group.clients[0].submit(OP, 0)[0], Outgoing)


def _change_from(group, replica_id: int, view: int):
    """Make a replica move to ``view`` (as its timer would) and return its VIEW-CHANGE."""
    replica = group.replicas[replica_id][0]
    replica._start_view_change(view)
    replica.on_timer(0)  # hands out (and here drops) what it had to send
    return replica.my_change


def test_a_view_change_relayed_by_its_author_counts_as_received_directly():
    group = build_group(_config(), seed=15)
    change = _change_from(group, 2, 1)
    receiver = group.replicas[3][0]
    relayed = RelayedViewChange(change, 2)
    out = receiver.on_message(
        Packet(relayed, group.keys.endpoint(2).authenticate(relayed.digest, [3])), 0
    )
    assert receiver.changes[1][2] == change
    assert [type(o.packet.message).__name__ for o in out] == ["ViewChangeAck"]
    # relayed by another replica: only a relay vote, not a received VIEW-CHANGE
    other = group.replicas[0][0]
    relayed = RelayedViewChange(change, 1)
    other.on_message(Packet(relayed, group.keys.endpoint(1).authenticate(relayed.digest, [0])), 0)
    assert 1 not in other.changes and other.relays[(1, 2, change.digest)] == {1}


def test_a_replica_still_hands_out_its_view_change_after_moving_on():
    group = build_group(_config(), seed=16)
    first = _change_from(group, 2, 1)
    replica = group.replicas[2][0]
    for view in (2, 3):  # far enough for view 1 to leave the store of others' messages
        _change_from(group, 2, view)
    assert 1 not in replica.changes
    ask = FetchViewChange(1, 2, 0)
    out = replica.on_message(Packet(ask, group.keys.endpoint(0).authenticate(ask.digest, [2])), 0)
    assert [o.packet.message for o in out] == [RelayedViewChange(first, 2)]


def test_relays_dropped_or_altered_by_a_backup_never_reach_the_ledger():
    for behaviour in (DropRelays(), AlterRelays()):
        group = build_group(_config(), behaviours={1: behaviour}, seed=17)
        packet = group.clients[0].submit(OP, 0)[0].packet
        backup, primary = group.replicas[1][0], group.replicas[0][0]
        forwarded = backup.on_message(packet, 0)  # a backup passes client requests on
        if isinstance(behaviour, DropRelays):
            assert forwarded == []
            continue
        [item] = forwarded
        assert item.receivers == (0,) and item.packet.message != packet.message
        assert primary.on_message(item.packet, 0) == []  # the client's tag does not match
        assert primary.keys.stats.verdicts == {Verdict.FORGED: 1}
        assert not primary.pending
        # the genuine request (a fresh tag from the client) still goes through
        retry = group.clients[0].on_timer(group.clients[0].deadline)[0].packet
        out = primary.on_message(retry, 0)
        assert [type(o.packet.message).__name__ for o in out] == ["PrePrepare"]
