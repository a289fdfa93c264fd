"""The Bootstrap result: replicate parameter rows of a fit and the intervals they give on parameters, derived
quantities and predictions.

Its compute-allocation answers (``optimal``, ``frontier``, ``plan``, ``predict_intervals``, ...) live in
:mod:`scalefit.uncertainty.bootstrap_answers` and replicate files in :mod:`scalefit.uncertainty.bootstrap_io`,
both bound into the class body here. The driver that resamples and refits is
:func:`scalefit.uncertainty.bootstrap.bootstrap`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import checks
from ..core.formatting import SPREAD_NOTE, spread
from ..laws import allocation
from . import bootstrap_answers, bootstrap_io, intervals


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap replicates of a fit and the intervals they give.

    ``replicates`` is (B, P) in the law's public parameter order (only converged replicates);
    ``failed`` counts replicates excluded because their refit did not converge; ``jackknife`` is (J, P)
    leave-one-group-out (cluster) or leave-one-row-out (pairs, residual) refits, used by BCa intervals.
    ``method`` is the default interval method ("percentile" or "bca").

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> boot = fit.bootstrap(n=50, seed=0)
    >>> boot  # doctest: +ELLIPSIS
    <Bootstrap cluster: 50 of 50 replicates used (0 failed), 95% percentile intervals, seed 0; 0 warning(s)>
    >>> lo, hi = boot.percentile(boot.params()["alpha"])
    >>> print(f"alpha in [{lo:.2f}, {hi:.2f}]")
    alpha in [0.27, 0.37]
    """

    fit: Any
    replicates: np.ndarray
    scheme: str
    level: float
    seed: int | None
    n_requested: int
    failed: int
    global_checks: dict[str, Any]
    jackknife: np.ndarray | None = None
    method: str = "percentile"
    warnings: tuple[str, ...] = field(default=())
    seconds: float = 0.0

    @property
    def names(self) -> tuple[str, ...]:
        return self.fit.law.param_names

    def params(self) -> dict[str, np.ndarray]:
        """Replicate values of every parameter: {name: (B,)}.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> reps = boot.params()
        >>> reps["alpha"].shape
        (50,)
        """
        return _columns(self.names, self.replicates)

    def derived(self) -> dict[str, np.ndarray]:
        """Replicate values of the law's derived quantities (a, b, G for Chinchilla): {name: (B,)}.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> sorted(boot.derived())
        ['G', 'a', 'b']
        >>> boot.derived()["a"].shape
        (50,)
        """
        return self.fit.law.derived(self.params())

    def interval(self, fn: Callable[[dict[str, np.ndarray]], np.ndarray], method: str | None = None,
                 level: float | None = None) -> dict[str, np.ndarray]:
        """Estimate and interval of any quantity ``fn(params)``; fn must work elementwise on arrays.

        ``fn`` receives {name: array} with each array shaped (B, 1, ..., 1) for replicates, so its result
        broadcasts to (B, ...). Returns {estimate, lo, hi, se}, each shaped like the full-data value.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> r = {k: float(v) for k, v in boot.interval(lambda p: p["alpha"] / p["beta"]).items()}
        >>> print(f"alpha/beta = {r['estimate']:.2f} [{r['lo']:.2f}, {r['hi']:.2f}]")
        alpha/beta = 1.13 [0.95, 1.33]
        """
        method = self.method if method is None else method
        level = self.level if level is None else checks.level(level)
        estimate = np.asarray(fn(dict(self.fit.params)), dtype=float)
        values = _evaluate(fn, self.names, self.replicates, estimate.ndim)
        jack = None if self.jackknife is None else _evaluate(fn, self.names, self.jackknife, estimate.ndim)
        if method == "bca" and jack is None:
            raise ValueError("BCa intervals need jackknife refits; this bootstrap has none")
        lo, hi = intervals.interval(values, level, method, estimate, jack)
        se = np.std(values, axis=0, ddof=1) if len(values) > 1 else np.full(estimate.shape, np.nan)
        return {"estimate": estimate, "lo": lo, "hi": hi, "se": se}

    def intervals(self, method: str | None = None) -> dict[str, dict[str, float]]:
        """{quantity: {estimate, se, lo, hi}} for every parameter and derived quantity.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> rows = boot.intervals()
        >>> list(rows)
        ['E', 'A', 'B', 'alpha', 'beta', 'a', 'b', 'G']
        >>> sorted(rows["alpha"])
        ['estimate', 'hi', 'lo', 'se']
        """
        law = self.fit.law
        quantities = {name: (lambda p, name=name: p[name]) for name in self.names}
        quantities.update({name: (lambda p, name=name: law.derived(p)[name]) for name in self.fit.derived})
        out = {}
        for name, fn in quantities.items():
            row = self.interval(fn, method)
            out[name] = {k: float(v) for k, v in row.items()}
        return out

    def predict(self, *args: Any, method: str | None = None,
                threshold: float | None = allocation.EXTRAPOLATION_THRESHOLD, **inputs: Any) -> dict[str, np.ndarray]:
        """Loss at the law's inputs (``predict(N, D)``, keywords or a mapping) with interval and distance.

        Returns {estimate, lo, hi, se, <input>_ratio, C_ratio, distance}, each shaped like the broadcast
        inputs; warns (ExtrapolationWarning) past ``threshold`` x the data's largest input or compute.

        N in parameters, D in tokens; the loss estimate and interval in nats/token.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> r = {k: float(v) for k, v in boot.predict(7e9, 1.4e11).items()}
        >>> print(f"{r['estimate']:.3f} nats/token, 95% [{r['lo']:.3f}, {r['hi']:.3f}]")
        2.182 nats/token, 95% [2.169, 2.199]
        """
        x = self.fit.bind(args, inputs)
        checks.law_inputs(x)
        shape = next(iter(x.values())).shape
        distance = self.fit.extrapolation(x)
        allocation.warn_if_far(distance["distance"], threshold)
        law = self.fit.law
        flat = {k: v.ravel() for k, v in x.items()}

        def loss(p):
            scalar = np.ndim(p[self.names[0]]) == 0
            vec = np.stack([np.ravel(p[k]) for k in self.names], axis=-1)
            out = law.predict(vec, flat).reshape((-1, *shape))
            return out[0] if scalar else out

        return {**self.interval(loss, method), **distance}

    # -- compute-allocation answers with intervals: scalefit.uncertainty.bootstrap_answers --------------------
    compute_for_loss = bootstrap_answers.compute_for_loss
    frontier = bootstrap_answers.frontier
    plan = bootstrap_answers.plan
    optimal = bootstrap_answers.optimal
    predict_intervals = bootstrap_answers.predict_intervals
    optimal_intervals = bootstrap_answers.optimal_intervals

    def apply(self, fn: Callable[[dict[str, float]], Any]) -> np.ndarray:
        """fn(params dict of floats) for every replicate, stacked: (B, ...). For functions that do not
        vectorise; prefer :meth:`interval` otherwise.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> values = boot.apply(lambda p: p["A"] / p["B"])
        >>> values.shape
        (50,)
        """
        return np.array([fn(dict(zip(self.names, r, strict=True))) for r in self.replicates])

    def percentile(self, values: np.ndarray, level: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Percentile interval of replicate values (B,) or (B, ...) along axis 0.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> lo, hi = boot.percentile(boot.params()["beta"])
        >>> print(f"[{lo:.2f}, {hi:.2f}]")
        [0.27, 0.29]
        """
        return intervals.percentile_interval(values, self.level if level is None else level)

    def __repr__(self) -> str:
        return (f"<Bootstrap {self.scheme}: {len(self.replicates)} of {self.n_requested} replicates used "
                f"({self.failed} failed), {round(self.level * 100)}% {self.method} intervals, seed {self.seed}; "
                f"{len(self.warnings)} warning(s)>")

    def summary(self) -> str:
        """A table to paste into a paper: every parameter and derived quantity with its estimate, spread and
        interval, in the law's units (Chinchilla: E in nats/token, A and B in nats/token x N^alpha and
        x D^beta, exponents and a, b dimensionless, G in parameters per (FLOPs/6)^a).

        The spread column is :func:`scalefit.core.formatting.spread`, the same scale the report's parameter table
        shows: ×/÷ f (f = exp(sd of log replicate)) for quantities whose replicates are all positive, else
        ± sd. A plain standard error misleads on right-skewed replicates such as those of A.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> print(boot.summary())  # doctest: +ELLIPSIS
        bootstrap: 50 replicates (cluster scheme, seed 0, percentile intervals); 0 failed and excluded
          quantity      estimate      spread      95% lo      95% hi
          E             ...
        >>> "se" in boot.summary().split()
        False
        """
        pct = round(self.level * 100)
        lines = [f"bootstrap: {len(self.replicates)} replicates ({self.scheme} scheme, seed {self.seed}, "
                 f"{self.method} intervals); {self.failed} failed and excluded",
                 f"  {'quantity':<10}{'estimate':>12}{'spread':>12}{f'{pct}% lo':>12}{f'{pct}% hi':>12}"]
        values = {**self.params(), **self.derived()}
        for name, row in self.intervals().items():
            lines.append(f"  {name:<10}{row['estimate']:>12.5g}{spread(values[name]):>12}{row['lo']:>12.5g}"
                         f"{row['hi']:>12.5g}")
        lines += ["  " + line for line in textwrap.wrap(SPREAD_NOTE, 100)]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record: settings, counts, checks, intervals, and the replicate matrix itself.

        Examples
        --------
        >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
        >>> boot = fit.bootstrap(n=50, seed=0)
        >>> record = boot.to_dict()
        >>> record["n_used"], record["scheme"], len(record["replicates"][0])
        (50, 'cluster', 5)
        """
        return {"scheme": self.scheme, "level": self.level, "seed": self.seed, "n_requested": self.n_requested,
                "n_used": len(self.replicates), "failed": self.failed, "method": self.method,
                "intervals": self.intervals(), "global_checks": self.global_checks,
                "warnings": list(self.warnings), "names": list(self.names),
                "replicates": self.replicates.tolist(),
                "jackknife": None if self.jackknife is None else self.jackknife.tolist()}

    save = bootstrap_io.save


def _columns(names, matrix: np.ndarray, ndim: int = 0) -> dict[str, np.ndarray]:
    """{name: column} with each column shaped (B, 1 x ndim) so that it broadcasts against a result."""
    return {name: matrix[:, j].reshape((-1,) + (1,) * ndim) for j, name in enumerate(names)}


def _evaluate(fn, names, matrix: np.ndarray, ndim: int) -> np.ndarray:
    """fn on every row of a parameter matrix at once: (B, ...)."""
    out = np.asarray(fn(_columns(names, matrix, ndim)), dtype=float)
    return np.broadcast_to(out, (matrix.shape[0], *out.shape[1:])) if out.ndim else np.full(matrix.shape[0], out)
