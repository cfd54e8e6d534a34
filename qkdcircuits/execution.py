"""Run circuits once each and return their outcome distributions.

This is the only module of the quantum layer that talks to a Qiskit backend. Every circuit family
(BB84, MDI-QKD, secret sharing, verification, adversaries) goes through
:func:`outcome_distributions`:

* **default** (no ``backend``, no ``sampler``, no ``shots``): Aer computes the *exact* probability
  of every classical outcome with ``save_probabilities`` (statevector for unitary circuits,
  density matrix when the circuit holds channels or a ``noise_model`` is given; read-out errors of
  the noise model are applied exactly afterwards). No sampling noise at all.
* ``shots`` only: the same Aer simulator, sampled with ``shots`` shots and a seed. Circuits are
  lowered to the noise model's basis gates exactly as on the exact path, so both paths see the
  same gate errors.
* ``backend`` (any ``BackendV2``): the circuits are transpiled to the backend's ISA and sampled.
  Device-like targets (IBM fake backends, ``AerSimulator.from_backend``, real devices) go through
  Qiskit's preset pass manager at ``optimization_level``; a plain Aer simulator without a coupling
  map is only translated to its basis (level 0), so that every gate of the protocol circuit, and
  every error a noise model attaches to it, is kept. Local backends are sampled with
  :class:`qiskit.primitives.BackendSamplerV2`; a real IBM Quantum backend (which has no
  ``run()`` any more) is wrapped in the IBM Runtime sampler of :func:`runtime_sampler`.
* ``sampler`` (any ``SamplerV2``: Aer's ``qiskit_aer.primitives.SamplerV2``,
  :class:`qiskit.primitives.StatevectorSampler`, IBM Runtime's client-side
  ``qiskit_ibm_runtime.executor_sampler.Sampler`` or its deprecated ``SamplerV2``): the circuits are
  transpiled to ``backend`` if one is given, else to the sampler's own backend when it exposes one
  (``sampler.backend()`` for IBM Runtime, the configured ``AerSimulator`` for Aer), and sampled with
  ``shots`` shots.

The four keywords are bundled in an :class:`ExecutionTarget`, validated once before any circuit
runs and passed down by every function that runs circuits. Nothing here creates credentials or
connects anywhere: a user who wants hardware passes the backend or sampler object.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BaseSamplerV2
from qiskit.providers import BackendV2

from qkdcircuits._validation import SeedLike, check_positive_int, derive_int_seed, int_seed

__all__ = [
    "DEFAULT_SHOTS",
    "ExecutionTarget",
    "OutcomeDistribution",
    "describe_target",
    "outcome_distributions",
    "runtime_sampler",
    "table_shots",
]

DEFAULT_SHOTS = 4096
"""Shots per circuit when a backend or sampler is given without ``shots``."""

_CHANNEL_INSTRUCTIONS = frozenset({"quantum_channel", "kraus", "superop"})
_NON_UNITARY = _CHANNEL_INSTRUCTIONS | {"reset"}
_IGNORED = frozenset({"barrier", "delay"})


@dataclass(frozen=True, eq=False)
class OutcomeDistribution:
    """Probability of every classical outcome of one circuit.

    Attributes
    ----------
    probabilities : numpy.ndarray
        Shape ``(2**num_clbits,)``, read-only, sums to 1. Index ``k`` is the outcome whose clbit
        ``i`` (in the circuit's clbit order: first register first, bit 0 first) is
        ``(k >> i) & 1``; for a single register it is the register's integer value.
    registers : tuple of (str, int)
        Name and size of each classical register, in clbit order.
    shots : int or None
        ``None`` for an exact distribution; otherwise the number of shots behind it.
    counts : numpy.ndarray or None
        Integer counts per outcome for shot-based distributions.

    Raises
    ------
    ValueError
        If ``probabilities`` does not have one entry per outcome of ``registers``.

    Examples
    --------
    >>> dist = OutcomeDistribution(probabilities=[0.5, 0.0, 0.0, 0.5], registers=(("m", 2),))
    >>> dist.exact, dist.marginal("m").tolist()
    (True, [0.5, 0.0, 0.0, 0.5])
    """

    probabilities: np.ndarray
    registers: tuple[tuple[str, int], ...]
    shots: int | None = None
    counts: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        probs = np.array(self.probabilities, dtype=float)
        width = sum(size for _, size in self.registers)
        if probs.shape != (1 << width,):
            raise ValueError(
                f"probabilities has shape {probs.shape}, expected {(1 << width,)} for registers "
                f"{self.registers}"
            )
        probs.setflags(write=False)
        object.__setattr__(self, "probabilities", probs)
        if self.counts is not None:
            counts = np.array(self.counts, dtype=np.int64)
            counts.setflags(write=False)
            object.__setattr__(self, "counts", counts)

    @property
    def exact(self) -> bool:
        """True when the distribution is exact rather than estimated from shots."""
        return self.shots is None

    def marginal(self, register: str) -> np.ndarray:
        """Distribution of one register's integer value.

        Parameters
        ----------
        register : str
            Name of a classical register of the circuit.

        Returns
        -------
        numpy.ndarray
            Shape ``(2**size,)``, indexed by the register's integer value.

        Raises
        ------
        ValueError
            If the circuit has no register of that name.
        """
        offset = 0
        for name, size in self.registers:
            if name == register:
                values = (np.arange(self.probabilities.size) >> offset) & ((1 << size) - 1)
                return np.bincount(values, weights=self.probabilities, minlength=1 << size)
            offset += size
        names = [name for name, _ in self.registers]
        raise ValueError(f"register={register!r} not in {names}")


def _type_name(value: Any) -> str:
    return type(value).__name__


@dataclass(frozen=True)
class ExecutionTarget:
    """Where the setting circuits of a protocol run, validated once before anything runs.

    Every function that runs circuits (the round engines, the attack simulators, verification,
    the Monte Carlo link simulation) takes the same four keywords, ``backend``, ``sampler``,
    ``shots`` and ``noise_model``; they build one ``ExecutionTarget`` up front, so that a bad
    value is reported before any circuit runs, and pass it down.

    Parameters
    ----------
    backend : qiskit.providers.BackendV2, optional
        Target to transpile to and sample on (``AerSimulator``, a fake or real IBM backend).
    sampler : qiskit.primitives.BaseSamplerV2, optional
        Sampler to run with (any object with a ``run`` method in the SamplerV2 convention).
    shots : int, optional
        Shots per circuit (>= 1). ``None`` with neither backend nor sampler means exact
        distributions; with one of them, :data:`DEFAULT_SHOTS`.
    noise_model : qiskit_aer.noise.NoiseModel, optional
        Device noise for the default Aer simulator (exact or shot-based).
    optimization_level : int
        Preset pass-manager level (0..3) for device-like backends.

    Raises
    ------
    TypeError
        If ``backend``, ``sampler`` or ``noise_model`` is not of the documented kind, or
        ``shots`` is not an integer.
    ValueError
        If both ``backend`` and ``noise_model`` are given, ``shots < 1`` or the optimisation
        level is not 0..3.

    Examples
    --------
    >>> ExecutionTarget().description, ExecutionTarget().table_shots
    ('aer:exact', None)
    >>> ExecutionTarget(shots=1000).description
    'aer:shots'
    >>> ExecutionTarget(backend="foo")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    TypeError: backend='foo' must be a qiskit BackendV2 (e.g. AerSimulator() or a fake ...), not str
    """

    backend: Any = None
    sampler: Any = None
    shots: int | None = None
    noise_model: Any = None
    optimization_level: int = 1

    def __post_init__(self) -> None:
        if self.backend is not None and not isinstance(self.backend, BackendV2):
            raise TypeError(
                f"backend={self.backend!r} must be a qiskit BackendV2 (e.g. AerSimulator() or a "
                f"fake IBM backend), not {_type_name(self.backend)}"
            )
        if self.sampler is not None and not (
            isinstance(self.sampler, BaseSamplerV2) or callable(getattr(self.sampler, "run", None))
        ):
            raise TypeError(
                f"sampler={self.sampler!r} must be a SamplerV2 (e.g. qiskit_aer.primitives."
                f"SamplerV2() or runtime_sampler(backend)), not {_type_name(self.sampler)}"
            )
        if self.noise_model is not None:
            from qiskit_aer.noise import NoiseModel

            if not isinstance(self.noise_model, NoiseModel):
                raise TypeError(
                    f"noise_model={self.noise_model!r} must be a qiskit_aer.noise.NoiseModel, "
                    f"not {_type_name(self.noise_model)}"
                )
            if self.backend is not None:
                raise ValueError(
                    "give either backend or noise_model, not both (a backend has its own noise)"
                )
        if self.shots is not None:
            object.__setattr__(self, "shots", check_positive_int(self.shots, "shots"))
        level = self.optimization_level
        if (
            isinstance(level, bool)
            or not isinstance(level, numbers.Integral)
            or level not in (0, 1, 2, 3)
        ):
            raise ValueError(f"optimization_level={level!r} must be 0, 1, 2 or 3")

    @property
    def exact(self) -> bool:
        """True when the distributions are computed exactly (no backend, sampler or shots)."""
        return self.backend is None and self.sampler is None and self.shots is None

    @property
    def ideal(self) -> bool:
        """True on the exact, noiseless default path (whose tables the engines cache)."""
        return self.exact and self.noise_model is None

    @property
    def table_shots(self) -> int | None:
        """Shots per circuit behind each distribution; ``None`` when they are exact."""
        if self.shots is not None:
            return self.shots
        return None if self.exact else DEFAULT_SHOTS

    @property
    def description(self) -> str:
        """Short provenance string for where distributions came from (stored in results)."""
        if self.sampler is not None:
            return f"sampler:{_type_name(self.sampler)}"
        if self.backend is not None:
            name = getattr(self.backend, "name", None)
            name = name() if callable(name) else name
            return f"backend:{name or _type_name(self.backend)}"
        return "aer:exact" if self.shots is None else "aer:shots"

    def circuit_seed(self, seed: SeedLike, rng: np.random.Generator) -> int | None:
        """Integer seed for transpilation and simulator shots.

        Parameters
        ----------
        seed : int, numpy.random.Generator or None
            The caller's seed.
        rng : numpy.random.Generator
            The Generator built from ``seed`` (advanced by one draw when ``seed`` is not an
            integer and the target samples shots).

        Returns
        -------
        int or None
            ``seed`` when it is an integer; on a shot-based target an integer drawn from ``rng``
            otherwise, so that a run seeded with a Generator stays reproducible; else ``None``.
        """
        if self.table_shots is None:
            return int_seed(seed)
        return derive_int_seed(seed, rng)

    def provenance(self, seed: SeedLike) -> dict[str, Any]:
        """Describe a run on this target for result metadata.

        Parameters
        ----------
        seed : int, numpy.random.Generator or None
            The run's seed.

        Returns
        -------
        dict
            ``{"seed": int or None, "source": str, "shots": int or None}``: the seed when it is
            an integer (else ``None``), the target's description and shots per circuit.
        """
        return {"seed": int_seed(seed), "source": self.description, "shots": self.table_shots}

    def run(
        self, circuits: QuantumCircuit | Sequence[QuantumCircuit], *, seed: int | None = None
    ) -> list[OutcomeDistribution]:
        """Run each circuit once on this target; see :func:`outcome_distributions`.

        Parameters
        ----------
        circuits : qiskit.QuantumCircuit or sequence of qiskit.QuantumCircuit
            Circuits that measure into classical bits.
        seed : int, optional
            Seed of the simulator's (or sampler's) shots.

        Returns
        -------
        list of OutcomeDistribution
            One distribution per circuit, in order (a list of one for a single circuit).

        Raises
        ------
        TypeError
            If an entry is not a ``QuantumCircuit`` or ``seed`` is not an int.
        ValueError
            If a circuit measures nothing.
        """
        single = isinstance(circuits, QuantumCircuit)
        circuit_list = [circuits] if single else list(circuits)
        for index, circuit in enumerate(circuit_list):
            if not isinstance(circuit, QuantumCircuit):
                raise TypeError(
                    f"circuits[{index}] is a {_type_name(circuit)}, not a QuantumCircuit"
                )
            if circuit.num_clbits == 0:
                raise ValueError(f"circuits[{index}] ({circuit.name!r}) measures nothing")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed={seed!r} must be an int or None")
        if not circuit_list:
            return []
        backend = self.backend
        if self.exact:
            return _exact_aer(circuit_list, self.noise_model)
        if backend is None and self.sampler is None:
            from qiskit_aer import AerSimulator

            # AerSimulator(noise_model=...) takes the noise model's basis gates as its target,
            # and plain Aer targets are only translated (level 0), as on the exact path.
            backend = AerSimulator(noise_model=self.noise_model)
        return _sampled(
            circuit_list,
            backend,
            self.sampler,
            self.table_shots,
            seed,
            self.optimization_level,
        )


def table_shots(backend: Any = None, sampler: Any = None, shots: int | None = None) -> int | None:
    """Shots per circuit that :func:`outcome_distributions` uses for these arguments.

    Parameters
    ----------
    backend, sampler, shots
        As in :func:`outcome_distributions`.

    Returns
    -------
    int or None
        ``None`` on the exact path (no backend, no sampler, no shots).

    Raises
    ------
    TypeError, ValueError
        As :class:`ExecutionTarget` for invalid arguments.

    Examples
    --------
    >>> table_shots(), table_shots(shots=100)
    (None, 100)
    """
    return ExecutionTarget(backend=backend, sampler=sampler, shots=shots).table_shots


def describe_target(backend: Any = None, sampler: Any = None, shots: int | None = None) -> str:
    """Short provenance string for where distributions came from (stored in reports).

    Parameters
    ----------
    backend, sampler, shots
        As in :func:`outcome_distributions`.

    Returns
    -------
    str
        ``"aer:exact"``, ``"aer:shots"``, ``"backend:<name>"`` or ``"sampler:<class>"``.

    Raises
    ------
    TypeError, ValueError
        As :class:`ExecutionTarget` for invalid arguments.

    Examples
    --------
    >>> describe_target(), describe_target(shots=10)
    ('aer:exact', 'aer:shots')
    """
    return ExecutionTarget(backend=backend, sampler=sampler, shots=shots).description


def outcome_distributions(
    circuits: QuantumCircuit | Sequence[QuantumCircuit],
    *,
    backend: Any = None,
    sampler: Any = None,
    shots: int | None = None,
    noise_model: Any = None,
    seed: int | None = None,
    optimization_level: int = 1,
) -> list[OutcomeDistribution]:
    """Run each circuit once and return its outcome distribution.

    Parameters
    ----------
    circuits : QuantumCircuit or sequence of QuantumCircuit
        Circuits whose measurements define the outcomes. For the exact path every measurement
        must be terminal (nothing acts on a qubit after it is measured).
    backend : qiskit.providers.BackendV2, optional
        Target to transpile to and sample on (``AerSimulator``, a fake or real IBM backend).
    sampler : qiskit.primitives.BaseSamplerV2, optional
        Sampler to run with, e.g. ``runtime_sampler(backend)`` or ``StatevectorSampler()``. Its own
        randomness is configured on the sampler (``seed=`` for Aer and Statevector samplers,
        ``options.simulator.seed_simulator`` for IBM Runtime local mode); ``seed`` here only
        seeds transpilation.
    shots : int, optional
        Shots per circuit. ``None`` with neither backend nor sampler gives exact distributions;
        with one of them it means :data:`DEFAULT_SHOTS`.
    noise_model : qiskit_aer.noise.NoiseModel, optional
        Device noise for the default Aer simulator (exact or shot-based). Circuits are
        translated to its basis gates (optimisation level 0) so its gate errors apply.
    seed : int, optional
        Seed for transpilation and for shot sampling on a backend.
    optimization_level : int
        Preset pass-manager level used when transpiling to a device-like backend.

    Returns
    -------
    list of OutcomeDistribution
        One per circuit, in order.

    Raises
    ------
    TypeError
        If a circuit is not a ``QuantumCircuit``, or ``backend``, ``sampler``, ``noise_model``,
        ``shots`` or ``seed`` is of the wrong kind (see :class:`ExecutionTarget`).
    ValueError
        If both ``backend`` and ``noise_model`` are given, if ``shots`` is not a positive
        integer, or if a circuit with Aer-only channel instructions is sent to another target.

    Examples
    --------
    >>> from qkdcircuits.circuits import pauli_measurement_circuit, ghz_state
    >>> (dist,) = outcome_distributions(pauli_measurement_circuit(ghz_state(2), "ZZ"))
    >>> dist.probabilities.round(3).tolist()
    [0.5, 0.0, 0.0, 0.5]
    """
    target = ExecutionTarget(
        backend=backend,
        sampler=sampler,
        shots=shots,
        noise_model=noise_model,
        optimization_level=optimization_level,
    )
    return target.run(circuits, seed=seed)


def _registers(circuit: QuantumCircuit) -> tuple[tuple[str, int], ...]:
    clbits_in_regs = [bit for creg in circuit.cregs for bit in creg]
    if clbits_in_regs != list(circuit.clbits):
        raise ValueError(
            f"circuit {circuit.name!r}: classical bits must belong to named registers laid out in "
            "order (one register after the other)"
        )
    return tuple((creg.name, creg.size) for creg in circuit.cregs)


def _has_channels(circuit: QuantumCircuit) -> bool:
    return any(inst.operation.name in _CHANNEL_INSTRUCTIONS for inst in circuit.data)


def _split_terminal_measurements(circuit: QuantumCircuit) -> tuple[QuantumCircuit, dict[int, int]]:
    """Return the circuit without its measurements and a map clbit index -> qubit index."""
    body = circuit.copy_empty_like()
    clbit_to_qubit: dict[int, int] = {}
    measured: set[int] = set()
    for inst in circuit.data:
        name = inst.operation.name
        qubits = [circuit.find_bit(q).index for q in inst.qubits]
        if name == "measure":
            clbit = circuit.find_bit(inst.clbits[0]).index
            clbit_to_qubit[clbit] = qubits[0]
            measured.add(qubits[0])
            continue
        if name in _IGNORED:
            continue
        if (
            measured.intersection(qubits)
            or inst.clbits
            or getattr(inst.operation, "condition", None)
        ):
            raise ValueError(
                f"circuit {circuit.name!r} has a mid-circuit measurement or classical control; "
                "pass shots=... to sample it instead of computing the exact distribution"
            )
        body.append(inst)
    return body, clbit_to_qubit


def _readout_matrices(noise_model: Any, num_qubits: int) -> list[np.ndarray | None]:
    """Per-qubit read-out confusion matrices P(read j | true i) of an Aer noise model."""
    matrices: list[np.ndarray | None] = [None] * num_qubits
    default = None
    for error in noise_model.to_dict().get("errors", []):
        if error.get("type") != "roerror":
            continue
        matrix = np.asarray(error["probabilities"], dtype=float)
        if matrix.shape != (2, 2):
            raise ValueError(
                "noise_model has a multi-qubit read-out error; the exact path supports only "
                "single-qubit ones (pass shots=... to sample it)"
            )
        qubit_sets = error.get("gate_qubits")
        if qubit_sets is None:
            default = matrix
            continue
        for qubits in qubit_sets:
            if qubits[0] < num_qubits:
                matrices[qubits[0]] = matrix
    return [default if m is None else m for m in matrices]


def _exact_aer(circuits: list[QuantumCircuit], noise_model: Any) -> list[OutcomeDistribution]:
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    simulator = AerSimulator(noise_model=noise_model)
    registers_list = [_registers(circuit) for circuit in circuits]
    if noise_model is not None:
        # The exact path replaces measurements by save_probabilities and applies read-out errors
        # afterwards; a quantum error attached to "measure" would silently vanish with them.
        for error in noise_model.to_dict().get("errors", []):
            if error.get("type") == "qerror" and "measure" in error.get("operations", ()):
                raise ValueError(
                    "noise_model attaches a quantum error to 'measure', which the exact path "
                    "cannot apply; pass shots=... to sample it, or model it as a read-out error"
                )
        for circuit in circuits:
            if _has_channels(circuit):
                raise ValueError(
                    f"circuit {circuit.name!r} holds explicit channel instructions; build it with "
                    "explicit_channels=False when a noise_model is given"
                )
        # Lower to the noise model's basis so that its gate errors apply.
        lowered = transpile(circuits, basis_gates=noise_model.basis_gates, optimization_level=0)
    else:
        # Lower only what Aer lacks (e.g. ``ch``); Aer targets have no coupling map, so qubit
        # indices are kept.
        lowered = transpile(circuits, target=simulator.target, optimization_level=0)
    prepared = []
    layouts = []
    needs_density = noise_model is not None
    for circuit, registers in zip(lowered, registers_list, strict=True):
        body, clbit_to_qubit = _split_terminal_measurements(circuit)
        qubits = sorted(set(clbit_to_qubit.values()))
        needs_density |= any(inst.operation.name in _NON_UNITARY for inst in body.data)
        body.save_probabilities(qubits, label="probs")
        prepared.append(body)
        layouts.append((registers, circuit.num_clbits, clbit_to_qubit, qubits))

    simulator.set_options(method="density_matrix" if needs_density else "statevector")
    result = simulator.run(prepared, shots=1).result()
    distributions = []
    for index, (registers, num_clbits, clbit_to_qubit, qubits) in enumerate(layouts):
        probs = np.asarray(result.data(index)["probs"], dtype=float)
        if noise_model is not None:
            probs = _apply_readout(probs, qubits, _readout_matrices(noise_model, max(qubits) + 1))
        # Simulator round-off can leave entries like -1e-17; clip and renormalise.
        probs = np.clip(probs, 0.0, None)
        probs /= probs.sum()
        distributions.append(
            OutcomeDistribution(
                probabilities=_qubit_to_clbit_probs(probs, qubits, clbit_to_qubit, num_clbits),
                registers=registers,
            )
        )
    return distributions


def _apply_readout(
    probs: np.ndarray, qubits: list[int], matrices: list[np.ndarray | None]
) -> np.ndarray:
    """Apply independent single-qubit read-out confusion to a distribution over ``qubits``."""
    n = len(qubits)
    # Reshape so that axis k is qubit position n-1-k (little-endian index -> C-order axes).
    tensor = probs.reshape((2,) * n)
    for position, qubit in enumerate(qubits):
        matrix = matrices[qubit]
        if matrix is None:
            continue
        axis = n - 1 - position
        tensor = np.moveaxis(np.tensordot(matrix.T, tensor, axes=([1], [axis])), 0, axis)
    return tensor.reshape(-1)


def _qubit_to_clbit_probs(
    probs: np.ndarray, qubits: list[int], clbit_to_qubit: dict[int, int], num_clbits: int
) -> np.ndarray:
    """Re-index a distribution over measured qubits into one over classical bits."""
    position = {qubit: k for k, qubit in enumerate(qubits)}
    source = np.arange(probs.size)
    target = np.zeros(probs.size, dtype=np.int64)
    for clbit, qubit in clbit_to_qubit.items():
        target |= ((source >> position[qubit]) & 1) << clbit
    return np.bincount(target, weights=probs, minlength=1 << num_clbits)


def runtime_sampler(
    mode: Any,
    *,
    default_shots: int | None = None,
    seed_simulator: int | None = None,
    client_side: bool = True,
) -> Any:
    """Create an IBM Runtime ``SamplerV2`` for ``mode`` (a backend, ``Session`` or ``Batch``).

    qiskit-ibm-runtime 0.50 deprecated ``qiskit_ibm_runtime.SamplerV2`` in favour of the
    client-side ``qiskit_ibm_runtime.executor_sampler.Sampler``. This returns the client-side
    sampler when the installed package has it (and ``client_side`` is true), else the legacy
    class, so the same code runs on old and new releases. With a fake backend from
    ``qiskit_ibm_runtime.fake_provider`` it runs locally on Aer with the device's noise; with a
    backend from ``QiskitRuntimeService`` it submits jobs to IBM Quantum.

    Parameters
    ----------
    mode : qiskit.providers.BackendV2, qiskit_ibm_runtime.Session or qiskit_ibm_runtime.Batch
        Where the sampler runs.
    default_shots : int, optional
        Shots per circuit when ``run`` is called without ``shots``.
    seed_simulator : int, optional
        Seed of the local simulator in local (fake-backend) mode; ignored by hardware.
    client_side : bool
        Prefer the client-side sampler when available.

    Returns
    -------
    qiskit_ibm_runtime.executor_sampler.Sampler or qiskit_ibm_runtime.SamplerV2
        A SamplerV2 to pass as ``sampler=``.

    Raises
    ------
    ImportError
        If qiskit-ibm-runtime is not installed (``pip install "abft-qkd[ibm]"``).

    Examples
    --------
    >>> from qiskit_ibm_runtime.fake_provider import FakeManilaV2
    >>> sampler = runtime_sampler(FakeManilaV2(), default_shots=1000, seed_simulator=1)
    >>> sampler.backend().name
    'fake_manila'
    """
    try:
        import qiskit_ibm_runtime
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'IBM backends need qiskit-ibm-runtime: pip install "abft-qkd[ibm]"'
        ) from exc
    sampler_cls = None
    if client_side:
        try:
            from qiskit_ibm_runtime.executor_sampler import Sampler as sampler_cls
        except ImportError:  # releases before 0.50 only have the legacy sampler
            sampler_cls = None
    if sampler_cls is None:
        import warnings

        with warnings.catch_warnings():
            # We chose the legacy class on purpose; its deprecation notice is not for our caller.
            warnings.simplefilter("ignore", DeprecationWarning)
            sampler = qiskit_ibm_runtime.SamplerV2(mode=mode)
    else:
        sampler = sampler_cls(mode=mode)
    if default_shots is not None:
        sampler.options.default_shots = check_positive_int(default_shots, "default_shots")
    if seed_simulator is not None:
        sampler.options.simulator.seed_simulator = int(seed_simulator)
    return sampler


def _sampler_backend(sampler: Any) -> Any:
    """Return the backend a sampler runs on, when it says so.

    IBM Runtime samplers expose ``backend()``; Aer's ``SamplerV2`` runs on an ``AerSimulator``
    built from its public ``options.backend_options`` (which carry any noise model), so the
    circuits are lowered to that simulator's basis and its gate errors apply.
    """
    getter = getattr(sampler, "backend", None)
    if callable(getter):
        try:
            return getter()
        except Exception:  # a sampler in session/batch mode may not expose one
            return None
    if _is_aer(sampler):
        options = getattr(sampler, "options", None)
        backend_options = getattr(options, "backend_options", None)
        if isinstance(backend_options, dict):
            from qiskit_aer import AerSimulator

            return AerSimulator(**backend_options)
    return None


def _is_aer(obj: Any) -> bool:
    return type(obj).__module__.startswith("qiskit_aer")


def _is_ibm_runtime_backend(backend: Any) -> bool:
    """Tell whether ``backend`` comes from ``QiskitRuntimeService`` (no ``run()``: a sampler)."""
    if not type(backend).__module__.startswith("qiskit_ibm_runtime"):
        return False
    from qiskit_ibm_runtime import IBMBackend

    return isinstance(backend, IBMBackend)


def _lower(
    circuits: list[QuantumCircuit], backend: Any, optimization_level: int, seed: int | None
) -> list[QuantumCircuit]:
    """Transpile ``circuits`` to ``backend``'s ISA (see the module docstring for the rule)."""
    if backend is None:
        return circuits
    target = getattr(backend, "target", None)
    if _is_aer(backend) and (target is None or target.build_coupling_map() is None):
        from qiskit import transpile

        # A simulator without a device topology: translate only, keep qubits and every gate.
        return transpile(circuits, backend=backend, optimization_level=0, seed_transpiler=seed)
    from qiskit.transpiler import generate_preset_pass_manager

    pass_manager = generate_preset_pass_manager(
        optimization_level=optimization_level, backend=backend, seed_transpiler=seed
    )
    return pass_manager.run(circuits)


def _sampled(
    circuits: list[QuantumCircuit],
    backend: Any,
    sampler: Any,
    shots: int,
    seed: int | None,
    optimization_level: int,
) -> list[OutcomeDistribution]:
    if sampler is None and backend is not None and _is_ibm_runtime_backend(backend):
        sampler = runtime_sampler(backend, default_shots=shots)
    target_backend = backend if backend is not None else _sampler_backend(sampler)
    runs_on_aer = _is_aer(sampler) if sampler is not None else _is_aer(backend)
    for circuit in circuits:
        if _has_channels(circuit) and not runs_on_aer:
            raise ValueError(
                f"circuit {circuit.name!r} holds Aer-only channel instructions; build it with "
                "explicit_channels=False for this backend"
            )
    registers = [_registers(circuit) for circuit in circuits]
    circuits = _lower(circuits, target_backend, optimization_level, seed)
    if sampler is None:
        from qiskit.primitives import BackendSamplerV2

        sampler = BackendSamplerV2(
            backend=backend, options={"default_shots": shots, "seed_simulator": seed}
        )
    result = sampler.run(circuits, shots=shots).result()
    distributions = []
    for pub_result, regs in zip(result, registers, strict=True):
        outcome = None
        offset = 0
        for name, size in regs:
            bits = getattr(pub_result.data, name).to_bool_array(order="little")
            value = (bits.astype(np.int64) << np.arange(offset, offset + size)).sum(axis=1)
            outcome = value if outcome is None else outcome | value
            offset += size
        counts = np.bincount(outcome, minlength=1 << offset)
        distributions.append(
            OutcomeDistribution(
                probabilities=counts / counts.sum(),
                registers=regs,
                shots=int(counts.sum()),
                counts=counts,
            )
        )
    return distributions
