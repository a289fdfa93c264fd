"""Fit's interop with lmfit: the parameters as ``lmfit.Parameters`` and lmfit's profile-likelihood intervals.

Functions of a fitted Fit (``self``), bound into the :class:`scalefit.fitting.result.Fit` class body, so they are
its methods (``fit.to_lmfit()``); lmfit is imported only when one is called.
"""

from __future__ import annotations

import numpy as np

from .. import solver

__all__ = ["profile_intervals", "to_lmfit"]


def to_lmfit(self):
    """The fitted parameters as ``lmfit.Parameters`` (public names, the law's bounds; fixed and tied
    parameters as lmfit constants and expressions).

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> params = fit.to_lmfit()
    >>> list(params)
    ['E', 'A', 'B', 'alpha', 'beta']
    >>> round(params["alpha"].value, 3) == round(fit.params["alpha"], 3)
    True
    """
    import lmfit

    params = lmfit.Parameters()
    for sp in self.law.specs:
        lo, hi = sp.bounds
        if sp.linear and sp.log_scale:
            lo = max(lo, float(np.exp(solver.LOG_COEF_BOUNDS[0])))
        params.add(sp.name, value=self.params[sp.name], min=lo, max=hi, vary=sp.free)
    for sp in self.law.specs:
        if sp.tied is not None:
            params[sp.name].expr = sp.tied
    return params

def profile_intervals(self, sigmas: tuple[float, ...] = (1.0, 2.0)) -> dict[str, list[tuple[float, float]]]:
    """Profile-likelihood intervals from ``lmfit.conf_interval`` (a cross-check for the bootstrap).

    The objective is handed to lmfit as pseudo-residuals sign(r) sqrt(2 w rho(r)), whose sum of squares
    is twice the fit's objective, so lmfit minimises exactly the same function; its F-test
    calibration assumes Gaussian errors, which is why this is a cross-check and not the headline.
    Returns ``{name: [(sigma_prob, value), ...]}`` as lmfit does.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> ci = fit.profile_intervals(sigmas=(1.0,))
    >>> [(round(float(p), 4), round(float(v), 2)) for p, v in ci["alpha"]]
    [(0.6827, 0.3), (0.0, 0.32), (0.6827, 0.33)]
    """
    import lmfit

    data = self.data
    log_loss = np.log(self.runs.loss)

    def residual(p):
        vec = np.array([p[k].value for k in self.law.param_names])
        r = self.law.log_predict(vec, data) - log_loss
        return np.sign(r) * np.sqrt(2.0 * self.weights * self.objective.rho(r))

    minimizer = lmfit.Minimizer(residual, self.to_lmfit())
    result = minimizer.minimize(method="leastsq", xtol=1e-12, ftol=1e-12)
    return lmfit.conf_interval(minimizer, result, sigmas=list(sigmas))
