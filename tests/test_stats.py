"""The shared statistics helpers: intervals, paired tests, nulls (cases checked by hand or
against SciPy's documented behaviour)."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from cnnpractice import stats


def test_mean_ci_is_the_student_t_interval():
    s = stats.mean_ci([0.8, 0.9, 1.0])
    # mean 0.9, sd 0.1, se 0.1/sqrt(3), t(0.975, 2) = 4.3027
    half = 4.302652729911275 * 0.1 / math.sqrt(3)
    assert s["n"] == 3 and s["mean"] == pytest.approx(0.9)
    assert (s["lo"], s["hi"]) == pytest.approx((0.9 - half, 0.9 + half))


@pytest.mark.parametrize(
    ("values", "lo", "hi", "n"),
    [([0.7], math.nan, math.nan, 1), ([0.5, 0.5, 0.5], 0.5, 0.5, 3)],
)
def test_mean_ci_degenerate_cases(values, lo, hi, n):
    s = stats.mean_ci(values)
    assert s["n"] == n
    np.testing.assert_equal([s["lo"], s["hi"]], [lo, hi])


@pytest.mark.parametrize("bad", [[], [1.0, math.nan]])
def test_mean_ci_refuses_empty_or_nan(bad):
    with pytest.raises(ValueError):
        stats.mean_ci(bad)


def test_t_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(2000):
        s = stats.mean_ci(rng.normal(1.0, 2.0, size=5))
        covered += s["lo"] <= 1.0 <= s["hi"]
    assert 0.93 < covered / 2000 < 0.97


def test_bootstrap_median_interval_contains_the_median_and_is_seeded():
    x = np.random.default_rng(1).exponential(size=200)
    a = stats.bootstrap_ci(x, np.median, seed=3)
    b = stats.bootstrap_ci(x, np.median, seed=3)
    assert a == b and a["lo"] < np.median(x) < a["hi"] and a["n"] == 200
    q = stats.quantile_ci(x, 0.68)
    assert q["value"] == pytest.approx(np.quantile(x, 0.68)) and q["lo"] < q["value"] < q["hi"]


def test_proportion_and_chance():
    s = stats.chance_accuracy([0, 0, 0, 1])
    assert s["mean"] == 0.75 and s["n"] == 4 and s["lo"] < 0.75 < s["hi"]
    ref = sps.binomtest(3, 4).proportion_ci(method="wilson")
    assert (s["lo"], s["hi"]) == pytest.approx((ref.low, ref.high))
    with pytest.raises(ValueError):
        stats.proportion_ci(5, 4)


def test_paired_comparison_matches_scipy_and_sign():
    a = np.array([0.81, 0.85, 0.79, 0.88, 0.84])
    b = np.array([0.78, 0.80, 0.80, 0.83, 0.79])
    p = stats.paired(a, b)
    d = a - b
    assert p["diff"] == pytest.approx(d.mean()) and p["n"] == 5
    assert p["d_z"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert p["p_t"] == pytest.approx(sps.ttest_rel(a, b).pvalue)
    assert p["lo"] < p["diff"] < p["hi"]
    assert stats.paired(b, a)["diff"] == pytest.approx(-p["diff"])
    with pytest.raises(ValueError, match="equal lengths"):
        stats.paired([1, 2], [1])


def test_paired_identical_methods_have_no_difference():
    p = stats.paired([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert p["diff"] == 0 and p["p_t"] == 1.0 and math.isnan(p["p_wilcoxon"])


def test_empirical_p_never_zero_and_directional():
    null = np.arange(99, dtype=float)
    assert stats.empirical_p(1000, null) == pytest.approx(1 / 100)
    assert stats.empirical_p(-5, null) == pytest.approx(1.0)
    assert stats.empirical_p(-5, null, "less") == pytest.approx(1 / 100)
    assert stats.percentile_of(50, null) == pytest.approx(50 / 99 * 100)


def test_empirical_p_is_uniform_under_the_null():
    rng = np.random.default_rng(2)
    ps = [stats.empirical_p(rng.normal(), rng.normal(size=199)) for _ in range(1000)]
    assert sps.kstest(ps, "uniform").pvalue > 0.01
    assert np.mean(np.array(ps) <= 0.05) == pytest.approx(0.05, abs=0.02)


def _distances(points):
    return np.abs(points[:, None] - points[None, :])


def test_mantel_finds_related_matrices_and_not_unrelated_ones():
    rng = np.random.default_rng(4)
    x = rng.normal(size=15)
    related = stats.mantel(_distances(x), _distances(x + 0.1 * rng.normal(size=15)), permutations=499)
    unrelated = stats.mantel(_distances(x), _distances(rng.normal(size=15)), permutations=499)
    assert related["r"] > 0.8 and related["p"] <= 0.01
    assert unrelated["p"] > 0.05
    with pytest.raises(ValueError, match="square"):
        stats.mantel(np.zeros((3, 3)), np.zeros((4, 4)))


def test_mantel_ranks_once_and_matches_spearman_on_each_relabelled_matrix():
    # the fast path ranks b's upper triangle once; it must give what spearmanr gives on
    # every relabelled matrix, ties included (b rounded to one decimal)
    from scipy import stats as sps

    rng = np.random.default_rng(5)
    x = rng.normal(size=(30, 2))
    a = np.linalg.norm(x[:, None] - x[None], axis=2)
    b = np.round(np.linalg.norm(x[:, None] - x[None] + rng.normal(size=(30, 30, 2)), axis=2), 1)
    b = np.triu(b, 1) + np.triu(b, 1).T
    iu = np.triu_indices(30, k=1)
    slow = sps.permutation_test(
        (np.arange(30),),
        lambda p: sps.spearmanr(a[iu], b[np.ix_(p, p)][iu])[0],
        permutation_type="pairings",
        n_resamples=199,
        alternative="greater",
        rng=np.random.default_rng(7),
    )
    fast = stats.mantel(a, b, permutations=199, seed=7)
    assert fast["r"] == pytest.approx(slow.statistic, abs=1e-12)
    assert fast["p"] == pytest.approx(slow.pvalue, abs=1e-12)
    with pytest.raises(ValueError, match="spearman"):
        stats.mantel(a, b, method="kendall")


def test_fdr_is_benjamini_hochberg():
    p = np.array([0.01, 0.04, 0.03, 0.2])
    # BH by hand: sorted 0.01,0.03,0.04,0.2 -> 0.04,0.0533,0.0533,0.2
    np.testing.assert_allclose(stats.fdr(p), [0.04, 0.05333333, 0.05333333, 0.2])


def test_cells_and_columns():
    assert stats.cell(stats.mean_ci([1.0, 1.0])) == "1.000 [1.000, 1.000] n=2"
    assert stats.cell(stats.mean_ci([0.5])) == "0.500 (n=1, no interval)"
    assert stats.cell(None) == "–"
    flat = stats.flatten("acc", stats.mean_ci([0.5]))
    assert flat == {"acc": 0.5, "acc_ci_low": None, "acc_ci_high": None, "acc_n": 1}
    assert stats.columns("acc") == ("acc", "acc_ci_low", "acc_ci_high", "acc_n")
