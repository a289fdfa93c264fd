"""Chinchilla Approaches 1 (training-curve envelope) and 2 (IsoFLOP parabolas), their side-by-side
comparison with Approach 3 (the parametric fit), and the data-constrained law's staged fit."""

from __future__ import annotations

from .data_constrained import DataConstrainedFit, EpochAllocation, fit_data_constrained
from .errors import (
    ApproachDisagreementWarning,
    BaseFitWarning,
    FewPointsWarning,
    IsoFLOPBiasWarning,
    NoCurvesWarning,
)

__all__ = [
    "ApproachDisagreementWarning",
    "BaseFitWarning",
    "DataConstrainedFit",
    "EpochAllocation",
    "FewPointsWarning",
    "IsoFLOPBiasWarning",
    "NoCurvesWarning",
    "fit_data_constrained",
]
