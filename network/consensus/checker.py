"""Randomised schedule checking of the PBFT replicas (Twins-style), with shrinking.

A :class:`Schedule` fixes everything about one run: the replica weights, which identities are
faulty and how (colluding equivocation, silence, slowness, false votes, replays, or Twins: two
honest copies of one identity sharing its keys), how the coalition splits the correct replicas,
the leader order, a sequence of *rounds* (each with a partition of the node instances, a drop
and a duplication probability and a delay range, so messages are lost, repeated and reordered),
the client workload (optionally with a weight reconfiguration) and the seed of the network's
randomness. After the last round the network is synchronous and whole (global stabilisation
time, GST).

:func:`run_schedule` plays a schedule on :func:`~network.consensus.harness.build_group` and
checks after *every* event, at every correct replica:

* the same batch digest is executed at each sequence number, and the same state digest is
  reached at each checkpoint (``same digest per sequence number``);
* execution is contiguous, so executed logs are prefixes of one another;
* views never decrease;
* every request ``(client, timestamp)`` executes at most once;

and, once the network has stabilised, that every client request completes within a bound
(liveness). :func:`generate_schedule` draws schedules from a seed; :func:`check` runs many and
:func:`shrink` reduces a violating schedule greedily (fewer rounds, calmer rounds, fewer requests,
fewer faulty replicas, default leader order) while it still violates, so the reported schedule is
small and replayable (:meth:`Schedule.to_json` / :meth:`Schedule.from_json`).

Below the weighted threshold (faulty weight ``<= F*``, ``F* < W/3``) the checker must find
nothing; above it, or with :attr:`~network.consensus.WeightedQuorums.unsafe_quorum_fraction`,
colluding equivocation breaks agreement and the checker reports it.

References
----------
S. Bano, A. Sonnino, A. Chursin, D. Perelman, Z. Li, A. Ching and D. Malkhi, "Twins: BFT systems
made robust", OPODIS 2021 (faulty identities as twins, partitions per round, leader choices).
M. Castro and B. Liskov, ACM TOCS 20, 398 (2002), Sec. 2.3 (the safety properties checked).
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction

import numpy as np

from network.consensus.byzantine import (
    Coalition,
    Colluding,
    EquivocatingPrimary,
    FalseVotes,
    Replay,
    SilentReplica,
    Slow,
)
from network.consensus.config import PBFTConfig, reconfiguration
from network.consensus.harness import Group, LinkProfile, build_group
from network.consensus.quorums import ConsensusError, WeightedQuorums
from network.consensus.replica import Behaviour, Replica
from network.simulation.events import seconds
from network.voting import LedgerStateMachine, SetWeights

__all__ = [
    "BEHAVIOURS",
    "CheckReport",
    "Outcome",
    "Round",
    "SafetyViolation",
    "Schedule",
    "check",
    "generate_schedule",
    "replay_schedule",
    "run_schedule",
    "shrink",
]

BEHAVIOURS = ("collude", "equivocate", "silent", "slow", "false-votes", "replay", "twins")
"""Names of the faulty behaviours a schedule may assign."""

_VIEW_CHANGE_NS = seconds(0.2)
_MAX_VIEW_CHANGE_NS = seconds(3.2)
_SHRINK_WINDOW = seconds(2)
_STABLE = LinkProfile(min_delay_ns=seconds(0.001), max_delay_ns=seconds(0.002))


class SafetyViolation(ConsensusError):
    """An invariant failed at a correct replica (the message says which and where)."""


@dataclass(frozen=True)
class Round:
    """One period of a schedule before stabilisation.

    Attributes
    ----------
    duration_ns : int
        Length of the round (ns).
    groups : tuple of tuple of str
        Partition of instance labels (``"2"``, ``"2'"`` for a twin); empty: connected.
    drop_prob, duplicate_prob : float
        Message loss and duplication probabilities.
    max_delay_ns : int
        Delays are uniform in ``[1 ms, max_delay_ns]`` (reordering).
    """

    duration_ns: int
    groups: tuple[tuple[str, ...], ...] = ()
    drop_prob: float = 0.0
    duplicate_prob: float = 0.0
    max_delay_ns: int = seconds(0.002)

    def profile(self) -> LinkProfile:
        """Return the link behaviour of the round."""
        return LinkProfile(
            min_delay_ns=min(seconds(0.001), self.max_delay_ns),
            max_delay_ns=self.max_delay_ns,
            drop_prob=self.drop_prob,
            duplicate_prob=self.duplicate_prob,
        )


@dataclass(frozen=True)
class Schedule:
    """Everything that determines one checked run (see the module docstring).

    Attributes
    ----------
    seed : int
        Seed of the network's randomness (delays, drops, duplicates, replays).
    weights : tuple of float
        Replica weights.
    f : int or None
        Faults tolerated (default ``(n - 1) // 3``).
    faulty : tuple of int
        Faulty replica ids.
    behaviours : tuple of str
        Behaviour of each faulty replica (one of :data:`BEHAVIOURS`), aligned with ``faulty``.
    side_b : tuple of int
        Correct replicas shown the second variant of colluding equivocations.
    leader_order : tuple of int
        Primary of view ``v`` is ``leader_order[v mod n]``.
    rounds : tuple of Round
        The unstable period.
    clients, requests : int
        Number of clients and requests per client.
    reconfigure : tuple of float or None
        Weights that client 0 asks for with its second request (``None``: no reconfiguration).
    unsafe_quorum_fraction : float or None
        Quorum override that disables the intersection check (demonstrations).
    """

    seed: int
    weights: tuple[float, ...]
    f: int | None = None
    faulty: tuple[int, ...] = ()
    behaviours: tuple[str, ...] = ()
    side_b: tuple[int, ...] = ()
    leader_order: tuple[int, ...] = ()
    rounds: tuple[Round, ...] = ()
    clients: int = 1
    requests: int = 1
    reconfigure: tuple[float, ...] | None = None
    unsafe_quorum_fraction: float | None = None

    def __post_init__(self) -> None:
        if len(self.behaviours) != len(self.faulty):
            raise ValueError(
                f"behaviours={self.behaviours!r} must name one behaviour per faulty replica"
            )
        for name in self.behaviours:
            if name not in BEHAVIOURS:
                raise ValueError(f"unknown behaviour {name!r}; choose from {BEHAVIOURS}")
        quorums = self.quorums()
        for replica in (*self.faulty, *self.side_b, *self.leader_order):
            quorums.check_replica(replica, "replica id")

    def quorums(self) -> WeightedQuorums:
        """Return the schedule's initial weight configuration."""
        return WeightedQuorums(self.weights, self.f, self.unsafe_quorum_fraction)

    @property
    def faulty_fraction(self) -> float:
        """Share of the total weight held by the faulty replicas."""
        quorums = self.quorums()
        return quorums.weight(self.faulty) / quorums.total

    @property
    def above_threshold(self) -> bool:
        """Whether the faulty weight exceeds ``F*`` or quorum checks are disabled."""
        quorums = self.quorums()
        return quorums.unsafe or quorums.weight(self.faulty) > quorums.f_star

    @property
    def gst_ns(self) -> int:
        """Global stabilisation time: the end of the last round."""
        return sum(r.duration_ns for r in self.rounds)

    def to_json(self) -> dict:
        """Return a JSON-safe dict (:meth:`from_json` rebuilds the schedule)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Schedule:
        """Rebuild a schedule from :meth:`to_json` output."""
        if not isinstance(data, dict):
            raise TypeError("a schedule must be a JSON object")
        try:
            rounds = tuple(
                Round(
                    r["duration_ns"],
                    tuple(tuple(g) for g in r["groups"]),
                    r["drop_prob"],
                    r["duplicate_prob"],
                    r["max_delay_ns"],
                )
                for r in data["rounds"]
            )
            reconfigure = data.get("reconfigure")
            return cls(
                seed=data["seed"],
                weights=tuple(data["weights"]),
                f=data.get("f"),
                faulty=tuple(data["faulty"]),
                behaviours=tuple(data["behaviours"]),
                side_b=tuple(data["side_b"]),
                leader_order=tuple(data["leader_order"]),
                rounds=rounds,
                clients=data["clients"],
                requests=data["requests"],
                reconfigure=None if reconfigure is None else tuple(reconfigure),
                unsafe_quorum_fraction=data.get("unsafe_quorum_fraction"),
            )
        except KeyError as exc:
            raise ValueError(f"schedule lacks the field {exc.args[0]!r}") from exc

    def describe(self) -> str:
        """Return a short human-readable account of the schedule."""
        quorums = self.quorums()
        pairs = zip(self.faulty, self.behaviours, strict=True)
        faulty = ", ".join(f"{r} ({b})" for r, b in pairs) or "none"
        lines = [
            f"seed {self.seed}; weights {list(self.weights)} (F*={quorums.f_star}, "
            f"Q={quorums.quorum} of W={quorums.total} in integer units"
            + (f", UNSAFE quorum fraction {self.unsafe_quorum_fraction}" if quorums.unsafe else "")
            + ")",
            f"faulty: {faulty}; weight fraction {self.faulty_fraction:.3f}",
            f"leader order {list(self.leader_order)}; coalition shows variant B to "
            f"{list(self.side_b)}",
            f"{self.clients} client(s) x {self.requests} request(s)"
            + ("" if self.reconfigure is None else f"; reconfigure to {list(self.reconfigure)}"),
        ]
        for index, r in enumerate(self.rounds):
            groups = " | ".join(",".join(g) for g in r.groups) if r.groups else "connected"
            lines.append(
                f"round {index}: {r.duration_ns / 1e6:g} ms, {groups}, drop {r.drop_prob}, "
                f"duplicate {r.duplicate_prob}, delay <= {r.max_delay_ns / 1e6:g} ms"
            )
        lines.append(f"then synchronous from {self.gst_ns / 1e6:g} ms")
        return "\n".join(lines)


def _fraction(value: object, name: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} must be a number")
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise ValueError(f"{name}={value!r} must be in [0, 1]")
    return Fraction(value)


def generate_schedule(
    seed: int,
    *,
    replicas: int,
    faulty_weight: float,
    weights: Iterable[float] | None = None,
    f: int | None = None,
    unsafe_quorum_fraction: float | None = None,
) -> Schedule:
    """Draw a schedule from ``seed`` (the same arguments give the same schedule).

    Parameters
    ----------
    seed : int
        Schedule seed (also the seed of the run's network randomness).
    replicas : int
        Number of replicas ``n``.
    faulty_weight : float
        Largest share of the total weight the faulty replicas may hold; replicas are added in
        random order while the share stays within it.
    weights : iterable of float, optional
        Replica weights (default: all 1).
    f : int, optional
        Faults tolerated by the quorum system.
    unsafe_quorum_fraction : float, optional
        Disable the intersection check with this quorum fraction.

    Examples
    --------
    >>> s = generate_schedule(7, replicas=4, faulty_weight=0.25)
    >>> s == generate_schedule(7, replicas=4, faulty_weight=0.25), len(s.faulty) <= 1
    (True, True)
    """
    if isinstance(replicas, bool) or not isinstance(replicas, numbers.Integral) or replicas < 1:
        raise ValueError(f"replicas={replicas!r} must be a positive integer")
    share = _fraction(faulty_weight, "faulty_weight")
    weights = (1.0,) * replicas if weights is None else tuple(weights)
    if len(weights) != replicas:
        raise ValueError(f"weights has {len(weights)} entries for replicas={replicas}")
    quorums = WeightedQuorums(weights, f, unsafe_quorum_fraction)
    rng = np.random.default_rng(seed)
    n = replicas
    ints = quorums.int_weights
    limit = share * quorums.total
    faulty: list[int] = []
    held = 0
    for r in rng.permutation(n).tolist():
        if held + ints[r] <= limit and len(faulty) < n - 1:
            faulty.append(r)
            held += ints[r]
    faulty.sort()
    if rng.random() < 0.5:
        behaviours = ["collude"] * len(faulty)
    else:
        behaviours = [BEHAVIOURS[int(rng.integers(len(BEHAVIOURS)))] for _ in faulty]
    correct = [r for r in range(n) if r not in faulty]
    side_b = sorted(r for r in correct if rng.random() < 0.5)
    if correct and len(side_b) in (0, len(correct)) and len(correct) > 1:
        side_b = correct[len(correct) // 2 :]
    order = rng.permutation(n).tolist()
    if faulty and rng.random() < 0.5:
        first = faulty[int(rng.integers(len(faulty)))]
        order.remove(first)
        order.insert(0, first)
    labels = [str(r) for r in range(n)]
    labels += [f"{r}'" for r, b in zip(faulty, behaviours, strict=True) if b == "twins"]
    rounds = []
    for _ in range(int(rng.integers(1, 5))):
        groups: tuple[tuple[str, ...], ...] = ()
        if rng.random() < 0.6:
            parts = int(rng.integers(2, 4))
            assignment = rng.integers(parts, size=len(labels))
            groups = tuple(
                tuple(label for label, a in zip(labels, assignment, strict=True) if a == p)
                for p in range(parts)
            )
            groups = tuple(g for g in groups if g)
        rounds.append(
            Round(
                duration_ns=seconds(float(rng.choice([0.05, 0.15, 0.4, 1.0]))),
                groups=groups,
                drop_prob=float(rng.choice([0.0, 0.05, 0.2])),
                duplicate_prob=float(rng.choice([0.0, 0.05, 0.2])),
                max_delay_ns=seconds(float(rng.choice([0.002, 0.02, 0.08]))),
            )
        )
    reconfigure = None
    if n > 1 and rng.random() < 0.2:
        reconfigure = _random_weights(rng, quorums, faulty)
    return Schedule(
        seed=int(seed),
        weights=tuple(float(w) for w in weights),
        f=quorums.f,
        faulty=tuple(faulty),
        behaviours=tuple(behaviours),
        side_b=tuple(side_b),
        leader_order=tuple(order),
        rounds=tuple(rounds),
        clients=int(rng.integers(1, 4)),
        requests=int(rng.integers(1, 5)),
        reconfigure=reconfigure,
        unsafe_quorum_fraction=unsafe_quorum_fraction,
    )


def _random_weights(
    rng: np.random.Generator, quorums: WeightedQuorums, faulty: list[int]
) -> tuple[float, ...] | None:
    """Draw weights valid for ``F* < W/3`` that keep the faulty share where it was (or lower).

    Returns ``None`` when 20 draws find no such weights.
    """
    before = Fraction(quorums.weight(faulty), quorums.total)
    for _ in range(20):
        candidate = tuple(float(rng.choice([0.5, 1.0, 1.5, 2.0])) for _ in range(quorums.n))
        try:
            new = WeightedQuorums(candidate, quorums.f)
        except ValueError:
            continue
        share = Fraction(new.weight(faulty), new.total)
        if (new.weight(faulty) <= new.f_star) == (quorums.weight(faulty) <= quorums.f_star) and (
            share <= before or new.weight(faulty) <= new.f_star
        ):
            return candidate
    return None


@dataclass
class Outcome:
    """What one schedule run found."""

    violation: str | None = None
    liveness_failure: str | None = None
    completed: int = 0
    expected: int = 0
    events: int = 0
    end_ns: int = 0
    stats: dict = field(default_factory=dict)

    @property
    def safe(self) -> bool:
        """No safety invariant failed."""
        return self.violation is None


class _Monitor:
    """Checks the safety invariants at every correct replica after every event."""

    def __init__(self, group: Group) -> None:
        self.replicas: list[Replica] = [
            copies[0] for rid, copies in sorted(group.replicas.items()) if rid not in group.faulty
        ]
        self.batches: dict[int, tuple[bytes, int]] = {}
        self.states: dict[int, tuple[bytes, int]] = {}
        self.cursor = {r.id: 0 for r in self.replicas}
        self.last_seq = {r.id: 0 for r in self.replicas}
        self.views = {r.id: 0 for r in self.replicas}
        self.executed: dict[int, set[tuple[int, int]]] = {r.id: set() for r in self.replicas}

    def __call__(self) -> None:
        for replica in self.replicas:
            rid = replica.id
            if replica.view < self.views[rid]:
                raise SafetyViolation(
                    f"replica {rid}: view went back from {self.views[rid]} to {replica.view}"
                )
            self.views[rid] = replica.view
            log = replica.execution_log
            start = self.cursor[rid]
            if start == len(log):
                continue
            for entry in log[start:]:
                self._entry(rid, entry)
            self.cursor[rid] = len(log)

    def _entry(self, rid: int, entry: object) -> None:
        seq = entry.seq
        if entry.kind == "batch":
            if seq != self.last_seq[rid] + 1:
                raise SafetyViolation(
                    f"replica {rid}: executed seq {seq} after {self.last_seq[rid]} (a gap: its "
                    "log is no prefix of the others')"
                )
            self.last_seq[rid] = seq
            known = self.batches.setdefault(seq, (entry.digest, rid))
            if known[0] != entry.digest:
                raise SafetyViolation(
                    f"seq {seq}: replica {rid} executed batch {entry.digest.hex()[:12]}, replica "
                    f"{known[1]} executed {known[0].hex()[:12]}"
                )
            done = self.executed[rid]
            for key in entry.requests:
                if key in done:
                    raise SafetyViolation(f"replica {rid}: request {key} executed twice")
                done.add(key)
        else:
            if entry.kind == "state":
                self.last_seq[rid] = seq
            known = self.states.setdefault(seq, (entry.digest, rid))
            if known[0] != entry.digest:
                raise SafetyViolation(
                    f"checkpoint {seq}: replica {rid} has state {entry.digest.hex()[:12]}, "
                    f"replica {known[1]} has {known[0].hex()[:12]}"
                )


def _behaviours(schedule: Schedule) -> tuple[dict[int, Behaviour], list[int]]:
    pairs = list(zip(schedule.faulty, schedule.behaviours, strict=True))
    members = [r for r, b in pairs if b == "collude"]
    coalition = Coalition(members, schedule.side_b)
    out: dict[int, Behaviour] = {}
    twins = []
    for index, (replica, name) in enumerate(zip(schedule.faulty, schedule.behaviours, strict=True)):
        if name == "twins":
            twins.append(replica)
        elif name == "collude":
            out[replica] = Colluding(coalition)
        elif name == "equivocate":
            out[replica] = EquivocatingPrimary(schedule.side_b or None)
        elif name == "silent":
            out[replica] = SilentReplica()
        elif name == "slow":
            out[replica] = Slow(seconds(0.05))
        elif name == "false-votes":
            out[replica] = FalseVotes()
        else:
            out[replica] = Replay(np.random.SeedSequence([schedule.seed, index]))
    return out, twins


def _config(schedule: Schedule) -> PBFTConfig:
    return PBFTConfig(
        schedule.quorums(),
        checkpoint_interval=4,
        watermark_window=8,
        max_batch=4,
        max_in_flight=2,
        view_change_timeout_ns=_VIEW_CHANGE_NS,
        max_view_change_timeout_ns=_MAX_VIEW_CHANGE_NS,
        retransmit_ns=seconds(0.05),
        leader_order=schedule.leader_order or None,
    )


def run_schedule(
    schedule: Schedule, *, liveness_ns: int | None = None, key_bits: int | None = None
) -> Outcome:
    """Play ``schedule`` and check the invariants (module docstring).

    Parameters
    ----------
    schedule : Schedule
    liveness_ns : int, optional
        Time after stabilisation within which every request must complete; default long enough
        for ``f + 3`` view changes at the capped timeout.
    key_bits : int, optional
        Key per directed channel with no replenishment (shows key exhaustion); default: channels
        never run out.

    Returns
    -------
    Outcome
    """
    config = _config(schedule)
    behaviours, twins = _behaviours(schedule)
    rng_seed = np.random.SeedSequence([schedule.seed, 1 << 20])
    group = build_group(
        config,
        clients=schedule.clients,
        key_bits=key_bits if key_bits is not None else 1 << 12,
        replenish_bits=None if key_bits is not None else 1 << 12,
        behaviours=behaviours,
        twins=twins,
        faulty=schedule.faulty,
        profile=schedule.rounds[0].profile() if schedule.rounds else _STABLE,
        seed=np.random.default_rng(rng_seed),
        retry_timeout_ns=seconds(0.3),
    )
    network = group.network
    monitor = _Monitor(group)
    network.observers.append(monitor)
    window = (
        liveness_ns
        if liveness_ns is not None
        else (config.quorums.f + 3) * _MAX_VIEW_CHANGE_NS + seconds(1)
    )
    outcome = Outcome(expected=schedule.clients * schedule.requests)
    try:
        for index in range(schedule.clients):
            for k in range(schedule.requests):
                if index == 0 and k == 1 and schedule.reconfigure is not None:
                    operation = reconfiguration(schedule.reconfigure, schedule.f)
                else:
                    operation = _operation(index, k, config.n)
                group.submit(index, operation)
        now = 0
        for r in schedule.rounds:
            network.set_profile(r.profile())
            network.set_partition(r.groups or None)
            now += r.duration_ns
            network.run(until=now)
        network.set_profile(_STABLE)
        network.set_partition(None)
        deadline = now + window
        step = seconds(0.5)
        while network.queue.now < deadline and group.completed() < outcome.expected:
            _learn_weights(group)
            network.run(until=min(deadline, network.queue.now + step))
        if group.completed() < outcome.expected:
            outcome.liveness_failure = (
                f"{group.completed()} of {outcome.expected} requests completed "
                f"{window / 1e9:g} s after stabilisation"
            )
    except SafetyViolation as exc:
        outcome.violation = str(exc)
    outcome.completed = group.completed()
    outcome.events = network.queue.processed
    outcome.end_ns = network.queue.now
    stats: dict[str, int] = {}
    for replica in monitor.replicas:
        for key, value in replica.stats.items():
            stats[key] = stats.get(key, 0) + value
        for key, value in replica.keys.stats.verdicts.items():
            stats[f"auth_{key}"] = stats.get(f"auth_{key}", 0) + value
        stats["auth_unauthenticated"] = (
            stats.get("auth_unauthenticated", 0) + replica.keys.stats.unauthenticated
        )
    stats["messages"] = network.sent
    outcome.stats = stats
    return outcome


def _operation(client: int, k: int, n: int) -> bytes:
    """Request ``k`` of a client: new weights for the ``n`` nodes of the group's ledger."""
    weight = round(1.0 - 0.01 * (k + 1) - 0.001 * client, 6)
    return LedgerStateMachine.encode(SetWeights((weight,) * n))


def _learn_weights(group: Group) -> None:
    """Clients adopt the weights of completed reconfigurations (the ledger is public)."""
    correct = group.correct_replicas()
    if correct:
        latest = correct[0].quorums_for(1 << 62)
        for client in group.clients:
            client.learn_quorums(latest)


def shrink(
    schedule: Schedule,
    still_fails: Callable[[Schedule], bool],
    *,
    max_attempts: int = 100,
) -> Schedule:
    """Greedily simplify ``schedule`` while ``still_fails`` holds.

    Tries, in turn: dropping a round, making a round connected, removing its drops, duplicates
    and long delays, fewer clients and requests, no reconfiguration, the default leader order,
    fewer faulty replicas, a smaller coalition split; keeps every change that still fails.
    """
    attempts = 0
    current = schedule
    improved = True
    while improved and attempts < max_attempts:
        improved = False
        for candidate in _simpler(current):
            attempts += 1
            if still_fails(candidate):
                current = candidate
                improved = True
                break
            if attempts >= max_attempts:
                break
    return current


def _simpler(s: Schedule) -> Iterable[Schedule]:
    for i in range(len(s.rounds)):
        yield replace(s, rounds=s.rounds[:i] + s.rounds[i + 1 :])
    for i, r in enumerate(s.rounds):
        calmer = [
            replace(r, groups=()),
            replace(r, drop_prob=0.0),
            replace(r, duplicate_prob=0.0),
            replace(r, max_delay_ns=seconds(0.002)),
        ]
        for c in calmer:
            if c != r:
                yield replace(s, rounds=(*s.rounds[:i], c, *s.rounds[i + 1 :]))
    if s.reconfigure is not None:
        yield replace(s, reconfigure=None)
    if s.clients > 1:
        yield replace(s, clients=s.clients - 1)
    if s.requests > 1:
        yield replace(s, requests=s.requests - 1)
    default = tuple(range(len(s.weights)))
    if s.leader_order and s.leader_order != default:
        primary = s.leader_order[0]
        yield replace(s, leader_order=(primary, *[r for r in default if r != primary]))
    for i in range(len(s.faulty)):
        yield _without_faulty(s, i)
    for r in s.side_b:
        if len(s.side_b) > 1:
            yield replace(s, side_b=tuple(x for x in s.side_b if x != r))


def _without_faulty(s: Schedule, index: int) -> Schedule:
    gone = s.faulty[index]
    twin = f"{gone}'"
    rounds = []
    for r in s.rounds:
        groups = (tuple(x for x in g if x != twin) for g in r.groups)
        rounds.append(replace(r, groups=tuple(g for g in groups if g)))
    return replace(
        s,
        faulty=s.faulty[:index] + s.faulty[index + 1 :],
        behaviours=s.behaviours[:index] + s.behaviours[index + 1 :],
        rounds=tuple(rounds),
    )


@dataclass
class CheckReport:
    """Summary of a :func:`check` run (``to_json`` gives the CLI's JSON)."""

    schedules: int
    safety_violations: int
    liveness_failures: int
    above_threshold: int
    tolerated_fraction: float
    faulty_weight: float
    first_violation: dict | None
    first_liveness_failure: dict | None
    messages: int
    auth_rejected: int

    def to_json(self) -> dict:
        """JSON-safe dict."""
        return asdict(self)


def check(
    *,
    replicas: int,
    schedules: int,
    faulty_weight: float,
    seed: int,
    weights: Iterable[float] | None = None,
    f: int | None = None,
    unsafe_quorum_fraction: float | None = None,
    shrink_violations: bool = True,
    key_bits: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> CheckReport:
    """Run ``schedules`` random schedules and summarise what they found.

    Schedule ``i`` has seed ``seed * 1_000_003 + i`` (replay one with :func:`generate_schedule`).
    The first safety violation is shrunk (:func:`shrink`) and reported with its seed, its
    description and its JSON.

    Examples
    --------
    >>> report = check(replicas=4, schedules=3, faulty_weight=0.25, seed=1)
    >>> report.schedules, report.safety_violations
    (3, 0)
    """
    if isinstance(schedules, bool) or not isinstance(schedules, numbers.Integral) or schedules < 1:
        raise ValueError(f"schedules={schedules!r} must be a positive integer")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed={seed!r} must be an integer >= 0")
    weights = None if weights is None else tuple(weights)
    violations = liveness = above = messages = rejected = 0
    first = first_live = None
    quorums = None
    for index in range(schedules):
        schedule_seed = int(seed) * 1_000_003 + index
        schedule = generate_schedule(
            schedule_seed,
            replicas=replicas,
            faulty_weight=faulty_weight,
            weights=weights,
            f=f,
            unsafe_quorum_fraction=unsafe_quorum_fraction,
        )
        quorums = quorums or schedule.quorums()
        above += schedule.above_threshold
        outcome = run_schedule(schedule, key_bits=key_bits)
        messages += outcome.stats.get("messages", 0)
        rejected += sum(
            v for k, v in outcome.stats.items() if k.startswith("auth_") and k != "auth_accepted"
        )
        if outcome.violation is not None:
            violations += 1
            if first is None:
                first = _report(schedule, outcome, shrink_violations, key_bits)
        elif outcome.liveness_failure is not None:
            liveness += 1
            if first_live is None:
                first_live = {
                    "seed": schedule.seed,
                    "failure": outcome.liveness_failure,
                    "description": schedule.describe(),
                    "schedule": schedule.to_json(),
                }
        if progress is not None:
            progress(1)
    return CheckReport(
        schedules=int(schedules),
        safety_violations=violations,
        liveness_failures=liveness,
        above_threshold=above,
        tolerated_fraction=quorums.tolerated_fraction,
        faulty_weight=float(faulty_weight),
        first_violation=first,
        first_liveness_failure=first_live,
        messages=messages,
        auth_rejected=rejected,
    )


def _report(schedule: Schedule, outcome: Outcome, do_shrink: bool, key_bits: int | None) -> dict:
    small = schedule
    if do_shrink:
        # a candidate only has to keep violating: a short run after stabilisation will do (the
        # run is the same event by event up to its end, so a longer replay finds the same)
        def still_fails(candidate: Schedule) -> bool:
            outcome = run_schedule(candidate, key_bits=key_bits, liveness_ns=_SHRINK_WINDOW)
            return outcome.violation is not None

        small = shrink(schedule, still_fails)
    final = run_schedule(small, key_bits=key_bits, liveness_ns=_SHRINK_WINDOW)
    return {
        "seed": schedule.seed,
        "violation": final.violation or outcome.violation,
        "description": small.describe(),
        "schedule": small.to_json(),
        "original_rounds": len(schedule.rounds),
        "shrunk_rounds": len(small.rounds),
    }


def replay_schedule(data: dict | str) -> Outcome:
    """Replay a schedule given as its JSON dict (or a JSON string, or a report holding one)."""
    if isinstance(data, str):
        data = json.loads(data)
    if isinstance(data, dict) and "first_violation" in data:
        data = data["first_violation"] or {}
    if isinstance(data, dict) and "schedule" in data:
        data = data["schedule"]
    return run_schedule(Schedule.from_json(data))
