"""Named warnings of the Chinchilla approaches and the data-constrained fit (all ScalefitWarning)."""

from __future__ import annotations

from ..core.errors import ScalefitWarning


class IsoFLOPBiasWarning(ScalefitWarning):
    """An IsoFLOP parabola vertex is likely biased: narrow or off-centre sampling, or a vertex outside the data."""


class FewPointsWarning(ScalefitWarning):
    """A compute budget (or bin) has too few points for its own parabola; a fallback was used or it was skipped."""


class ApproachDisagreementWarning(ScalefitWarning):
    """Two approaches give compute-optimal allocations whose intervals do not overlap."""


class NoCurvesWarning(ScalefitWarning):
    """Approach 1 needs training curves (several checkpoints per run); the data have none."""


class BaseFitWarning(ScalefitWarning):
    """The data-constrained fit's base (single-epoch) Chinchilla constants are poorly determined."""
