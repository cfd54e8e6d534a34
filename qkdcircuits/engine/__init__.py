"""The round engine: run each distinct setting circuit once, then sample N rounds with numpy.

Nothing here simulates one round per circuit. :mod:`.rounds` holds qubit-level MDI-QKD and BB84,
:mod:`.counts` their counts-only twins (any number of rounds in bounded memory), :mod:`.hbb`
HBB99 secret sharing, :mod:`.attacks` the same protocols with an adversary active on
a random fraction of rounds, :mod:`.verification` stabiliser and CHSH tests with a shot budget.
The private modules hold what they share: :mod:`._sampling` (vectorised sampling from outcome
tables, the depolarising mixture), :mod:`._common` (argument checks before any circuit runs,
sifting lookups, statistics from histograms, the result summary), :mod:`._tables` (the BB84 and
MDI-QKD setting circuits and their cached tables) and :mod:`._shots` (verification settings
with mixtures and per-shot noise).
"""

from qkdcircuits.engine.attacks import (
    AttackRounds,
    simulate_corrupted_source,
    simulate_dishonest_relay,
    simulate_intercept_resend,
    verify_corrupted_source,
)
from qkdcircuits.engine.counts import (
    COUNT_BLOCK_ROUNDS,
    RoundCounts,
    simulate_bb84_counts,
    simulate_mdi_counts,
)
from qkdcircuits.engine.hbb import (
    HBBRounds,
    hbb_outcome_table,
    simulate_hbb,
)
from qkdcircuits.engine.rounds import (
    BB84Rounds,
    MDIRounds,
    bb84_outcome_table,
    mdi_outcome_table,
    simulate_bb84,
    simulate_mdi,
)
from qkdcircuits.engine.verification import (
    verify_bell_pair,
    verify_chsh,
    verify_encoded_state,
    verify_ghz,
)

__all__ = [
    "COUNT_BLOCK_ROUNDS",
    "AttackRounds",
    "BB84Rounds",
    "HBBRounds",
    "MDIRounds",
    "RoundCounts",
    "bb84_outcome_table",
    "hbb_outcome_table",
    "mdi_outcome_table",
    "simulate_bb84",
    "simulate_bb84_counts",
    "simulate_corrupted_source",
    "simulate_dishonest_relay",
    "simulate_hbb",
    "simulate_intercept_resend",
    "simulate_mdi",
    "simulate_mdi_counts",
    "verify_bell_pair",
    "verify_chsh",
    "verify_corrupted_source",
    "verify_encoded_state",
    "verify_ghz",
]
