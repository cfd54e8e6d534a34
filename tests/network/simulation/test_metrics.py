"""Run metrics: each definition checked on hand-made request and slice records."""

from __future__ import annotations

import math

import numpy as np
import pytest

from network.simulation.metrics import MetricsCollector


def _collector():
    return MetricsCollector(n_pairs=2, n_links=3, qber_threshold=0.05)


def test_availability_exposure_and_rates_by_hand():
    m = _collector()
    # (pair, n_bits, served, exposed, used_links, link_qber)
    requests = [
        # pair 0: 3 requests -> served clean, served exposed, not served
        (0, 100, True, False, [0, 1], [0.02, 0.04]),
        (0, 100, True, True, [0, 1], [0.02, 0.08]),
        (0, 100, False, False, [0, 1], [0.02, 0.08]),
        # pair 1: 1 request served clean over link 2
        (1, 300, True, False, [2], [0.01]),
    ]
    for pair, n_bits, served, exposed, used_links, link_qber in requests:
        m.record_request(
            pair=pair,
            n_bits=n_bits,
            served=served,
            exposed=exposed,
            used_links=np.array(used_links),
            link_qber=np.array(link_qber),
        )
    m.record_slice(
        time_ns=10**9,
        measured_qber=np.array([0.02, 0.08, 0.01]),
        in_fluctuation=np.array([False, True, True]),
        pool_bits=np.array([5, 6, 7]),
        generated_bits=1000,
    )
    s = m.summary(duration_s=2.0)
    assert s.requests == 4
    assert s.availability == pytest.approx((1 / 3 + 1) / 2)
    assert s.availability_min == pytest.approx(1 / 3)
    assert s.served_fraction == pytest.approx(3 / 4)
    assert s.delivered_key_bps == pytest.approx(500 / 2)
    assert s.delivered_key_bps_per_pair == pytest.approx(250 / 2)
    assert s.exposed_key_fraction == pytest.approx(100 / 500)
    # used-link QBER samples (bits-weighted): 100@.02, 100@.04, 100@.02, 100@.08, 300@.01
    assert s.mean_used_qber == pytest.approx((2 + 4 + 2 + 8 + 3) / 700)
    assert s.max_used_qber == pytest.approx(0.08)
    assert s.used_qber_above_threshold == pytest.approx(100 / 700)
    # in fluctuation and used in the slice: links 1 and 2 -> variance of [0.08, 0.01]
    assert s.qber_variance_fluctuation == pytest.approx(np.var([0.08, 0.01], ddof=1))
    assert s.qber_variance_all == pytest.approx(np.var([0.02, 0.08, 0.01], ddof=1))
    assert s.key_generation_bps == pytest.approx(500)
    assert m.slice_available == [pytest.approx(2 / 4)]
    assert m.slice_pool_bits == [18.0]


def test_empty_run_gives_nan_not_errors():
    s = _collector().summary(duration_s=10.0)
    assert s.requests == 0 and math.isnan(s.availability) and math.isnan(s.mean_used_qber)
    d = s.to_dict()
    assert d["availability"] is None and d["requests"] == 0
