"""User-defined laws for the tests: module-level functions, so fit.json can store them by import path."""

from __future__ import annotations


def chinchilla_form(N, D, E, A, B, alpha, beta):
    """E + A/N^alpha + B/D^beta written by hand, as a user would."""
    return E + A / N**alpha + B / D**beta
