"""Functional forms of scaling laws, each a small class behind the :class:`Law` interface."""

from __future__ import annotations

from .base import Law
from .chinchilla import Chinchilla
from .data_constrained import DataConstrained

LAWS: dict[str, type[Law]] = {"chinchilla": Chinchilla, "data_constrained": DataConstrained}


def get_law(law: str | Law) -> Law:
    """A Law instance from a name ("chinchilla") or an instance."""
    if isinstance(law, Law):
        return law
    try:
        return LAWS[law]()
    except KeyError:
        raise ValueError(f"unknown law {law!r}; known: {', '.join(LAWS)}") from None


__all__ = ["LAWS", "Chinchilla", "DataConstrained", "Law", "get_law"]
