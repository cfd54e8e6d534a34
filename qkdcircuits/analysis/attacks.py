"""Closed-form QBERs of the attacks (no Qiskit): what a network layer uses to model Byzantine nodes.

**Intercept-resend on BB84.** On a fraction ``p`` of the rounds Eve measures in a random basis
and resends. In a sifted round her basis is wrong with probability 1/2, and then Bob's bit is a
fair coin; with channel flip probability ``eps`` (after Eve)
``Q = (1 - p) eps + p [(1/2) eps + (1/2)(1/2)] = eps + p (1 - 2 eps) / 4``: ``p/4`` on a noiseless
line, 25 % for a full attack (C. H. Bennett, G. Brassard, Proc. IEEE ICCSSP (1984); N. Gisin,
G. Ribordy, W. Tittel, H. Zbinden, Rev. Mod. Phys. 74, 145 (2002)).

**Dishonest MDI relay.** On a fraction ``f`` of the rounds Charlie announces a false Bell
outcome. ``"z-measure"``: he measures both photons in Z, then runs the BSM on the dephased
photons, so the Z key is right (and known to him) while X-basis test rounds err with probability
1/2: ``Q_Z = Q_Z,honest``, ``Q_X = (1 - f) Q_X,honest + f/2``. ``"random"``: he announces two fair
coins: both bases become ``(1 - f) Q_honest + f/2``. Any relay behaviour is caught by the X-basis
error rate (H.-K. Lo, M. Curty, B. Qi, PRL 108, 130503 (2012)).

**Corrupted GHZ source.** On a fraction ``f`` of the HBB99 rounds the source hands Eve an extra
GHZ qubit (``"eve-ancilla"``: the parties' X/Y correlations vanish, QBER 1/2 on those rounds) or
flips the GHZ phase (``"phase-flip"``: every kept parity flips). With honest QBER ``e``:
``Q = (1 - f) e + f/2`` and ``(1 - f) e + f (1 - e)``.
"""

from __future__ import annotations

from qkdcircuits._validation import check_basis, check_choice, check_probability

__all__ = [
    "RELAY_STRATEGIES",
    "SOURCE_CORRUPTIONS",
    "corrupted_source_qber",
    "dishonest_relay_qber",
    "intercept_resend_qber",
]


RELAY_STRATEGIES: tuple[str, str] = ("z-measure", "random")
"""Behaviours of a dishonest MDI relay."""


SOURCE_CORRUPTIONS: tuple[str, str] = ("eve-ancilla", "phase-flip")
"""Ways a GHZ source can be corrupted."""


def intercept_resend_qber(intercept_prob: float, channel_flip_prob: float = 0.0) -> float:
    """Closed-form BB84 QBER under intercept-resend on a fraction of rounds.

    ``Q = eps + p (1 - 2 eps) / 4`` for intercept probability ``p`` and channel flip probability
    ``eps`` (after Eve); see the module docstring.

    Examples
    --------
    >>> intercept_resend_qber(1.0), intercept_resend_qber(0.2)
    (0.25, 0.05)
    """
    p = check_probability(intercept_prob, "intercept_prob")
    eps = check_probability(channel_flip_prob, "channel_flip_prob")
    return eps + p * (1.0 - 2.0 * eps) / 4.0


def dishonest_relay_qber(
    *, cheat_prob: float, strategy: str, basis: str, honest_qber: float = 0.0
) -> float:
    """Closed-form MDI QBER in ``basis`` when the relay cheats on a fraction of rounds.

    Examples
    --------
    >>> dishonest_relay_qber(cheat_prob=0.3, strategy="z-measure", basis="X")
    0.15
    >>> dishonest_relay_qber(cheat_prob=0.3, strategy="z-measure", basis="Z", honest_qber=0.02)
    0.02
    """
    f = check_probability(cheat_prob, "cheat_prob")
    strategy = check_choice(strategy, "strategy", RELAY_STRATEGIES)
    basis = check_basis(basis)
    e = check_probability(honest_qber, "honest_qber")
    if strategy == "z-measure" and basis == "Z":
        return e
    return (1.0 - f) * e + f / 2.0


def corrupted_source_qber(
    *, corruption_prob: float, strategy: str, honest_qber: float = 0.0
) -> float:
    """Closed-form HBB QBER with a corrupted source on a fraction of rounds.

    Exact for depolarising arms (``honest_qber`` from
    :func:`qkdcircuits.analysis.sharing.hbb_depolarized_qber`).

    Examples
    --------
    >>> corrupted_source_qber(corruption_prob=0.2, strategy="eve-ancilla")
    0.1
    """
    f = check_probability(corruption_prob, "corruption_prob")
    strategy = check_choice(strategy, "strategy", SOURCE_CORRUPTIONS)
    e = check_probability(honest_qber, "honest_qber")
    corrupted = 0.5 if strategy == "eve-ancilla" else 1.0 - e
    return (1.0 - f) * e + f * corrupted
