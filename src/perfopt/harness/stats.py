"""Statistics for verdicts: the ratio of two cells with its interval, and scaling fits.

One job: turn repeats into numbers a verdict may rest on. Nothing here knows cells,
targets or reports.

The ratio of two cells is estimated on the log scale, where run times are roughly
symmetric and a ratio is a difference: the point is the ratio of geometric means and
the interval is Welch's t-interval of the difference of mean logs
(``scipy.stats.ttest_ind(..., equal_var=False).confidence_interval``). At n = 3 a side
the t distribution has 2-4 degrees of freedom, so the interval is honestly wide; a
bootstrap of three values would be far too narrow, and a Mann-Whitney interval cannot
reach 95% below 4 runs a side.

Scaling fits (Amdahl, and Gunther's Universal Scalability Law) are least-squares fits
on log speedups weighted by each point's interval (``scipy.optimize.curve_fit``); a
projection's interval comes from the fit's covariance (delta method).
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95
MIN_RUNS = 3  # fewer repeats a side than this decide nothing
MAX_RUNS_HINT = 50  # past this, "more runs" is not a useful answer


@dataclass(frozen=True)
class Ratio:
    """variant / base with its confidence interval and the repeats behind it.

    `low`/`high` are None when an interval cannot be computed (fewer than 2 values on
    a side). `rel_sd` is the pooled per-run log standard deviation of each side, kept
    so that the runs needed to decide can be estimated.
    """

    value: float
    low: float | None
    high: float | None
    n_base: int
    n_variant: int
    sd_base: float = 0.0
    sd_variant: float = 0.0
    confidence: float = CONFIDENCE

    @property
    def n(self) -> int:
        """The smaller side's number of runs (what limits the interval)."""
        return min(self.n_base, self.n_variant)

    @property
    def enough(self) -> bool:
        """Whether both sides have at least MIN_RUNS repeats."""
        return self.n >= MIN_RUNS and self.low is not None

    @property
    def half_width(self) -> float | None:
        """Half the interval's width relative to the value (0.1 = +-10%)."""
        if self.low is None or self.high is None or self.value <= 0:
            return None
        return max(self.high / self.value - 1.0, 1.0 - self.low / self.value)

    def inverted(self) -> Ratio:
        """base / variant: the same evidence read the other way round."""
        return Ratio(
            1.0 / self.value,
            None if self.high is None else 1.0 / self.high,
            None if self.low is None else 1.0 / self.low,
            self.n_variant,
            self.n_base,
            self.sd_variant,
            self.sd_base,
            self.confidence,
        )

    def text(self, fmt: str = "{:.2f}x") -> str:
        """ "1.52x [1.31, 1.77], n=3/3" (or without an interval when there is none)."""
        n = f"n={self.n_base}/{self.n_variant}"
        if self.low is None or self.high is None:
            return f"{fmt.format(self.value)} (no interval, {n})"
        lo, hi = fmt.format(self.low).rstrip("x"), fmt.format(self.high).rstrip("x")
        return f"{fmt.format(self.value)} [{lo}, {hi}], {n}"


@dataclass(frozen=True)
class Level:
    """One cell's typical value (geometric mean of its runs) with its interval."""

    value: float
    low: float | None
    high: float | None
    n: int
    confidence: float = CONFIDENCE

    @property
    def enough(self) -> bool:
        """Whether there are at least MIN_RUNS runs."""
        return self.n >= MIN_RUNS and self.low is not None

    def interval_text(self, fmt: str = "{:.3g}") -> str:
        """'[0.018, 0.022]' or '-' without an interval."""
        if self.low is None or self.high is None:
            return "-"
        return f"[{fmt.format(self.low)}, {fmt.format(self.high)}]"

    def text(self, fmt: str = "{:.3g}") -> str:
        """'0.020 s [0.018 s, 0.022 s], n=3'."""
        interval = self.interval_text(fmt)
        spread = "" if interval == "-" else f" {interval}"
        return f"{fmt.format(self.value)}{spread}, n={self.n}"


def level(values: Sequence[float], confidence: float = CONFIDENCE) -> Level:
    """The geometric mean of positive per-run values with Student's t-interval on logs."""
    logs = _logs(values)
    if not logs:
        raise ValueError("a level needs at least one positive value")
    value = math.exp(statistics.fmean(logs))
    if len(logs) < 2:
        return Level(value, None, None, len(logs), confidence)
    sd = _sd(logs)
    if sd == 0.0:
        return Level(value, value, value, len(logs), confidence)
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = stats.ttest_1samp(logs, 0.0).confidence_interval(confidence)
    return Level(value, math.exp(ci.low), math.exp(ci.high), len(logs), confidence)


def ratio(base: Sequence[float], variant: Sequence[float], confidence: float = CONFIDENCE) -> Ratio:
    """variant / base for positive per-run values (times or throughputs)."""
    lb, lv = _logs(base), _logs(variant)
    if not lb or not lv:
        raise ValueError("a ratio needs at least one positive value on each side")
    mb, mv = statistics.fmean(lb), statistics.fmean(lv)
    sb, sv = _sd(lb), _sd(lv)
    value = math.exp(mv - mb)
    if len(lb) < 2 or len(lv) < 2:
        return Ratio(value, None, None, len(lb), len(lv), sb, sv, confidence)
    if sb == 0.0 and sv == 0.0:
        # identical repeats (synthetic or quantised values): no spread to widen by
        return Ratio(value, value, value, len(lb), len(lv), sb, sv, confidence)
    from scipy import stats

    with warnings.catch_warnings():  # nearly identical runs: the interval is just narrow
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = stats.ttest_ind(lv, lb, equal_var=False).confidence_interval(confidence)
    return Ratio(value, math.exp(ci.low), math.exp(ci.high), len(lb), len(lv), sb, sv, confidence)


def runs_to_decide(r: Ratio, claim: float, most: int = MAX_RUNS_HINT) -> int | None:
    """Runs a side that would put `claim` outside the interval, at today's spread.

    None when no number up to `most` would (the ratio sits on the claim), or when
    there is no spread to extrapolate from.
    """
    if claim <= 0 or r.value <= 0:
        return None
    distance = abs(math.log(r.value) - math.log(claim))
    var = r.sd_base**2 + r.sd_variant**2
    if distance == 0.0 or var == 0.0:
        return None
    from scipy import stats

    for n in range(max(r.n, 2), most + 1):
        t = stats.t.ppf(0.5 + r.confidence / 2, df=2 * n - 2)
        if t * math.sqrt(var / n) < distance:
            return n
    return None


# ---------------------------------------------------------------- scaling fits


@dataclass(frozen=True)
class ScalingFit:
    """A fitted scaling law: its name, parameters, covariance and the points behind it."""

    law: str  # "amdahl" or "usl"
    params: tuple[float, ...]
    cov: tuple[tuple[float, ...], ...]
    points: tuple[tuple[int, float], ...]  # (workers, measured speedup)

    def speedup(self, workers: float) -> float:
        """The law's speedup at `workers`."""
        return _LAWS[self.law](workers, *self.params)

    def describe(self) -> str:
        """Parameters in words: 'Amdahl: serial fraction 0.21' or the USL pair."""
        if self.law == "amdahl":
            return f"Amdahl: serial fraction {self.params[0]:.3f}"
        return f"USL: contention {self.params[0]:.3f}, coherency {self.params[1]:.4f}"


@dataclass(frozen=True)
class Projection:
    """A speedup projected at a worker count, with its interval."""

    workers: int
    value: float
    low: float
    high: float
    fit: ScalingFit

    def text(self) -> str:
        """'2.61x [2.02, 3.37] at 4 workers (Amdahl: serial fraction 0.15, from 1, 2)'."""
        used = ", ".join(str(w) for w, _ in self.fit.points)
        return (
            f"{self.value:.2f}x [{self.low:.2f}, {self.high:.2f}] projected at {self.workers} "
            f"workers ({self.fit.describe()}; fitted to workers {used})"
        )


def amdahl(n: float, serial: float) -> float:
    """Amdahl's law: the speedup of n workers when a fraction `serial` cannot overlap."""
    return n / (1.0 + serial * (n - 1.0))


def usl(n: float, contention: float, coherency: float) -> float:
    """Gunther's Universal Scalability Law (coherency > 0 makes the curve turn down)."""
    return n / (1.0 + contention * (n - 1.0) + coherency * n * (n - 1.0))


_LAWS: dict[str, Callable[..., float]] = {"amdahl": amdahl, "usl": usl}


def fit_scaling(points: Sequence[tuple[int, Ratio]], law: str = "amdahl") -> ScalingFit | None:
    """Fit a law to speedups measured at several worker counts (1 worker is 1.0x).

    Each point is (workers, speedup over 1 worker with its interval). Amdahl needs one
    point past 1 worker, USL two. Returns None when there are too few points.
    """
    import numpy as np
    from scipy.optimize import curve_fit

    usable = [(w, r) for w, r in points if w > 1 and r.value > 0]
    n_params = 1 if law == "amdahl" else 2
    if len(usable) < n_params:
        return None
    xs = np.array([float(w) for w, _ in usable])
    ys = np.log([r.value for _, r in usable])
    sigma = np.array([_log_sigma(r) for _, r in usable])
    f = _LAWS[law]

    def model(x: np.ndarray, *p: float) -> np.ndarray:
        return np.log([f(xi, *p) for xi in x])

    if law == "amdahl":
        p0, bounds = [0.1], ([0.0], [1.0])
    else:
        p0, bounds = [0.1, 0.001], ([0.0, 0.0], [1.0, 1.0])
    try:
        params, cov = curve_fit(
            model, xs, ys, p0=p0, sigma=sigma, absolute_sigma=True, bounds=bounds
        )
    except (RuntimeError, ValueError):
        return None
    cov = np.where(np.isfinite(cov), cov, 0.0)
    return ScalingFit(
        law,
        tuple(float(p) for p in params),
        tuple(tuple(float(c) for c in row) for row in cov),
        tuple((int(w), float(r.value)) for w, r in usable),
    )


def project(fit: ScalingFit, workers: int, confidence: float = CONFIDENCE) -> Projection:
    """The fitted law's speedup at `workers`, with an interval from the fit's covariance."""
    import numpy as np
    from scipy import stats

    params = np.array(fit.params)
    f = _LAWS[fit.law]
    value = f(workers, *params)
    grad = np.zeros_like(params)
    for i in range(len(params)):
        step = 1e-6 * max(1.0, abs(params[i]))
        bumped = params.copy()
        bumped[i] += step
        grad[i] = (math.log(f(workers, *bumped)) - math.log(value)) / step
    var = float(grad @ np.array(fit.cov) @ grad)
    z = stats.norm.ppf(0.5 + confidence / 2)
    half = z * math.sqrt(max(var, 0.0))
    return Projection(workers, value, value * math.exp(-half), value * math.exp(half), fit)


def _log_sigma(r: Ratio) -> float:
    """A point's standard error on the log scale, from its interval (floor 1%)."""
    if r.low is None or r.high is None or r.low <= 0:
        return 0.5  # no interval: a weak point
    from scipy import stats

    z = stats.norm.ppf(0.5 + r.confidence / 2)
    return max((math.log(r.high) - math.log(r.low)) / (2 * z), 0.01)


def _logs(values: Sequence[float]) -> list[float]:
    return [
        math.log(v) for v in values if isinstance(v, int | float) and v > 0 and math.isfinite(v)
    ]


def _sd(xs: Sequence[float]) -> float:
    return statistics.stdev(xs) if len(xs) > 1 else 0.0
