"""Node behaviours: honest, and the Byzantine policies plugged into nodes.

A behaviour is a small policy object with one method per decision a node takes (the way
gymnasium composes wrappers): what it does to the quantum states it sends
(:meth:`NodeBehaviour.state_attack_prob`), what it reports about the QBER of its links
(:meth:`NodeBehaviour.report_qbers`), what error rates it submits about the other nodes
(:meth:`NodeBehaviour.assess`), how it votes on exclusions (:meth:`NodeBehaviour.votes`) and
what it does with key it relays (:meth:`NodeBehaviour.relay`). The simulator asks the behaviour
of each node and never branches on "is this node Byzantine". The batch methods take arrays (all
links of a node, all recipients, all vote subjects at once); :meth:`NodeBehaviour.report_qber`
and :meth:`NodeBehaviour.vote` are their one-item forms.

Threat model
    Every Byzantine node is controlled by the adversary, so any key it handles in the clear (as
    a trusted relay) is known to the adversary (:attr:`NodeBehaviour.compromised`), even when it
    otherwise behaves honestly (passive copying: no visible symptom). Honest nodes leak nothing.
    Both ends of a QKD link see the same errors during error correction, so an honest node's
    report of a link's QBER equals its peer's measurement exactly; a false report shows up only
    as a disagreement with the other end, which a defence must attribute to one of the two.
    Detector blinding (L. Lydersen et al., Nat. Photonics 4, 686 (2010)) and passive copying by
    a trusted node raise no QBER at all: no QBER-driven weight can catch them, and only
    multipath relay (Shamir shares over node-disjoint paths) bounds what they expose.

On an untrusted MDI relay (node kind ``"relay"``) only :meth:`NodeBehaviour.state_attack_prob`
has an effect (the fraction of rounds on which it announces random Bell outcomes): a relay
holds no key, reports no QBER and relays no key blocks.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> liar = FalseReports(direction="high", magnitude=0.1)
>>> liar.report_qber(link=0, measured_qber=0.03, recipient="B", rng=rng)
0.13
>>> assigned = assign_behaviours(
...     {"A": "trusted", "B": "trusted", "C": "trusted", "D": "trusted", "u": "endpoint"},
...     fraction=0.25, behaviour="withhold", seed=7)
>>> sorted(node for node, b in assigned.items() if b.compromised)
['D']
"""

from __future__ import annotations

import enum
import hashlib
import math
import numbers
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from network.keys.material import KeyMaterial
from qkdcircuits._validation import SeedLike, as_float_or_array, as_generator, check_probability
from qkdcircuits.analysis.attacks import dishonest_relay_qber, intercept_resend_qber

__all__ = [
    "BEHAVIOURS",
    "MAX_BYZANTINE_FRACTION",
    "VOTE_ABSTAIN",
    "VOTE_EXCLUDE",
    "VOTE_KEEP",
    "ByzantineBehaviour",
    "Collude",
    "CorruptRelay",
    "CorruptStates",
    "Equivocate",
    "FalseReports",
    "LinkSubject",
    "Mixed",
    "NodeBehaviour",
    "PassiveCopy",
    "RelayAction",
    "RelayOutcome",
    "Silent",
    "SplitReports",
    "Withhold",
    "assign_behaviours",
    "effective_misalignment",
    "link_attack_probs",
]

VOTE_EXCLUDE: int = 1
"""Vote code: the subject should be excluded from routing."""

VOTE_KEEP: int = 0
"""Vote code: the subject should be used for routing."""

VOTE_ABSTAIN: int = -1
"""Vote code: no vote cast (counts against any change of the status quo)."""

MAX_BYZANTINE_FRACTION: float = 0.4
"""Largest fraction of the candidate nodes :func:`assign_behaviours` makes Byzantine."""

_MAX_REPORTED_QBER = 0.5


class RelayAction(enum.Enum):
    """What a trusted node does with a key block it should forward."""

    FORWARD = "forward"
    WITHHOLD = "withhold"
    CORRUPT = "corrupt"


@dataclass(frozen=True)
class RelayOutcome:
    """Result of :meth:`NodeBehaviour.relay`.

    Attributes
    ----------
    action : RelayAction
        Forwarded unchanged, withheld (the delivery fails), or corrupted.
    key : KeyMaterial or None
        The block sent on (``None`` when withheld).
    """

    action: RelayAction
    key: KeyMaterial | None


@dataclass(frozen=True)
class LinkSubject:
    """A link as the subject of a vote.

    Attributes
    ----------
    link : int
        The link id.
    ends : tuple
        Its two key-holding end nodes.
    """

    link: int
    ends: tuple[Hashable, Hashable]

    def concerns(self, group: frozenset[Hashable]) -> bool:
        """Whether either end of the link belongs to ``group``."""
        return self.ends[0] in group or self.ends[1] in group


@dataclass(frozen=True, eq=False)
class SplitReports:
    """Reports that differ by recipient, in compact form.

    Recipient ``j`` receives ``rows[row_of_recipient[j]]``.

    Attributes
    ----------
    row_of_recipient : numpy.ndarray
        ``(R,)`` integer row index per recipient.
    rows : numpy.ndarray
        ``(C, k)`` the distinct report rows (NaN: no report).
    """

    row_of_recipient: np.ndarray
    rows: np.ndarray

    @classmethod
    def from_output(cls, output: Any, *, n_recipients: int, n_links: int) -> SplitReports:
        """Normalise what :meth:`NodeBehaviour.report_qbers` returned; validates shapes."""
        if isinstance(output, SplitReports):
            index = np.asarray(output.row_of_recipient)
            rows = np.asarray(output.rows, dtype=float)
        else:
            rows = np.asarray(output, dtype=float)
            if rows.ndim != 2 or rows.shape[0] not in (1, n_recipients):
                raise ValueError(
                    f"reports of shape {rows.shape}, expected (1, {n_links}) or "
                    f"({n_recipients}, {n_links})"
                )
            count = rows.shape[0]
            index = np.zeros(n_recipients, dtype=np.int64) if count == 1 else np.arange(count)
        if rows.ndim != 2 or rows.shape[1] != n_links or not rows.shape[0]:
            raise ValueError(f"report rows of shape {rows.shape}, expected (C, {n_links})")
        if not np.issubdtype(index.dtype, np.integer) or index.shape != (n_recipients,):
            raise ValueError(f"row_of_recipient must be {n_recipients} integer row indices")
        if ((index < 0) | (index >= rows.shape[0])).any():
            raise ValueError(f"row_of_recipient must index the {rows.shape[0]} rows")
        sent = rows[~np.isnan(rows)]
        if not ((sent >= 0) & (sent <= 1)).all():
            raise ValueError("reported QBERs must be in [0, 1]")
        return cls(row_of_recipient=index, rows=rows)


def _check_magnitude(value: float) -> float:
    """Check a QBER shift and return it as a float in [0, 1/2]."""
    magnitude = check_probability(value, "magnitude")
    if magnitude > _MAX_REPORTED_QBER:
        raise ValueError(f"magnitude={magnitude!r} must be <= 0.5")
    return magnitude


def _measured(measured_qber: Any, links: Any) -> np.ndarray:
    """``measured_qber`` as a 1-D float array matching ``links`` (NaN: nothing measured)."""
    measured = np.asarray(measured_qber, dtype=float)
    if measured.ndim != 1 or measured.shape != np.shape(links):
        raise ValueError(
            f"measured_qber has shape {measured.shape}, expected one value per link "
            f"{np.shape(links)}"
        )
    return measured


def _shifted(measured: np.ndarray, shift: np.ndarray | float) -> np.ndarray:
    """``measured + shift`` kept inside [0, 1/2] (NaN stays NaN: nothing measured)."""
    return np.clip(measured + shift, 0.0, _MAX_REPORTED_QBER)


_MEMO: dict[tuple[Hashable, int], tuple[Sequence[Any], np.ndarray]] = {}


def _memoised(tag: Hashable, items: Sequence[Any], compute: Callable[[], np.ndarray]) -> np.ndarray:
    """``compute()``, memoised by ``tag`` and the identity of ``items``; read-only.

    The simulator passes the same few tuples (recipients, vote subjects) every round, and the
    nodes of one adversary ask the same questions about them: each is answered once.
    """
    key = (tag, id(items))
    cached = _MEMO.get(key)
    if cached is not None and cached[0] is items:
        return cached[1]
    value = compute()
    value.setflags(write=False)
    if len(_MEMO) >= 64:
        _MEMO.clear()
    _MEMO[key] = (items, value)
    return value


def _member_mask(subjects: Sequence[Any], group: frozenset[Hashable]) -> np.ndarray:
    """Which vote subjects (node names or :class:`LinkSubject`) concern a member of ``group``."""
    return _memoised(
        ("members", group),
        subjects,
        lambda: np.fromiter(
            (
                subject.concerns(group) if isinstance(subject, LinkSubject) else subject in group
                for subject in subjects
            ),
            dtype=bool,
            count=len(subjects),
        ),
    )


@dataclass(frozen=True)
class NodeBehaviour:
    """An honest node. Byzantine behaviours subclass it and override some decisions.

    Honest nodes send correct states, report the QBER they measured to everyone, submit the
    error rates they computed, vote their opinion and forward key unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> honest = NodeBehaviour()
    >>> honest.report_qbers(links=np.array([3, 4]), measured_qber=np.array([0.02, 0.05]),
    ...                     recipients=("A", "B", "C"), rng=np.random.default_rng(0))
    array([[0.02, 0.05]])
    """

    name: ClassVar[str] = "honest"

    @property
    def unwrapped(self) -> NodeBehaviour:
        """The policy that takes the decisions (this one; a wrapper's innermost policy)."""
        return self

    @property
    def compromised(self) -> bool:
        """Whether the adversary learns the key material this node handles."""
        return False

    def state_attack_prob(self) -> float:
        """Fraction of the pulses on this node's links that it corrupts (0 for honest nodes)."""
        return 0.0

    def report_qbers(
        self,
        *,
        links: np.ndarray,
        measured_qber: np.ndarray,
        recipients: Sequence[Hashable],
        rng: np.random.Generator,
    ) -> np.ndarray | SplitReports:
        """Return the QBERs this node reports about ``links`` to each of ``recipients``.

        Parameters
        ----------
        links : numpy.ndarray
            Ids of the node's links (1-D integers).
        measured_qber : numpy.ndarray
            The QBER the node measured on each link (NaN where nothing was measured).
        recipients : sequence
            The nodes the reports go to.
        rng : numpy.random.Generator
            The node's random generator.

        Returns
        -------
        numpy.ndarray or SplitReports
            Shape ``(1, len(links))`` when every recipient gets the same reports, else
            ``(len(recipients), len(links))`` or the compact :class:`SplitReports`; NaN where
            no report is sent.
        """
        return _measured(measured_qber, links)[np.newaxis, :].copy()

    def report_qber(
        self, *, link: int, measured_qber: float, recipient: Hashable, rng: np.random.Generator
    ) -> float | None:
        """Return the QBER this node reports to ``recipient`` for ``link`` (``None``: none sent)."""
        output = self.report_qbers(
            links=np.array([link]),
            measured_qber=np.array([measured_qber], dtype=float),
            recipients=(recipient,),
            rng=rng,
        )
        reports = SplitReports.from_output(output, n_recipients=1, n_links=1)
        value = float(reports.rows[reports.row_of_recipient[0], 0])
        return None if math.isnan(value) else value

    def assess(
        self, *, subjects: Sequence[Hashable], errors: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray | None:
        """Return the error rates this node submits about ``subjects`` (``None``: none).

        ``errors`` are the rates it computed from what it received; an honest node submits
        them unchanged (the same array object).
        """
        return errors

    def votes(
        self, *, subjects: Sequence[Any], opinions: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Return the node's votes on excluding each subject, given its honest opinions.

        Parameters
        ----------
        subjects : sequence
            Node names, and :class:`LinkSubject` for links.
        opinions : numpy.ndarray
            Boolean: ``True`` where the node's own evidence says the subject should be
            excluded.
        rng : numpy.random.Generator
            The node's random generator.

        Returns
        -------
        numpy.ndarray
            One code per subject: :data:`VOTE_EXCLUDE`, :data:`VOTE_KEEP` or
            :data:`VOTE_ABSTAIN` (``int8``). An honest node returns its opinions.
        """
        return np.asarray(opinions, dtype=np.int8)

    def vote(self, *, subject: Any, opinion: bool, rng: np.random.Generator) -> bool | None:
        """Return the node's vote on excluding ``subject`` given its honest ``opinion``.

        ``True``: exclude, ``False``: keep, ``None``: abstain.
        """
        code = int(self.votes(subjects=(subject,), opinions=np.array([bool(opinion)]), rng=rng)[0])
        return None if code == VOTE_ABSTAIN else code == VOTE_EXCLUDE

    def relay(self, *, key: KeyMaterial, rng: np.random.Generator) -> RelayOutcome:
        """Forward ``key`` unchanged."""
        return RelayOutcome(RelayAction.FORWARD, key)

    @classmethod
    def for_assignment(
        cls,
        *,
        options: Mapping[str, Any],
        group: frozenset[Hashable],
        rng: np.random.Generator,
    ) -> NodeBehaviour:
        """Build the instance :func:`assign_behaviours` places on a node.

        Parameters
        ----------
        options : mapping
            Keyword arguments of the behaviour (its dataclass fields).
        group : frozenset
            The nodes that received this behaviour (the colluding group for :class:`Collude`).
        rng : numpy.random.Generator
            The assignment's generator (for random parameters such as salts).
        """
        return cls(**options)


@dataclass(frozen=True)
class ByzantineBehaviour(NodeBehaviour):
    """Base of the policies of nodes the adversary controls: every one is compromised.

    The adversary learns all key such a node handles in the clear, whatever else it does.
    """

    name: ClassVar[str] = "byzantine"

    @property
    def compromised(self) -> bool:
        """``True``: the adversary controls the node and learns the key it relays."""
        return True


@dataclass(frozen=True)
class CorruptStates(ByzantineBehaviour):
    """Sends corrupted quantum states on a fraction ``attack_prob`` of its pulses.

    On those pulses the node acts on the qubits like an intercept-resend attack (it substitutes
    a state prepared or measured in a random basis), which raises the real QBER of every link it
    takes part in: :func:`effective_misalignment` turns the fraction into the link's error.
    Everything else it does honestly, so its reports are true (and show the raised QBER).

    What a defence sees: the raised QBER on all of this node's links, measured identically by
    each honest peer. What it cannot see: which end of one bad link is to blame; only a node
    whose links are bad towards several different peers stands out.

    Attributes
    ----------
    attack_prob : float
        Fraction of pulses corrupted, in [0, 1].
    """

    name: ClassVar[str] = "corrupt-states"
    attack_prob: float = 0.2

    def __post_init__(self) -> None:
        object.__setattr__(self, "attack_prob", check_probability(self.attack_prob, "attack_prob"))

    def state_attack_prob(self) -> float:
        """``attack_prob``."""
        return self.attack_prob


@dataclass(frozen=True)
class FalseReports(ByzantineBehaviour):
    """Reports a QBER lower or higher than it measured, the same to every recipient.

    ``direction="high"`` adds ``magnitude`` (to make good links, and the honest peers on them,
    look bad), ``"low"`` subtracts it (to hide a bad link), ``"random"`` picks one of the two
    per link and report; reports stay in [0, 1/2].

    What a defence sees: the report disagrees with the one the honest peer sends about the same
    link (both ends measure identical errors). What it cannot see: which of the two ends lies,
    from one link alone.

    Attributes
    ----------
    direction : {"high", "low", "random"}
    magnitude : float
        Absolute QBER shift, in [0, 1/2].
    """

    name: ClassVar[str] = "false-reports"
    DIRECTIONS: ClassVar[tuple[str, ...]] = ("high", "low", "random")
    direction: str = "high"
    magnitude: float = 0.1

    def __post_init__(self) -> None:
        if self.direction not in self.DIRECTIONS:
            raise ValueError(f"direction={self.direction!r} must be one of {self.DIRECTIONS}")
        object.__setattr__(self, "magnitude", _check_magnitude(self.magnitude))

    def report_qbers(
        self,
        *,
        links: np.ndarray,
        measured_qber: np.ndarray,
        recipients: Sequence[Hashable],
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Return the measured QBERs shifted by ``magnitude`` in ``direction``, shape ``(1, k)``."""
        measured = _measured(measured_qber, links)
        if self.direction == "random":
            sign = np.where(rng.random(measured.size) < 0.5, -1.0, 1.0)
        else:
            sign = 1.0 if self.direction == "high" else -1.0
        return _shifted(measured, sign * self.magnitude)[np.newaxis, :]


@dataclass(frozen=True)
class Withhold(ByzantineBehaviour):
    """Drops a fraction ``block_prob`` of the key blocks it should relay.

    What a defence sees: the deliveries through this node fail (no key arrives at the far end).
    What it cannot see: which node of a failed multi-hop path dropped the block; only a node on
    many failed paths between different endpoints stands out.

    Attributes
    ----------
    block_prob : float
        Probability that a block is dropped, in [0, 1].
    """

    name: ClassVar[str] = "withhold"
    block_prob: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "block_prob", check_probability(self.block_prob, "block_prob"))

    def relay(self, *, key: KeyMaterial, rng: np.random.Generator) -> RelayOutcome:
        """Withhold the block with probability ``block_prob``, else forward it."""
        if rng.random() < self.block_prob:
            return RelayOutcome(RelayAction.WITHHOLD, None)
        return RelayOutcome(RelayAction.FORWARD, key)


@dataclass(frozen=True)
class CorruptRelay(ByzantineBehaviour):
    """Flips bits of a fraction ``block_prob`` of the key blocks it relays.

    In material mode each bit of a corrupted block flips with probability ``bit_flip_prob``
    (at least one bit flips, so a corrupted block always differs); in accounting mode the block
    comes out marked ``altered``. Empty blocks pass unchanged.

    What a defence sees: the two ends of the delivery hold different keys (their key
    confirmation fails), a failed delivery through every node of the path. What it cannot see:
    which node of the path flipped the bits. The adversary also learns the key (compromised).

    Attributes
    ----------
    block_prob : float
        Probability that a block is corrupted, in [0, 1].
    bit_flip_prob : float
        Probability that each bit of a corrupted block flips, in (0, 1].
    """

    name: ClassVar[str] = "corrupt-relay"
    block_prob: float = 1.0
    bit_flip_prob: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "block_prob", check_probability(self.block_prob, "block_prob"))
        flip = check_probability(self.bit_flip_prob, "bit_flip_prob")
        if flip == 0.0:
            raise ValueError("bit_flip_prob=0.0 must be > 0 (a corrupted block changes)")
        object.__setattr__(self, "bit_flip_prob", flip)

    def relay(self, *, key: KeyMaterial, rng: np.random.Generator) -> RelayOutcome:
        """Corrupt the block with probability ``block_prob``, else forward it."""
        if rng.random() >= self.block_prob or key.n_bits == 0:
            return RelayOutcome(RelayAction.FORWARD, key)
        if key.bits is None:
            return RelayOutcome(RelayAction.CORRUPT, KeyMaterial.counted(key.n_bits, altered=True))
        flips = rng.random(key.n_bits) < self.bit_flip_prob
        if not flips.any():
            flips[rng.integers(key.n_bits)] = True
        bits = np.bitwise_xor(key.bits, flips.astype(np.uint8))
        return RelayOutcome(RelayAction.CORRUPT, KeyMaterial(n_bits=key.n_bits, bits=bits))


@dataclass(frozen=True)
class Equivocate(ByzantineBehaviour):
    """Sends different QBER reports to different recipients.

    The recipients are split into two camps by a keyed hash of their names (``salt``): one camp
    receives the measured QBER minus ``magnitude``, the other plus ``magnitude`` (kept in
    [0, 1/2]), so honest recipients form different views of the same links.
    :func:`assign_behaviours` gives every equivocator of one assignment the same salt: one
    adversary controls them all and splits the honest recipients into the same two camps
    (the strongest split, and two views to evaluate; independent salts give every voter its
    own view, at a cost proportional to voters x links).

    What a defence sees: in every recipient's view the report disagrees with the other end of
    the link (as for :class:`FalseReports`), and two recipients comparing notes would find
    different reports for one link. What it cannot see without an agreement protocol on the
    reports: which recipient heard what, when recipients may lie about it.

    Attributes
    ----------
    magnitude : float
        Absolute QBER shift, in [0, 1/2].
    salt : int
        Key of the hash that splits the recipients (non-negative).
    """

    name: ClassVar[str] = "equivocate"
    magnitude: float = 0.1
    salt: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "magnitude", _check_magnitude(self.magnitude))
        if isinstance(self.salt, bool) or not isinstance(self.salt, numbers.Integral):
            raise TypeError(f"salt={self.salt!r} must be an integer")
        if self.salt < 0:
            raise ValueError(f"salt={self.salt!r} must be >= 0")

    def camp(self, recipient: Hashable) -> int:
        """0 (told less than measured) or 1 (told more) for ``recipient``."""
        digest = hashlib.blake2b(
            repr(recipient).encode(), digest_size=8, key=str(self.salt).encode()
        ).digest()
        return digest[0] & 1

    def _recipient_camps(self, recipients: Sequence[Hashable]) -> np.ndarray:
        return _memoised(
            ("camps", self.salt),
            recipients,
            lambda: np.array([self.camp(r) for r in recipients], dtype=np.int8),
        )

    def report_qbers(
        self,
        *,
        links: np.ndarray,
        measured_qber: np.ndarray,
        recipients: Sequence[Hashable],
        rng: np.random.Generator,
    ) -> SplitReports:
        """Two rows, minus and plus ``magnitude``; each recipient gets its camp's row."""
        measured = _measured(measured_qber, links)
        rows = _shifted(measured[np.newaxis, :], np.array([[-1.0], [1.0]]) * self.magnitude)
        return SplitReports(row_of_recipient=self._recipient_camps(recipients), rows=rows)


@dataclass(frozen=True)
class Silent(ByzantineBehaviour):
    """Sends no reports, submits no error rates, casts no votes and drops relayed key.

    What a defence sees: missing reports where the peers of its links did report, and failed
    deliveries through it. Abstentions count against every change of the status quo, so silent
    weight makes exclusions harder to reach (like a crashed replica in PBFT).
    """

    name: ClassVar[str] = "silent"

    def report_qbers(
        self,
        *,
        links: np.ndarray,
        measured_qber: np.ndarray,
        recipients: Sequence[Hashable],
        rng: np.random.Generator,
    ) -> np.ndarray:
        """All NaN (no report), shape ``(1, k)``."""
        return np.full((1, _measured(measured_qber, links).size), np.nan)

    def assess(
        self, *, subjects: Sequence[Hashable], errors: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray | None:
        """``None``: nothing submitted."""
        return None

    def votes(
        self, *, subjects: Sequence[Any], opinions: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """:data:`VOTE_ABSTAIN` on every subject."""
        return np.full(len(subjects), VOTE_ABSTAIN, dtype=np.int8)

    def relay(self, *, key: KeyMaterial, rng: np.random.Generator) -> RelayOutcome:
        """Withhold every block."""
        return RelayOutcome(RelayAction.WITHHOLD, None)


@dataclass(frozen=True)
class PassiveCopy(ByzantineBehaviour):
    """Behaves honestly in every decision, but the adversary learns all key it relays.

    What a defence sees: nothing. No report, vote, QBER or delivery differs from an honest
    node's, so no weight derived from them can fall; only multipath relay (fewer than ``k`` of
    ``n`` Shamir shares through compromised nodes) bounds the exposure.
    """

    name: ClassVar[str] = "passive-copy"


@dataclass(frozen=True)
class Collude(ByzantineBehaviour):
    """A member of a colluding group sharing one strategy.

    Every member reports the measured QBER minus ``magnitude`` on all its links (kept >= 0),
    so that a link between two members looks clean and consistent; submits error rate 0 for
    the members and 1 for every other node; votes to keep the members (and every link touching
    one) and to exclude every other subject. It may also corrupt a fraction ``attack_prob`` of
    its pulses (0 by default), which its low reports then try to hide.

    What a defence sees: the disagreement between a member's reports and its honest peers' on
    the links between them; submissions and votes that contradict the honest majority. What it
    cannot see: anything on links whose both ends are members. Members holding a third of the
    voting weight or more can block their own exclusion (a change needs more than two thirds),
    and half of the weight or more moves the weighted median of the submitted error rates.

    Attributes
    ----------
    group : frozenset
        The colluding nodes (this one included).
    magnitude : float
        Absolute amount by which reports understate the measured QBER, in [0, 1/2].
    attack_prob : float
        Fraction of pulses corrupted, in [0, 1].
    """

    name: ClassVar[str] = "collude"
    group: frozenset[Hashable] = frozenset()
    magnitude: float = 0.1
    attack_prob: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.group, frozenset):
            object.__setattr__(self, "group", frozenset(self.group))
        object.__setattr__(self, "magnitude", _check_magnitude(self.magnitude))
        object.__setattr__(self, "attack_prob", check_probability(self.attack_prob, "attack_prob"))

    @classmethod
    def for_assignment(
        cls,
        *,
        options: Mapping[str, Any],
        group: frozenset[Hashable],
        rng: np.random.Generator,
    ) -> NodeBehaviour:
        """Build a member of ``group``."""
        return cls(group=group, **options)

    def state_attack_prob(self) -> float:
        """``attack_prob``."""
        return self.attack_prob

    def report_qbers(
        self,
        *,
        links: np.ndarray,
        measured_qber: np.ndarray,
        recipients: Sequence[Hashable],
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Return the measured QBERs minus ``magnitude`` (at least 0), shape ``(1, k)``."""
        return _shifted(_measured(measured_qber, links), -self.magnitude)[np.newaxis, :]

    def assess(
        self, *, subjects: Sequence[Hashable], errors: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray | None:
        """0 for the members, 1 for every other node (a read-only array)."""
        return _memoised(
            ("accuse", self.group),
            subjects,
            lambda: np.where(_member_mask(subjects, self.group), 0.0, 1.0),
        )

    def votes(
        self, *, subjects: Sequence[Any], opinions: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Keep the members and their links, exclude everything else (a read-only array)."""
        return _memoised(
            ("shield", self.group),
            subjects,
            lambda: np.where(_member_mask(subjects, self.group), VOTE_KEEP, VOTE_EXCLUDE).astype(
                np.int8
            ),
        )


@dataclass(frozen=True)
class Mixed(ByzantineBehaviour):
    """A Byzantine node that drew one of the other behaviours at assignment.

    Every decision is delegated to ``component`` (a wrapper, as gymnasium composes them); the
    draw is uniform over the other Byzantine behaviours and seeded by :func:`assign_behaviours`.
    Nodes that drew ``collude`` form one group.

    Attributes
    ----------
    component : NodeBehaviour
        The drawn behaviour.
    """

    name: ClassVar[str] = "mixed"
    component: NodeBehaviour

    def __post_init__(self) -> None:
        if not isinstance(self.component, ByzantineBehaviour) or isinstance(self.component, Mixed):
            raise TypeError(
                f"component={self.component!r} must be a Byzantine behaviour other than Mixed"
            )

    @property
    def unwrapped(self) -> NodeBehaviour:
        """The component's policy."""
        return self.component.unwrapped

    @property
    def compromised(self) -> bool:
        """The component's."""
        return self.component.compromised

    def state_attack_prob(self) -> float:
        """Return the component's state-attack probability."""
        return self.component.state_attack_prob()

    def report_qbers(
        self,
        *,
        links: np.ndarray,
        measured_qber: np.ndarray,
        recipients: Sequence[Hashable],
        rng: np.random.Generator,
    ) -> np.ndarray | SplitReports:
        """Return the component's QBER reports."""
        return self.component.report_qbers(
            links=links, measured_qber=measured_qber, recipients=recipients, rng=rng
        )

    def assess(
        self, *, subjects: Sequence[Hashable], errors: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray | None:
        """Return the component's assessment."""
        return self.component.assess(subjects=subjects, errors=errors, rng=rng)

    def votes(
        self, *, subjects: Sequence[Any], opinions: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Return the component's votes."""
        return self.component.votes(subjects=subjects, opinions=opinions, rng=rng)

    def relay(self, *, key: KeyMaterial, rng: np.random.Generator) -> RelayOutcome:
        """Return the component's relay decision."""
        return self.component.relay(key=key, rng=rng)


BEHAVIOURS: Mapping[str, type[NodeBehaviour]] = {
    cls.name: cls
    for cls in (
        CorruptStates,
        FalseReports,
        Withhold,
        CorruptRelay,
        Equivocate,
        Silent,
        PassiveCopy,
        Collude,
        Mixed,
    )
}
"""The Byzantine behaviours by name (the ``--behaviour`` choices)."""


def _kinds_of(nodes: Any) -> dict[Hashable, str]:
    """Node -> kind from a mapping, a networkx graph or an object with a ``graph`` attribute."""
    graph = getattr(nodes, "graph", None)
    if graph is not None and hasattr(graph, "nodes") and not isinstance(nodes, Mapping):
        nodes = graph
    if hasattr(nodes, "nodes") and callable(nodes.nodes):
        return {node: kind for node, kind in nodes.nodes(data="kind")}
    if isinstance(nodes, Mapping):
        return dict(nodes)
    raise TypeError(
        "nodes must map node -> kind, or be a networkx graph or topology with node kinds, "
        f"not {type(nodes).__name__}"
    )


def _byzantine_count(fraction: float, n_candidates: int) -> int:
    """Nearest integer to ``fraction * n_candidates`` (halves up)."""
    return math.floor(fraction * n_candidates + 0.5)


def _checked_options(name: str, cls: type[NodeBehaviour], options: Any) -> dict[str, Any]:
    if not isinstance(options, Mapping):
        raise TypeError(f"options[{name!r}]={options!r} must be a mapping of keyword arguments")
    allowed = {f.name for f in fields(cls) if f.init} - {"group", "component"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"behaviour {name!r} has no option {unknown[0]!r} (options: {sorted(allowed)})"
        )
    return dict(options)


def assign_behaviours(
    nodes: Any,
    *,
    fraction: float,
    behaviour: str,
    seed: SeedLike = None,
    kinds: Sequence[str] = ("trusted",),
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[Hashable, NodeBehaviour]:
    """Place a Byzantine behaviour on a fraction of the candidate nodes; the rest are honest.

    Parameters
    ----------
    nodes : mapping, networkx.Graph or QKDTopology
        Node -> kind (``"trusted"``, ``"endpoint"``, ``"relay"``), or a graph (or an object
        with a ``graph`` attribute) whose nodes carry a ``kind`` attribute. The order of the
        nodes fixes the draw.
    fraction : float
        Fraction of the candidates made Byzantine, in [0, 0.4]; the count is the nearest
        integer (halves up).
    behaviour : str
        A name in :data:`BEHAVIOURS`. With ``"mixed"`` each Byzantine node draws one of the
        other behaviours uniformly.
    seed : int, numpy.random.Generator or None
        Seeds which nodes are chosen and every random choice of the assignment (mixed draws,
        the equivocators' common salt).
    kinds : sequence of str
        Node kinds that are candidates (trusted nodes by default; add ``"relay"`` for
        untrusted MDI relays, on which only the state attack has an effect).
    options : mapping, optional
        Behaviour name -> keyword arguments of that behaviour (e.g.
        ``{"corrupt-states": {"attack_prob": 0.3}}``); applies to mixed draws too.

    Returns
    -------
    dict
        Every node -> its behaviour (:class:`NodeBehaviour` for honest nodes).

    Raises
    ------
    ValueError
        For a fraction outside [0, 0.4], an unknown behaviour, kind or option.
    TypeError
        For options that are not mappings, or nodes of an unsupported type.

    Examples
    --------
    >>> nodes = {f"T{i}": "trusted" for i in range(10)}
    >>> placed = assign_behaviours(nodes, fraction=0.2, behaviour="collude", seed=3)
    >>> sorted(node for node, b in placed.items() if b.name == "collude")
    ['T0', 'T7']
    >>> placed["T0"].group == frozenset({"T0", "T7"})
    True
    """
    fraction = check_probability(fraction, "fraction")
    if fraction > MAX_BYZANTINE_FRACTION:
        raise ValueError(f"fraction={fraction!r} must be in [0, {MAX_BYZANTINE_FRACTION}]")
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"behaviour={behaviour!r} must be one of {', '.join(BEHAVIOURS)}")
    if isinstance(kinds, str):
        kinds = (kinds,)
    for kind in kinds:
        if kind not in ("trusted", "endpoint", "relay"):
            raise ValueError(f"kinds contains {kind!r}: must be 'trusted', 'endpoint' or 'relay'")
    options = {} if options is None else options
    if not isinstance(options, Mapping):
        raise TypeError(f"options={options!r} must map behaviour names to keyword arguments")
    for name in options:
        if name not in BEHAVIOURS or name == Mixed.name:
            raise ValueError(f"options names {name!r}, which is not a behaviour with options")
    checked = {
        name: _checked_options(name, BEHAVIOURS[name], value) for name, value in options.items()
    }
    rng = as_generator(seed)
    node_kinds = _kinds_of(nodes)
    candidates = [node for node, kind in node_kinds.items() if kind in kinds]
    count = _byzantine_count(fraction, len(candidates))
    chosen = [candidates[i] for i in np.sort(rng.choice(len(candidates), count, replace=False))]

    drawable = [cls for name, cls in BEHAVIOURS.items() if name != Mixed.name]
    drawn = {
        node: drawable[int(rng.integers(len(drawable)))]
        if behaviour == Mixed.name
        else BEHAVIOURS[behaviour]
        for node in chosen
    }
    # One adversary controls every Byzantine node: its equivocators split the recipients alike.
    salt = int(rng.integers(2**62))
    checked[Equivocate.name] = {"salt": salt, **checked.get(Equivocate.name, {})}
    groups = {
        cls: frozenset(node for node in chosen if drawn[node] is cls) for cls in set(drawn.values())
    }
    honest = NodeBehaviour()
    assigned: dict[Hashable, NodeBehaviour] = dict.fromkeys(node_kinds, honest)
    for node in chosen:
        cls = drawn[node]
        instance = cls.for_assignment(options=checked.get(cls.name, {}), group=groups[cls], rng=rng)
        assigned[node] = Mixed(component=instance) if behaviour == Mixed.name else instance
    return assigned


def link_attack_probs(
    behaviours: Mapping[Hashable, NodeBehaviour],
    links: Sequence[tuple[Hashable, Hashable]],
    relays: Sequence[Hashable | None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-link fractions of corrupted pulses at each end and at the relay.

    Parameters
    ----------
    behaviours : mapping
        Node -> behaviour; nodes absent from it are honest.
    links : sequence of (node, node)
        The links in id order (``QKDTopology.links``).
    relays : sequence, optional
        The MDI relay of each link, ``None`` for BB84 links (all ``None`` if omitted).

    Returns
    -------
    end_a, end_b, relay : numpy.ndarray
        ``state_attack_prob()`` of each link's first end, second end and relay (0 for none).

    Examples
    --------
    >>> probs = link_attack_probs({"B": CorruptStates(attack_prob=0.3)},
    ...                           [("A", "B"), ("B", "C"), ("A", "C")], [None, None, "R"])
    >>> [p.tolist() for p in probs]
    [[0.0, 0.3, 0.0], [0.3, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    if relays is None:
        relays = [None] * len(links)
    if len(relays) != len(links):
        raise ValueError(f"relays has {len(relays)} entries for {len(links)} links")
    honest = NodeBehaviour()

    def prob(node: Hashable | None) -> float:
        if node is None:
            return 0.0
        value = behaviours.get(node, honest).state_attack_prob()
        return check_probability(value, f"state_attack_prob() of node {node!r}")

    end_a = np.array([prob(u) for u, _ in links], dtype=float)
    end_b = np.array([prob(v) for _, v in links], dtype=float)
    relay = np.array([prob(r) for r in relays], dtype=float)
    return end_a, end_b, relay


def _intercept_resend(attack: float, flip: float) -> float:
    return intercept_resend_qber(attack_prob=attack, channel_flip_prob=flip)


def _random_relay(attack: float, honest: float) -> float:
    return dishonest_relay_qber(
        attack_prob=attack, strategy="random", basis="Z", honest_qber=honest
    )


def _bilinear(closed_form: Callable[[float, float], float], x: Any, y: Any) -> np.ndarray:
    """``closed_form(x, y)`` over arrays, for a closed form affine in each argument.

    A corruption on a fraction ``x`` of the rounds, and an independent flip with probability
    ``y``, are both probabilistic mixtures, so each QBER is affine in each of them and equals
    the bilinear interpolation of its four values at the corners of [0, 1]^2.
    """
    f00, f10 = closed_form(0.0, 0.0), closed_form(1.0, 0.0)
    f01, f11 = closed_form(0.0, 1.0), closed_form(1.0, 1.0)
    return (1 - x) * (1 - y) * f00 + x * (1 - y) * f10 + (1 - x) * y * f01 + x * y * f11


def _probability_array(value: Any, name: str, high: float = 1.0) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    bad = ~((array >= 0.0) & (array <= high))
    if bad.any():
        index = np.argwhere(bad)[0]
        where = f"[{', '.join(map(str, index))}]" if array.ndim else ""
        raise ValueError(f"{name}{where}={array[tuple(index)]!r} not in [0, {high}]")
    return array


def effective_misalignment(
    *,
    misalignment_prob: Any,
    end_a_attack_prob: Any,
    end_b_attack_prob: Any,
    relay_attack_prob: Any = 0.0,
) -> Any:
    """Error probability of links whose ends (and MDI relay) corrupt a fraction of pulses.

    The result replaces the links' misalignment error ``e_d`` in the key-rate formulas
    (:class:`network.links.LinkModel` takes it as ``misalignment_prob``). Arrays broadcast
    (one entry per link); scalars give a float.

    Model. An end that corrupts a fraction ``p`` of its pulses acts on the qubits as an
    intercept-resend attack on that fraction; in the sifted key basis this is a binary
    symmetric channel, so the closed form
    :func:`qkdcircuits.analysis.attacks.intercept_resend_qber` composes with the channel's flip
    probability: ``e1 = Q_IR(p_a, e_d)``, ``e2 = Q_IR(p_b, e1)`` (C. H. Bennett, G. Brassard,
    Proc. IEEE ICCSSP (1984); N. Gisin et al., Rev. Mod. Phys. 74, 145 (2002)). A Byzantine
    MDI relay announcing random Bell outcomes on a fraction ``f`` of the rounds gives
    :func:`qkdcircuits.analysis.attacks.dishonest_relay_qber` with strategy ``"random"``,
    ``(1 - f) e2 + f/2`` in both bases (H.-K. Lo, M. Curty, B. Qi, PRL 108, 130503 (2012)).
    Both closed forms are affine in the attack fraction and in the honest error (mixtures),
    so they are evaluated for all links at once from their values at the corners of
    [0, 1]^2. The corrupted pulses are detected at the honest gain (the adversary does not
    change the loss), so feeding ``e_d`` forward is exact for the single-photon (qubit) error
    rates and approximates the dark-count terms. The result stays in [0, 1/2].

    Not every attack shows here: detector blinding and passive copying of relayed key raise no
    QBER, so no QBER-driven weight can catch them; only multipath relay bounds that exposure.

    Parameters
    ----------
    misalignment_prob : float or array
        Honest misalignment error of each link, in [0, 1/2].
    end_a_attack_prob, end_b_attack_prob : float or array
        Fraction of pulses corrupted by each end, in [0, 1].
    relay_attack_prob : float or array
        Fraction of rounds on which the MDI relay announces random outcomes, in [0, 1]
        (0 for BB84 links, which have no relay).

    Returns
    -------
    float or numpy.ndarray
        Effective error probability, in [0, 1/2].

    Raises
    ------
    ValueError
        If an argument is outside its range (or NaN), or the shapes do not broadcast.

    Examples
    --------
    >>> float(effective_misalignment(misalignment_prob=0.0, end_a_attack_prob=1.0,
    ...                              end_b_attack_prob=0.0))
    0.25
    >>> effective_misalignment(misalignment_prob=[0.01, 0.02], end_a_attack_prob=[0.2, 0.0],
    ...                        end_b_attack_prob=0.0, relay_attack_prob=[0.0, 0.5]).round(4)
    array([0.059, 0.26 ])
    """
    e_d = _probability_array(misalignment_prob, "misalignment_prob", high=0.5)
    p_a = _probability_array(end_a_attack_prob, "end_a_attack_prob")
    p_b = _probability_array(end_b_attack_prob, "end_b_attack_prob")
    f = _probability_array(relay_attack_prob, "relay_attack_prob")
    np.broadcast_shapes(e_d.shape, p_a.shape, p_b.shape, f.shape)
    after_a = _bilinear(_intercept_resend, p_a, e_d)
    after_b = _bilinear(_intercept_resend, p_b, after_a)
    return as_float_or_array(_bilinear(_random_relay, f, after_b))
