"""Vectorised sampling shared by the round engine and the sharing, verification, adversary modules.

Two situations arise once each setting circuit has run once:

* **protocol rounds** (many, often millions): every round draws its setting and then its outcome
  from that setting's distribution, with replacement (:func:`sample_table`), as the MDI round
  engine does;
* **verification shots** (a fixed budget per setting): an exact distribution is sampled, while a
  backend's own shots are used as they are, or subsampled without replacement when a mixture
  needs fewer of them (:func:`draw_shots`); sampling without replacement from i.i.d. shots again
  gives i.i.d. shots, so confidence intervals stay exact.

Depolarisation of one measured qubit is applied either to a distribution
(:func:`depolarize_bit`) or per shot (:func:`randomize_bit`): the channel
``rho -> (1-p) rho + p I/2 (x) Tr_q rho`` commutes with the local basis change that precedes the
measurement, and a maximally mixed qubit gives a fair coin in any basis, so with probability
``p`` the qubit's bit is replaced by a fair coin, independently of everything else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qkdcircuits._validation import check_positive_int
from qkdcircuits.execution import OutcomeDistribution
from qkdcircuits.noise import ArmNoise

__all__ = [
    "COUNT_BLOCK_ROUNDS",
    "bit_distribution",
    "check_chunk_rounds",
    "depolarize_bit",
    "depolarize_parties",
    "draw_shots",
    "mix",
    "product_distribution",
    "randomize_bit",
    "sample_counts",
    "sample_table",
]


def mix(table: np.ndarray, other: np.ndarray, prob: float) -> np.ndarray:
    """Mix two (arrays of) distributions: ``(1 - prob) table + prob other``.

    The one place where a channel or an attack that acts with probability ``prob`` is mixed
    into outcome tables: depolarisation (``other`` the maximally mixed input, or a fair-coin
    bit) and attacks on a random fraction of rounds (``other`` the attacked table).
    """
    if prob == 0.0:
        return table
    return (1.0 - prob) * np.asarray(table, dtype=float) + prob * np.asarray(other, dtype=float)


def depolarize_bit(probabilities: np.ndarray, bit: int, prob: float) -> np.ndarray:
    """Mix a distribution over outcome indices with "bit ``bit`` is a fair coin".

    ``probabilities`` may have leading axes (one distribution per row); the last axis is the
    outcome index whose bit ``bit`` belongs to the depolarised qubit.
    """
    if prob == 0.0:
        return probabilities
    probabilities = np.asarray(probabilities, dtype=float)
    partner = np.arange(probabilities.shape[-1]) ^ (1 << bit)
    return mix(probabilities, 0.5 * (probabilities + probabilities[..., partner]), prob)


def depolarize_parties(probabilities: np.ndarray, arms: Sequence[ArmNoise]) -> np.ndarray:
    """Depolarise outcome bit ``i`` with ``arms[i].depolarizing_prob`` for every party ``i``."""
    for bit, arm in enumerate(arms):
        probabilities = depolarize_bit(probabilities, bit, arm.depolarizing_prob)
    return probabilities


def randomize_bit(
    outcomes: np.ndarray, bit: int, prob: float, rng: np.random.Generator
) -> np.ndarray:
    """Per shot, with probability ``prob`` replace bit ``bit`` of each outcome by a fair coin."""
    outcomes = np.asarray(outcomes, dtype=np.int64)
    if prob == 0.0 or outcomes.size == 0:
        return outcomes
    hit = rng.random(outcomes.size) < prob
    coin = rng.integers(0, 2, size=outcomes.size, dtype=np.int64)
    replaced = (outcomes & ~np.int64(1 << bit)) | (coin << bit)
    return np.where(hit, replaced, outcomes)


def _compact_dtype(size: int) -> type[np.unsignedinteger]:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if size <= np.iinfo(dtype).max + 1:
            return dtype
    return np.uint64


_CHUNK = 1 << 20


def product_distribution(*factors: np.ndarray) -> np.ndarray:
    """Product distribution over packed setting bits (first factor = most significant bit).

    Examples
    --------
    >>> product_distribution(np.array([0.9, 0.1]), np.array([0.5, 0.5])).tolist()
    [0.45, 0.45, 0.05, 0.05]
    """
    probs = np.ones(1)
    for factor in factors:
        probs = np.multiply.outer(probs, np.asarray(factor, dtype=float)).ravel()
    return probs


def bit_distribution(prob_one: float) -> np.ndarray:
    """``[1 - p, p]``: the distribution of one setting bit that is 1 with probability ``p``."""
    return np.array([1.0 - prob_one, prob_one])


_UNIFORM_BITS = 28
_FAST_MAX_SETTING_BITS = 4
_FAST_MAX_OUTCOMES = 16


def sample_table(
    rng: np.random.Generator,
    rounds: int,
    table: np.ndarray,
    setting_probs: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``rounds`` (setting, outcome) pairs from a table of per-setting distributions.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    rounds : int
        Number of rounds.
    table : numpy.ndarray
        Shape ``(n_settings, n_outcomes)``; each row a probability distribution.
    setting_probs : numpy.ndarray, optional
        Probability of each setting; uniform when omitted.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        Setting index and outcome index per round (the smallest unsigned integer types that hold
        them), and the histogram of (setting, outcome) pairs, shape ``(n_settings, n_outcomes)``.

    Notes
    -----
    Rounds are drawn in chunks of ``2**20`` to bound memory, by one of two methods:

    * **uniform settings, small tables** (at most 16 equiprobable settings and 16 outcomes, the
      BB84 / MDI-QKD / 3-party HBB case): one 32-bit random word per round, whose low bits are
      the setting and whose high 28 bits a uniform variate ``u``; the outcome is the number of
      the setting's cumulative-probability thresholds, quantised to ``2**-28``, that ``u``
      reaches (a bias below ``4e-9`` per outcome, far below any sampling error);
    * **otherwise**: one double-precision uniform per round and an inverse-CDF search over the
      joint distribution ``P(s, o) = P(s) table[s, o]`` (row-major). Zero-probability pairs
      share a threshold with their predecessor and are never drawn.
    """
    table = np.clip(np.asarray(table, dtype=float), 0.0, None)
    n_settings, n_outcomes = table.shape
    rows = table / table.sum(axis=1, keepdims=True)
    setting_bits = n_settings.bit_length() - 1
    if (
        setting_probs is None
        and n_settings == 1 << setting_bits
        and setting_bits <= _FAST_MAX_SETTING_BITS
        and n_outcomes <= _FAST_MAX_OUTCOMES
    ):
        return _sample_uniform_settings(rng, rounds, rows, setting_bits)
    return _sample_joint_cdf(rng, rounds, rows, setting_probs)


def _sample_uniform_settings(
    rng: np.random.Generator, rounds: int, rows: np.ndarray, setting_bits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_settings, n_outcomes = rows.shape
    cdf = np.clip(np.cumsum(rows, axis=1)[:, :-1], 0.0, 1.0)
    thresholds = np.round(cdf * (1 << _UNIFORM_BITS)).astype(np.uint32)
    columns = [np.ascontiguousarray(thresholds[:, k]) for k in range(n_outcomes - 1)]
    settings = np.empty(rounds, dtype=np.uint8)
    outcomes = np.empty(rounds, dtype=np.uint8)
    histogram = np.zeros(n_settings * n_outcomes, dtype=np.int64)
    mask = np.uint32(n_settings - 1)
    for start in range(0, rounds, _CHUNK):
        stop = min(start + _CHUNK, rounds)
        raw = np.frombuffer(rng.bytes(4 * (stop - start)), dtype="<u4")
        setting = (raw & mask).astype(np.uint8)
        u = raw >> np.uint32(32 - _UNIFORM_BITS)
        outcome = outcomes[start:stop]
        outcome[:] = 0
        for column in columns:
            outcome += np.take(column, setting) <= u
        settings[start:stop] = setting
        histogram += np.bincount(
            setting.astype(np.intp) * n_outcomes + outcome, minlength=histogram.size
        )
    return settings, outcomes, histogram.reshape(n_settings, n_outcomes)


def _sample_joint_cdf(
    rng: np.random.Generator, rounds: int, rows: np.ndarray, setting_probs: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_settings, n_outcomes = rows.shape
    if setting_probs is None:
        weights = np.full(n_settings, 1.0 / n_settings)
    else:
        weights = np.asarray(setting_probs, dtype=float)
        if weights.shape != (n_settings,):
            raise ValueError(f"setting_probs has shape {weights.shape}, expected ({n_settings},)")
    cdf = np.cumsum((weights[:, None] * rows).ravel())
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    last = cdf.size - 1
    settings = np.empty(rounds, dtype=_compact_dtype(n_settings))
    outcomes = np.empty(rounds, dtype=_compact_dtype(n_outcomes))
    histogram = np.zeros(cdf.size, dtype=np.int64)
    power_of_two = n_outcomes & (n_outcomes - 1) == 0
    shift = n_outcomes.bit_length() - 1
    for start in range(0, rounds, _CHUNK):
        stop = min(start + _CHUNK, rounds)
        joint = np.searchsorted(cdf, rng.random(stop - start), side="right")
        np.minimum(joint, last, out=joint)  # guards the u -> 1 end against round-off
        histogram += np.bincount(joint, minlength=cdf.size)
        if power_of_two:
            settings[start:stop] = joint >> shift
            outcomes[start:stop] = joint & (n_outcomes - 1)
        else:
            settings[start:stop] = joint // n_outcomes
            outcomes[start:stop] = joint % n_outcomes
    return settings, outcomes, histogram.reshape(n_settings, n_outcomes)


COUNT_BLOCK_ROUNDS = 1 << 20
"""Rounds per block of the counts-only stream (:func:`sample_counts`)."""

_BLOCKS_PER_DRAW = 1 << 12
_MAX_CHUNKS = 1 << 20


def check_chunk_rounds(chunk_rounds: int | None, rounds: int) -> int | None:
    """Return ``chunk_rounds`` after checking it splits ``rounds`` into blocks and few chunks.

    Raises
    ------
    TypeError, ValueError
        If ``chunk_rounds`` is not a positive multiple of :data:`COUNT_BLOCK_ROUNDS`, or would
        make more than ``2**20`` chunks.
    """
    if chunk_rounds is None:
        return None
    chunk_rounds = check_positive_int(chunk_rounds, "chunk_rounds")
    if chunk_rounds % COUNT_BLOCK_ROUNDS:
        raise ValueError(
            f"chunk_rounds={chunk_rounds!r} must be a multiple of {COUNT_BLOCK_ROUNDS} "
            "(2**20 rounds, the block of the counts stream)"
        )
    n_chunks = -(-rounds // chunk_rounds)
    if n_chunks > _MAX_CHUNKS:
        raise ValueError(
            f"chunk_rounds={chunk_rounds!r} makes {n_chunks} chunks of {rounds} rounds; at most "
            f"{_MAX_CHUNKS} are kept (use larger chunks)"
        )
    return chunk_rounds


def sample_counts(
    rng: np.random.Generator,
    rounds: int,
    table: np.ndarray,
    setting_probs: np.ndarray | None = None,
    *,
    chunk_rounds: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Histogram of ``rounds`` (setting, outcome) pairs without any per-round array.

    The rounds are split into consecutive blocks of :data:`COUNT_BLOCK_ROUNDS` (the last one
    shorter); block ``k``'s histogram is drawn from ``rng``, in block order, as a multinomial
    over the cells ``P(s, o) = P(s) table[s, o]``. Rounds are i.i.d., so a block's histogram is
    exactly ``Multinomial(block size, P)`` and the sum of independent blocks is exactly
    ``Multinomial(rounds, P)``. Memory is ``O(cells)``, time ``O(rounds / 2**20)``.

    The random stream is a function of the blocks only: ``chunk_rounds`` groups whole blocks
    into chunks and returns each chunk's histogram as well, and grouping never changes the
    draws (numpy's ``multinomial(n, p, size=k)`` consumes the stream as ``k`` successive
    draws), so the total is the same for every chunk size.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    rounds : int
        Number of rounds.
    table : numpy.ndarray
        Shape ``(n_settings, n_outcomes)``; each row a probability distribution.
    setting_probs : numpy.ndarray, optional
        Probability of each setting; uniform when omitted.
    chunk_rounds : int, optional
        Rounds per chunk, a multiple of :data:`COUNT_BLOCK_ROUNDS`; the last chunk holds what
        is left. Without it no per-chunk histograms are kept.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray or None)
        The histogram, shape ``(n_settings, n_outcomes)``, and the per-chunk histograms, shape
        ``(n_chunks, n_settings, n_outcomes)`` (``None`` without ``chunk_rounds``).

    Raises
    ------
    ValueError
        If ``chunk_rounds`` is not a positive multiple of :data:`COUNT_BLOCK_ROUNDS`, or would
        make more than ``2**20`` chunks.
    """
    table = np.clip(np.asarray(table, dtype=float), 0.0, None)
    n_settings, n_outcomes = table.shape
    weights = (
        np.full(n_settings, 1.0 / n_settings)
        if setting_probs is None
        else np.asarray(setting_probs, dtype=float)
    )
    cells = (weights[:, None] * table / table.sum(axis=1, keepdims=True)).ravel()
    cells /= cells.sum()
    full_blocks, rest = divmod(rounds, COUNT_BLOCK_ROUNDS)
    chunk_rounds = check_chunk_rounds(chunk_rounds, rounds)
    if chunk_rounds is None:
        blocks_per_chunk = max(full_blocks, 1)
    else:
        blocks_per_chunk = chunk_rounds // COUNT_BLOCK_ROUNDS
    whole, left = divmod(full_blocks, blocks_per_chunk)
    blocks_in_chunk = [blocks_per_chunk] * whole + ([left] if left else [])
    if rest and not left:
        blocks_in_chunk.append(0)  # the short last block starts a chunk of its own
    chunks = []
    for index, blocks in enumerate(blocks_in_chunk):
        chunk = np.zeros(cells.size, dtype=np.int64)
        for start in range(0, blocks, _BLOCKS_PER_DRAW):
            size = min(_BLOCKS_PER_DRAW, blocks - start)
            chunk += rng.multinomial(COUNT_BLOCK_ROUNDS, cells, size=size).sum(axis=0)
        if rest and index == len(blocks_in_chunk) - 1:
            chunk += rng.multinomial(rest, cells)
        chunks.append(chunk)
    per_chunk = np.stack(chunks).reshape(-1, n_settings, n_outcomes)
    total = per_chunk.sum(axis=0)
    return total, (per_chunk if chunk_rounds is not None else None)


def draw_shots(
    distribution: OutcomeDistribution, size: int, rng: np.random.Generator
) -> np.ndarray:
    """``size`` i.i.d. outcome indices of one circuit.

    Exact distributions are sampled; a shot-based distribution gives ``size`` of its own shots,
    drawn without replacement (``size`` must not exceed its shot count).
    """
    if distribution.exact:
        return rng.choice(distribution.probabilities.size, size=size, p=distribution.probabilities)
    if size > distribution.shots:
        raise ValueError(
            f"need {size} shots of a distribution estimated from only {distribution.shots}"
        )
    shots = np.repeat(np.arange(distribution.counts.size), distribution.counts)
    return rng.permutation(shots)[:size]
