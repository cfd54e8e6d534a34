"""The schedule checker: silent below the weighted threshold, finds and shrinks violations above."""

from __future__ import annotations

import json

import pytest

from network.consensus import (
    Round,
    Schedule,
    check,
    generate_schedule,
    replay_schedule,
    run_schedule,
)
from network.simulation.events import seconds


def test_below_the_threshold_no_schedule_breaks_safety_or_liveness():
    report = check(replicas=4, schedules=60, faulty_weight=0.25, seed=21)
    assert report.schedules == 60 and report.above_threshold == 0
    assert report.safety_violations == 0 and report.first_violation is None
    assert report.liveness_failures == 0
    assert report.auth_rejected > 0  # replays and duplicates were caught on the way


@pytest.mark.slow
@pytest.mark.parametrize(
    ("replicas", "weights", "faulty_weight", "schedules"),
    [
        (4, None, 0.25, 1000),
        (7, None, 2 / 7, 250),
        (6, (2, 1, 1, 1, 1, 1), 2 / 7, 250),  # the heavy replica may be the faulty one
        (6, (1.5, 1, 1, 1, 0.5, 0.5), 0.3, 250),  # or both light ones
    ],
)
def test_thousands_of_schedules_below_the_threshold(replicas, weights, faulty_weight, schedules):
    report = check(
        replicas=replicas,
        schedules=schedules,
        faulty_weight=faulty_weight,
        weights=weights,
        seed=replicas,
    )
    assert report.above_threshold == 0
    assert (report.safety_violations, report.liveness_failures) == (0, 0), (
        report.first_violation or report.first_liveness_failure
    )


def test_above_the_threshold_violations_are_found_and_shrunk():
    report = check(replicas=4, schedules=8, faulty_weight=0.5, seed=22)
    assert report.above_threshold == 8
    assert report.safety_violations > 0
    first = report.first_violation
    assert "executed batch" in first["violation"] or "state" in first["violation"]
    small = Schedule.from_json(first["schedule"])
    original = generate_schedule(first["seed"], replicas=4, faulty_weight=0.5)
    assert len(small.rounds) <= len(original.rounds)
    assert small.clients * small.requests <= original.clients * original.requests
    # the reported schedule replays to the same violation, also through JSON text
    assert run_schedule(small).violation == first["violation"]
    assert replay_schedule(json.dumps(report.to_json())).violation == first["violation"]


def test_disabling_quorum_checks_lets_a_single_faulty_replica_break_safety():
    report = check(replicas=4, schedules=8, faulty_weight=0.25, seed=23, unsafe_quorum_fraction=0.5)
    assert report.above_threshold == 8
    assert report.safety_violations > 0


def test_a_hand_written_minimal_attack():
    # two colluders of four, the first of them leads view 0 and shows replica 3 the null batch
    schedule = Schedule(
        seed=1,
        weights=(1, 1, 1, 1),
        faulty=(0, 1),
        behaviours=("collude", "collude"),
        side_b=(3,),
        leader_order=(0, 1, 2, 3),
        rounds=(Round(seconds(0.1)),),
    )
    outcome = run_schedule(schedule)
    assert outcome.violation.startswith("seq 1: replica ")
    assert "executed batch" in outcome.violation
    calm = Schedule(**{**schedule.__dict__, "faulty": (0,), "behaviours": ("collude",)})
    assert run_schedule(calm).safe


def test_same_seed_same_report():
    kwargs = {"replicas": 4, "schedules": 8, "faulty_weight": 0.5, "seed": 24}
    assert check(**kwargs, shrink_violations=False) == check(**kwargs, shrink_violations=False)


def test_schedules_round_trip_through_json():
    schedule = generate_schedule(31, replicas=7, faulty_weight=0.3)
    assert Schedule.from_json(json.loads(json.dumps(schedule.to_json()))) == schedule
    assert "faulty:" in schedule.describe()


def test_key_exhaustion_costs_liveness_not_safety():
    schedule = generate_schedule(5, replicas=4, faulty_weight=0.0)
    outcome = run_schedule(schedule, key_bits=64 * 3, liveness_ns=seconds(5))
    assert outcome.safe
    assert outcome.liveness_failure is not None
    assert outcome.stats["auth_unauthenticated"] > 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"faulty_weight": 1.5}, ValueError, "faulty_weight=1.5 must be in"),
        ({"faulty_weight": 0.2, "weights": (1, 1)}, ValueError, "weights has 2 entries"),
        ({"faulty_weight": 0.2, "weights": (3, 1, 1, 1)}, ValueError, "F\\*=3"),
        ({"faulty_weight": 0.2, "replicas": 0}, ValueError, "replicas=0"),
    ],
)
def test_bad_checker_arguments(kwargs, error, match):
    kwargs = {"replicas": 4, **kwargs}
    with pytest.raises(error, match=match):
        generate_schedule(1, **kwargs)


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError, match="unknown behaviour 'sneaky'"):
        Schedule(seed=1, weights=(1, 1, 1, 1), faulty=(1,), behaviours=("sneaky",))
    with pytest.raises(ValueError, match="replica id=8 is not a replica id"):
        Schedule(seed=1, weights=(1, 1, 1, 1), faulty=(8,), behaviours=("silent",))
    with pytest.raises(ValueError, match="schedule lacks the field 'rounds'"):
        Schedule.from_json({"seed": 1, "weights": [1, 1, 1, 1]})


def test_relayed_view_changes_do_not_set_off_a_message_storm():
    # this schedule once made every relayed VIEW-CHANGE trigger a new fetch to every replica:
    # 250,000 messages for four requests
    schedule = generate_schedule(22_000_071, replicas=4, faulty_weight=0.5)
    outcome = run_schedule(schedule)
    assert outcome.completed == 4
    assert outcome.stats["messages"] < 5_000


def test_view_change_timer_waits_for_a_quorum_of_view_changes():
    # with the timer started on entering a view (not on a quorum of VIEW-CHANGEs for it), a
    # replica alone in a view timed out and moved on by itself; here one request never finished
    schedule = generate_schedule(7_000_265, replicas=4, faulty_weight=0.25)
    outcome = run_schedule(schedule)
    assert outcome.liveness_failure is None and outcome.completed == outcome.expected == 6
