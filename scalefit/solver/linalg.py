"""Batched small linear algebra that never raises: singular or non-finite systems are flagged, not errors.

``np.errstate`` does not catch ``numpy.linalg.LinAlgError``; every solve in the engine goes through
:func:`safe_solve`, which returns a mask of the systems it could solve.
"""

from __future__ import annotations

import numpy as np

ROW_BLOCK = 1 << 17  # elements (batch x rows) handled at once by the row-chunked loops


def safe_solve(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve a x = b for a stack of systems: a (..., P, P), b (..., P).

    Returns ``(x (..., P), ok (...,))``. A system that is singular, not finite or gives a non-finite
    solution has ``ok`` False and x = 0; no exception is raised.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    finite = np.isfinite(a).all(axis=(-1, -2)) & np.isfinite(b).all(axis=-1)
    if not finite.all():
        a = np.where(finite[..., None, None], a, np.eye(a.shape[-1]))
        b = np.where(finite[..., None], b, 0.0)
    try:  # linalg.solve keeps its own floating-point error state
        x = np.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:  # at least one exactly singular system: solve one by one
        with np.errstate(all="ignore"):
            x = _solve_each(a, b)
    ok = finite & np.isfinite(x).all(axis=-1)
    return (x if ok.all() else np.where(ok[..., None], x, 0.0)), ok


def _solve_each(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    flat_a = a.reshape(-1, *a.shape[-2:])
    flat_b = b.reshape(-1, b.shape[-1])
    out = np.full(flat_b.shape, np.nan)
    for i in range(flat_a.shape[0]):
        try:
            out[i] = np.linalg.solve(flat_a[i], flat_b[i])
        except np.linalg.LinAlgError:
            pass  # stays NaN -> flagged by the caller
    return out.reshape(b.shape)


def row_blocks(batch: int, n: int, budget: int = ROW_BLOCK) -> list[slice]:
    """Slices over n rows so that a (batch, rows) block holds at most ``budget`` elements."""
    size = max(1, min(n, budget // max(batch, 1)))
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def take_rows(features, rows: slice) -> dict[str, np.ndarray]:
    """The features of a block of rows."""
    return {k: v[rows] for k, v in features.items()}
