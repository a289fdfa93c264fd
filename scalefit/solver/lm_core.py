"""What the two Levenberg-Marquardt loops share: the bounds, the damped step solve, the trial point and the
acceptance test.

The solver has two batched LM loops: :func:`scalefit.solver.lm.refine` (separable laws, variable projection
path) and :func:`scalefit.solver.general.refine` (any law with a ``predict``). They were not merged into one
loop because merging changes their results: they damp differently and stop differently, and the golden tests
pin both. Each loop's module docstring says why it keeps its own rule. What is the same in both lives here,
so a fix to it reaches both loops:

- :func:`bound_arrays`: lower and upper bounds as arrays (P,);
- :func:`damped_solve`: the damped Gauss-Newton system (H + lambda D) step = -g for every row, solved by
  :func:`.linalg.safe_solve` (a singular or non-finite system gives a zero step and ``solved`` False, never
  an exception). D is the identity when H is already scaled to unit diagonal (:mod:`.lm`), or diag(H)
  (Marquardt's scaling, :mod:`.general`); both are the same system up to the scaling D^(1/2);
- :func:`trial_point`: the step clipped into the bounds;
- :func:`accept`: a trial is taken only when the system was solved and the objective is finite and strictly
  lower (the loops never take an uphill step).

The damping rules stay in their loops and are named here so tests can pin which loop uses which:
:data:`NIELSEN` (lm.py: shrink by the model's agreement ratio, grow geometrically on failure) and
:data:`MARQUARDT` (general.py: divide by 3 on success, multiply by 4 on failure).
"""

from __future__ import annotations

import numpy as np

from .linalg import safe_solve

#: damping rule of :func:`scalefit.solver.lm.refine`: Nielsen (1999), lambda *= max(1/3, 1 - (2 rho - 1)^3)
#: (0.1 when the model's agreement ratio rho > 0.75) after a good step, lambda *= nu, nu *= 2 after a bad one
NIELSEN = "nielsen"
#: damping rule of :func:`scalefit.solver.general.refine`: lambda /= 3 after a good step, lambda *= 4 after a bad one
MARQUARDT = "marquardt"
LAMBDA_FLOOR = 1e-12  # neither loop lets the damping fall below this


def bound_arrays(bounds) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds (P,) each, from a list of (lo, hi) pairs.

    Examples
    --------
    >>> lo, hi = bound_arrays([(-1.0, 1.0), (0.0, 5.0)])
    >>> lo.tolist(), hi.tolist()
    ([-1.0, 0.0], [1.0, 5.0])
    """
    return np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])


def damped_solve(hess: np.ndarray, grad: np.ndarray, lam: np.ndarray, diag: np.ndarray | None = None):
    """Solve (H + lambda D) step = -g for every row: H (B, P, P), g (B, P), lambda (B,).

    D is the identity (``diag=None``; H already scaled to unit diagonal) or diag(``diag``) (B, P), Marquardt's
    scaling. Returns ``(step (B, P), solved (B,))``; an unsolvable row has step 0 and solved False.

    Examples
    --------
    >>> step, ok = damped_solve(np.eye(2)[None], np.array([[2.0, -4.0]]), np.array([1.0]))
    >>> step.tolist(), ok.tolist()
    ([[-1.0, 2.0]], [True])
    """
    return safe_solve(damped_system(hess, lam, diag), -grad)


def damped_system(hess: np.ndarray, lam: np.ndarray, diag: np.ndarray | None = None) -> np.ndarray:
    """H + lambda D for every row (see :func:`damped_solve`), without solving it."""
    eye = np.eye(hess.shape[-1])
    if diag is None:
        return hess + lam[:, None, None] * eye
    return hess + lam[:, None, None] * diag[:, :, None] * eye


def trial_point(z: np.ndarray, step: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """z + step clipped into [lo, hi]."""
    return np.clip(z + step, lo, hi)


def accept(f_old: np.ndarray, f_trial: np.ndarray, solved: np.ndarray | None = None) -> np.ndarray:
    """Rows whose trial is taken: the system was solved and the objective is finite and strictly lower.

    Examples
    --------
    >>> accept(np.array([1.0, 1.0, 1.0]), np.array([0.5, 2.0, np.nan])).tolist()
    [True, False, False]
    """
    better = np.isfinite(f_trial) & (f_trial < f_old)
    return better if solved is None else solved & better
