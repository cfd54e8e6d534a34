"""A discrete-event queue with integer simulated time.

Simulated time is an integer number of nanoseconds (:data:`NS_PER_S` per second), so events
never drift through floating-point round-off and a run of hours (``3.6e12`` ns) stays exact.
Events are ordered by ``(time, priority, sequence)``: at equal times a lower ``priority`` runs
first, and among equals the one scheduled first (the ``sequence`` number is a counter), so a run
is deterministic whatever the handlers are. Handlers are plain callables taking no argument
(use a closure or :func:`functools.partial`), never method names in strings.

The queue is a binary heap (:mod:`heapq`) with lazy cancellation: :meth:`EventQueue.cancel`
marks an event and the loop skips it when it surfaces, which keeps both operations
``O(log n)``. This is the design of SimPy's ``Environment`` and SeQUeNCe's ``Timeline`` reduced to
what the network needs. Why not SimPy itself: the network wants integer time, explicit priorities
at equal times and plain callbacks (no generator per process), and no extra dependency; speed is
not the reason, the two run the same scheduling workload at the same rate within run-to-run noise
(``benchmarks/bench_network.py`` measured 0.94x to 1.14x of SimPy's events per second on the
2-core development machine).

Examples
--------
>>> queue = EventQueue()
>>> order = []
>>> _ = queue.schedule(2 * NS_PER_S, lambda: order.append("late"))
>>> _ = queue.schedule(NS_PER_S, lambda: order.append("early"), priority=1)
>>> _ = queue.schedule(NS_PER_S, lambda: order.append("first"), priority=0)
>>> queue.run()
3
>>> order, queue.now
(['first', 'early', 'late'], 2000000000)
"""

from __future__ import annotations

import heapq
import itertools
import numbers
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["NS_PER_S", "Event", "EventQueue", "seconds", "to_seconds"]

NS_PER_S = 1_000_000_000
"""Simulated time units (nanoseconds) per second."""


def seconds(value: float) -> int:
    """Convert seconds to integer simulated time (nanoseconds, rounded to the nearest).

    Examples
    --------
    >>> seconds(1.5), seconds(1e-9)
    (1500000000, 1)
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"value={value!r} must be a number of seconds")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"value={value!r} must be finite")
    return round(value * NS_PER_S)


def to_seconds(time_ns: int) -> float:
    """Convert integer simulated time (nanoseconds) to seconds."""
    return time_ns / NS_PER_S


@dataclass(eq=False, slots=True)
class Event:
    """A scheduled call: ``handler()`` at ``time`` (ns); ordered by (time, priority, sequence).

    Attributes
    ----------
    time : int
        Simulated time in nanoseconds.
    priority : int
        Lower runs first among events at the same time.
    sequence : int
        Scheduling order, which breaks the remaining ties.
    handler : callable
        Called with no argument when the event runs.
    cancelled : bool
        Set by :meth:`EventQueue.cancel`; a cancelled event never runs.
    """

    time: int
    priority: int
    sequence: int
    handler: Callable[[], object]
    cancelled: bool = False


class EventQueue:
    """Integer-time discrete-event loop (see the module docstring).

    Parameters
    ----------
    start : int
        Initial simulated time in nanoseconds (>= 0).
    """

    __slots__ = ("_counter", "_heap", "_now", "_processed")

    def __init__(self, start: int = 0) -> None:
        self._now = _check_time(start, "start")
        self._heap: list[tuple[int, int, int, Event]] = []
        self._counter = itertools.count()
        self._processed = 0

    @property
    def now(self) -> int:
        """Current simulated time in nanoseconds."""
        return self._now

    @property
    def processed(self) -> int:
        """Events run so far."""
        return self._processed

    def __len__(self) -> int:
        """Events still queued (cancelled ones included until they surface)."""
        return len(self._heap)

    def schedule(self, time: int, handler: Callable[[], object], *, priority: int = 0) -> Event:
        """Schedule ``handler()`` at absolute ``time`` (ns, not in the past).

        Raises
        ------
        ValueError
            If ``time`` is before :attr:`now`.
        TypeError
            If ``handler`` is not callable or ``time``/``priority`` are not integers.
        """
        time = _check_time(time, "time")
        if time < self._now:
            raise ValueError(f"time={time} is in the past (now={self._now})")
        if not callable(handler):
            raise TypeError(f"handler={handler!r} must be callable")
        if isinstance(priority, bool) or not isinstance(priority, numbers.Integral):
            raise TypeError(f"priority={priority!r} must be an integer")
        event = Event(time, int(priority), next(self._counter), handler)
        heapq.heappush(self._heap, (event.time, event.priority, event.sequence, event))
        return event

    def schedule_in(self, delay: int, handler: Callable[[], object], *, priority: int = 0) -> Event:
        """Schedule ``handler()`` ``delay`` nanoseconds from now (``delay >= 0``)."""
        delay = _check_time(delay, "delay")
        return self.schedule(self._now + delay, handler, priority=priority)

    @staticmethod
    def cancel(event: Event) -> None:
        """Cancel ``event``; it stays in the heap but will never run."""
        event.cancelled = True

    def peek(self) -> int | None:
        """Time of the next event that will run, or ``None`` when none is left."""
        while self._heap and self._heap[0][3].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def step(self) -> bool:
        """Run the next event; ``False`` when the queue is empty."""
        while self._heap:
            event = heapq.heappop(self._heap)[3]
            if event.cancelled:
                continue
            self._now = event.time
            self._processed += 1
            event.handler()
            return True
        return False

    def run(self, until: int | None = None, *, max_events: int | None = None) -> int:
        """Run events in order; returns how many ran.

        Parameters
        ----------
        until : int, optional
            Stop before the first event later than ``until`` (ns) and advance :attr:`now` to
            ``until``; events at exactly ``until`` run. Without it, run until the queue is empty.
        max_events : int, optional
            Stop after this many events.
        """
        if until is not None:
            until = _check_time(until, "until")
            if until < self._now:
                raise ValueError(f"until={until} is in the past (now={self._now})")
        ran = 0
        while max_events is None or ran < max_events:
            nxt = self.peek()
            if nxt is None or (until is not None and nxt > until):
                break
            self.step()
            ran += 1
        if until is not None and (max_events is None or ran < max_events):
            self._now = max(self._now, until)
        return ran


def _check_time(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r} must be an integer number of nanoseconds")
    if value < 0:
        raise ValueError(f"{name}={value!r} must be >= 0")
    return int(value)
