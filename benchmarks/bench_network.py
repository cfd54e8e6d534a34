"""Network simulation throughput: simulated seconds per wall second at 100 and 1,000 nodes.

Random geometric networks (:func:`network.topology.random_geometric_topology`) with 20 % of
the trusted nodes Byzantine (mixed behaviours), one-second slices, a voting round every 10 s
(defence ``"abft"``), fluctuating links, and key requests from a sample of endpoint pairs at
half the busiest link's capacity. Each size is timed twice in this process:

* **vectorised**: the simulation as shipped (all links evaluated at once per protocol, link
  states memoised);
* **per-link loop** (the baseline): the same simulation with
  ``LinkModel(vectorised=False)``, which evaluates every link on its own in a Python loop each
  slice (timed over a few slices only, as it is slow; the rate is per simulated second).

The event queue is a binary heap (:class:`network.simulation.events.EventQueue`); the last table
compares it with SimPy's ``Environment`` on the same workload (scheduling and running timeouts),
when SimPy is installed.

Prints a table on stderr and a machine-readable last line on stdout:
``nodes_100_sim_s_per_s=<x> nodes_1000_sim_s_per_s=<y> speedup=<z> heap_vs_simpy=<w>``
(``speedup`` at 1,000 nodes; ``heap_vs_simpy`` the ratio of events per second, ``nan`` without
SimPy).

Usage::

    python benchmarks/bench_network.py            # full (about two minutes)
    python benchmarks/bench_network.py --quick    # seconds (run by the test suite)
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from network.links import LinkModel
from network.simulation.demands import DemandConfig
from network.simulation.events import EventQueue
from network.simulation.simulator import SimulationConfig, build_simulation
from network.topology import random_geometric_topology


def _simulation(topology, *, vectorised: bool, seed: int):
    config = SimulationConfig(
        duration_s=3600.0,
        slice_s=1.0,
        vote_interval_s=10.0,
        defense="abft",
        demands=DemandConfig(pairs=100, key_bits=256, utilisation=0.5),
    )
    sim = build_simulation(
        topology, byzantine_fraction=0.2, behaviour="mixed", config=config, seed=seed
    )
    if not vectorised:
        sim.links = LinkModel(
            topology.link_params,
            alternatives=[None] * topology.n_links,
            decoy=config.decoy,
            vectorised=False,
        )
    return sim


def _rate(sim, seconds: float) -> float:
    sim.run(1.0)  # warm-up: the first slice builds caches
    start = time.perf_counter()
    sim.run(seconds)
    return seconds / (time.perf_counter() - start)


def _heap_vs_simpy(events: int) -> tuple[float, float]:
    queue = EventQueue()
    start = time.perf_counter()
    for k in range(events):
        queue.schedule(k * 1000 + (k * 7919) % 997, _noop)
    queue.run()
    heap = events / (time.perf_counter() - start)
    try:
        import simpy
    except ImportError:
        return heap, math.nan
    env = simpy.Environment()
    start = time.perf_counter()
    for k in range(events):
        env.timeout(k * 1000 + (k * 7919) % 997).callbacks.append(_noop_event)
    env.run()
    return heap, events / (time.perf_counter() - start)


def _noop() -> None:
    return None


def _noop_event(event: object) -> None:
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, seconds")
    args = parser.parse_args(argv)
    sizes = (100, 300) if args.quick else (100, 1000)
    simulated = 10.0 if args.quick else 60.0
    baseline_seconds = 2.0 if args.quick else 3.0
    rates: dict[int, float] = {}
    speedup = math.nan
    print(f"{'nodes':>6} {'links':>6} {'vectorised':>14} {'per-link loop':>15}", file=sys.stderr)
    for n in sizes:
        topology = random_geometric_topology(n, seed=1)
        fast = _rate(_simulation(topology, vectorised=True, seed=2), simulated)
        slow = _rate(_simulation(topology, vectorised=False, seed=2), baseline_seconds)
        rates[n] = fast
        speedup = fast / slow
        print(
            f"{n:>6} {topology.n_links:>6} {fast:>9.1f} s/s {slow:>10.2f} s/s   ({speedup:.0f}x)",
            file=sys.stderr,
        )
    heap, simpy_rate = _heap_vs_simpy(20_000 if args.quick else 200_000)
    print(
        f"event queue: heap {heap:.3g} events/s, SimPy {simpy_rate:.3g} events/s",
        file=sys.stderr,
    )
    small, large = sizes
    print(
        f"nodes_{small}_sim_s_per_s={rates[small]:.4g} "
        f"nodes_{large}_sim_s_per_s={rates[large]:.4g} "
        f"speedup={speedup:.4g} heap_vs_simpy={heap / simpy_rate:.4g}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
