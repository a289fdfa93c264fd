"""The extrapolation interval's error model, calibrated on backtest errors handed to it.

A backtest (:func:`scalefit.backtest`) fits below a cut-off, predicts above it, and records the log error e_j
against the extrapolation distance d_j and the span w_j of the fit. :func:`calibrate` turns those points into a
:class:`Calibration`; :mod:`scalefit.uncertainty.prediction` uses it for the third interval. Errors are modelled as

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
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri
from scipy.stats import rankdata

from ..core.formatting import from_json_safe, json_safe

FALLBACK_INFLATION = 1.5  # too few backtest points: q = this x max(largest normalised error, normal quantile)
SUPPORT_FACTOR = 3.0  # a target farther than this x the largest backtested distance is not supported
MIN_SCALE = 1e-6  # floor on a normalising scale (log units): noise-free synthetic data stay finite
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
