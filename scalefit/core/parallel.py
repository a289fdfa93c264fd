"""The one place work is spread over processes: a progress bar (tqdm) in one process, joblib otherwise.

Any joblib backend works (``joblib.parallel_config(backend="dask")`` for a Dask cluster); results come back
in the order of ``items`` whatever the backend or ``n_jobs``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any


def map_items(fn: Callable[..., Any], items: Sequence[Any] | Iterable[Any], n_jobs: int = 1, progress: bool = False,
              desc: str = "", unit: str = "chunk") -> list[Any]:
    """[fn(*item) for item in items], in order; in ``n_jobs`` joblib workers when n_jobs != 1."""
    items = list(items)
    if n_jobs == 1:
        from tqdm.auto import tqdm

        return [fn(*item) for item in tqdm(items, disable=not progress, desc=desc, unit=unit)]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs, verbose=5 if progress else 0)(delayed(fn)(*item) for item in items)
