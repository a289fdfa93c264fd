"""Three intervals for every prediction: law band, new-run interval, extrapolation interval.

Each answers a different question, and each contains the one before it:

1. **law band** — where the fitted *curve* lies: the bootstrap percentile interval of the prediction
   (parameter uncertainty only). It shrinks as runs are added and says nothing about a single run.
2. **new-run interval** — where the loss of *one new training run* at that (N, D) lands: the band plus
   run-to-run noise, log L_new = log L_replicate + u + e with u ~ N(0, sd_between^2) (a new model size has
   its own offset) and e ~ N(0, sd_within^2), the two sds estimated from the fit's log residuals
   (:func:`scalefit.uncertainty.noise.estimate_noise`). Its limits are quantiles of that normal mixture, found
   exactly by bisection (no random draws).
3. **extrapolation interval** — adds the error of the *law itself* beyond the data, measured on the
   user's own sweep by backtests (:mod:`scalefit.backtest`): fit below a cut-off, predict above it, record
   the log error e_j against the extrapolation distance d_j (largest of the N, D and C ratios to the
   training maxima) and the span w_j = C_max / C_min of the fit that made it. Errors are modelled as

       scale = sqrt(sd_noise^2 + (c * reach)^2),   reach = ln(d)^a (ln d + ln w)^b,

   for every growth shape (a, b) in DISTANCE_POWERS x SPAN_POWERS = {0.5, 1, 1.5, 2} x {0, 0.5, ..., 3}
   (28 shapes), with c^2 fitted by least squares of e_j^2 - sd_j^2 on reach_j^2 (through the origin,
   clipped at 0). Each shape gets its own split-conformal multiplier q = the ceil((n + 1) level)-th
   smallest z_j = |e_j| / scale_j (Vovk et al. 2005; Lei et al. 2018), so each covers the backtest
   points at the nominal level. The interval at a target is estimate x exp(+/- h), widened where needed to
   contain the new-run interval, with h the *largest* q scale(d_target, w_target) over the shapes the
   backtest does not reject (the envelope):

   - a shape is rejected when its normalised errors z still trend with ln d or with ln w (Spearman rank
     correlation, two-sided p < SHAPE_ALPHA = 0.05; nothing is rejected with fewer than MIN_TREND_POINTS
     points): the shape has not captured how the errors grow;
   - and when its q exceeds MULTIPLIER_RATIO = 1.5 x the smallest q: its normalised errors are heavy-
     tailed, i.e. it describes the spread badly (one unstable cut-off fit otherwise lets the widest shape
     explode: on well-specified data the 99th percentile half-width fell from 0.20 to 0.10 with this rule);
   - if every shape is rejected for a trend, all are kept.

   Why an envelope and not the best-fitting shape: the target lies beyond the backtests in two ways. Its
   distance may exceed theirs, and its span always does (the full fit uses every run; a backtest only the
   runs below a cut-off). How the error grows with the span is exactly what a sweep measures worst, and
   under a misspecification that bends with scale it grows much faster than the ln d (ln d + ln w) of a
   quadratic error in log compute: in :func:`scalefit.simulation.coverage.check_misspecified` (curved Chinchilla,
   10x in compute) the backtests' mean log error at ln d ~ 1.25 went 0.000, -0.001, -0.003, -0.007 as
   ln w went 6.7, 8.0, 9.4, 10.7, and the full fit (ln w = 12, ln d = 2.3) erred by -0.018 +/- 0.003. The
   best-fitting shape (first version: reach^p with p <= 1) covered the true curve 0.715 +/- 0.032 of the
   time (R = 200) against 0.95 nominal; allowing p <= 2 alone, 0.720; the envelope with b <= 2, 0.875;
   the envelope above (b <= 3), 0.945 +/- 0.016, with a median half-width of 0.038 in log loss
   (law band 0.011, new-run 0.013). With the truth a Chinchilla law (curvature 0, same sweep) it covered
   1.000 with median half-width 0.032 (band 0.011 covering 0.93, new-run 0.012): the price of not knowing
   that the law is right is about 3x the band's width at 10x compute. The grid's b <= 3 is the measured
   need of that simulation (b <= 4 gave 0.960 at half-width 0.041; without the q-ratio rule the half-widths
   were 0.044 and 0.040 at the same coverage): the rule is calibrated on one
   misspecification, and a stronger bend can exceed it; the leave-largest-out table in
   benchmarks/bench_backtest.py checks it on real sweeps (held-out largest runs inside the law band /
   new-run / extrapolation interval, median relative half-width of the last: Epoch Chinchilla 17, 46,
   56 of 57, 2.1%; datablations single-epoch 7, 7, 8 of 8, 18%; colpret OPT 5, 12, 27 of 27, 12%;
   Porian IsoFLOP points 7, 20, 61 of 63, 45% (the first rule: 52/57, 8/8, 27/27 and 44/63, below the
   floor)). In :func:`scalefit.simulation.coverage.check_coverage` with ``backtests=True`` (truth a Chinchilla fit of
   the example sweep, a new compute-optimal run at 10x its compute, R = 200) the extrapolation interval
   covered 1.000 at a median half-width of 5.0% against the new-run interval's 0.945 at 2.0%.

Honesty rules: the calibration says how many backtest points (and distinct runs and cut-offs) it rests
on. With fewer than ``min_points(level)`` points the conformal quantile does not exist (it would need
more points than there are); the *stated conservative rule* is then q = FALLBACK_INFLATION x the largest
normalised error seen (and at least FALLBACK_INFLATION x the normal quantile), per shape; with so few
points the trend test rejects nothing, so the envelope takes the widest shape. With no backtest point at
all the extrapolation interval is NaN, never a guess. Nested cut-offs share held-out runs, so the points
are not independent: the count of distinct runs is the more sober number, and both are reported (the
trend test's p-values are optimistic for the same reason, which makes it reject too readily; the q
ratio and the envelope's maximum work the other way).

Loss in nats/token; N in parameters; D in tokens; every array here is shaped like broadcast(N, D) unless
said otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri
from scipy.stats import rankdata

from ..core.errors import ExtrapolationWarning, ScalefitError
from ..core.formatting import from_json_safe, json_safe
from ..uncertainty.noise import fit_noise, noise_sd

FALLBACK_INFLATION = 1.5  # too few backtest points: q = this x max(largest normalised error, normal quantile)
SUPPORT_FACTOR = 3.0  # a target farther than this x the largest backtested distance is not supported
MIN_SCALE = 1e-6  # floor on a normalising scale (log units): noise-free synthetic data stay finite
BISECTION_STEPS = 60
DISTANCE_POWERS = (0.5, 1.0, 1.5, 2.0)  # a in reach = ln(d)^a (ln d + ln span)^b: 2 is a curvature in log space
SPAN_POWERS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)  # b: how fast the error grows with the range fitted
SHAPE_ALPHA = 0.05  # a shape is rejected when its normalised errors still trend with ln d or ln span at this level
MIN_TREND_POINTS = 8  # fewer backtest points: no shape is rejected for a trend
MULTIPLIER_RATIO = 1.5  # a shape whose conformal q exceeds this x the smallest q describes the errors badly


def min_points(level: float) -> int:
    """Fewest backtest points for which the split-conformal quantile at ``level`` is finite: the
    smallest n with ceil((n + 1) level) <= n (19 at 95%, 9 at 90%)."""
    n = 1
    while math.ceil((n + 1) * level - 1e-12) > n:
        n += 1
    return n


def mixture_quantile(log_centres: np.ndarray, sd: float | np.ndarray, prob: float) -> np.ndarray:
    """The ``prob`` quantile of an equal-weight mixture of normals N(log_centres[b], sd^2) along axis 0.

    ``log_centres`` is (B, ...) (bootstrap replicates of a log prediction); returns (...). With sd = 0 it
    is the empirical quantile of the centres. Exact to ~1e-15 of the bracket by bisection.
    """
    centres = np.asarray(log_centres, dtype=float)
    sd = np.broadcast_to(np.asarray(sd, dtype=float), centres.shape[1:])
    empirical = np.quantile(centres, prob, axis=0)
    if np.all(sd <= 0):
        return empirical
    z = ndtri(prob)
    lo = centres.min(axis=0) + np.minimum(z, -8.0) * sd
    hi = centres.max(axis=0) + np.maximum(z, 8.0) * sd
    safe = np.where(sd > 0, sd, 1.0)
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        below = np.mean(ndtr((mid - centres) / safe), axis=0) < prob
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return np.where(sd > 0, 0.5 * (lo + hi), empirical)


def newrun_interval(log_replicates: np.ndarray, noise_sd: float, level: float) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) in loss units of a new run: replicate log predictions (B, ...) convolved with N(0, sd^2)."""
    lo = mixture_quantile(log_replicates, noise_sd, (1 - level) / 2)
    hi = mixture_quantile(log_replicates, noise_sd, (1 + level) / 2)
    return np.exp(lo), np.exp(hi)


@dataclass(frozen=True)
class Calibration:
    """How the extrapolation interval widens with distance, as calibrated on backtest errors.

    ``envelope``: the growth shapes the backtest does not reject, each (power a, span_power b, c, q): the
    model-error sd grows as c reach_ab (log-loss units) and q is that shape's conformal multiplier; the
    half-width at a target is the largest q sqrt(sd^2 + (c reach_ab)^2) over the envelope. ``c``, ``q``,
    ``power``, ``span_power`` and ``largest_z`` describe the best-fitting shape of the envelope;
    ``n_shapes``: shapes tried; ``rule``: "conformal" or the fallback's statement;
    ``n_points``/``n_runs``/``n_cutoffs``: what it rests on; ``max_distance``: the largest backtested
    distance.
    """

    c: float
    q: float
    level: float
    power: float
    rule: str
    n_points: int
    n_runs: int
    n_cutoffs: int
    max_distance: float
    largest_z: float
    span_power: float = 1.0
    envelope: tuple[tuple[float, float, float, float], ...] = ()
    n_shapes: int = 1

    @property
    def available(self) -> bool:
        return self.n_points > 0 and math.isfinite(self.q)

    def _shapes(self) -> tuple[tuple[float, float, float, float], ...]:
        return self.envelope or ((self.power, self.span_power, self.c, self.q),)

    def scale(self, distance, sd: float | np.ndarray, span: float | np.ndarray = 1.0) -> np.ndarray:
        """Normalising scale sqrt(sd^2 + (c reach)^2) of the best-fitting shape, in log-loss units, shaped
        like distance."""
        x = reach(distance, span, self.power, self.span_power)
        return np.maximum(np.hypot(sd, self.c * x), MIN_SCALE)

    def halfwidth(self, distance, sd: float | np.ndarray, span: float | np.ndarray = 1.0) -> np.ndarray:
        """Half-width of the extrapolation interval in log-loss units: the widest of the envelope's shapes
        at each distance (NaN when unavailable)."""
        if not self.available:
            return np.full(np.shape(distance), np.nan)
        widths = [q * np.maximum(np.hypot(sd, c * reach(distance, span, a, b)), MIN_SCALE)
                  for a, b, c, q in self._shapes()]
        return np.maximum.reduce(widths)

    def supports(self, distance) -> np.ndarray:
        """True where the distance is within SUPPORT_FACTOR x the largest backtested distance."""
        return np.asarray(distance, dtype=float) <= SUPPORT_FACTOR * self.max_distance

    def describe(self) -> str:
        if self.n_points == 0:
            return "no backtest points: the extrapolation interval is not available"
        kept = len(self._shapes())
        return (f"{self.rule}: the widest of the {kept} growth shapes (of {self.n_shapes}) the backtest does not "
                f"reject, q x sqrt(noise^2 + (c ln(d)^a (ln d + ln span)^b)^2); best fitting a = {self.power:g}, "
                f"b = {self.span_power:g}, c = {self.c:.3g}, q = {self.q:.3g}; resting on "
                f"{self.n_points} backtest points ({self.n_runs} distinct runs, {self.n_cutoffs} cut-offs) "
                f"up to distance {self.max_distance:.3g}x")

    def to_dict(self) -> dict[str, Any]:
        out = {k: json_safe(getattr(self, k)) for k in self.__dataclass_fields__ if k != "envelope"}
        out["envelope"] = [[json_safe(v) for v in shape] for shape in self.envelope]
        return out

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Calibration:
        """From :meth:`to_dict`; a record of the first version (one shape reach^p, no envelope) reads as
        that shape (a = b = p)."""
        values = {k: from_json_safe(record[k]) if k != "rule" else record[k]
                  for k in cls.__dataclass_fields__ if k in record and k != "envelope"}
        values.setdefault("span_power", values.get("power", 1.0))
        values["envelope"] = tuple(tuple(float(from_json_safe(v)) for v in shape)
                                   for shape in record.get("envelope", ()))
        return cls(**values)


def reach(distance, span: float | np.ndarray = 1.0, power: float = 1.0, span_power: float | None = None) -> np.ndarray:
    """How far a prediction reaches beyond its data: ln(d)^a (ln d + ln span)^b, with d >= 1 the
    extrapolation distance, span = C_max / C_min of the fitted runs, a = ``power`` and b = ``span_power``
    (default: b = a; a = b = 1 is ln d x (ln d + ln span)).

    Why the span: a law with the wrong curvature, fitted over a log-range w and extrapolated a further
    log-distance l, errs by about l (l + w) (for a quadratic error in log compute, exactly k(l^2 + wl + w^2/6)
    of which the w^2/6 is in-sample misfit). Fits on a wider range err more at the same distance, so
    backtests (narrower training ranges) and the full fit are made comparable through w; how much more
    (b) the backtest estimates, with the conservative choice described in the module docstring.
    """
    log_d = np.log(np.maximum(np.asarray(distance, dtype=float), 1.0))
    log_span = np.log(np.maximum(np.asarray(span, dtype=float), 1.0))
    b = power if span_power is None else span_power
    return log_d**power * (log_d + log_span) ** b


def calibrate(errors, distances, sds, level: float, runs=None, cutoffs=None, spans=1.0) -> Calibration:
    """Fit the growth of |log error| with distance and span, and the conformal multipliers.

    ``errors``: log(predicted) - log(observed), (n,); ``distances``: extrapolation distances (n,);
    ``sds``: the noise sd of the fit that made each prediction (n,) or a scalar; ``spans``: C_max / C_min
    of that fit (n,) or a scalar; ``runs``/``cutoffs``: labels (n,) used only to count distinct runs and
    cut-offs.
    """
    e = np.asarray(errors, dtype=float).ravel()
    d = np.asarray(distances, dtype=float).ravel()
    sd = np.broadcast_to(np.asarray(sds, dtype=float), e.shape)
    span = np.broadcast_to(np.asarray(spans, dtype=float), e.shape)
    keep = np.isfinite(e) & np.isfinite(d) & np.isfinite(sd) & np.isfinite(span)
    e, d, sd, span = e[keep], d[keep], sd[keep], span[keep]
    n = int(e.size)
    n_runs = n if runs is None else int(np.unique(np.asarray(runs)[keep]).size)
    n_cut = 1 if cutoffs is None else int(np.unique(np.asarray(cutoffs)[keep]).size)
    shapes = [(a, b) for a in DISTANCE_POWERS for b in SPAN_POWERS]
    if n == 0:
        return Calibration(c=np.nan, q=np.nan, level=level, power=np.nan, rule="unavailable", n_points=0,
                           n_runs=0, n_cutoffs=0, max_distance=np.nan, largest_z=np.nan, span_power=np.nan,
                           n_shapes=len(shapes))
    a = np.array([s[0] for s in shapes])[:, None]
    b = np.array([s[1] for s in shapes])[:, None]
    x = reach(d[None, :], span[None, :], a, b)  # (S, n)
    c, loss = growth_fits(e, x, sd)
    scale = np.maximum(np.hypot(sd, c[:, None] * x), MIN_SCALE)
    z = np.abs(e) / scale  # (S, n)
    kept = ~trend_rejects(z, np.log(np.maximum(d, 1.0)), np.log(np.maximum(span, 1.0)))
    if not kept.any():  # every shape leaves a trend: none fits, the envelope of all is the cautious answer
        kept[:] = True
    z_sorted = np.sort(z, axis=1)
    rank = math.ceil((n + 1) * level - 1e-12)
    if rank <= n:
        q, rule = z_sorted[:, rank - 1], "conformal"
    else:
        normal = float(ndtri((1 + level) / 2))
        q = FALLBACK_INFLATION * np.maximum(z_sorted[:, -1], normal)
        rule = (f"fallback (only {n} backtest points, {min_points(level)} needed for a conformal "
                f"{level:.0%} quantile): {FALLBACK_INFLATION:g} x max(largest normalised error, normal quantile)")
    kept &= q <= MULTIPLIER_RATIO * np.min(q[kept])  # heavy-tailed z: the shape misdescribes the errors
    index = np.flatnonzero(kept)
    best = int(index[np.argmin(loss[index])])
    envelope = tuple((float(a[i, 0]), float(b[i, 0]), float(c[i]), float(q[i])) for i in index)
    return Calibration(c=float(c[best]), q=float(q[best]), level=level, power=float(a[best, 0]), rule=rule,
                       n_points=n, n_runs=n_runs, n_cutoffs=n_cut, max_distance=float(d.max()),
                       largest_z=float(z_sorted[best, -1]), span_power=float(b[best, 0]), envelope=envelope,
                       n_shapes=len(shapes))


def growth_fits(e: np.ndarray, x: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each shape (row of x, (S, n)): c of e^2 - sd^2 ~ c^2 x^2 by least squares through the origin
    (clipped at 0), and the residual sum of squares. Returns (c (S,), loss (S,))."""
    excess = e * e - sd * sd
    x2 = x * x
    denom = np.sum(x2 * x2, axis=1)
    c2 = np.where(denom > 0, np.maximum(np.sum(x2 * excess, axis=1) / np.where(denom > 0, denom, 1.0), 0.0), 0.0)
    loss = np.sum((excess - c2[:, None] * x2) ** 2, axis=1)
    return np.sqrt(c2), loss


def trend_rejects(z: np.ndarray, *covariates: np.ndarray, alpha: float = SHAPE_ALPHA) -> np.ndarray:
    """(S,) True where the normalised errors z (S, n) of a shape still trend with any covariate (n,):
    Spearman's rank correlation, two-sided normal-approximation p < ``alpha``. A constant covariate (all
    backtests on one span) tests nothing; with fewer than MIN_TREND_POINTS points nothing is rejected."""
    S, n = z.shape
    out = np.zeros(S, dtype=bool)
    if n < MIN_TREND_POINTS:
        return out
    rz = rankdata(z, axis=1)
    rz = rz - rz.mean(axis=1, keepdims=True)
    for cov in covariates:
        rc = rankdata(cov)
        rc = rc - rc.mean()
        denom = np.sqrt(np.sum(rz * rz, axis=1) * np.sum(rc * rc))
        if not np.sum(rc * rc) > 0:
            continue
        rho = np.where(denom > 0, np.sum(rz * rc, axis=1) / np.where(denom > 0, denom, 1.0), 0.0)
        out |= 2 * ndtr(-np.abs(rho) * math.sqrt(n - 1)) < alpha
    return out


@dataclass(frozen=True)
class PredictionIntervals:
    """The three intervals at a set of points (each array (m,), flattened from broadcast(N, D)).

    ``what`` names the quantity ("loss" or e.g. "L_opt"); ``calibration`` is the extrapolation rule used;
    ``notes`` says what is not available and why.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> boot = fit.bootstrap(n=50, seed=0)
    >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
    >>> pi = boot.predict_intervals([7e9, 7e10], [1.4e11, 1.4e12], backtest=bt)
    >>> print(f"{pi.estimate[0]:.3f} nats/token, law band [{pi.band_lo[0]:.3f}, {pi.band_hi[0]:.3f}]")
    2.182 nats/token, law band [2.169, 2.199]
    >>> pi.supported.tolist()
    [True, False]
    """

    what: str
    N: np.ndarray
    D: np.ndarray
    estimate: np.ndarray
    band_lo: np.ndarray
    band_hi: np.ndarray
    newrun_lo: np.ndarray
    newrun_hi: np.ndarray
    extrap_lo: np.ndarray
    extrap_hi: np.ndarray
    distance: np.ndarray
    supported: np.ndarray
    level: float
    noise: dict[str, float]
    calibration: Calibration
    notes: tuple[str, ...] = field(default=())
    compute: np.ndarray | None = None

    COLUMNS = ("N", "D", "estimate", "band_lo", "band_hi", "newrun_lo", "newrun_hi", "extrap_lo", "extrap_hi",
               "distance", "supported")

    @property
    def n_backtest(self) -> int:
        """Backtest points the extrapolation interval rests on."""
        return self.calibration.n_points

    def to_frame(self) -> pd.DataFrame:
        """One row per point: inputs (N in parameters, D in tokens), estimate and the three intervals (nats/token).

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> pi = boot.predict_intervals([7e9, 7e10], [1.4e11, 1.4e12], backtest=bt)
        >>> list(pi.to_frame().columns)[:6]
        ['N', 'D', 'estimate', 'band_lo', 'band_hi', 'newrun_lo']
        """
        frame = {} if self.compute is None else {"C": self.compute}
        frame.update({k: getattr(self, k) for k in self.COLUMNS})
        out = pd.DataFrame(frame)
        out["n_backtest"] = self.n_backtest
        return out

    def __getitem__(self, key: str) -> np.ndarray:
        return getattr(self, key)

    def summary(self) -> str:
        """The three intervals at every point as text, with the noise and the extrapolation rule behind them.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> pi = boot.predict_intervals([7e9, 7e10], [1.4e11, 1.4e12], backtest=bt)
        >>> print(pi.summary().splitlines()[0])  # doctest: +ELLIPSIS
        loss with 95% intervals: law band (fitted curve), new run (adds run-to-run noise, sd ...
        """
        pct = round(self.level * 100)
        lines = [f"{self.what} with {pct}% intervals: law band (fitted curve), new run (adds run-to-run noise, "
                 f"sd {noise_sd(self.noise):.3g} in log loss), extrapolation (adds model error; "
                 f"{self.calibration.describe()})",
                 f"  {'N':>10}{'D':>10}{'estimate':>10}{'law band':>20}{'new run':>20}{'extrapolation':>20}"
                 f"{'distance':>10}"]
        for i in range(self.estimate.size):
            lines.append(f"  {self.N[i]:>10.3g}{self.D[i]:>10.3g}{self.estimate[i]:>10.4g}"
                         f"{_pair(self.band_lo[i], self.band_hi[i]):>20}"
                         f"{_pair(self.newrun_lo[i], self.newrun_hi[i]):>20}"
                         f"{_pair(self.extrap_lo[i], self.extrap_hi[i]):>20}{self.distance[i]:>9.3g}x"
                         + ("" if self.supported[i] else "  NOT SUPPORTED by the backtest"))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record of the intervals, the noise and the calibration.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> pi = boot.predict_intervals([7e9, 7e10], [1.4e11, 1.4e12], backtest=bt)
        >>> sorted(pi.to_dict())[:5]
        ['calibration', 'compute', 'level', 'noise', 'notes']
        """
        return {"what": self.what, "level": self.level, "noise": dict(self.noise),
                "calibration": self.calibration.to_dict(), "notes": list(self.notes),
                "compute": None if self.compute is None else [json_safe(v) for v in self.compute],
                "rows": [{k: json_safe(getattr(self, k)[i]) for k in self.COLUMNS} for i in range(self.estimate.size)]}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> PredictionIntervals:
        """Rebuild from :meth:`to_dict`.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> bt = scalefit.backtest(fit, fractions=(0.7,), n_boot=0)
        >>> pi = boot.predict_intervals([7e9, 7e10], [1.4e11, 1.4e12], backtest=bt)
        >>> again = scalefit.PredictionIntervals.from_dict(pi.to_dict())
        >>> bool(np.allclose(again.extrap_hi, pi.extrap_hi))
        True
        """
        rows = record["rows"]
        cols = {k: np.array([from_json_safe(r[k]) for r in rows], dtype=bool if k == "supported" else float)
                for k in cls.COLUMNS}
        compute = None if record.get("compute") is None else np.array([from_json_safe(v) for v in record["compute"]])
        return cls(what=record["what"], level=float(record["level"]), noise=dict(record["noise"]),
                   calibration=Calibration.from_dict(record["calibration"]), notes=tuple(record["notes"]),
                   compute=compute, **cols)


def extrapolation_limits(estimate, newrun_lo, newrun_hi, distance, sd: float, calibration: Calibration,
                         span: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """estimate x exp(+/- halfwidth(distance)), widened to contain the new-run interval."""
    half = calibration.halfwidth(distance, sd, span)
    lo = np.fmin(np.asarray(estimate) * np.exp(-half), newrun_lo)
    hi = np.fmax(np.asarray(estimate) * np.exp(half), newrun_hi)
    unavailable = ~np.isfinite(half)
    return np.where(unavailable, np.nan, lo), np.where(unavailable, np.nan, hi)


def three_intervals(what: str, N, D, estimate, band_lo, band_hi, log_replicates, distance, level: float,
                    noise: Mapping[str, float], calibration: Calibration, notes=(), compute=None,
                    span: float = 1.0) -> PredictionIntervals:
    """Assemble the three intervals from a band and replicate log predictions (B, m)."""
    sd = noise_sd(noise)
    newrun_lo, newrun_hi = newrun_interval(log_replicates, sd, level)
    extrap_lo, extrap_hi = extrapolation_limits(estimate, newrun_lo, newrun_hi, distance, sd, calibration, span)
    notes = list(notes)
    if not calibration.available:
        notes.append(calibration.describe())
    elif calibration.rule != "conformal":
        notes.append(calibration.rule)
    supported = calibration.supports(distance) if calibration.available else np.zeros(np.shape(distance), bool)
    if calibration.available and not np.all(supported):
        notes.append(f"{int((~supported).sum())} point(s) lie beyond {SUPPORT_FACTOR:g}x the largest backtested "
                     f"distance ({calibration.max_distance:.3g}x): the sweep cannot support that extrapolation")
    flat = {k: np.ravel(np.asarray(v, dtype=float)) for k, v in
            {"N": N, "D": D, "estimate": estimate, "band_lo": band_lo, "band_hi": band_hi, "newrun_lo": newrun_lo,
             "newrun_hi": newrun_hi, "extrap_lo": extrap_lo, "extrap_hi": extrap_hi, "distance": distance}.items()}
    return PredictionIntervals(what=what, supported=np.ravel(supported), level=level, noise=dict(noise),
                               calibration=calibration, notes=tuple(notes),
                               compute=None if compute is None else np.ravel(np.asarray(compute, float)), **flat)


def _pair(lo: float, hi: float) -> str:
    return "n/a" if not (np.isfinite(lo) and np.isfinite(hi)) else f"[{lo:.4g}, {hi:.4g}]"


# -- from a Bootstrap --------------------------------------------------------------------------------------------
def calibration_of(boot, backtest) -> Calibration:
    """The Calibration at the bootstrap's level: from a :class:`scalefit.Backtest` (anything with
    ``calibration_at(level)``) or a Calibration itself. The backtest is run by the caller, never here."""
    if backtest is None:
        raise ScalefitError("the extrapolation interval needs a backtest of the fit: pass "
                            "backtest=scalefit.backtest(fit) (or a Calibration)")
    return backtest if isinstance(backtest, Calibration) else backtest.calibration_at(boot.level)


def compute_span(fit) -> float:
    """C_max / C_min (C = 6ND) of the runs a fit was fitted on."""
    c = 6.0 * np.asarray(fit.runs.N, float) * np.asarray(fit.runs.D, float)
    return float(c.max() / c.min())


def loss_intervals(boot, N, D, backtest=None, method: str | None = None) -> PredictionIntervals:
    """Law band, new-run and extrapolation intervals of the loss at (N, D) (broadcast, then flattened).

    ``backtest``: a :class:`scalefit.Backtest` of ``boot.fit`` (``scalefit.backtest(fit)``), or its Calibration.
    """
    import warnings

    n, d = np.broadcast_arrays(np.asarray(N, float), np.asarray(D, float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        band = boot.predict(n, d, method=method, threshold=None)
    log_reps = np.log(boot.fit.law.predict(boot.replicates, {"N": n.ravel(), "D": d.ravel()}))
    return three_intervals("loss", n, d, band["estimate"], band["lo"], band["hi"], log_reps, band["distance"],
                           boot.level, fit_noise(boot.fit), calibration_of(boot, backtest),
                           span=compute_span(boot.fit))


def optimal_intervals(boot, compute, backtest=None, method: str | None = None) -> dict[str, Any]:
    """Intervals of the compute-optimal allocation at compute C (FLOPs).

    Returns {"L_opt": PredictionIntervals of the loss a new compute-optimal run reaches (at the point
    estimate's N_opt, D_opt, whose distance sets the extrapolation interval), "N_opt": {estimate, lo, hi}
    (law band only), "notes": [...]}. N_opt has no new-run or extrapolation interval: run noise does not
    move the optimum of a curve, and the backtest measures errors in loss, not in allocation.
    """
    c = np.atleast_1d(np.asarray(compute, float))
    opt = boot.optimal(c, method)  # FitError for a law without compute-optimal allocation
    names = boot.names
    columns = {k: boot.replicates[:, j, None] for j, k in enumerate(names)}
    reps = boot.fit.law.compute_optimal(columns, c)["L_opt"]  # (B, m)
    n_opt, d_opt = opt["N_opt"]["estimate"], opt["D_opt"]["estimate"]
    distance = boot.fit.extrapolation(n_opt, d_opt)["distance"]
    loss = three_intervals("L_opt", n_opt, d_opt, opt["L_opt"]["estimate"], opt["L_opt"]["lo"], opt["L_opt"]["hi"],
                           np.log(reps), distance, boot.level, fit_noise(boot.fit), calibration_of(boot, backtest),
                           compute=c, span=compute_span(boot.fit))
    note = ("N_opt has a law band only: run-to-run noise does not move the optimum, and backtests measure "
            "errors in loss, not in the allocation")
    return {"L_opt": loss, "N_opt": {k: opt["N_opt"][k] for k in ("estimate", "lo", "hi")}, "notes": [note]}
