"""The significance machinery against scipy and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from bright_eval import stats


def _scipy_exact(a, b):
    res = sp.permutation_test((a, b), lambda x, y, axis: np.mean(x - y, axis=axis), permutation_type="samples",
                              vectorized=True, n_resamples=np.inf, alternative="two-sided")
    return res.pvalue


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_randomization_equals_scipy(seed):
    rng = np.random.default_rng(seed)
    b = rng.random(12)
    a = np.clip(b + rng.normal(0.05, 0.15, 12), 0, 1)
    a[:3] = b[:3]  # ties, as nDCG per query often has
    assert stats.randomization(a - b, rounds=10_000) == pytest.approx(_scipy_exact(a, b), abs=1e-12)


def test_random_randomization_is_seeded_and_close_to_scipy():
    rng = np.random.default_rng(5)
    d = rng.normal(0.03, 0.2, 120)
    p1 = stats.randomization(d, rounds=20_000, seed=7)
    assert p1 == stats.randomization(d, rounds=20_000, seed=7)
    ref = sp.permutation_test((d, np.zeros_like(d)), lambda x, y, axis: np.mean(x - y, axis=axis), permutation_type="samples",
                              vectorized=True, n_resamples=20_000, alternative="two-sided", random_state=1).pvalue
    assert abs(p1 - ref) < 0.02
    assert 1 / 20_001 <= p1 <= 1


def test_weighted_randomization_is_the_macro_test():
    rng = np.random.default_rng(2)
    groups = [rng.normal(0.1, 0.3, 5), rng.normal(-0.05, 0.3, 7)]
    w = stats.macro_weights([5, 7])
    d = np.concatenate(groups)
    assert w.sum() == pytest.approx(1.0)
    assert (w * d).sum() == pytest.approx(np.mean([g.mean() for g in groups]))
    # Exact (2^12 sign vectors): count by hand.
    obs = abs((w * d).sum())
    signs = np.array([[1 - 2 * ((c >> i) & 1) for i in range(12)] for c in range(2 ** 12)])
    want = np.mean(np.abs(signs @ (w * d)) >= obs - 1e-12)
    assert stats.randomization(d, rounds=10_000, weights=w) == pytest.approx(want)


def test_paired_t_is_scipys():
    rng = np.random.default_rng(0)
    a, b = rng.random(30), rng.random(30)
    t, p = stats.paired_t(a, b)
    ref = sp.ttest_rel(a, b)
    assert (t, p) == (pytest.approx(ref.statistic, rel=1e-12), pytest.approx(ref.pvalue, rel=1e-12))
    assert stats.paired_t(a, a) == (0.0, 1.0)
    assert all(math.isnan(v) for v in stats.paired_t([0.5], [0.2]))


def test_holm_by_hand():
    assert stats.holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert stats.holm([0.5, float("nan"), 0.001]) == pytest.approx([1.0, 1.0, 0.003])
    assert stats.holm([0.4, 0.4]) == pytest.approx([0.8, 0.8])
    assert stats.holm([]) == []


def test_bootstrap_ci():
    rng = np.random.default_rng(1)
    d = rng.normal(0.1, 0.2, 200)
    lo, hi = stats.bootstrap_ci([d], rounds=4000, seed=3)
    assert lo < d.mean() < hi
    assert (lo, hi) == stats.bootstrap_ci([d], rounds=4000, seed=3)
    # Standard error of the mean ~ 0.2/sqrt(200): a 95% interval is about 4 SE wide.
    assert hi - lo == pytest.approx(4 * d.std() / np.sqrt(200), rel=0.15)
    g2 = rng.normal(-0.3, 0.1, 50)
    lo2, hi2 = stats.bootstrap_ci([d, g2], rounds=4000, seed=3)
    assert lo2 < (d.mean() + g2.mean()) / 2 < hi2
    assert stats.bootstrap_ci([[0.2, 0.2, 0.2]], rounds=500) == (pytest.approx(0.2), pytest.approx(0.2))


def test_win_tie_loss():
    assert stats.win_tie_loss([0.1, 0.0, -0.2, 1e-12, 0.3]) == (2, 2, 1)
