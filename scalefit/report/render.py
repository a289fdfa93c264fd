"""Fit reports: report.html (self-contained), report.md, fit.json and figures/ in one directory.

The content follows the reporting checklist of Li et al. 2025 ("(Mis)fitting: a survey of scaling laws"):
data and filters, functional form, objective and delta, optimizer and initialisation, parameter table with
intervals, derived quantities, diagnostics and warnings, extrapolation table with distances, held-out check.

A report is always rendered from a fit.json record (restored with :func:`record.restore`), never from
live objects, so ``scalefit report fit.json`` reproduces it byte for byte apart from the "rendered" line.
The directory is written under a temporary name and renamed into place at the end: an interrupted run
leaves no half-written report, and an existing directory is replaced only with ``force=True``.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ScalefitError
from .cells import FAR, Section, far
from .document import document
from .markup import CSS, sections_html, sections_markdown, to_html, to_markdown
from .record import Requests, Results, build_record, new_meta, read_record, restore, write_record
from .summary import problems, summary_lines

__all__ = ["CSS", "FAR", "FIGURES", "RENDERED_PREFIX", "Section", "check_output_dir", "document", "far", "problems",
           "profile_intervals", "render_record", "report", "rerender", "sections_html", "sections_markdown",
           "summary_lines", "to_html", "to_markdown"]


FIGURES = ("loss_vs_compute", "isoflop", "allocation", "residuals", "corner", "holdout")
BACKTEST_BOOT = 0  # bootstrap replicates per backtest cut-off (0: calibration only, law band not graded)
PROFILE_SECONDS = 8.0  # profile-likelihood intervals taking more CPU seconds are skipped with the reason
RENDERED_PREFIX = "Rendered "


def report(fit, out: str | os.PathLike, bootstrap=None, targets=(), computes=(), plans=(), hardware=None,
           references=None, holdout: bool = True, holdout_boot: int = 200, seed: int | None = 0,
           force: bool = False, command: list[str] | None = None,
           collected_warnings: list[str] | tuple[str, ...] = (), backtest: bool = True,
           backtest_boot: int = BACKTEST_BOOT, compare_laws: Sequence[Any] = (), profile: bool = True,
           influence: bool = True) -> Path:
    """Write report.html, report.md, fit.json and figures/ for ``fit`` (and its ``bootstrap``) into ``out``.

    ``targets`` are (N, D) pairs to predict, ``computes`` budgets (FLOPs) to allocate, ``plans`` dicts with
    ``target_loss`` or ``compute`` and ``inference_tokens``, ``hardware`` a dict for
    :class:`allocation.Hardware`, ``references`` {name: (N, D)} drawn on the allocation plot.
    ``collected_warnings`` are warnings a caller caught while loading and fitting (the command line passes
    them); the report lists them under "Problems found" with everything else.
    ``backtest``: with a bootstrap, run :func:`scalefit.extrapolation.backtest.backtest` once
    (``backtest_boot`` replicates per cut-off; 0 calibrates the extrapolation interval only) for the new-run
    and extrapolation intervals.
    ``compare_laws``: other laws (names, import paths or Law objects) compared with the fitted one by
    :func:`scalefit.approaches.compare_laws.compare` in a "Which law" section.
    ``influence``: with a bootstrap, leave-one-group-out and leave-one-run-out influence on the targets
    (:func:`scalefit.uncertainty.influence.influence`) in a "Which runs drive the extrapolation" section.
    ``profile``: try profile-likelihood intervals (skipped with the reason when lmfit fails or takes longer
    than PROFILE_SECONDS).

    Targets are (N parameters, D tokens) pairs; computes are budgets in FLOPs; losses print in nats/token.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> boot = fit.bootstrap(n=50, seed=0)
    >>> out = scalefit.report(fit, "report", bootstrap=boot, targets=[(7e9, 1.4e11)], computes=[1e22],
    ...                       holdout=False, backtest=False, profile=False)
    >>> sorted(p.name for p in out.iterdir())
    ['figures', 'fit.json', 'report.html', 'report.md']
    """
    out = Path(out)
    check_output_dir(out, force)
    check, skipped = None, None
    if holdout:
        from ..extrapolation.holdout import holdout_check

        try:
            check = holdout_check(fit, n_boot=holdout_boot, seed=seed)
        except ScalefitError as exc:
            skipped = str(exc)
        except (ArithmeticError, ValueError, np.linalg.LinAlgError) as exc:  # a sub-fit the data cannot support
            skipped = f"the fit without the largest model sizes failed ({type(exc).__name__}: {exc})"
    requests = Requests(targets=tuple(targets), computes=tuple(computes), plans=tuple(plans), hardware=hardware,
                        references=dict(references or {}))
    meta = new_meta(command, collected_warnings=collected_warnings, holdout_skipped=skipped)
    bt = run_backtest(fit, bootstrap, backtest_boot, seed) if (backtest and bootstrap is not None) else None
    comparison = run_comparison(fit, compare_laws) if compare_laws else None
    prof = profile_intervals(fit) if profile else None
    infl = run_influence(fit, bootstrap, targets, computes) if (influence and bootstrap is not None) else None
    record = build_record(Results(fit, bootstrap, check, requests, meta, backtest=bt, comparison=comparison,
                                  profile=prof, influence=infl))
    return render_record(record, out, force=force)


def run_backtest(fit, boot, n_boot: int = BACKTEST_BOOT, seed: int | None = 0):
    """The backtest behind the extrapolation interval, at the bootstrap's level; None when it cannot run."""
    from ..extrapolation.backtest import backtest

    try:
        return backtest(fit, n_boot=n_boot, level=boot.level, seed=seed)
    except (ScalefitError, ArithmeticError, ValueError, np.linalg.LinAlgError):
        return None


def run_influence(fit, boot, targets=(), computes=()):
    """Leave-one-out influence on the requested targets ((N, D) pairs) and budgets (FLOPs); None when the
    law has other inputs for a target or the refits fail."""
    from ..uncertainty.influence import influence

    points = [{"N": float(n), "D": float(d)} for n, d in targets] if set(fit.law.inputs) == {"N", "D"} else []
    budgets = list(computes) if fit.has_allocation else []
    try:
        return influence(fit, boot, targets=points, budgets=budgets)
    except (ScalefitError, ArithmeticError, ValueError, np.linalg.LinAlgError):
        return None


def run_comparison(fit, laws: Sequence[Any]):
    """The fitted law compared with ``laws`` on the same runs and objective
    (:func:`scalefit.approaches.compare_laws.compare`)."""
    from ..approaches.compare_laws import compare

    delta = fit.objective.delta if fit.objective.kind == "huber" and not fit.delta_source.startswith(
        "automatic") else None
    kind = fit.objective.kind if fit.objective.kind in ("huber", "ls") else "huber"
    return compare(fit.runs, laws=[fit.law, *laws], objective=kind, delta=delta)


class _TooSlow(BaseException):
    """Raised by the CPU-time alarm; a BaseException so that no ``except Exception`` inside lmfit or scipy
    swallows it."""


def profile_intervals(fit, seconds: float | None = None) -> dict[str, Any]:
    """Profile-likelihood intervals (1 and 2 sigma) from :meth:`Fit.profile_intervals`, or the reason they
    were skipped: lmfit failed, or it took more than ``seconds`` of CPU time (PROFILE_SECONDS; enforced by a
    CPU-time alarm when running in the main thread, so a busy machine does not change the outcome)."""
    import signal
    import threading
    import time

    limit = PROFILE_SECONDS if seconds is None else seconds
    timed = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    start = time.perf_counter()

    fired = []

    def stop(signum, frame):
        fired.append(True)
        raise _TooSlow

    old = signal.signal(signal.SIGPROF, stop) if timed else None
    try:
        if timed:
            signal.setitimer(signal.ITIMER_PROF, limit)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = fit.profile_intervals(sigmas=(1.0, 2.0))
    except _TooSlow:
        found = None
    except Exception as exc:
        found = exc
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, old)
    if fired:  # the alarm decides, whatever a library made of the exception it raised
        return {"skipped": f"lmfit's profile took more than {limit:g} CPU seconds (the bootstrap intervals stand "
                           "alone)"}
    if isinstance(found, Exception):
        return {"skipped": f"lmfit could not profile this fit ({type(found).__name__}: {one_line_text(found)})"}
    out = {}
    for name, pairs in found.items():
        values = [[float(p), float(v)] for p, v in pairs]
        if not all(np.isfinite(v) for pair in values for v in pair):
            return {"skipped": f"lmfit's profile of {name} did not close (a limit is not finite)"}
        out[name] = values
    return {"sigmas": [1.0, 2.0], "intervals": out, "seconds": round(time.perf_counter() - start, 3)}


def one_line_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] + ("..." if len(text) > 160 else "")


def check_output_dir(out: Path, force: bool) -> None:
    """Fail early (before any work) when ``out`` exists and is not empty without ``force``, or cannot be made."""
    if out.exists() and not out.is_dir():
        raise ScalefitError(f"{out}: exists and is not a directory")
    if out.exists() and any(out.iterdir()) and not force:
        raise ScalefitError(f"{out}: directory exists and is not empty; use --force to replace it")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise ScalefitError(f"{out}: parent directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ScalefitError(f"{out}: cannot write in {parent} (permission denied)")


def render_record(record: dict[str, Any], out: Path, force: bool = False) -> Path:
    """Render a record into ``out`` atomically: fit.json, report.html, report.md, figures/."""
    out = Path(out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / "figures").mkdir(parents=True)
        write_record(record, tmp / "fit.json")
        results = restore(read_record(tmp / "fit.json"))  # exactly what a later re-render will see
        sections, images = document(results, record, tmp / "figures")
        rendered = f"{RENDERED_PREFIX}{datetime.now(timezone.utc).isoformat(timespec='seconds')}"
        (tmp / "report.html").write_text(to_html(sections, images, record, rendered), encoding="utf-8")
        (tmp / "report.md").write_text(to_markdown(sections, record, rendered), encoding="utf-8")
        _swap_into_place(tmp, out, force)
    except OSError as exc:
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        raise ScalefitError(f"{out}: cannot write the report ({exc.strerror or exc}{where})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def rerender(fit_json: str | os.PathLike, out: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Re-render the report of a fit.json without refitting, into ``out`` (default: beside the fit.json).

    Writing over an existing report, the one beside the fit.json included, needs ``force``.
    """
    path = Path(fit_json)
    record = read_record(path)
    target = path.parent if out is None else Path(out)
    if target.resolve() == path.parent.resolve() and not force:
        raise ScalefitError(f"{target}: re-rendering would replace the report beside {path.name}; use --force to "
                            "replace it, or --out DIR to write a new one")
    check_output_dir(target, force)
    return render_record(record, target, force=force)


def _swap_into_place(tmp: Path, out: Path, force: bool) -> None:
    if out.exists():
        if any(out.iterdir()) and not force:
            raise ScalefitError(f"{out}: directory exists and is not empty; use --force to replace it")
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)
