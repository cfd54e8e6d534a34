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


def intercept_resend_qber(*, attack_prob: float, channel_flip_prob: float = 0.0) -> float:
    """Closed-form BB84 QBER under intercept-resend on a fraction of rounds.

    ``Q = eps + p (1 - 2 eps) / 4`` (see the module docstring; C. H. Bennett, G. Brassard, Proc.
    IEEE ICCSSP (1984); N. Gisin et al., Rev. Mod. Phys. 74, 145 (2002)).

    Parameters
    ----------
    attack_prob : float
        Probability ``p`` that Eve intercepts a round, in [0, 1].
    channel_flip_prob : float
        Flip probability ``eps`` of the channel after Eve, in [0, 1]
        (:attr:`qkdcircuits.noise.ArmNoise.flip_probability`).

    Returns
    -------
    float
        The QBER in either basis.

    Raises
    ------
    TypeError, ValueError
        If an argument is not a probability.

    References
    ----------
    C. H. Bennett, G. Brassard, "Quantum cryptography: public key distribution and
    coin tossing", Proc. IEEE Int. Conf. Computers, Systems and Signal Processing (1984).

    N. Gisin, G. Ribordy, W. Tittel, H. Zbinden, "Quantum cryptography", Rev. Mod.
    Phys. 74, 145 (2002).

    Examples
    --------
    >>> intercept_resend_qber(attack_prob=1.0), intercept_resend_qber(attack_prob=0.2)
    (0.25, 0.05)
    """
    p = check_probability(attack_prob, "attack_prob")
    eps = check_probability(channel_flip_prob, "channel_flip_prob")
    return eps + p * (1.0 - 2.0 * eps) / 4.0


def dishonest_relay_qber(
    *, attack_prob: float, strategy: str, basis: str, honest_qber: float = 0.0
) -> float:
    """Closed-form MDI QBER in ``basis`` when the relay cheats on a fraction of rounds.

    ``"z-measure"``: ``Q_Z = Q_honest`` and ``Q_X = (1 - f) Q_honest + f/2``; ``"random"``:
    ``(1 - f) Q_honest + f/2`` in both bases (see the module docstring; H.-K. Lo, M. Curty,
    B. Qi, PRL 108, 130503 (2012)).

    Parameters
    ----------
    attack_prob : float
        Probability ``f`` that the relay cheats on a round, in [0, 1].
    strategy : {"z-measure", "random"}
        The relay's behaviour on cheated rounds.
    basis : {"Z", "X"}
        The basis whose QBER is returned.
    honest_qber : float
        QBER of the honest link in that basis, in [0, 1].

    Returns
    -------
    float
        The QBER in ``basis``.

    Raises
    ------
    TypeError, ValueError
        For a probability out of range or an unknown strategy or basis.

    References
    ----------
    H.-K. Lo, M. Curty, B. Qi, "Measurement-device-independent quantum key
    distribution", Phys. Rev. Lett. 108, 130503 (2012).

    Examples
    --------
    >>> dishonest_relay_qber(attack_prob=0.3, strategy="z-measure", basis="X")
    0.15
    >>> dishonest_relay_qber(attack_prob=0.3, strategy="z-measure", basis="Z", honest_qber=0.02)
    0.02
    """
    f = check_probability(attack_prob, "attack_prob")
    strategy = check_choice(strategy, "strategy", RELAY_STRATEGIES)
    basis = check_basis(basis)
    e = check_probability(honest_qber, "honest_qber")
    if strategy == "z-measure" and basis == "Z":
        return e
    return (1.0 - f) * e + f / 2.0


def corrupted_source_qber(*, attack_prob: float, strategy: str, honest_qber: float = 0.0) -> float:
    """Closed-form HBB QBER with a corrupted source on a fraction of rounds.

    ``"eve-ancilla"``: ``(1 - f) e + f/2``; ``"phase-flip"``: ``(1 - f) e + f (1 - e)`` (see the
    module docstring). Exact for depolarising arms (``honest_qber`` from
    :func:`qkdcircuits.analysis.sharing.hbb_depolarized_qber`).

    Parameters
    ----------
    attack_prob : float
        Probability ``f`` that the source is corrupted on a round, in [0, 1].
    strategy : {"eve-ancilla", "phase-flip"}
        How the source is corrupted.
    honest_qber : float
        QBER ``e`` of the honest HBB rounds, in [0, 1].

    Returns
    -------
    float
        The dealer-versus-players QBER.

    Raises
    ------
    TypeError, ValueError
        For a probability out of range or an unknown strategy.

    Examples
    --------
    >>> corrupted_source_qber(attack_prob=0.2, strategy="eve-ancilla")
    0.1
    """
    f = check_probability(attack_prob, "attack_prob")
    strategy = check_choice(strategy, "strategy", SOURCE_CORRUPTIONS)
    e = check_probability(honest_qber, "honest_qber")
    corrupted = 0.5 if strategy == "eve-ancilla" else 1.0 - e
    return (1.0 - f) * e + f * corrupted
