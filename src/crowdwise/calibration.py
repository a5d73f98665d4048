"""Calibration of an AI's confidence scores: temperature and vector scaling (Guo et al. 2017).

An AI that votes with a confidence score (Pl@ntNet's: its top-1 species and that
species' probability, the per-vote column ``ai_score``) is *calibrated* when, among the
votes it gives with score ``s``, a share ``s`` is right. Deep networks are usually
over-confident; the confident-AI variant of the Pl@ntNet aggregation
(``PlantNet-AIconfident``, Lefort's thesis §4.4.4 and §5.3.3) trusts an AI vote when its
score exceeds ``theta_score``, so the threshold means what it says only on calibrated
scores. This module fits a calibration map on tasks whose label is trusted and rewrites
the scores.

=================================  ============================================================
:class:`TemperatureScaling`        one temperature ``T`` for every class (``fit``/``transform``)
:class:`VectorScaling`             a temperature and a bias per class
:func:`expected_calibration_error` ECE with equal-width bins (15 by default)
:func:`reliability`                the per-bin data of a reliability diagram (ECE included)
:func:`calibrate_ai`               the whole job on :class:`~crowdwise.Votes`: trusted labels,
                                   fit, calibrated ``ai_score`` column, figures of merit
:func:`trusted_labels`             the labels a strategy validates on the human votes
:func:`reliability_diagram`        reliability diagrams before / after (matplotlib)
:func:`simulate_ai`                an AI whose over-confidence is known (tests, examples)
:func:`add_ai_votes`               a crowd's votes plus such an AI's
=================================  ============================================================

Two kinds of scores
-------------------
**Full score vectors** ``(n, K)`` (a softmax output, or logits with ``space="logit"``):
the logits are ``z_i = log p_i`` (or the logits given) and temperature scaling is Guo et
al.'s ``q_i = softmax(z_i / T)``; vector scaling is ``q_i = softmax(a * z_i + b)`` with
one scale ``a_k = 1 / T_k`` and one bias ``b_k`` per class.

**Top-1 scores** ``(n,)``, the AI's probability ``p_i`` of the class ``y^_i`` it
predicted, all Pl@ntNet's AI gives. They are read as the logit vector implied by ``p_i``
on the predicted class and ``(1 - p_i) / (K - 1)`` on each of the ``K - 1`` others,
whose *margin* is

    m_i = log p_i - log((1 - p_i) / (K - 1)).

Temperature scaling of that vector gives the calibrated top-1 probability

    p'_i = softmax(z_i / T)[y^_i] = 1 / (1 + (K - 1) exp(-m_i / T)) = sigmoid(m_i / T - log(K - 1)),

(``T = 1`` gives back ``p_i``; ``T > 1`` lowers every score above ``1 / K``), the others
sharing ``1 - p'_i``. Vector scaling on top-1 scores gives each *predicted* class ``k``
its own scale and bias on the margin, ``p'_i = sigmoid(a_k m_i + b_k - log(K - 1))`` with
``k = y^_i`` (the non-predicted classes share one logit, so the parameters of the class
predicted are the only ones the data can tell). Scores are clipped to
``[1e-7, 1 - 1e-7]`` first: a score of exactly 1 would be a margin of infinity that no
temperature could lower.

Fitting
-------
Both minimise the mean negative log-likelihood of the trusted labels ``y_i``,
``NLL = -1/n sum_i log q_i[y_i]`` (for top-1 scores ``q_i[y_i]`` is ``p'_i`` when the
AI was right and ``(1 - p'_i) / (K - 1)`` otherwise; up to the constant
``log(K - 1)`` on the wrong ones this is the binary cross-entropy of "the AI was right"
against ``p'_i``). The temperature is a 1-D bounded search (Brent's method of
:func:`scipy.optimize.minimize_scalar` on ``log T`` within ``bounds``). Vector scaling
adds an L2 penalty ``reg / 2 * sum_k ((a_k - 1 / T)^2 + b_k^2)`` (the NLL summed over
the samples, ``T`` the pooled temperature) that keeps a class with few trusted votes near
the pooled temperature, and one with none at it, and keeps every scale ``a_k`` positive.
On score vectors it runs L-BFGS-B (:func:`scipy.optimize.minimize`, analytic gradient,
variables whitened per class). On top-1 scores the problem separates into one
2-parameter logistic fit per predicted class, solved all at once by Newton's method with a
per-class backtracking step: on 5M scores of 11,425 classes it converges in 11
iterations (7.6 s), where L-BFGS-B needed 249 (4 min). Every step is a few vectorised
passes over the scores.

References
----------
.. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger. "On calibration of modern neural
   networks". ICML 2017 (temperature and vector scaling, ECE, reliability diagrams).
.. [2] T. Lefort, PhD thesis, §4.4.4 and §5.3.3: the AI vote of the Pl@ntNet aggregation
   and its score threshold ``theta_score``.
.. [3] T. Lefort et al., "Cooperative learning of Pl@ntNet's Artificial Intelligence
   algorithm: how does it work and how can we improve it?", 2024 (arXiv:2406.03356).

Examples
--------
An AI whose scores are over-confident by a factor 2 on the margin: the fitted temperature
finds it, and the ECE drops.

>>> import numpy as np
>>> truth = np.random.default_rng(0).integers(0, 10, size=20_000)
>>> label, score = simulate_ai(truth, 10, temperature=2.0, random_state=0)
>>> ts = TemperatureScaling().fit(score, truth, predicted=label, n_classes=10)
>>> round(ts.temperature_, 1)
2.0
>>> ece_raw = expected_calibration_error(score, truth, predicted=label)
>>> ece_cal = expected_calibration_error(ts.transform(score), truth, predicted=label)
>>> bool(ece_raw > 0.1 > 0.02 > ece_cal)
True
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConvergenceWarning, InputError
from .learn.metrics import DEFAULT_N_BINS, ReliabilityData, reliability_data
from .votes import Votes

__all__ = ["TemperatureScaling", "VectorScaling", "expected_calibration_error", "reliability",
           "calibrate_ai", "trusted_labels", "ai_votes", "CalibrationResult", "reliability_diagram",
           "simulate_ai", "add_ai_votes", "DEFAULT_N_BINS", "EPS", "METHODS"]

#: scores are clipped to ``[EPS, 1 - EPS]`` before their logits are taken (a float32 softmax,
#: the usual output of a network, cannot tell apart 1 - p below ~6e-8 anyway)
EPS = 1e-7
#: names of the calibration maps (``method=`` of :func:`calibrate_ai`)
METHODS = ("temperature", "vector")


# --------------------------------------------------------------------------- validation
def _float_array(x: Any, what: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers", fix=f"pass {what} as a NumPy array of floats") from None
    return a


def _int_array(x: Any, what: str, n: int) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1 or a.shape[0] != n:
        raise InputError(f"{what} has shape {a.shape}, expected ({n},): one entry per row of the scores",
                         fix=f"pass one {what} class index per score")
    if a.dtype.kind == "f" and np.all(np.isfinite(a) & (a == np.round(a))):
        a = a.astype(np.int64)
    if a.size and a.dtype.kind not in "iu":
        raise InputError(f"{what} must hold class indices (integers), got dtype {a.dtype}",
                         fix="map the classes to indices 0..K-1 (-1: unknown)")
    return a.astype(np.int64, copy=False)


def _check_scores(scores: Any, space: str, n_classes: int | None) -> tuple[np.ndarray, int]:
    """The scores as float64 (1-D top-1 or 2-D vectors) and K; clear errors otherwise."""
    s = _float_array(scores, "scores")
    if s.ndim not in (1, 2):
        raise InputError(f"scores must be top-1 scores (n,) or score vectors (n, K), got shape {s.shape}",
                         fix="pass one score per vote, or one row of K scores per vote")
    if s.ndim == 2:
        if n_classes is not None and int(n_classes) != s.shape[1]:
            raise InputError(f"the score vectors have {s.shape[1]} columns but n_classes={n_classes}",
                             fix="give one column per class, or leave n_classes out")
        k = s.shape[1]
    else:
        if space != "proba":
            raise InputError("top-1 scores (a 1-D array) must be probabilities (space='proba')",
                             fix="pass the full logit vectors (n, K) with space='logit', or top-1 probabilities")
        if n_classes is None:
            raise InputError("top-1 scores need n_classes, the number K of classes the AI chooses from",
                             fix="pass n_classes=K (e.g. votes.n_classes)")
        k = int(n_classes)
    if k < 2:
        raise InputError(f"calibration needs at least 2 classes, got {k}", fix="check n_classes")
    bad = ~np.isfinite(s)
    if space == "proba":
        bad |= (s < 0) | (s > 1)
    if bad.any():
        i = int(np.flatnonzero(bad.reshape(len(s), -1).any(axis=1))[0])
        what = "a probability in [0, 1]" if space == "proba" else "finite"
        raise InputError(f"score {s.reshape(len(s), -1)[i].tolist()} is not {what}", position=f"row {i}",
                         fix="give the AI's probabilities in [0, 1] (or logits with space='logit')")
    return s, k


def _check_labels(labels: Any, n: int, k: int, what: str = "labels") -> np.ndarray:
    y = _int_array(labels, what, n)
    bad = (y < -1) | (y >= k)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{what}[{i}] = {y[i]} is not a class index of {k} classes",
                         fix="use class indices 0..K-1, -1 for unknown")
    return y


def _margin(p: np.ndarray, k: int) -> np.ndarray:
    """``m = log p - log((1 - p) / (K - 1))`` of top-1 probabilities, clipped to [EPS, 1 - EPS]."""
    p = np.clip(p, EPS, 1.0 - EPS)
    return np.log(p) - np.log1p(-p) + math.log(k - 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(x)


def _logits(s: np.ndarray, space: str) -> np.ndarray:
    return np.log(np.clip(s, EPS, None)) if space == "proba" else s


def _lse(z: np.ndarray) -> np.ndarray:
    from scipy.special import logsumexp

    return logsumexp(z, axis=1)


def _softmax(z: np.ndarray) -> np.ndarray:
    from scipy.special import softmax

    return softmax(z, axis=1)


def _bce(s: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``-log sigmoid(s)`` when ``c`` else ``-log(1 - sigmoid(s))``, stably."""
    return np.logaddexp(0.0, s) - c * s


# --------------------------------------------------------------------------- the estimators
class _Scaling:
    """What the two maps share: validation, the NLL before and after, ``fit_transform``."""

    space: str

    def _prepare(self, scores: Any, labels: Any, predicted: Any, n_classes: int | None) -> dict[str, Any]:
        if self.space not in ("proba", "logit"):
            raise InputError(f"space={self.space!r} is not 'proba' or 'logit'",
                             fix="space='proba' for probabilities (softmax outputs), 'logit' for raw logits")
        s, k = _check_scores(scores, self.space, n_classes)
        y = _check_labels(labels, s.shape[0], k)
        keep = y >= 0
        d: dict[str, Any] = {"k": k, "top1": s.ndim == 1}
        if s.ndim == 1:
            if predicted is None:
                raise InputError("top-1 scores need predicted=, the class each score is the probability of",
                                 fix="pass predicted= (the AI's voted class of each score)")
            pred = _check_labels(predicted, s.shape[0], k, "predicted")
            if (pred < 0).any():
                i = int(np.argmax(pred < 0))
                raise InputError(f"predicted[{i}] = -1: every top-1 score needs the class it is for",
                                 fix="drop the scores without a predicted class")
            d.update(m=_margin(s[keep], k), c=(pred[keep] == y[keep]).astype(np.float64), pred=pred[keep])
        else:
            if predicted is not None:
                raise InputError("predicted= goes with top-1 scores only; score vectors say it themselves",
                                 fix="leave predicted out for (n, K) scores")
            d.update(z=_logits(s[keep], self.space), y=y[keep])
        d["n"] = int(keep.sum())
        if d["n"] == 0:
            raise InputError("no sample with a known label to fit the calibration on",
                             fix="give the true class of some of the scores (-1 means unknown)")
        return d

    def _transform_input(self, scores: Any, predicted: Any) -> tuple[np.ndarray, np.ndarray | None]:
        if not hasattr(self, "n_classes_"):
            raise InputError(f"this {type(self).__name__} is not fitted yet", fix="call fit(scores, labels) first")
        s, _ = _check_scores(scores, self.space, None if np.ndim(scores) == 2 else self.n_classes_)
        if s.ndim == 2 and s.shape[1] != self.n_classes_:
            raise InputError(f"the scores have {s.shape[1]} classes, the calibration was fitted on {self.n_classes_}",
                             fix="give score vectors of the classes used at fit time")
        if (s.ndim == 1) != self.top1_:
            kind = "top-1 scores (n,)" if self.top1_ else "score vectors (n, K)"
            raise InputError(f"the calibration was fitted on {kind}", fix=f"transform {kind} as well")
        pred = None if predicted is None else _check_labels(predicted, s.shape[0], self.n_classes_, "predicted")
        return s, pred

    def fit_transform(self, scores: Any, labels: Any, predicted: Any = None,
                      n_classes: int | None = None) -> np.ndarray:
        """``fit(...)`` then ``transform`` of the same scores."""
        return self.fit(scores, labels, predicted=predicted, n_classes=n_classes).transform(scores, predicted=predicted)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._params)
        return f"{type(self).__name__}({params})"

    _params: tuple[str, ...] = ()

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyper-parameters, as scikit-learn's ``get_params``."""
        return {k: getattr(self, k) for k in self._params}

    def set_params(self, **params: Any) -> "_Scaling":
        """Set hyper-parameters, as scikit-learn's ``set_params``."""
        for k, v in params.items():
            if k not in self._params:
                raise InputError(f"{type(self).__name__} has no parameter {k!r}",
                                 fix=f"use one of {', '.join(self._params)}")
            setattr(self, k, v)
        return self


class TemperatureScaling(_Scaling):
    """Temperature scaling: one temperature ``T`` divides the logits (Guo et al. 2017).

    Score vectors ``(n, K)``: ``q_i = softmax(z_i / T)`` with ``z_i = log p_i`` (or the
    logits with ``space="logit"``). Top-1 scores ``(n,)`` (the probability of the class
    ``y^_i`` the AI predicted): ``p'_i = sigmoid(m_i / T - log(K - 1))`` with the margin
    ``m_i = log p_i - log((1 - p_i) / (K - 1))``, the temperature scaling of the vector
    ``(p_i on y^_i, (1 - p_i) / (K - 1) elsewhere)`` (module documentation). ``T`` minimises
    the mean negative log-likelihood of the labels, found by Brent's bounded method on
    ``log T``.

    Parameters
    ----------
    bounds : (float, float), default=(0.01, 100)
        The temperatures searched. A fit that ends on a bound warns
        (:class:`~crowdwise.errors.ConvergenceWarning`): e.g. an AI right on every trusted
        task would have ``T -> 0``.
    space : {"proba", "logit"}, default="proba"
        Whether score vectors are probabilities or logits (top-1 scores are probabilities).

    Attributes
    ----------
    temperature_ : float
    n_classes_ : int
    top1_ : bool
        Fitted on top-1 scores.
    n_samples_ : int
        Scores with a known label the fit used.
    nll_before_, nll_after_ : float
        Mean negative log-likelihood of those labels with ``T = 1`` and with ``temperature_``.

    References
    ----------
    C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On calibration of modern neural
    networks", ICML 2017, §4.2.

    Examples
    --------
    Four top-1 scores of 0.9 among K = 3 classes, two of them right: the calibrated score is
    the accuracy, 0.5, so ``sigmoid(m / T - log 2) = 1/2`` with ``m = log(0.9 / 0.05)``,
    i.e. ``T = log 18 / log 2``.

    >>> ts = TemperatureScaling().fit([.9, .9, .9, .9], [0, 1, 2, 2], predicted=[0, 1, 0, 1], n_classes=3)
    >>> round(ts.temperature_, 4), round(math.log(18) / math.log(2), 4)
    (4.1699, 4.1699)
    >>> ts.transform([.9]).round(4).tolist()
    [0.5]
    """

    _params = ("bounds", "space")

    def __init__(self, bounds: tuple[float, float] = (0.01, 100.0), space: str = "proba") -> None:
        self.bounds = bounds
        self.space = space

    def _check_bounds(self) -> tuple[float, float]:
        try:
            lo, hi = (float(b) for b in self.bounds)
        except (TypeError, ValueError):
            raise InputError(f"bounds={self.bounds!r} must be two temperatures (low, high)",
                             fix="e.g. bounds=(0.01, 100)") from None
        if not (0 < lo < hi < math.inf):
            raise InputError(f"bounds={self.bounds!r} must satisfy 0 < low < high",
                             fix="e.g. bounds=(0.01, 100)")
        return lo, hi

    @staticmethod
    def _nll(d: dict[str, Any], a: float) -> float:
        """Mean NLL with scale ``a = 1 / T``."""
        if d["top1"]:
            s = a * d["m"] - math.log(d["k"] - 1)
            return float(np.mean(_bce(s, d["c"])) + math.log(d["k"] - 1) * np.mean(1.0 - d["c"]))
        z = d["z"] * a
        return float(np.mean(_lse(z) - z[np.arange(z.shape[0]), d["y"]]))

    def fit(self, scores: Any, labels: Any, predicted: Any = None,
            n_classes: int | None = None) -> "TemperatureScaling":
        """Fit ``T`` on ``scores`` and their true ``labels`` (class indices, -1 = unknown).

        Parameters
        ----------
        scores : array of shape (n,) or (n, K)
            Top-1 probabilities, or score vectors.
        labels : array of int, shape (n,)
            True (trusted) class of each row; -1 rows are left out.
        predicted : array of int, shape (n,)
            Top-1 scores only: the class each score is the probability of.
        n_classes : int
            Top-1 scores only: K, the number of classes the AI chooses from.
        """
        from scipy.optimize import minimize_scalar

        lo, hi = self._check_bounds()
        d = self._prepare(scores, labels, predicted, n_classes)
        res = minimize_scalar(lambda lt: self._nll(d, math.exp(-lt)), bounds=(math.log(lo), math.log(hi)),
                              method="bounded", options={"xatol": 1e-7})
        t = float(math.exp(res.x))
        f_best = float(res.fun)
        for bound in (lo, hi):  # at a bound, or on a plateau that runs to it: T is not pinned down
            flat = abs(self._nll(d, 1.0 / bound) - f_best) <= 1e-12 * max(1.0, abs(f_best))
            if abs(res.x - math.log(bound)) < 1e-4 or flat:
                warnings.warn(f"TemperatureScaling: the fit runs to the bound T = {bound:g} of bounds={self.bounds} "
                              f"(stopped at T = {t:.3g}): the trusted labels do not pin T down (e.g. an AI right, or "
                              "wrong, on every one of them)", ConvergenceWarning, stacklevel=2)
                break
        self.temperature_ = t
        self.n_classes_ = d["k"]
        self.top1_ = d["top1"]
        self.n_samples_ = d["n"]
        self.nll_before_ = self._nll(d, 1.0)
        self.nll_after_ = self._nll(d, 1.0 / t)
        return self

    def transform(self, scores: Any, predicted: Any = None) -> np.ndarray:
        """Calibrated scores: top-1 probabilities ``(n,)``, or probability vectors ``(n, K)``.

        ``predicted`` is not needed (one temperature for every class)."""
        s, _ = self._transform_input(scores, predicted)
        a = 1.0 / self.temperature_
        if s.ndim == 1:
            return _sigmoid(a * _margin(s, self.n_classes_) - math.log(self.n_classes_ - 1))
        return _softmax(_logits(s, self.space) * a)


class VectorScaling(_Scaling):
    """Vector scaling: a temperature ``T_k = 1 / a_k`` and a bias ``b_k`` per class (Guo et al. 2017).

    Score vectors ``(n, K)``: ``q_i = softmax(a * z_i + b)`` (``z_i = log p_i``, or the
    logits with ``space="logit"``). Top-1 scores: the class ``k = y^_i`` the AI predicted
    scales the margin, ``p'_i = sigmoid(a_k m_i + b_k - log(K - 1))`` (module
    documentation). Minimises the NLL summed over the samples plus ``reg / 2 * sum_k
    ((a_k - 1/T)^2 + b_k^2)``, ``T`` the pooled :class:`TemperatureScaling` fit (the start
    point too), with ``a_k >= 1e-4`` so that each class keeps its scores in order: by
    Newton's method per class on top-1 scores (the problem separates by predicted class),
    by L-BFGS-B on score vectors (module documentation).

    Parameters
    ----------
    reg : float, default=1.0
        Weight of the L2 pull towards the pooled temperature and a zero bias (a Gaussian
        prior of precision ``reg``): it matters for a class with few trusted scores; a
        class never predicted on a trusted task keeps ``a_k = 1/T, b_k = 0``. For score
        vectors it also fixes the biases, which are otherwise defined up to a constant.
    bounds : (float, float), default=(0.01, 100)
        Temperatures searched by the pooled fit.
    space : {"proba", "logit"}, default="proba"
    max_iter : int, default=500
        Newton (top-1) or L-BFGS-B (vectors) iterations.

    Attributes
    ----------
    scale_ : ndarray, shape (n_classes,)
        ``a_k``; the per-class temperatures are ``1 / scale_``.
    bias_ : ndarray, shape (n_classes,)
    temperature_ : float
        The pooled temperature.
    n_classes_, top1_, n_samples_, nll_before_, nll_after_, n_iter_, converged_

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> pred = rng.integers(0, 2, 40_000); m = rng.normal(2, 2, pred.size)
    >>> a_true, b_true = np.array([0.5, 2.0]), np.array([0.3, -0.5])
    >>> right = rng.random(pred.size) < 1 / (1 + np.exp(-(a_true[pred] * m + b_true[pred])))
    >>> score = 1 / (1 + np.exp(-m))        # K = 2: the margin is the logit of the score
    >>> vs = VectorScaling().fit(score, np.where(right, pred, 1 - pred), predicted=pred, n_classes=2)
    >>> vs.scale_.round(2).tolist(), vs.bias_.round(2).tolist()   # a = (0.5, 2), b = (0.3, -0.5)
    ([0.52, 1.93], [0.29, -0.46])
    """

    _params = ("reg", "bounds", "space", "max_iter")

    def __init__(self, reg: float = 1.0, bounds: tuple[float, float] = (0.01, 100.0), space: str = "proba",
                 max_iter: int = 500) -> None:
        self.reg = reg
        self.bounds = bounds
        self.space = space
        self.max_iter = max_iter

    def fit(self, scores: Any, labels: Any, predicted: Any = None, n_classes: int | None = None) -> "VectorScaling":
        """Fit ``scale_`` and ``bias_``; the arguments are those of :meth:`TemperatureScaling.fit`."""
        if not (isinstance(self.reg, (int, float, np.integer, np.floating)) and self.reg >= 0):
            raise InputError(f"reg={self.reg!r} must be a number >= 0", fix="e.g. reg=1.0")
        if not (isinstance(self.max_iter, (int, np.integer)) and self.max_iter >= 1):
            raise InputError(f"max_iter={self.max_iter!r} must be a positive integer", fix="e.g. max_iter=500")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # the pooled fit is a start point only
            pooled = TemperatureScaling(bounds=self.bounds, space=self.space).fit(scores, labels, predicted, n_classes)
        d = self._prepare(scores, labels, predicted, n_classes)
        k, n, reg = d["k"], d["n"], float(self.reg)
        a0 = 1.0 / pooled.temperature_
        if d["top1"]:
            scale, bias, n_iter, converged, nll = self._newton_top1(d, a0, reg)
        else:
            scale, bias, n_iter, converged, nll = self._lbfgs_vectors(d, a0, reg)
        if not converged:
            warnings.warn(f"VectorScaling: the fit stopped before convergence after {n_iter} iterations "
                          f"(max_iter={self.max_iter})", ConvergenceWarning, stacklevel=2)
        self.scale_ = scale
        self.bias_ = bias
        self.temperature_ = pooled.temperature_
        self.n_classes_ = k
        self.top1_ = d["top1"]
        self.n_samples_ = n
        self.n_iter_ = int(n_iter)
        self.converged_ = bool(converged)
        self.nll_before_ = pooled.nll_before_
        self.nll_after_ = float(nll)
        return self

    def _newton_top1(self, d: dict[str, Any], a0: float, reg: float) -> tuple[np.ndarray, np.ndarray, int, bool, float]:
        """Top-1 scores: one 2-parameter logistic fit per predicted class (the penalty is
        separable too), all solved at once by Newton's method, each class with its own
        backtracking step; ``a >= 1e-4`` by projection. Every iteration is a few
        ``np.bincount`` over the scores."""
        m, c, pred, k, n = d["m"], d["c"], d["pred"], d["k"], d["n"]
        logk1 = math.log(k - 1)
        a, b = np.full(k, a0), np.zeros(k)

        def per_class(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            s = a[pred] * m + b[pred] - logk1
            return np.bincount(pred, weights=_bce(s, c), minlength=k) + 0.5 * reg * ((a - a0) ** 2 + b * b)

        f = per_class(a, b)
        converged, it = False, 0
        for it in range(1, int(self.max_iter) + 1):
            s = a[pred] * m + b[pred] - logk1
            p = _sigmoid(s)
            r, w = p - c, p * (1.0 - p)
            ga = np.bincount(pred, weights=r * m, minlength=k) + reg * (a - a0)
            gb = np.bincount(pred, weights=r, minlength=k) + reg * b
            haa = np.bincount(pred, weights=w * m * m, minlength=k) + reg
            hab = np.bincount(pred, weights=w * m, minlength=k)
            hbb = np.bincount(pred, weights=w, minlength=k) + reg
            det = haa * hbb - hab * hab
            ok = det > 1e-12 * np.maximum(haa * hbb, 1e-300)
            det = np.where(ok, det, 1.0)
            da = np.where(ok, -(hbb * ga - hab * gb) / det, -ga / np.maximum(haa, 1e-12))
            db = np.where(ok, -(haa * gb - hab * ga) / det, -gb / np.maximum(hbb, 1e-12))
            decrease = -(ga * da + gb * db)  # > 0: a descent direction (positive definite Hessian)
            active = decrease > 1e-12 * np.maximum(np.abs(f), 1.0)
            if not active.any():
                converged = True
                break
            t = np.ones(k)
            for _ in range(40):  # backtracking, per class (Armijo)
                a_new = np.maximum(a + t * da, 1e-4)
                b_new = b + t * db
                f_new = per_class(a_new, b_new)
                bad = f_new > f - 1e-4 * t * decrease + 1e-12 * np.abs(f)
                if not bad.any():
                    break
                t = np.where(bad, t / 2, t)
            keep = f_new <= f  # a class that could not decrease keeps its parameters
            if not np.any(keep & active & (f_new < f)):  # no class can improve any more: at float precision
                converged = True
                break
            a, b, f = np.where(keep, a_new, a), np.where(keep, b_new, b), np.where(keep, f_new, f)
        nll = (float(np.sum(f - 0.5 * reg * ((a - a0) ** 2 + b * b))) + logk1 * float(np.sum(1.0 - c))) / n
        return a, b, it, converged, nll

    def _lbfgs_vectors(self, d: dict[str, Any], a0: float, reg: float) -> tuple[np.ndarray, np.ndarray, int, bool,
                                                                                    float]:
        """Score vectors: L-BFGS-B on ``(log a, b)``, whitened per class by the diagonal
        2 x 2 blocks of the Hessian at the start (``a = 1/T``, ``b = 0``)."""
        from scipy.optimize import minimize

        z, y, k, n = d["z"], d["y"], d["k"], d["n"]
        rows = np.arange(n)

        def objective(a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
            zz = z * a + b
            lse = _lse(zz)
            f = float(np.sum(lse - zz[rows, y]))
            q = np.exp(zz - lse[:, None])
            q[rows, y] -= 1.0
            return f, np.einsum("ij,ij->j", q, z), q.sum(axis=0)

        q0 = _softmax(z * a0)
        w0 = q0 * (1.0 - q0)
        haa = (np.einsum("ij,ij->j", w0, z * z) + reg) * a0 * a0 / n
        hab = np.einsum("ij,ij->j", w0, z) * a0 / n
        hbb = (w0.sum(axis=0) + reg) / n
        l11 = np.sqrt(np.maximum(haa, 1e-12))
        l21 = hab / l11
        l22 = np.sqrt(np.maximum(hbb - l21 * l21, 1e-12))
        alpha0, lo, hi = math.log(a0), math.log(1e-4), math.log(1e4)

        def unwhiten(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            db = u[k:] / l22
            return np.clip(alpha0 + (u[:k] - l21 * db) / l11, lo, hi), db

        def objective_u(u: np.ndarray) -> tuple[float, np.ndarray]:
            alpha, b = unwhiten(u)
            a = np.exp(alpha)
            f, ga, gb = objective(a, b)
            f += 0.5 * reg * (float(np.sum((a - a0) ** 2)) + float(np.sum(b * b)))
            y_a = (ga + reg * (a - a0)) * a / n / l11
            return f / n, np.concatenate([y_a, ((gb + reg * b) / n - l21 * y_a) / l22])

        res = minimize(objective_u, np.zeros(2 * k), jac=True, method="L-BFGS-B",
                       options={"maxiter": int(self.max_iter), "ftol": 1e-13, "gtol": 1e-9})
        alpha, b = unwhiten(res.x)
        a = np.exp(alpha)
        return a, b, int(res.nit), bool(res.success), objective(a, b)[0] / n

    def transform(self, scores: Any, predicted: Any = None) -> np.ndarray:
        """Calibrated scores; top-1 scores need ``predicted`` (whose class parameters apply)."""
        s, pred = self._transform_input(scores, predicted)
        k = self.n_classes_
        if s.ndim == 1:
            if pred is None or (pred < 0).any():
                raise InputError("VectorScaling.transform of top-1 scores needs predicted=, the class of each "
                                 "score (its parameters apply)", fix="pass predicted= (class indices 0..K-1)")
            return _sigmoid(self.scale_[pred] * _margin(s, k) + self.bias_[pred] - math.log(k - 1))
        return _softmax(_logits(s, self.space) * self.scale_ + self.bias_)


# --------------------------------------------------------------------------- metrics
def reliability(scores: Any, labels: Any, predicted: Any = None, n_bins: int = DEFAULT_N_BINS) -> ReliabilityData:
    """Per-bin confidence and accuracy (a reliability diagram's data) and the ECE.

    Score vectors ``(n, K)``: confidence ``max_k p_ik`` and prediction ``argmax_k``, as
    :func:`crowdwise.learn.metrics.reliability_data`. Top-1 scores ``(n,)``: confidence the
    score itself and prediction ``predicted``. Equal-width bins ``(b/B, (b+1)/B]`` (the first
    holds 0), rows with label -1 left out, and

        ECE = sum_b |B_b| / n * |acc(B_b) - conf(B_b)|.

    Examples
    --------
    >>> r = reliability([.95, .7, .2], [0, 1, 1], predicted=[0, 0, 1], n_bins=10)
    >>> r.counts.tolist(), round(r.ece, 4)   # (|1 - .95| + |0 - .7| + |1 - .2|) / 3
    ([0, 1, 0, 0, 0, 0, 1, 0, 0, 1], 0.5167)
    """
    if not isinstance(n_bins, (int, np.integer)) or isinstance(n_bins, bool) or n_bins < 1:
        raise InputError(f"n_bins must be a positive integer, got {n_bins!r}", fix="use 15 (the usual choice)")
    s = _float_array(scores, "scores")
    if s.ndim == 2:
        if predicted is not None:
            raise InputError("predicted= goes with top-1 scores only", fix="leave it out for (n, K) scores")
        return reliability_data(labels, s, n_bins)
    if s.ndim != 1:
        raise InputError(f"scores must have shape (n,) or (n, K), got {s.shape}", fix="pass top-1 scores or vectors")
    if predicted is None:
        raise InputError("top-1 scores need predicted=, the class each score is for",
                         fix="pass predicted= (class indices)")
    y = _int_array(labels, "labels", s.size)
    pred = _int_array(predicted, "predicted", s.size)
    keep = y >= 0
    conf, correct = s[keep], (pred[keep] == y[keep]).astype(np.float64)
    if ((conf < 0) | (conf > 1) | ~np.isfinite(conf)).any():
        i = int(np.flatnonzero(keep)[np.argmax((conf < 0) | (conf > 1) | ~np.isfinite(conf))])
        raise InputError(f"score {s[i]} is not a probability in [0, 1]", position=f"row {i}",
                         fix="give the AI's probabilities")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    if not conf.size:
        nan = np.full(n_bins, np.nan)
        return ReliabilityData(edges, np.zeros(n_bins, np.int64), nan, nan.copy(), float("nan"))
    b = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    counts = np.bincount(b, minlength=n_bins)
    sum_conf = np.bincount(b, weights=conf, minlength=n_bins)
    sum_acc = np.bincount(b, weights=correct, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(counts > 0, sum_conf / np.maximum(counts, 1), np.nan)
        mean_acc = np.where(counts > 0, sum_acc / np.maximum(counts, 1), np.nan)
    return ReliabilityData(edges, counts, mean_conf, mean_acc, float(np.sum(np.abs(sum_acc - sum_conf)) / conf.size))


def expected_calibration_error(scores: Any, labels: Any, predicted: Any = None, n_bins: int = DEFAULT_N_BINS) -> float:
    """Expected calibration error with ``n_bins`` equal-width bins (15 by default).

    See :func:`reliability` for the bins and the formula.

    Examples
    --------
    Bins of width 1/2: ``{0.3}`` right, ``{0.8, 0.9}`` one right, so
    ``(|1 - 0.3| + |1 - (0.8 + 0.9)|) / 3 = 1.4 / 3``:

    >>> round(expected_calibration_error([.3, .8, .9], [1, 0, 2], predicted=[1, 0, 1], n_bins=2), 4)
    0.4667
    """
    return reliability(scores, labels, predicted, n_bins).ece


# --------------------------------------------------------------------------- on votes
def ai_votes(votes: Votes, ai_worker: Any = "AI") -> np.ndarray:
    """Positions (int64) of the votes cast by ``ai_worker`` (matched as text, as
    :class:`~crowdwise.aggregate.PlantNet` does); an :class:`InputError` when there is none."""
    if not isinstance(votes, Votes):
        raise InputError(f"expected a crowdwise.Votes, got {type(votes).__name__}",
                         fix="load the votes with crowdwise.io.load_votes or Votes.from_records")
    hit = np.flatnonzero(votes.worker_ids.astype(str) == str(ai_worker)) if votes.n_workers else np.zeros(0, int)
    rows = np.flatnonzero(votes.worker == hit[0]) if hit.size else np.zeros(0, np.int64)
    if rows.size == 0:
        shown = ", ".join(repr(str(w)) for w in votes.worker_ids[:5])
        raise InputError(f"no vote by the AI worker {str(ai_worker)!r} (workers: {shown}"
                         f"{', ...' if votes.n_workers > 5 else ''})",
                         fix="name the AI's worker id with --ai-worker (ai_worker= in Python)")
    return rows.astype(np.int64)


def trusted_labels(votes: Votes, strategy: Any = "PlantNet", *, ai_worker: Any = "AI",
                   random_state: Any = 0) -> tuple[np.ndarray, str]:
    """The labels a strategy gives from the *human* votes, -1 where it gives none.

    The AI's votes are left out first (the AI is not calibrated against labels it voted
    for). A strategy with a validity rule (``valid_``: ``PlantNet``, ``TwoThird``) trusts
    the tasks it validates; another one trusts every task with a human vote.

    Returns
    -------
    labels : ndarray of int64, shape (votes.n_tasks,)
    source : str
        One line saying where the labels come from.
    """
    from .aggregate import make_strategy

    ai = ai_votes(votes, ai_worker)
    keep = np.ones(votes.n_votes, dtype=bool)
    keep[ai] = False
    if not keep.any():
        raise InputError("every vote is the AI's: no human vote to take trusted labels from",
                         fix="give trusted labels (--truth, or truth= in Python)")
    human = votes.take(keep)
    model = make_strategy(strategy, random_state=random_state)
    model.fit(human)
    labels = np.asarray(model.labels_, dtype=np.int64).copy()
    has_vote = np.bincount(human.task, minlength=human.n_tasks) > 0
    valid = getattr(model, "valid_", None)
    ok = has_vote & (np.asarray(valid, dtype=bool) if valid is not None else True)
    labels[~ok] = -1
    rule = "validates" if valid is not None else "labels"
    name = strategy if isinstance(strategy, str) else type(strategy).__name__
    return labels, f"the tasks {name} {rule} on the human votes (AI votes left out)"


@dataclass
class CalibrationResult:
    """What :func:`calibrate_ai` found and made.

    Attributes
    ----------
    votes : Votes
        The same votes, the AI rows' ``ai_score`` replaced by calibrated values.
    calibrator : TemperatureScaling or VectorScaling
        Fitted on the AI votes of the trusted tasks.
    source : str
        Where the trusted labels come from.
    n_ai_votes, n_trusted : int
        AI votes, and AI votes on a task with a trusted label (the fit's samples).
    before, after : ReliabilityData
        On the trusted AI votes, raw and calibrated scores (in-sample).
    theta_score : float
        The threshold counted in ``n_above_before`` / ``n_above_after``: AI votes (all of
        them) with a score ``> theta_score``, which ``PlantNet-AIconfident`` counts.
    """

    votes: Votes
    calibrator: Any
    source: str
    n_ai_votes: int
    n_trusted: int
    before: ReliabilityData
    after: ReliabilityData
    theta_score: float
    n_above_before: int
    n_above_after: int
    n_bins: int = DEFAULT_N_BINS

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the calibrated votes left out)."""
        cal = self.calibrator
        params: dict[str, Any] = {"method": "vector" if isinstance(cal, VectorScaling) else "temperature",
                                  "temperature": cal.temperature_}
        if isinstance(cal, VectorScaling):
            params["classes"] = [str(c) for c in self.votes.classes.tolist()]
            params["scale"] = cal.scale_.tolist()
            params["bias"] = cal.bias_.tolist()
        return {
            **params,
            "scores": "top-1" if cal.top1_ else "vectors",
            "n_classes": cal.n_classes_,
            "trusted_labels": self.source,
            "n_ai_votes": self.n_ai_votes,
            "n_trusted_ai_votes": self.n_trusted,
            "nll_before": cal.nll_before_,
            "nll_after": cal.nll_after_,
            "n_bins": self.n_bins,
            "ece_before": self.before.ece,
            "ece_after": self.after.ece,
            "theta_score": self.theta_score,
            "ai_votes_above_theta_before": self.n_above_before,
            "ai_votes_above_theta_after": self.n_above_after,
            "reliability_before": self.before.to_dict(),
            "reliability_after": self.after.to_dict(),
        }

    def summary(self) -> list[str]:
        """The result in a few lines of text."""
        cal = self.calibrator
        if isinstance(cal, VectorScaling):
            t = 1.0 / cal.scale_
            fit = (f"vector scaling: per-class temperature {t.min():.3g}..{t.max():.3g} "
                   f"(pooled {cal.temperature_:.4g}), bias {cal.bias_.min():.3g}..{cal.bias_.max():.3g}")
        else:
            fit = f"temperature scaling: T = {cal.temperature_:.4g}"
        return [
            f"trusted labels: {self.source}: {self.n_trusted:,} of the {self.n_ai_votes:,} AI votes",
            fit,
            (f"NLL {cal.nll_before_:.4f} -> {cal.nll_after_:.4f}; ECE ({self.n_bins} bins) "
             f"{self.before.ece:.4f} -> {self.after.ece:.4f} (on the trusted AI votes)"),
            f"AI votes with score > {self.theta_score:g}: {self.n_above_before:,} -> {self.n_above_after:,}",
        ]


def calibrate_ai(votes: Votes, truth: Any = None, *, method: str = "temperature", strategy: Any = "PlantNet",
                 ai_worker: Any = "AI", scores: Any = None, n_bins: int = DEFAULT_N_BINS, reg: float = 1.0,
                 theta_score: float = 0.7, random_state: Any = 0) -> CalibrationResult:
    """Calibrate the AI's scores of ``votes`` on trusted labels; the calibrated votes and
    the figures of merit.

    The AI is the worker ``ai_worker`` (``"AI"``), its top-1 probability in the per-vote
    column ``ai_score`` (the column ``PlantNet-AIconfident`` reads), its class the vote's
    label. The map is fitted on the AI votes of the tasks whose label is trusted and
    applied to every AI vote; human votes are left as they are.

    Parameters
    ----------
    votes : Votes
    truth : array of int, shape (votes.n_tasks,), optional
        Trusted (expert) class index of each task, -1 where unknown (as
        :func:`crowdwise.io.load_truth` gives). Default: the labels ``strategy``
        validates on the human votes (:func:`trusted_labels`).
    method : {"temperature", "vector"}
    strategy : str or strategy, default="PlantNet"
        Used without ``truth`` only.
    scores : array of shape (n_ai_votes, K), optional
        The AI's full score vectors (probabilities), one row per AI vote in vote order,
        when it has them; its calibrated probability of the voted class becomes
        ``ai_score``.
    n_bins : int
        Bins of the ECE and the reliability diagrams.
    reg : float
        ``VectorScaling(reg=...)``.
    theta_score : float
        The threshold whose pass counts are reported.

    Returns
    -------
    CalibrationResult

    Examples
    --------
    >>> import numpy as np
    >>> from crowdwise import Votes
    >>> rng = np.random.default_rng(1)
    >>> truth = rng.integers(0, 5, 4000)
    >>> label, score = simulate_ai(truth, 5, temperature=3.0, random_state=1)
    >>> v = Votes.from_records(np.arange(4000), ["AI"] * 4000, label, n_classes=5,
    ...                        extra={"ai_score": score})
    >>> known = np.where(np.arange(4000) < 2000, truth, -1)   # experts labelled half the tasks
    >>> res = calibrate_ai(v, known)
    >>> round(res.calibrator.temperature_, 1), res.n_trusted
    (3.0, 2000)
    >>> res.n_above_before > res.n_above_after
    True
    """
    if method not in METHODS:
        raise InputError(f"method={method!r} is not one of {', '.join(METHODS)}",
                         fix="method='temperature' (one T) or 'vector' (per class)")
    rows = ai_votes(votes, ai_worker)
    k = votes.n_classes
    pred = votes.label[rows]
    if truth is None:
        truth_arr, source = trusted_labels(votes, strategy, ai_worker=ai_worker, random_state=random_state)
    else:
        truth_arr = np.asarray(truth)
        if truth_arr.ndim != 1 or truth_arr.shape[0] != votes.n_tasks:
            raise InputError(f"the trusted labels have shape {truth_arr.shape}, the votes {votes.n_tasks} tasks",
                             fix="give one class index per task of the votes (-1 where unknown), e.g. from "
                                 "crowdwise.io.load_truth(path, votes)")
        truth_arr = _check_labels(truth_arr, votes.n_tasks, k, "truth")
        source = "the given trusted labels (expert labels)"
    y = truth_arr[votes.task[rows]]
    n_trusted = int((y >= 0).sum())
    if n_trusted == 0:
        n_known = int((truth_arr >= 0).sum())
        raise InputError(f"no AI vote is on a task with a trusted label ({source}: {n_known:,} task(s) trusted, "
                         f"none of the {np.unique(votes.task[rows]).size:,} the AI voted on)",
                         fix="give expert labels of tasks the AI voted on (--truth), or a strategy that validates "
                             "some of them (-s)")
    if scores is None:
        if "ai_score" not in votes.extra:
            raise InputError("the votes have no 'ai_score' column (the AI's probability of its voted class)",
                             fix="add a per-vote 'ai_score' column, or pass the AI's full score vectors (--scores)")
        col = np.asarray(votes.extra["ai_score"])
        if col.dtype.kind not in "biuf":
            raise InputError(f"the 'ai_score' column must be numeric, got dtype {col.dtype}",
                             fix="write the AI's probabilities as numbers")
        raw = col[rows].astype(np.float64)
        bad = ~np.isfinite(raw) | (raw < 0) | (raw > 1)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"the AI vote on task {str(votes.task_ids[votes.task[rows[i]]])!r} has ai_score "
                             f"{float(raw[i]):g}, "
                             "not a probability in [0, 1]", position=f"vote {int(rows[i])}",
                             fix="give every AI vote its probability in [0, 1]")
        fit_scores, fit_pred = raw, pred
        base = col.astype(np.float64)
    else:
        fit_scores = _float_array(scores, "scores")
        if fit_scores.shape != (rows.size, k):
            raise InputError(f"the AI's score vectors have shape {fit_scores.shape}, expected ({rows.size}, {k}): "
                             "one row per AI vote (in vote order), one column per class",
                             fix="save one row of K scores per AI vote, in the order of its votes")
        fit_pred = None
        raw = None
        base = (np.asarray(votes.extra["ai_score"], dtype=np.float64) if "ai_score" in votes.extra
                else np.full(votes.n_votes, np.nan))
    cal = (VectorScaling(reg=reg) if method == "vector" else TemperatureScaling())
    cal.fit(fit_scores, y, predicted=fit_pred, n_classes=k)
    new = cal.transform(fit_scores, predicted=fit_pred)
    if new.ndim == 2:  # the calibrated probability of the voted class; the raw one likewise
        idx = np.arange(rows.size)
        raw_vec = fit_scores / np.maximum(fit_scores.sum(axis=1, keepdims=True), 1e-300)
        before = reliability(raw_vec, y, n_bins=n_bins)
        after = reliability(new, y, n_bins=n_bins)
        raw, new = raw_vec[idx, pred], new[idx, pred]
    else:
        before = reliability(raw, y, pred, n_bins)
        after = reliability(new, y, pred, n_bins)
    column = base.copy()
    column[rows] = new
    out = votes.with_extra(ai_score=column)
    theta = float(theta_score)
    return CalibrationResult(votes=out, calibrator=cal, source=source, n_ai_votes=int(rows.size),
                             n_trusted=n_trusted, before=before, after=after, theta_score=theta,
                             n_above_before=int(np.sum(raw > theta)), n_above_after=int(np.sum(new > theta)),
                             n_bins=int(n_bins))


# --------------------------------------------------------------------------- figure
def reliability_diagram(before: ReliabilityData, after: ReliabilityData, *,
                        labels: tuple[str, str] = ("raw AI scores", "calibrated"),
                        theta_score: float | None = None) -> Any:
    """Reliability diagrams side by side, before and after calibration: per confidence bin
    the accuracy (bars) against the diagonal of perfect calibration, the ECE in the title,
    the number of scores per bin below; ``theta_score`` draws that threshold.

    Returns a :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot); needs matplotlib
    (``pip install "crowdwise[report]"``).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError("the reliability diagram needs matplotlib, which is not installed",
                         fix='install it with pip install "crowdwise[report]"') from None
    fig = Figure(figsize=(8.4, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for col, (data, name) in enumerate(zip((before, after), labels)):
        ax, axc = axes[0, col], axes[1, col]
        edges = np.asarray(data.edges)
        width, left = np.diff(edges), edges[:-1]
        has = np.asarray(data.counts) > 0
        acc, conf = np.asarray(data.accuracy)[has], np.asarray(data.confidence)[has]
        ax.bar(left[has], acc, width=width[has], align="edge", color="#4C72B0", edgecolor="white", label="accuracy")
        ax.bar(left[has], conf - acc, bottom=acc, width=width[has], align="edge", color="#DD8452", alpha=0.35,
               edgecolor="#DD8452", hatch="//", label="gap to confidence")
        ax.plot([0, 1], [0, 1], ls="--", color="0.3", lw=1, label="perfect calibration")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(f"{name}: ECE = {data.ece:.4f}", fontsize="medium")
        axc.bar(left, np.asarray(data.counts), width=width, align="edge", color="0.6", edgecolor="white")
        if theta_score is not None:
            for a in (ax, axc):
                a.axvline(theta_score, color="#C44E52", ls=":", lw=1.5,
                          label=f"theta_score = {theta_score:g}" if a is ax else None)
        axc.set_xlabel("AI score (confidence)")
        if col == 0:
            ax.set_ylabel("accuracy")
            axc.set_ylabel("AI votes")
            ax.legend(loc="upper left", fontsize="small", frameon=False)
    return fig


# --------------------------------------------------------------------------- simulation
def simulate_ai(truth: Any, n_classes: int, *, temperature: float = 2.0, margin_mean: float | None = None,
                margin_sd: float = 1.5, random_state: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Votes and top-1 scores of an AI whose miscalibration is known.

    For each task ``i`` with true class ``truth[i]``: a margin ``m_i ~ N(margin_mean,
    margin_sd)``; the AI is right with probability ``p_i = sigmoid(m_i - log(K - 1))`` (its
    calibrated top-1 probability), else it votes a class drawn uniformly among the ``K - 1``
    others; it reports ``s_i = sigmoid(temperature * m_i - log(K - 1))``. Temperature scaling
    of the reported scores thus recovers ``T = temperature``: ``> 1`` is an over-confident
    AI, ``< 1`` an under-confident one.

    Parameters
    ----------
    truth : array of int, shape (n_tasks,)
    n_classes : int
        K >= 2.
    temperature : float, default=2.0
    margin_mean : float, optional
        Default ``log(K - 1) + 0.5``: the AI is right about 60 % of the time.
    margin_sd : float, default=1.5
    random_state : int, Generator or None

    Returns
    -------
    label : ndarray of int64, shape (n_tasks,)
        The AI's vote.
    score : ndarray of float, shape (n_tasks,)
        Its reported probability of that vote.
    """
    from .utils import check_random_state

    rng = check_random_state(random_state)
    t = np.asarray(truth, dtype=np.int64)
    k = int(n_classes)
    if k < 2 or t.ndim != 1 or (t.size and (t.min() < 0 or t.max() >= k)):
        raise InputError("simulate_ai needs n_classes >= 2 and truth a 1-D array of class indices 0..K-1",
                         fix="pass truth as class indices and n_classes=K")
    logk1 = math.log(k - 1)
    mu = logk1 + 0.5 if margin_mean is None else float(margin_mean)
    m = rng.normal(mu, float(margin_sd), size=t.size)
    right = rng.random(t.size) < _sigmoid(m - logk1)
    other = (t + rng.integers(1, k, size=t.size)) % k
    label = np.where(right, t, other)
    score = _sigmoid(float(temperature) * m - logk1)
    return label, score


def add_ai_votes(votes: Votes, truth: Any, *, ai_worker: str = "AI", temperature: float = 2.0,
                 margin_mean: float | None = None, margin_sd: float = 1.5, random_state: Any = None) -> Votes:
    """``votes`` plus one vote of a simulated AI (:func:`simulate_ai`) on each task whose
    ``truth`` is known, its score in the per-vote column ``ai_score`` (NaN on the other votes).

    Examples
    --------
    >>> import numpy as np
    >>> from crowdwise import Votes
    >>> v = Votes.from_records(["t1", "t2"], ["ann", "ann"], ["x", "y"])
    >>> both = add_ai_votes(v, np.array([0, 1]), random_state=0)
    >>> both.n_votes, both.worker_ids.tolist(), int(np.isnan(both.extra["ai_score"]).sum())
    (4, ['ann', 'AI'], 2)
    """
    if not isinstance(votes, Votes):
        raise InputError(f"expected a crowdwise.Votes, got {type(votes).__name__}", fix="pass the crowd's Votes")
    t = np.asarray(truth)
    if t.shape != (votes.n_tasks,):
        raise InputError(f"truth has shape {t.shape}, the votes {votes.n_tasks} tasks",
                         fix="give one class index per task (-1 where unknown)")
    if np.any(votes.worker_ids.astype(str) == str(ai_worker)):
        raise InputError(f"the votes already have a worker {str(ai_worker)!r}", fix="choose another ai_worker")
    tasks = np.flatnonzero(t >= 0)
    label, score = simulate_ai(t[tasks], votes.n_classes, temperature=temperature, margin_mean=margin_mean,
                               margin_sd=margin_sd, random_state=random_state)
    n, m = votes.n_votes, tasks.size
    worker_ids = np.concatenate([votes.worker_ids.astype(str) if votes.worker_ids.dtype.kind != "U"
                                 else votes.worker_ids, np.array([str(ai_worker)])])
    extra = {k: np.concatenate([np.asarray(c), np.zeros(m, dtype=np.asarray(c).dtype)])
             for k, c in votes.extra.items() if k != "ai_score"}
    old = np.asarray(votes.extra["ai_score"], dtype=float) if "ai_score" in votes.extra else np.full(n, np.nan)
    extra["ai_score"] = np.concatenate([old, score])
    return Votes(task=np.concatenate([votes.task, tasks]),
                 worker=np.concatenate([votes.worker, np.full(m, votes.n_workers)]),
                 label=np.concatenate([votes.label, label]), task_ids=votes.task_ids, worker_ids=worker_ids,
                 classes=votes.classes, extra=extra, name=votes.name)
