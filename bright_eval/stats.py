"""Paired significance for per-query metric differences (system minus baseline, same queries).

* `paired_t`: scipy's paired t-test.
* `randomization`: sign-flip permutation test of a weighted mean difference; exact (all 2^n sign
  vectors) when that is no more than `rounds`, else `rounds` seeded random flips with the (b+1)/(R+1)
  estimate. Weights make the same test work for BRIGHT's macro average (each task weighs the same
  however many queries it has): flip every query's sign, recompute the weighted mean.
* `bootstrap_ci`: percentile bootstrap of the (macro) mean difference, resampling queries within
  each task.
* `holm`: Holm-Bonferroni adjusted p-values (family = the tasks of one comparison).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

TIE_EPS = 1e-9  # per-query differences this small count as ties (float noise from pytrec_eval)


def paired_t(system: Sequence[float], baseline: Sequence[float]) -> tuple[float, float]:
    """(t, two-sided p). With no variation in the differences the test is undefined; all-zero
    differences give p = 1 (no evidence of any difference), others keep scipy's nan."""
    from scipy import stats

    a, b = np.asarray(system, float), np.asarray(baseline, float)
    if len(a) < 2:
        return math.nan, math.nan
    res = stats.ttest_rel(a, b)
    t, p = float(res.statistic), float(res.pvalue)
    if math.isnan(p) and np.all(a == b):
        return 0.0, 1.0
    return t, p


def _weights(n: int, weights: np.ndarray | None) -> np.ndarray:
    return np.full(n, 1.0 / n) if weights is None else np.asarray(weights, float)


def randomization(diffs: Sequence[float], rounds: int = 10_000, seed: int = 0, weights: np.ndarray | None = None) -> float:
    """Two-sided p of the weighted mean difference under random sign flips."""
    d = np.asarray(diffs, float)
    n = len(d)
    if n == 0:
        return math.nan
    wd = d * _weights(n, weights)
    observed = abs(wd.sum())
    gamma = observed * 100 * np.finfo(float).eps  # same relative tolerance as scipy.stats.permutation_test
    if n <= 30 and 2 ** n <= rounds:
        # Exact: every sign vector once (bits of 0..2^n-1), in chunks to bound memory.
        hits, total = 0, 2 ** n
        for lo in range(0, total, 1 << 16):
            codes = np.arange(lo, min(total, lo + (1 << 16)), dtype=np.int64)[:, None]
            signs = 1 - 2 * ((codes >> np.arange(n)) & 1)
            hits += int(np.count_nonzero(np.abs(signs @ wd) >= observed - gamma))
        return hits / total
    rng = np.random.default_rng(seed)
    hits = 0
    for lo in range(0, rounds, 1000):
        m = min(1000, rounds - lo)
        signs = rng.integers(0, 2, size=(m, n)) * 2 - 1
        hits += int(np.count_nonzero(np.abs(signs @ wd) >= observed - gamma))
    return (hits + 1) / (rounds + 1)


def bootstrap_ci(groups: Sequence[Sequence[float]], rounds: int = 10_000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of the mean over groups of each group's mean difference (one group = a plain mean)."""
    arrays = [np.asarray(g, float) for g in groups if len(g)]
    if not arrays:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    total = np.zeros(rounds)
    for g in arrays:
        for lo in range(0, rounds, 1000):
            m = min(1000, rounds - lo)
            total[lo:lo + m] += g[rng.integers(0, len(g), size=(m, len(g)))].mean(axis=1)
    total /= len(arrays)
    alpha = (1 - level) / 2
    lo_q, hi_q = np.quantile(total, [alpha, 1 - alpha])
    return float(lo_q), float(hi_q)


def macro_weights(sizes: Sequence[int]) -> np.ndarray:
    """Per-query weights whose weighted sum is the mean over groups of the group means."""
    return np.concatenate([np.full(n, 1.0 / (n * len(sizes))) for n in sizes]) if sizes else np.zeros(0)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order; nan counts as 1."""
    p = np.array([1.0 if (v is None or math.isnan(v)) else v for v in pvalues], float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def win_tie_loss(diffs: Sequence[float], eps: float = TIE_EPS) -> tuple[int, int, int]:
    d = np.asarray(diffs, float)
    return int(np.sum(d > eps)), int(np.sum(np.abs(d) <= eps)), int(np.sum(d < -eps))
