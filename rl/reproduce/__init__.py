"""Reproduce the ABFT-DRA experiment end to end (``abft-qkd reproduce``).

Modules: :mod:`.config` (the experiment and its scales), :mod:`.tasks` (one training run, one
evaluation episode), :mod:`.cache` (results on disk, keyed by configuration, seed and code
version), :mod:`.experiment` (the sweeps and the aggregation), :mod:`.report` (claims,
Markdown, JSON), :mod:`.plots` (figures), :mod:`.cli` (the command).

Examples
--------
>>> from rl.reproduce import ReproduceConfig
>>> ReproduceConfig.scale("default").eval_seeds
10
"""

from rl.reproduce.cache import ResultCache, code_version
from rl.reproduce.config import SCALES, SYSTEMS, ReproduceConfig
from rl.reproduce.experiment import reproduce, run_experiment, statistics

__all__ = [
    "SCALES",
    "SYSTEMS",
    "ReproduceConfig",
    "ResultCache",
    "code_version",
    "reproduce",
    "run_experiment",
    "statistics",
]
