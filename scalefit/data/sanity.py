"""Load-time sanity checks: values whose *meaning* looks wrong although every cell is a valid number.

One function per check. Each takes the canonical table (after filters) and returns a list of
:class:`Finding`; :func:`run_checks` runs them all. :func:`scalefit.load_runs` turns every finding into a
:class:`~scalefit.core.errors.DataCheckWarning` and records it in ``RunTable.checks`` so reports can show the
list at the top. No check changes the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .columns import speak

#: N or D below this many (parameters, tokens) is not a plausible count of a language model's training
SMALL_COUNT = 1e5
#: loss above this many nats/token is far beyond uniform guessing over any real vocabulary (ln 50k = 10.8)
LARGE_LOSS = 20.0
#: C / (6 N D) outside [1/RATIO, RATIO] means C follows another convention or unit
COMPUTE_RATIO = 3.0
#: a text column with 2..MAX_SETTINGS distinct values is read as an experimental setting
MAX_SETTINGS = 12


@dataclass(frozen=True)
class Finding:
    """One fired check: ``check`` (its name), ``column`` (canonical or source name), ``message``."""

    check: str
    column: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def run_checks(table: pd.DataFrame, mapping: Mapping[str, str], derived: Mapping[str, str],
               hint_style: str = "python", label_columns: tuple[str, ...] = ()) -> list[Finding]:
    """Every check on ``table`` (canonical columns N, D, loss, C and optional U, plus source columns)."""
    findings: list[Finding] = []
    findings += check_count_scale(table, mapping, derived)
    findings += check_loss_scale(table, mapping)
    findings += check_loss_in_bits(table, mapping)
    findings += check_repeated_data(table, mapping, hint_style)
    findings += check_compute_convention(table, mapping, derived)
    findings += check_setting_columns(table, mapping, hint_style, label_columns)
    return findings


def _named(canonical: str, mapping: Mapping[str, str]) -> str:
    source = mapping.get(canonical, canonical)
    return canonical if source == canonical else f"{canonical} (column {source!r})"


def check_count_scale(table: pd.DataFrame, mapping: Mapping[str, str],
                      derived: Mapping[str, str]) -> list[Finding]:
    """N or D whose largest value is below :data:`SMALL_COUNT`: counts written in millions or billions."""
    found = []
    for col, unit in (("N", "parameters"), ("D", "tokens")):
        if col in derived or col not in table:
            continue
        top = float(np.nanmax(table[col].to_numpy(float)))
        if top < SMALL_COUNT:
            found.append(Finding(
                "count_scale", col,
                f"{_named(col, mapping)} is at most {top:g} {unit}: too small for a count of {unit}; it looks "
                f"like millions or billions without units. Write the unit in the cells (e.g. {top:g}M or "
                f"{top:g}B) or scale the column"))
    return found


def check_loss_scale(table: pd.DataFrame, mapping: Mapping[str, str]) -> list[Finding]:
    """Loss above :data:`LARGE_LOSS` nats/token: most likely perplexity."""
    top = float(np.nanmax(table["loss"].to_numpy(float)))
    source = str(mapping.get("loss", "loss")).lower()
    named_ppl = "ppl" in source or "perplex" in source
    if top <= LARGE_LOSS and not named_ppl:
        return []
    return [Finding(
        "loss_scale", "loss",
        f"{_named('loss', mapping)} reaches {top:g}, implausible in nats/token"
        f"{' and the column is named like perplexity' if named_ppl else ''}: if these are perplexities, "
        "use loss = ln(perplexity)")]


def check_loss_in_bits(table: pd.DataFrame, mapping: Mapping[str, str]) -> list[Finding]:
    """A loss column named in bits (bits, bpb, bpc): a hint, since scalefit's loss unit is nats."""
    source = str(mapping.get("loss", "loss")).lower()
    if not any(word in source for word in ("bit", "bpb", "bpc", "bpt")):
        return []
    return [Finding("loss_bits", "loss",
                    f"{_named('loss', mapping)} is named like bits; scalefit reads loss in nats/token. "
                    "Multiply bits by ln 2 = 0.6931 (fitted exponents are unchanged, E, A, B scale)")]


def check_repeated_data(table: pd.DataFrame, mapping: Mapping[str, str], hint_style: str) -> list[Finding]:
    """Runs that saw more tokens than there are unique tokens (D > U): repeated data, several epochs."""
    if "U" not in table:
        return []
    d, u = table["D"].to_numpy(float), table["U"].to_numpy(float)
    repeated = d > u * (1 + 1e-6)
    if not repeated.any():
        return []
    law = speak(hint_style, "law='data_constrained'", "--law data_constrained")
    single = speak(hint_style, "query='D <= U'", "--filter 'D <= U'")
    return [Finding(
        "repeated_data", "U",
        f"{int(repeated.sum())} of {len(d)} runs train on more tokens than {_named('U', mapping)} holds "
        f"(D > U, up to {float(np.max(d / u)):.3g} epochs): a law that ignores U treats repeated tokens as "
        f"new. Fit the data-constrained law ({law}) or keep single-epoch runs ({single})")]


def check_compute_convention(table: pd.DataFrame, mapping: Mapping[str, str],
                             derived: Mapping[str, str]) -> list[Finding]:
    """A given C whose typical ratio to 6 N D lies outside [1/3, 3]: another convention or unit."""
    if "C" not in mapping or "C" in derived or "N" in derived or "D" in derived:
        return []
    ratio = table["C"].to_numpy(float) / (6.0 * table["N"].to_numpy(float) * table["D"].to_numpy(float))
    typical = float(np.nanmedian(ratio))
    if 1 / COMPUTE_RATIO <= typical <= COMPUTE_RATIO:
        return []
    if abs(np.log(typical * 8.64e19)) < np.log(COMPUTE_RATIO):
        guess = "C looks like PF-days (1 PF-day = 8.64e19 FLOPs): convert C to FLOPs"
    elif typical < 1:
        guess = ("C is smaller than 6ND: is N counted with embeddings while C excludes them, or is C in "
                 "another unit? scalefit uses C = 6 N D FLOPs")
    else:
        guess = ("C is larger than 6ND: does C include attention FLOPs or count a multiply-add as 2 "
                 "operations twice? scalefit uses C = 6 N D FLOPs")
    return [Finding("compute_convention", "C",
                    f"{_named('C', mapping)} is typically {typical:.3g} x 6ND (expected within "
                    f"[1/{COMPUTE_RATIO:g}, {COMPUTE_RATIO:g}]): {guess}; or drop C and let scalefit derive it")]


def check_setting_columns(table: pd.DataFrame, mapping: Mapping[str, str], hint_style: str,
                          label_columns: tuple[str, ...] = ()) -> list[Finding]:
    """Text columns with a few distinct values that vary within a model size: mixed configurations."""
    used = set(mapping.values()) | set(label_columns) | {"row", *mapping}
    sizes = table["group"] if "group" in table else None
    settings = []
    for col in table.columns:
        if col in used:
            continue
        series = table[col]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        distinct = series.dropna().unique()
        if not 2 <= len(distinct) <= MAX_SETTINGS or len(distinct) * 2 > len(series):
            continue
        if sizes is not None and len(distinct) >= sizes.nunique() \
                and (series.groupby(sizes.to_numpy(), sort=False).nunique() <= 1).all():
            continue  # one value per model size: it labels the model, it is not a setting
        counts = series.value_counts()
        shown = ", ".join(repr(_clip(str(v))) for v in counts.index[:4])
        settings.append((col, len(distinct), shown, str(counts.index[0])))
    if not settings:
        return []
    described = "; ".join(f"{col} has {k} values ({shown}{', ...' if k > 4 else ''})"
                          for col, k, shown, _ in settings[:6])
    more = f"; and {len(settings) - 6} more such columns" if len(settings) > 6 else ""
    names = [col for col, *_ in settings]
    common = table[names].astype(str).value_counts().index[0]  # the most common whole configuration
    common = common if isinstance(common, tuple) else (common,)
    example = " and ".join(f"{col} == {value!r}" for col, value in list(zip(names, common, strict=True))[:3])
    how = speak(hint_style, f'query="{example}"', f'--filter "{example}"')
    return [Finding("mixed_settings", ",".join(col for col, *_ in settings),
                    f"columns that look like experimental settings mix several configurations in one fit: "
                    f"{described}{more}. Fit one configuration at a time: filter with e.g. {how}")]


def _clip(text: str, width: int = 32) -> str:
    return text if len(text) <= width else text[: width // 2 - 2] + "..." + text[-(width // 2 - 1):]
