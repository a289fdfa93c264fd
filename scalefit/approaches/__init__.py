"""Stage 8, approaches: Chinchilla Approaches 1 (training-curve envelope) and 2 (IsoFLOP parabolas), their
side-by-side comparison with Approach 3 (the parametric fit), comparisons of laws on the same runs
(compare_laws), and the data-constrained law's staged fit."""

from __future__ import annotations

from .compare import ApproachComparison, compare_approaches
from .data_constrained import DataConstrainedFit, EpochAllocation, fit_data_constrained
from .envelope import EnvelopeResult, envelope_approach, has_curves
from .errors import ApproachDisagreementWarning, BaseFitWarning, FewPointsWarning, IsoFLOPBiasWarning, NoCurvesWarning
from .isoflop import IsoFLOPResult, bin_budgets, isoflop_approach

__all__ = [
    "ApproachComparison",
    "ApproachDisagreementWarning",
    "BaseFitWarning",
    "DataConstrainedFit",
    "EnvelopeResult",
    "EpochAllocation",
    "FewPointsWarning",
    "IsoFLOPBiasWarning",
    "IsoFLOPResult",
    "NoCurvesWarning",
    "bin_budgets",
    "compare_approaches",
    "envelope_approach",
    "fit_data_constrained",
    "has_curves",
    "isoflop_approach",
]
