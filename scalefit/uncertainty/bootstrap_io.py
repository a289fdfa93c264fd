"""Bootstrap replicates to and from disk: :meth:`Bootstrap.save` writes a .npz file, :func:`load_replicates`
reads it back."""

from __future__ import annotations

from typing import Any

import numpy as np


def save(self, path) -> None:
    """Replicates (and what they are) to a .npz file; reload with :func:`load_replicates`.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> boot = fit.bootstrap(n=50, seed=0)
    >>> boot.save("replicates.npz")
    >>> from scalefit.uncertainty.bootstrap import load_replicates
    >>> load_replicates("replicates.npz")["replicates"].shape
    (50, 5)
    """
    np.savez(path, replicates=self.replicates, names=np.array(self.names), scheme=self.scheme,
             level=self.level, seed=-1 if self.seed is None else self.seed)


def load_replicates(path) -> dict[str, Any]:
    """Read a file written by :meth:`Bootstrap.save`: {replicates, names, scheme, level, seed}."""
    with np.load(path) as data:
        return {"replicates": data["replicates"], "names": tuple(data["names"].tolist()),
                "scheme": str(data["scheme"]), "level": float(data["level"]), "seed": int(data["seed"])}
