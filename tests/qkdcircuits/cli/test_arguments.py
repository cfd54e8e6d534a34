"""The shared ``argparse`` value types of :mod:`qkdcircuits.cli.arguments`."""

from __future__ import annotations

import argparse

import pytest

from qkdcircuits.cli.arguments import (
    MAX_COUNT,
    bounded_float,
    count,
    count_at_least,
    finite_float,
    non_negative_count,
    non_negative_float,
    parse_value,
    positive_count,
    positive_float,
    probability,
)


@pytest.mark.parametrize(
    ("parse", "text", "expected"),
    [
        (finite_float, "-1e-3", -0.001),
        (finite_float, " 2 ", 2.0),
        (positive_float, "1e-300", 1e-300),
        (non_negative_float, "0", 0.0),
        (non_negative_float, "-0.0", 0.0),
        (probability, "0", 0.0),
        (probability, "1", 1.0),
        (count, "1e12", 10**12),
        (count, "2.5e6", 2_500_000),
        (count, "1_000", 1000),
        (count, "-7", -7),
        (count, str(MAX_COUNT), MAX_COUNT),
        (count, "9007199254740993", 9007199254740993),  # exact: not rounded through a float
        (positive_count, "1", 1),
        (positive_count, "1e6", 1_000_000),
        (non_negative_count, "0", 0),
    ],
)
def test_accepted_values(parse, text, expected):
    value = parse(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (finite_float, "abc", "'abc' is not a number"),
        (finite_float, "nan", "'nan' is not finite"),
        (finite_float, "-inf", "'-inf' is not finite"),
        (positive_float, "0", "'0' must be a finite number > 0"),
        (positive_float, "inf", "'inf' must be a finite number > 0"),
        (positive_float, "nan", "'nan' must be a finite number > 0"),
        (positive_float, "x", "'x' is not a number"),
        (non_negative_float, "-1e-9", "'-1e-9' must be a finite number >= 0"),
        (non_negative_float, "nan", "'nan' must be a finite number >= 0"),
        (probability, "1.0000001", "'1.0000001' not in [0, 1]"),
        (probability, "-0.1", "'-0.1' not in [0, 1]"),
        (probability, "nan", "'nan' not in [0, 1]"),
        (count, "1.5", "'1.5' is not an integer"),
        (count, "1e400", "'1e400' is not an integer"),
        (count, "nan", "'nan' is not an integer"),
        (count, "ten", "'ten' is not an integer"),
        (count, str(MAX_COUNT + 1), f"'{MAX_COUNT + 1}' exceeds {MAX_COUNT}"),
        (count, "1e19", f"'1e19' exceeds {MAX_COUNT}"),
        (positive_count, "0", "'0' must be >= 1"),
        (positive_count, "0.5", "'0.5' is not an integer"),
        (non_negative_count, "-1", "'-1' must be >= 0"),
    ],
)
def test_rejected_values_quote_the_text(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as info:
        parse(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("include_low", "include_high", "inside", "outside", "interval"),
    [
        (True, True, ["0", "0.4"], ["-1e-12", "0.40001"], "[0, 0.4]"),
        (False, True, ["1e-12", "0.4"], ["0"], "(0, 0.4]"),
        (True, False, ["0", "0.39999"], ["0.4"], "[0, 0.4)"),
        (False, False, ["0.2"], ["0", "0.4"], "(0, 0.4)"),
    ],
)
def test_bounded_float_ends(include_low, include_high, inside, outside, interval):
    parse = bounded_float(0.0, 0.4, include_low=include_low, include_high=include_high)
    assert [parse(text) for text in inside] == [float(text) for text in inside]
    for text in outside:
        with pytest.raises(argparse.ArgumentTypeError) as info:
            parse(text)
        assert str(info.value) == f"{text!r} not in {interval}"


@pytest.mark.parametrize(("low", "high"), [(1.0, 1.0), (2.0, 1.0), (0.0, float("inf"))])
def test_bounded_float_rejects_bad_bounds(low, high):
    with pytest.raises(ValueError, match=r"low=.*high=.*must be finite with low < high"):
        bounded_float(low, high)


@pytest.mark.parametrize("minimum", [1.0, True, "1"])
def test_count_at_least_needs_an_integer_minimum(minimum):
    with pytest.raises(TypeError, match=r"minimum=.* must be an integer"):
        count_at_least(minimum)


def test_count_at_least_minimum_is_inclusive():
    parse = count_at_least(-3)
    assert parse("-3") == -3
    with pytest.raises(argparse.ArgumentTypeError, match=r"^'-4' must be >= -3$"):
        parse("-4")


def test_parse_value_names_the_option():
    assert parse_value(probability, "0.25", "--faulty-weight") == 0.25
    with pytest.raises(ValueError, match=r"^--schedules '0' must be >= 1$"):
        parse_value(positive_count, "0", "--schedules")


def test_argparse_prints_the_message_after_the_option(capsys):
    parser = argparse.ArgumentParser(prog="demo")
    parser.add_argument("--fraction", type=bounded_float(0.0, 0.4))
    parser.add_argument("--rounds", type=positive_count)
    assert vars(parser.parse_args(["--fraction", "0.1", "--rounds", "2e3"])) == {
        "fraction": 0.1,
        "rounds": 2000,
    }
    with pytest.raises(SystemExit):
        parser.parse_args(["--fraction", "0.5"])
    assert "argument --fraction: '0.5' not in [0, 0.4]" in capsys.readouterr().err
