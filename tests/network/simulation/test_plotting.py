"""Run plots: files in the requested format, atomic writes, clear errors on bad paths."""

from __future__ import annotations

import numpy as np
import pytest

from network.simulation.plotting import plot_timeseries

SERIES = {
    "time_s": np.arange(20.0),
    "availability": np.linspace(1, 0.5, 20),
    "pool_bits": np.linspace(0, 2e6, 20),
    "vote_time_s": np.arange(0.0, 20.0, 5.0),
    "weights": np.array([[1.0, 1.0], [1.0, 0.8], [1.0, 0.6], [1.0, 0.5]]),
}


@pytest.mark.parametrize(
    ("suffix", "magic"), [(".png", b"\x89PNG"), (".pdf", b"%PDF"), (".svg", b"<?xml")]
)
def test_formats_follow_the_suffix(tmp_path, suffix, magic):
    out = plot_timeseries(SERIES, tmp_path / f"run{suffix}", node_names=["a", "b"], highlight=["b"])
    assert out.read_bytes().startswith(magic)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"run{suffix}"]  # no temporary left


@pytest.mark.parametrize(
    ("name", "match"),
    [("", "empty"), ("run.jpg", "must end in"), ("missing/run.png", "does not exist")],
)
def test_bad_paths_write_nothing(tmp_path, monkeypatch, name, match):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=match):
        plot_timeseries(SERIES, name)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_is_not_a_plot_path(tmp_path):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        plot_timeseries(SERIES, tmp_path / "out.png")
