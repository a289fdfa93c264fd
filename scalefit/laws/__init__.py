"""Stage 2, laws: functional forms of scaling laws, each a small class behind the :class:`Law` interface.

:data:`LAWS` maps the names the command line and ``fit(law=...)`` accept to factories; any law can also be
given as an instance, or as an import path ``"module:attribute"`` naming a Law subclass, a Law instance
or a plain function (wrapped in :class:`CustomLaw`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .base import ComputeOptimal, Frontier, InferencePlan, Inverse, Law, ParamSpec, import_object
from .chinchilla import Chinchilla
from .custom import CustomLaw
from .data_constrained import DataConstrained
from .kaplan import Kaplan
from .numerical import numerical_compute_optimal
from .power import ComputePowerLaw, PowerLaw
from .separable import SeparableLaw, solver_view

DEFAULT_LAW = "chinchilla"

LAWS: dict[str, Callable[[], Law]] = {
    "chinchilla": Chinchilla,
    "chinchilla_no_e": lambda: Chinchilla(fixed={"E": 0.0}),
    "chinchilla_tied": lambda: Chinchilla(tied={"beta": "alpha"}),
    "kaplan": Kaplan,
    "power_n": lambda: PowerLaw("N"),
    "power_n_no_e": lambda: PowerLaw("N", fixed={"E": 0.0}),
    "power_d": lambda: PowerLaw("D"),
    "power_d_no_e": lambda: PowerLaw("D", fixed={"E": 0.0}),
    "power_c": ComputePowerLaw,
    "power_c_no_e": lambda: ComputePowerLaw(fixed={"E": 0.0}),
    "data_constrained": DataConstrained,
}


def get_law(law: str | Law) -> Law:
    """A Law instance from a registered name, an import path ``module:attr``, or an instance."""
    if isinstance(law, Law):
        return law
    if not isinstance(law, str):
        raise ValueError(f"a law is a name, an import path or a Law instance, not {type(law).__name__}")
    if law in LAWS:
        return LAWS[law]()
    if ":" in law:
        obj = import_object(law)
        if isinstance(obj, Law):
            return obj
        if isinstance(obj, type) and issubclass(obj, Law):
            return obj()
        if callable(obj):
            return CustomLaw(obj)
        raise ValueError(f"{law!r} is neither a Law nor a function")
    raise ValueError(f"unknown law {law!r}; known: {', '.join(LAWS)}, or an import path 'module:attribute'")


def law_from_dict(record: Mapping[str, Any] | str) -> Law:
    """The law described by :meth:`Law.to_dict` (or by a bare registered name, as older records store it)."""
    if isinstance(record, str):
        return get_law(record)
    return Law.from_dict(record)


__all__ = ["DEFAULT_LAW", "LAWS", "Chinchilla", "ComputeOptimal", "ComputePowerLaw", "CustomLaw", "DataConstrained",
           "Frontier",
           "InferencePlan", "Inverse", "Kaplan", "Law", "ParamSpec", "PowerLaw", "SeparableLaw", "get_law",
           "law_from_dict", "numerical_compute_optimal", "solver_view"]
