"""The discrete-event queue: ordering, determinism, cancellation, time limits, errors."""

from __future__ import annotations

import random

import pytest

from network.simulation.events import NS_PER_S, EventQueue, seconds, to_seconds


def test_events_run_in_time_priority_sequence_order():
    queue = EventQueue()
    order = []
    # Schedule in a shuffled order; the expected order is the sort by (time, priority, seq).
    specs = [(t, p, k) for k, (t, p) in enumerate([(5, 0), (1, 1), (1, 0), (5, 0), (3, 2), (1, 0)])]
    random.Random(4).shuffle(specs)
    for time, priority, label in specs:
        queue.schedule(time, lambda label=label: order.append(label), priority=priority)
    expected = [
        label for _, _, _, label in sorted((t, p, i, lab) for i, (t, p, lab) in enumerate(specs))
    ]
    assert queue.run() == len(specs)
    assert order == expected
    assert queue.now == 5


def test_handlers_may_schedule_more_events_and_time_never_goes_back():
    queue = EventQueue()
    seen = []

    def tick(n):
        seen.append(queue.now)
        if n:
            queue.schedule_in(10, lambda: tick(n - 1))

    queue.schedule(0, lambda: tick(4))
    queue.run()
    assert seen == [0, 10, 20, 30, 40]
    with pytest.raises(ValueError, match="in the past"):
        queue.schedule(39, lambda: None)


def test_cancel_and_until():
    queue = EventQueue()
    ran = []
    keep = queue.schedule(seconds(1), lambda: ran.append("keep"))
    drop = queue.schedule(seconds(1), lambda: ran.append("drop"))
    queue.schedule(seconds(3), lambda: ran.append("later"))
    EventQueue.cancel(drop)
    assert queue.run(until=seconds(2)) == 1
    assert ran == ["keep"] and queue.now == 2 * NS_PER_S
    assert queue.peek() == 3 * NS_PER_S
    assert queue.run(until=seconds(3)) == 1  # an event exactly at `until` runs
    assert ran == ["keep", "later"]
    assert keep.cancelled is False and drop.cancelled is True
    assert queue.run(max_events=5) == 0 and not queue.step()


def test_same_schedule_same_trace():
    def trace(seed):
        rng = random.Random(seed)
        queue, out = EventQueue(), []
        for k in range(200):
            queue.schedule(
                rng.randrange(50), lambda k=k: out.append((queue.now, k)), priority=rng.randrange(3)
            )
        queue.run()
        return out

    assert trace(7) == trace(7)
    assert trace(7) != trace(8)


def test_conversions_and_bad_input():
    assert seconds(2.5) == 2_500_000_000 and to_seconds(seconds(0.25)) == 0.25
    queue = EventQueue()
    with pytest.raises(TypeError, match="time"):
        queue.schedule(1.5, lambda: None)
    with pytest.raises(ValueError, match="delay"):
        queue.schedule_in(-1, lambda: None)
    with pytest.raises(TypeError, match="handler"):
        queue.schedule(1, "not callable")
    with pytest.raises(TypeError, match="priority"):
        queue.schedule(1, lambda: None, priority=0.5)
    with pytest.raises(ValueError, match="finite"):
        seconds(float("nan"))
    with pytest.raises(ValueError, match="start"):
        EventQueue(start=-5)
