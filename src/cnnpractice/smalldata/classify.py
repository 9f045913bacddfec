"""Traditional classifiers on feature matrices: C chosen by cross-validation on the training set.

Used by the small-datasets study to score engineered features (HOG, HGD,
HCFeats) and CNN activations the same way: standardise, fit a linear SVM or a
logistic regression, pick ``C`` by stratified k-fold CV on the training split
only, refit on the whole training split, score once on the test split.
"""

from __future__ import annotations

import numbers
import time
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline

__all__ = ["CLASSIFIERS", "evaluate_features"]

CLASSIFIERS = ("svm", "logreg")


class CountingPipeline(Pipeline):
    """A ``Pipeline`` whose ``fit`` counts ConvergenceWarnings in ``convergence_warnings_`` instead of
    emitting them (other warnings pass through); the count travels back from joblib workers
    through the :func:`_warning_count` scorer."""

    def fit(self, X, y=None, **params):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            super().fit(X, y, **params)
        self.convergence_warnings_ = 0
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                self.convergence_warnings_ += 1
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return self


def _warning_count(estimator, X, y) -> int:
    """A GridSearchCV 'scorer' that reports the fold's ConvergenceWarning count."""
    return estimator.convergence_warnings_


def _pipeline(name: str, C: float, max_iter: int, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    if name == "svm":
        clf = LinearSVC(dual="auto", C=C, max_iter=max_iter, random_state=seed)
    else:
        clf = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    return CountingPipeline([("scale", StandardScaler()), ("clf", clf)])


def _check_inputs(x_train, y_train, x_test, y_test):
    x_train, x_test = np.asarray(x_train), np.asarray(x_test)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise ValueError(f"x_{name} must be (n, d) and y_{name} (n,) with n >= 1; got {x.shape} and {y.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"x_{name} holds NaN or infinite values")
    if x_train.shape[1] != x_test.shape[1]:
        raise ValueError(f"x_train has {x_train.shape[1]} features but x_test has {x_test.shape[1]}")
    if len(np.unique(y_train)) < 2:
        raise ValueError("y_train must hold at least two classes")
    return x_train, y_train, x_test, y_test


def _check_options(classifiers, cv_folds, c_grid, max_iter) -> None:
    if isinstance(classifiers, str) or len(classifiers) == 0:
        raise ValueError(f"classifiers must be a non-empty list drawn from {list(CLASSIFIERS)}, got {classifiers!r}")
    unknown = [c for c in classifiers if c not in CLASSIFIERS]
    if unknown:
        raise ValueError(f"unknown classifier(s) {unknown}; accepted: {list(CLASSIFIERS)}")
    for name, value in (("cv_folds", cv_folds), ("max_iter", max_iter)):
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Integral)
            or value < (2 if name == "cv_folds" else 1)
        ):
            raise ValueError(f"{name} must be an integer >= {2 if name == 'cv_folds' else 1}, got {value!r}")
    if len(c_grid) == 0 or not all(isinstance(c, numbers.Real) and np.isfinite(c) and c > 0 for c in c_grid):
        raise ValueError(f"c_grid must be a non-empty list of positive numbers, got {c_grid!r}")


def _auc_interval(positive: np.ndarray, score: np.ndarray, seed: int) -> tuple[float | None, float | None]:
    """95 % percentile bootstrap interval of the test ROC AUC (``scipy.stats.bootstrap``,
    test examples resampled with their scores)."""
    from scipy import stats
    from sklearn.metrics import roc_auc_score

    try:
        res = stats.bootstrap(
            (positive, score),
            lambda y, s: roc_auc_score(y, s),
            paired=True,
            vectorized=False,
            n_resamples=1000,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    except ValueError:  # a resample with one class only (tiny test splits)
        return None, None
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def evaluate_features(
    x_train,
    y_train,
    x_test,
    y_test,
    *,
    classifiers: Sequence[str] = ("svm", "logreg"),
    cv_folds: int = 3,
    seed: int = 0,
    c_grid: Sequence[float] = (0.01, 0.1, 1.0, 10.0),
    max_iter: int = 5000,
    n_jobs: int | None = 1,
) -> list[dict]:
    """Test scores of linear classifiers on features, ``C`` picked by CV on the training split.

    Per classifier, the model is ``Pipeline(StandardScaler, clf)`` with ``clf``
    ``LinearSVC(dual="auto")`` (``"svm"``) or ``LogisticRegression`` (lbfgs,
    ``"logreg"``). ``C`` is chosen from ``c_grid`` by ``GridSearchCV`` (accuracy)
    with ``StratifiedKFold(k, shuffle=True, random_state=seed)`` on the training
    data only; ties go to the first ``C`` in ``c_grid``. The best model is refit
    on the whole training split and scored on the test split.

    ``k`` is ``cv_folds``, lowered to the size of the smallest training class
    when that is smaller (``note`` says so). With a class of a single example
    no stratified CV is possible: the middle value of the sorted grid is used
    without CV (``cv_folds`` 0, ``cv_accuracy`` None, and a ``note``).

    Zero-variance features are harmless (the scaler leaves them at 0). The
    result is deterministic for a given ``seed`` (and ``n_jobs``-independent).
    ConvergenceWarnings are not emitted but counted over all fits (CV folds and
    the refit) in ``convergence_warnings``.

    Parameters
    ----------
    x_train, x_test : array, shape (n_train, d), (n_test, d)
    y_train, y_test : array, shape (n_train,), (n_test,)
        Labels of any sortable type; test labels unseen in training count as errors.
    classifiers : sequence of {"svm", "logreg"}
    cv_folds : int >= 2
    seed : int
        Seeds the fold split and the classifiers.
    c_grid : sequence of float > 0
    max_iter : int >= 1
        Solver iteration limit of both classifiers.
    n_jobs : int or None
        Parallel CV fits (``GridSearchCV(n_jobs=...)``).

    Returns
    -------
    list of dict, one per classifier, in the order given, with keys
        ``classifier``, ``accuracy`` (test), ``auc`` (test ROC AUC from
        ``decision_function`` for two-class problems whose test split holds
        both classes, else None; ``auc_lo``/``auc_hi`` its bootstrap 95 % interval),
        ``best_C``, ``cv_accuracy`` (mean CV accuracy of ``best_C``), ``cv_scores``
        (its accuracy on each fold), ``cv_folds`` (folds used), ``n_train``, ``n_test``,
        ``n_features``, ``n_classes`` (in training), ``fit_seconds`` (CV and
        refit), ``convergence_warnings`` and ``note`` (None or a sentence).
    """
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    _check_options(classifiers, cv_folds, c_grid, max_iter)
    x_train, y_train, x_test, y_test = _check_inputs(x_train, y_train, x_test, y_test)
    classes, counts = np.unique(y_train, return_counts=True)
    smallest = int(counts.min())
    folds = min(int(cv_folds), smallest)
    note = None
    if smallest < 2:
        folds = 0
        note = (
            f"the smallest training class has {smallest} example: no cross-validation, "
            f"C fixed to the middle of the grid"
        )
    elif folds < cv_folds:
        note = f"cv_folds reduced from {cv_folds} to {folds}: the smallest training class has {smallest} examples"

    results = []
    for name in classifiers:
        start = time.perf_counter()
        if folds:
            search = GridSearchCV(
                _pipeline(name, 1.0, max_iter, seed),
                {"clf__C": [float(c) for c in c_grid]},
                scoring={"accuracy": "accuracy", "warnings": _warning_count},
                refit="accuracy",
                cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                n_jobs=n_jobs,
            ).fit(x_train, y_train)
            model, best_c = search.best_estimator_, float(search.best_params_["clf__C"])
            cv_accuracy = float(search.best_score_)
            cv_scores = [float(search.cv_results_[f"split{k}_test_accuracy"][search.best_index_]) for k in range(folds)]
            n_warnings = int(sum(search.cv_results_[f"split{k}_test_warnings"].sum() for k in range(folds)))
        else:
            best_c = float(sorted(c_grid)[len(c_grid) // 2])
            model, cv_accuracy, n_warnings = _pipeline(name, best_c, max_iter, seed).fit(x_train, y_train), None, 0
            cv_scores = []
        n_warnings += model.convergence_warnings_
        fit_seconds = time.perf_counter() - start

        auc = auc_lo = auc_hi = None
        if len(classes) == 2 and len(np.unique(y_test)) == 2 and set(np.unique(y_test)) <= set(classes):
            score = (
                model.decision_function(x_test)
                if hasattr(model, "decision_function")
                else model.predict_proba(x_test)[:, 1]
            )
            auc = float(roc_auc_score(y_test == model.classes_[1], score))
            auc_lo, auc_hi = _auc_interval(y_test == model.classes_[1], score, seed)
        results.append(
            {
                "classifier": name,
                "accuracy": float(accuracy_score(y_test, model.predict(x_test))),
                "auc": auc,
                "auc_lo": auc_lo,
                "auc_hi": auc_hi,
                "best_C": best_c,
                "cv_accuracy": cv_accuracy,
                "cv_folds": folds,
                "cv_scores": cv_scores,
                "n_train": int(len(y_train)),
                "n_test": int(len(y_test)),
                "n_features": int(x_train.shape[1]),
                "n_classes": int(len(classes)),
                "fit_seconds": float(fit_seconds),
                "convergence_warnings": int(n_warnings),
                "note": note,
            }
        )
    return results
