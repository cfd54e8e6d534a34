"""Outcome tables of the BB84 and MDI-QKD settings (private): circuits, runs, cache, noise.

A table holds the outcome distribution of every protocol setting. The setting circuits carry
only the misalignment rotation (:attr:`qkdcircuits.noise.ArmNoise.rotation_only`); the
depolarisation is mixed into the table exactly afterwards
(:func:`qkdcircuits.engine._common.depolarize_input`). On the ideal path (exact Aer, no noise
model) the tables of each misalignment are computed once and cached.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from qkdcircuits._validation import BASES
from qkdcircuits.circuits.bb84 import bb84_circuit
from qkdcircuits.circuits.mdi import check_variant, mdi_bsm_circuit
from qkdcircuits.engine._common import (
    RunSetup,
    SiftingLookup,
    bb84_lookup,
    bb84_metadata,
    depolarize_input,
    mdi_lookup,
    mdi_metadata,
    prepare_run,
)
from qkdcircuits.execution import ExecutionTarget
from qkdcircuits.noise import ArmNoise, check_arm, split_arm_noise

MDI_SHAPE = (2, 2, 2, 2, 4)
"""Axes of an MDI-QKD table: alice_basis, alice_bit, bob_basis, bob_bit, bsm."""

BB84_SHAPE = (2, 2, 2, 2)
"""Axes of a BB84 table: alice_basis, alice_bit, bob_basis, bob_bit."""

MDI_SETTINGS = tuple(
    (ab, ax, bb, bx) for ab in BASES for ax in (0, 1) for bb in BASES for bx in (0, 1)
)
"""The 16 MDI-QKD settings in table order (basis 'Z' first, bit 0 first)."""

BB84_SETTINGS = tuple((ab, ax, bb) for ab in BASES for ax in (0, 1) for bb in BASES)
"""The 8 BB84 settings in table order."""


def mdi_circuits(variant: str, alice: ArmNoise, bob: ArmNoise) -> list[QuantumCircuit]:
    """Build the 16 honest MDI-QKD setting circuits with the arms' rotations (no channels)."""
    return [
        mdi_bsm_circuit(
            alice_basis=ab,
            alice_bit=ax,
            bob_basis=bb,
            bob_bit=bx,
            variant=variant,
            alice_channel=alice.rotation_only,
            bob_channel=bob.rotation_only,
            explicit_channels=False,
        )
        for ab, ax, bb, bx in MDI_SETTINGS
    ]


def bb84_circuits(arm: ArmNoise) -> list[QuantumCircuit]:
    """Build the 8 honest BB84 setting circuits with the channel's rotation (no channel)."""
    return [
        bb84_circuit(
            alice_basis=ab,
            alice_bit=ax,
            bob_basis=bb,
            channel=arm.rotation_only,
            explicit_channels=False,
        )
        for ab, ax, bb in BB84_SETTINGS
    ]


def run_groups(
    groups: Sequence[Sequence[QuantumCircuit]], target: ExecutionTarget, seed: int | None
) -> list[np.ndarray]:
    """Run every circuit once on ``target`` in one job: one table (a row per circuit) per group.

    One job, so that shot-based simulators seed the circuits of all groups differently.
    """
    dists = target.run([circuit for group in groups for circuit in group], seed=seed)
    tables, start = [], 0
    for group in groups:
        tables.append(np.stack([d.probabilities for d in dists[start : start + len(group)]]))
        start += len(group)
    return tables


def run_rows(
    circuits: Sequence[QuantumCircuit], target: ExecutionTarget, seed: int | None
) -> np.ndarray:
    """Run the circuits once each on ``target``: one distribution per row."""
    return run_groups([circuits], target, seed)[0]


@functools.lru_cache(maxsize=256)
def _ideal_mdi_rows(variant: str, theta_a: float, theta_b: float) -> np.ndarray:
    circuits = mdi_circuits(
        variant, ArmNoise(misalignment_rad=theta_a), ArmNoise(misalignment_rad=theta_b)
    )
    rows = run_rows(circuits, ExecutionTarget(), None)
    rows.setflags(write=False)
    return rows


@functools.lru_cache(maxsize=256)
def _ideal_bb84_rows(theta: float) -> np.ndarray:
    rows = run_rows(bb84_circuits(ArmNoise(misalignment_rad=theta)), ExecutionTarget(), None)
    rows.setflags(write=False)
    return rows


def clear_table_cache() -> None:
    """Forget the cached ideal tables (benchmarks time the cold path with it)."""
    _ideal_mdi_rows.cache_clear()
    _ideal_bb84_rows.cache_clear()


def mdi_table(
    variant: str, alice: ArmNoise, bob: ArmNoise, target: ExecutionTarget, seed: int | None
) -> np.ndarray:
    """MDI-QKD outcome table, shape :data:`MDI_SHAPE`, depolarisation mixed in exactly."""
    if target.ideal:
        rows = _ideal_mdi_rows(variant, alice.misalignment_rad, bob.misalignment_rad)
    else:
        rows = run_rows(mdi_circuits(variant, alice, bob), target, seed)
    table = depolarize_input(rows.reshape(MDI_SHAPE), alice.depolarizing_prob, axis=0)
    return np.array(depolarize_input(table, bob.depolarizing_prob, axis=2), dtype=float)


def bb84_table(arm: ArmNoise, target: ExecutionTarget, seed: int | None) -> np.ndarray:
    """BB84 outcome table, shape :data:`BB84_SHAPE`, depolarisation mixed in exactly."""
    if target.ideal:
        rows = _ideal_bb84_rows(arm.misalignment_rad)
    else:
        rows = run_rows(bb84_circuits(arm), target, seed)
    table = depolarize_input(rows.reshape(BB84_SHAPE), arm.depolarizing_prob, axis=0)
    return np.array(table, dtype=float)


@dataclass(frozen=True)
class ProtocolRun:
    """A checked MDI-QKD or BB84 run and its outcome table, ready to be sampled.

    ``pattern`` describes the packed setting bits for
    :func:`qkdcircuits.engine._common.setting_probs`; ``metadata`` is the result's metadata.
    """

    run: RunSetup
    table: np.ndarray
    lookup: SiftingLookup
    pattern: str
    metadata: dict[str, Any]


def prepare_mdi(
    rounds: int,
    variant: str,
    noise: Any,
    z_basis_prob: float,
    seed: Any,
    execution: dict[str, Any],
    confidence: float,
    interval: str,
    **checks: Any,
) -> ProtocolRun:
    """Check an MDI-QKD run, then compute its table.

    ``execution`` holds the ``backend``, ``sampler``, ``shots`` and ``noise_model`` keywords of
    the public function (an :class:`~qkdcircuits.execution.ExecutionTarget`), ``checks`` the
    memory and chunk checks of :func:`~qkdcircuits.engine._common.prepare_run`.
    """
    variant = check_variant(variant)
    alice, bob = split_arm_noise(noise)
    target = ExecutionTarget(**execution)
    run = prepare_run(rounds, seed, target, z_basis_prob, confidence, interval, **checks)
    table = mdi_table(variant, alice, bob, run.target, run.circuit_seed)
    metadata = mdi_metadata(variant, alice, bob, run.z_basis_prob, run.provenance())
    return ProtocolRun(run, table, mdi_lookup(variant), "bcbc", metadata)


def prepare_bb84(
    rounds: int,
    noise: Any,
    z_basis_prob: float,
    seed: Any,
    execution: dict[str, Any],
    confidence: float,
    interval: str,
    **checks: Any,
) -> ProtocolRun:
    """Check a BB84 run (as :func:`prepare_mdi`), then compute its table."""
    noise = check_arm(noise, "noise")
    target = ExecutionTarget(**execution)
    run = prepare_run(rounds, seed, target, z_basis_prob, confidence, interval, **checks)
    table = bb84_table(noise, run.target, run.circuit_seed)
    metadata = bb84_metadata(noise, run.z_basis_prob, run.provenance())
    return ProtocolRun(run, table, bb84_lookup(), "bcb", metadata)
