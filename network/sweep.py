"""Sweeps on a process pool or a Dask cluster: one executor interface, the same results.

A sweep is a list of tasks, each a pure function of its own arguments (a configuration and a
seed) that returns a small, picklable result, like ``sinter.collect``'s work units. Because no
task shares state or randomness with another, the results do not depend on how many workers run
them nor on which executor: :func:`run_tasks` returns them in task order whatever order they
finish in.

Executors (:func:`open_executor`):

``"process"``
    :class:`concurrent.futures.ProcessPoolExecutor` on this machine (the default).
``"dask"``
    ``dask.distributed``: ``Client(address).get_executor()`` for a running cluster
    (``tcp://scheduler:8786``), or a :class:`distributed.LocalCluster` of ``workers`` processes
    when no address is given. Needs the ``distributed`` extra (``pip install
    "abft-qkd[distributed]"``).
``"serial"``
    Runs every task in this process, in order (debugging, profiling, tiny sweeps).

Examples
--------
>>> with open_executor("serial") as executor:
...     run_tasks(pow, [(2, 3), (3, 2)], executor=executor)
[8, 9]
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["EXECUTORS", "SerialExecutor", "open_executor", "run_tasks"]

EXECUTORS: tuple[str, str, str] = ("process", "dask", "serial")
"""Names accepted by :func:`open_executor`."""


class SerialExecutor(concurrent.futures.Executor):
    """An :class:`~concurrent.futures.Executor` running each task at submission, in this process."""

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future:
        """Run ``fn(*args, **kwargs)`` now and return a future holding its outcome.

        Parameters
        ----------
        fn : callable
            The task.
        *args, **kwargs
            Its arguments.

        Returns
        -------
        concurrent.futures.Future
            Done already: it holds the result, or the exception ``fn`` raised (a
            :class:`KeyboardInterrupt` propagates instead).

        Examples
        --------
        >>> with SerialExecutor() as executor:
        ...     executor.submit(pow, 2, 10).result()
        1024
        """
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the future carries it, like a pool would
            if isinstance(exc, KeyboardInterrupt):
                raise
            future.set_exception(exc)
        return future


def _check_workers(workers: int | None) -> int:
    if workers is None:
        return max(1, os.cpu_count() or 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r} must be a positive integer")
    return workers


@contextlib.contextmanager
def open_executor(
    kind: str = "process", *, workers: int | None = None, address: str | None = None
) -> Iterator[concurrent.futures.Executor]:
    """Open an executor for :func:`run_tasks`, shut down (and its cluster closed) on exit.

    Parameters
    ----------
    kind : {"process", "dask", "serial"}
        See the module docstring.
    workers : int, optional
        Worker processes (default: the CPU count). Ignored for a Dask cluster given by address.
    address : str, optional
        Dask only: the scheduler address of a running cluster (``tcp://host:8786``); without it
        a local cluster is started.

    Yields
    ------
    concurrent.futures.Executor

    Raises
    ------
    ValueError
        For an unknown kind, a bad worker count, or an address with a kind other than dask.
    ImportError
        For ``"dask"`` without ``dask.distributed`` installed (with the install hint).
    """
    if kind not in EXECUTORS:
        raise ValueError(f"executor={kind!r} must be one of {', '.join(EXECUTORS)}")
    n = _check_workers(workers)
    if address is not None and kind != "dask":
        raise ValueError(f"address={address!r} applies to the dask executor only")
    if kind == "serial":
        with SerialExecutor() as executor:
            yield executor
        return
    if kind == "process":
        import multiprocessing

        # "spawn": workers start from a clean interpreter, as on macOS and Windows, so a sweep
        # never inherits locks or key pools from the parent (KeyPool refuses forked children).
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=n, mp_context=context) as executor:
            yield executor
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'the dask executor needs dask.distributed: pip install "abft-qkd[distributed]"'
        ) from exc
    if address is not None:
        client = Client(address)
        cluster = None
    else:
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    try:
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_tasks(
    function: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    *,
    executor: concurrent.futures.Executor,
    progress: bool = False,
    description: str = "sweep",
    on_result: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """Run ``function(*task)`` for every task on ``executor``; results in task order.

    Parameters
    ----------
    function : callable
        A module-level (picklable) function.
    tasks : sequence of tuple
        The arguments of each call.
    executor : concurrent.futures.Executor
        From :func:`open_executor` (or any executor).
    progress : bool
        Show a tqdm bar on stderr.
    description : str
        Label of the bar.
    on_result : callable, optional
        Called as ``on_result(index, result)`` in this process as each task finishes (e.g. to
        write it to a cache at once, so that an interrupted sweep loses nothing finished).

    Returns
    -------
    list
        ``function(*tasks[k])`` at index ``k``.

    Raises
    ------
    Exception
        The first exception a task raised (the others are cancelled).
    KeyboardInterrupt
        After cancelling what has not started; results already passed to ``on_result`` are kept.
    """
    from tqdm import tqdm

    futures = {executor.submit(function, *task): k for k, task in enumerate(tasks)}
    results: list[Any] = [None] * len(tasks)
    try:
        with tqdm(total=len(tasks), desc=description, file=sys.stderr, disable=not progress) as bar:
            for future in concurrent.futures.as_completed(futures):
                k = futures[future]
                results[k] = future.result()
                if on_result is not None:
                    on_result(k, results[k])
                bar.update(1)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return results
