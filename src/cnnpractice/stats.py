"""How sure a number is: intervals, paired comparisons, chance levels and permutation nulls.

Every number of ours in a results table goes through this module, so every table reports
it the same way: the estimate, its 95 % interval and ``n`` (seeds, folds or events). The
statistics come from SciPy; this module only chooses and packages them.

* :func:`mean_ci` -- mean over seeds or folds with a Student-t interval (n >= 2; with
  n = 1 the interval is NaN and the cell says ``n=1``).
* :func:`bootstrap_ci` -- any statistic (median, a quantile, ...) of a sample with a
  ``scipy.stats.bootstrap`` BCa/percentile interval.
* :func:`proportion_ci` -- a proportion (accuracy on one test split) with its Wilson interval.
* :func:`paired` -- the paired comparison of two methods over the same seeds/folds:
  mean difference with its t interval, Cohen's d_z, paired t-test and Wilcoxon p-values.
* :func:`chance_accuracy` -- the majority-class accuracy of a test split.
* :func:`empirical_p` -- the p-value of an observed statistic against null draws
  (the +1 correction of Phipson & Smyth 2010, so p is never 0).
* :func:`mantel` -- Mantel permutation test between two distance matrices
  (``scipy.stats.permutation_test`` over object relabelings).
* :func:`fdr` -- Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``).
* :func:`cell` / :func:`columns` -- how a summary is written in Markdown and CSV.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

CONFIDENCE = 0.95


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"non-finite values in a sample to summarise: {arr[~np.isfinite(arr)][:5].tolist()}")
    return arr


def mean_ci(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> dict[str, float]:
    """Mean of ``values`` (one per seed or fold) with its Student-t confidence interval.

    Returns ``{"mean", "lo", "hi", "sd", "n"}``; ``sd`` has ddof=1. With one value the
    interval and ``sd`` are NaN: one run says nothing about its own spread. With zero
    spread the interval collapses onto the mean.

    Examples
    --------
    >>> s = mean_ci([0.8, 0.9, 1.0])
    >>> round(s["mean"], 3), s["n"], round(s["lo"], 3), round(s["hi"], 3)
    (0.9, 3, 0.652, 1.148)
    """
    from scipy import stats

    arr = _finite(values)
    n = len(arr)
    if n == 0:
        raise ValueError("mean_ci of an empty sample")
    mean = float(arr.mean())
    if n == 1:
        return {"mean": mean, "lo": math.nan, "hi": math.nan, "sd": math.nan, "n": 1}
    sd = float(arr.std(ddof=1))
    if sd == 0.0:
        return {"mean": mean, "lo": mean, "hi": mean, "sd": 0.0, "n": n}
    lo, hi = stats.t.interval(confidence, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return {"mean": mean, "lo": float(lo), "hi": float(hi), "sd": sd, "n": n}


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.median,
    confidence: float = CONFIDENCE,
    n_resamples: int = 2000,
    seed: int = 0,
    method: str = "percentile",
) -> dict[str, float]:
    """``statistic`` of ``values`` with a bootstrap interval (``scipy.stats.bootstrap``).

    Returns ``{"value", "lo", "hi", "n"}``. ``statistic`` takes a 1D array (and an
    ``axis`` keyword, as NumPy reductions do; it is vectorised over resamples). With fewer
    than 2 values, or all values equal, the interval is degenerate (NaN or the value).
    """
    from scipy import stats

    arr = _finite(values)
    n = len(arr)
    if n == 0:
        raise ValueError("bootstrap_ci of an empty sample")
    value = float(statistic(arr))
    if n < 2:
        return {"value": value, "lo": math.nan, "hi": math.nan, "n": n}
    if np.ptp(arr) == 0:
        return {"value": value, "lo": value, "hi": value, "n": n}
    res = stats.bootstrap(
        (arr,),
        statistic,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method=method,
        rng=np.random.default_rng(seed),
        vectorized=True,
    )
    return {"value": value, "lo": float(res.confidence_interval.low), "hi": float(res.confidence_interval.high), "n": n}


def quantile_ci(
    values: Sequence[float] | np.ndarray, q: float, confidence: float = CONFIDENCE, seed: int = 0
) -> dict[str, float]:
    """The ``q`` quantile of ``values`` with a bootstrap percentile interval."""
    return bootstrap_ci(values, lambda x, axis=-1: np.quantile(x, q, axis=axis), confidence, seed=seed)


def proportion_ci(successes: int, n: int, confidence: float = CONFIDENCE) -> dict[str, float]:
    """A proportion (e.g. accuracy on one test split of ``n`` items) with its Wilson interval
    (``scipy.stats.binomtest(...).proportion_ci``)."""
    from scipy import stats

    if n <= 0:
        raise ValueError(f"proportion_ci needs n > 0, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"proportion_ci: successes {successes} outside [0, {n}]")
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return {"mean": successes / n, "lo": float(ci.low), "hi": float(ci.high), "sd": math.nan, "n": int(n)}


def chance_accuracy(y_true: Sequence[int] | np.ndarray) -> dict[str, Any]:
    """Accuracy of always predicting the majority class of this test split, with the Wilson
    interval of that proportion: the floor every classification table shows."""
    y = np.asarray(y_true).ravel()
    if y.size == 0:
        raise ValueError("chance_accuracy of an empty test split")
    _, counts = np.unique(y, return_counts=True)
    return proportion_ci(int(counts.max()), int(y.size))


def paired(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE
) -> dict[str, float]:
    """Compare method ``a`` with method ``b`` run on the same seeds/folds (``a[i]`` and
    ``b[i]`` share seed/fold ``i``).

    Returns ``diff`` (mean of a - b) with its t interval ``lo``/``hi``, ``n``, Cohen's
    ``d_z`` (mean difference / sd of differences), the paired t-test ``p_t``
    (``scipy.stats.ttest_rel``) and the Wilcoxon signed-rank ``p_wilcoxon``
    (``scipy.stats.wilcoxon``; NaN when every difference is 0). With n < 2 everything but
    ``diff`` is NaN.
    """
    from scipy import stats

    a, b = _finite(a), _finite(b)
    if len(a) != len(b):
        raise ValueError(f"paired comparison needs equal lengths, got {len(a)} and {len(b)}")
    d = a - b
    summary = mean_ci(d, confidence)
    out = {"diff": summary["mean"], "lo": summary["lo"], "hi": summary["hi"], "n": summary["n"]}
    if len(d) < 2:
        return out | {"d_z": math.nan, "p_t": math.nan, "p_wilcoxon": math.nan}
    sd = summary["sd"]
    if sd == 0:
        p_t = 1.0 if summary["mean"] == 0 else 0.0
        d_z = 0.0 if summary["mean"] == 0 else math.copysign(math.inf, summary["mean"])
    else:
        p_t = float(stats.ttest_rel(a, b).pvalue)
        d_z = summary["mean"] / sd
    p_w = math.nan if np.all(d == 0) else float(stats.wilcoxon(a, b, zero_method="zsplit").pvalue)
    return out | {"d_z": float(d_z), "p_t": p_t, "p_wilcoxon": p_w}


def empirical_p(observed: float, null: Sequence[float] | np.ndarray, alternative: str = "greater") -> float:
    """p-value of ``observed`` against ``null`` draws: (1 + #{null as or more extreme}) /
    (1 + n_null). ``alternative``: ``greater`` (large is extreme), ``less``, ``two-sided``
    (|null - median| >= |observed - median|)."""
    null = _finite(null)
    if null.size == 0:
        raise ValueError("empirical_p needs at least one null draw")
    if alternative == "greater":
        hits = np.count_nonzero(null >= observed)
    elif alternative == "less":
        hits = np.count_nonzero(null <= observed)
    elif alternative == "two-sided":
        centre = np.median(null)
        hits = np.count_nonzero(np.abs(null - centre) >= abs(observed - centre))
    else:
        raise ValueError(f"alternative must be greater, less or two-sided, got {alternative!r}")
    return float((1 + hits) / (1 + null.size))


def percentile_of(observed: float, null: Sequence[float] | np.ndarray) -> float:
    """Percentage of null draws strictly below ``observed`` (``scipy.stats.percentileofscore``)."""
    from scipy import stats

    return float(stats.percentileofscore(_finite(null), observed, kind="strict"))


def mantel(
    a: np.ndarray,
    b: np.ndarray,
    permutations: int = 999,
    seed: int = 0,
    method: str = "spearman",
    alternative: str = "greater",
) -> dict[str, float]:
    """Mantel test: correlation of the upper triangles of two square distance matrices
    over the same objects, with a p-value from relabelling the objects of ``b``
    (``scipy.stats.permutation_test``, ``permutation_type="pairings"`` on the object
    indices). The class pairs are not independent, so the usual correlation p-value is not
    valid; this one is.

    Returns ``{"r", "p", "n_objects", "permutations"}``.
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"mantel needs two square matrices of one shape, got {a.shape} and {b.shape}")
    n = a.shape[0]
    if n < 3:
        raise ValueError(f"mantel needs at least 3 objects, got {n}")
    if method not in ("spearman", "pearson"):
        raise ValueError(f"mantel method must be 'spearman' or 'pearson', got {method!r}")
    iu = np.triu_indices(n, k=1)
    ua, ub = a[iu], b[iu]
    if method == "spearman" and np.array_equal(b, b.T):
        # relabelling the objects of a symmetric b only reorders the values of its upper
        # triangle, so their (average) ranks are computed once and reordered with them:
        # Spearman's r is Pearson's r of the ranks (as scipy.stats.spearmanr computes it)
        ua = stats.rankdata(ua)
        ranks = np.zeros((n, n))
        ranks[iu] = stats.rankdata(ub)
        b = ranks + ranks.T
        corr = stats.pearsonr
    else:
        corr = {"spearman": stats.spearmanr, "pearson": stats.pearsonr}[method]

    def statistic(order):
        perm = np.asarray(order, dtype=int)
        return corr(ua, b[perm[iu[0]], perm[iu[1]]])[0]  # the upper triangle of b relabelled

    res = stats.permutation_test(
        (np.arange(n),),
        statistic,
        permutation_type="pairings",
        n_resamples=permutations,
        alternative=alternative,
        rng=np.random.default_rng(seed),
    )
    return {"r": float(res.statistic), "p": float(res.pvalue), "n_objects": n, "permutations": int(permutations)}


def fdr(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``)."""
    from scipy import stats

    p = np.asarray(pvalues, dtype=float)
    if p.size == 0:
        return p
    return stats.false_discovery_control(p, method="bh")


def cell(summary: dict[str, float] | None, digits: int = 3, key: str = "mean") -> str:
    """Markdown text of a summary: ``0.812 [0.790, 0.834] n=5``; ``0.9 (n=1, no interval)``
    for a single run; an en dash for none."""
    if summary is None:
        return "–"
    value = summary.get(key, summary.get("value", summary.get("diff")))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    n = summary.get("n")
    lo, hi = summary.get("lo"), summary.get("hi")
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return f"{value:.{digits}f} (n={n}, no interval)"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}] n={n}"


def columns(prefix: str) -> tuple[str, str, str, str]:
    """CSV column names of one summarised number: value, interval ends and n."""
    return (prefix, f"{prefix}_ci_low", f"{prefix}_ci_high", f"{prefix}_n")


def flatten(prefix: str, summary: dict[str, float] | None, key: str = "mean") -> dict[str, Any]:
    """A summary as the CSV cells of :func:`columns` (``None`` for a missing summary)."""
    name, lo, hi, n = columns(prefix)
    if summary is None:
        return {name: None, lo: None, hi: None, n: None}
    value = summary.get(key, summary.get("value", summary.get("diff")))
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in summary.items()}
    return {name: value, lo: clean.get("lo"), hi: clean.get("hi"), n: summary.get("n")}
