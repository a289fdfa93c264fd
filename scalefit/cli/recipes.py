"""The command line's side of the registry recipes and of the Chinchilla approaches.

``scalefit fit NAME`` applies the fit part of a registered dataset's recipe
(:attr:`scalefit.datasets.Recipe.fit`): ``{"law": "data_constrained"}`` fits the data-constrained law (the
general report of the joint fit, plus the paper's staged fit printed and written as
``data_constrained_staged.json``), ``{"approach": 2, ...}`` runs Chinchilla Approach 2 instead of a
parametric fit (printed and written as ``approach2.json`` with a figure), ``{"objective": ...}`` sets the
objective. Options the user gives (``--law``, ``--objective``) win over the recipe; ``--no-recipe`` ignores
it. Which recipe was applied is said on stderr and recorded in the run table's provenance.

``scalefit approaches RUNS`` puts Approaches 1, 2 and 3 side by side (:func:`run_approaches`).

Kept apart from :mod:`scalefit.cli.main` so the shell stays thin; nothing here fits by itself, it calls the API.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..core.errors import ScalefitError
from ..core.formatting import json_safe
from ..data import registry as datasets
from ..laws import DEFAULT_LAW

#: recipe keys honoured for the fitting side, and the Approach-2 options a recipe may give
APPROACH2_OPTIONS = ("window", "tolerance", "min_points", "fallback", "budgets")
STAGED_JSON = "data_constrained_staged.json"
STAGED = "staged"
APPROACH2_JSON = "approach2.json"


def recipe_fit_options(args: argparse.Namespace) -> tuple[str, int | str | None]:
    """(law, approach) for `fit`: the user's options, else the registry recipe's fit part, else defaults.

    ``approach`` is None (a parametric fit of ``law`` and the general report), 2 (Chinchilla Approach 2) or
    :data:`STAGED` (the data-constrained law fitted the paper's way, :func:`run_staged_data_constrained`).

    Sets ``args.objective`` (the recipe's, else "huber", when not given), ``args.recipe_fit`` (what was
    applied, for provenance) and ``args.approach_options`` (Approach-2 keyword arguments). Says on stderr
    which recipe was applied and how to override it.
    """
    source = getattr(args, "source", None)
    given_law, given_objective = args.law, args.objective
    args.approach_options = {}
    args.recipe_fit = None
    recipe: dict[str, Any] = {}
    if source in datasets.REGISTRY and not Path(source).exists():
        recipe = dict(datasets.info(source).recipe.fit)
    if getattr(args, "no_recipe", False) or not recipe:
        if recipe:
            print(f"scalefit: note: {source}: --no-recipe: the registry's recommended fit "
                  f"({_show(recipe)}) is not applied", file=sys.stderr)
            args.recipe_fit = {"recommended": recipe, "applied": {}, "why": "--no-recipe"}
        args.objective = given_objective or "huber"
        return given_law or DEFAULT_LAW, None
    applied: dict[str, Any] = {}
    overridden: list[str] = []
    approach = recipe.get("approach")
    law = given_law
    if given_law is not None and given_law == recipe.get("law"):
        applied["law"] = given_law  # asked for by name: the parametric (joint) fit and the general report
        if given_law == "data_constrained":
            print(f"scalefit: note: {source}: --law data_constrained: the joint 7-parameter fit and the general "
                  "report; the paper's staged fit (the recipe's default) is written beside it", file=sys.stderr)
    elif given_law is not None and ("law" in recipe or approach is not None):
        overridden.append(f"--law {given_law}")
        approach = None
    elif "law" in recipe:
        law = recipe["law"]
        applied["law"] = law
        if law == "data_constrained":  # the paper's way: staged fit; --law data_constrained for the joint fit
            approach = STAGED
    if approach == STAGED:
        applied["fit"] = "staged (base constants fixed, then R_N*, R_D*)"
    elif approach is not None:
        applied["approach"] = approach
        args.approach_options = {k: recipe[k] for k in APPROACH2_OPTIONS if k in recipe}
        applied.update(args.approach_options)
    if "objective" in recipe:
        if given_objective is not None:
            overridden.append(f"--objective {given_objective}")
        elif approach is None:
            applied["objective"] = recipe["objective"]
    args.objective = given_objective or applied.get("objective") or "huber"
    why = datasets.info(source).recipe.why
    if applied:
        how = "--law LAW (or --objective) to choose yourself, --no-recipe to ignore the recipe"
        print(f"scalefit: note: {source}: applying the registry's recommended fit ({_show(applied)}; why: see "
              f"`scalefit datasets list`). Give {how}.", file=sys.stderr)
    if overridden:
        print(f"scalefit: note: {source}: {', '.join(overridden)} replaces the registry's recommended fit "
              f"({_show(recipe)})", file=sys.stderr)
    args.recipe_fit = {"recommended": recipe, "applied": applied, "why": why}
    return law or DEFAULT_LAW, approach


def record_recipe(table, args: argparse.Namespace) -> None:
    """Put what the fit recipe did into the table's provenance (``provenance["recipe"]["fit_applied"]``)."""
    if args.recipe_fit is None:
        return
    entry = table.provenance.setdefault("recipe", {})
    entry["fit_applied"] = args.recipe_fit["applied"]
    if not args.recipe_fit["applied"]:
        entry["fit_note"] = args.recipe_fit["why"] if args.recipe_fit["why"] == "--no-recipe" else "overridden"


def _show(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items())


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(json_safe(payload), indent=1, allow_nan=False), encoding="utf-8")


def write_recipe_report(out: Path, payload: dict[str, Any], caught: list[str], figure: str | None) -> None:
    """report.md and report.html for a recipe's result (Approach 2, the staged data-constrained fit), so a
    registry dataset always ends in a report: "Problems found" first (every warning raised while loading
    and fitting, and the load-time checks), then the result, its data and its figure."""
    import base64
    import html

    from ..report.approaches import section_for
    from ..report.render import CSS, Section, sections_html, sections_markdown

    provenance = payload.get("provenance", {})
    staged = payload.get("kind") == "data_constrained_staged"  # repeated data is what that law is for
    checks = [c for c in provenance.get("checks", [])
              if not (staged and isinstance(c, dict) and c.get("check") == "repeated_data")]
    found = list(dict.fromkeys([*(c.get("message", str(c)) if isinstance(c, dict) else str(c) for c in checks),
                                *(m for m in caught if not (staged and "D > U" in m))]))
    result = section_for(payload)
    title = f"scalefit: {result.title}"
    problems = ([f"{len(found)} problem{'s' if len(found) > 1 else ''} found; read these before any number below."]
                + [f"{i}. {text}" for i, text in enumerate(found, start=1)]) if found else ["No problems found."]
    recipe = provenance.get("recipe", {})
    data = [f"Source: {provenance.get('source')}; {provenance.get('rows_read', '?')} rows read.",
            f"Registry recipe applied: {json.dumps(json_safe(recipe))}." if recipe else "No registry recipe.",
            "Every number is in the JSON file beside this report; `scalefit fit NAME --no-recipe` gives the "
            "parametric (Approach 3) report instead."]
    images = {}
    image = Path(figure) if figure else None  # written by _save_figure as out/figures/NAME.png (+ .svg)
    if image is not None and image.is_file():
        images[image.stem] = base64.b64encode(image.read_bytes()).decode()
        result.figures.append((image.stem, result.title))
    sections = [Section("Problems found", problems), result, Section("Data", data)]
    page = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{html.escape(title)}</title>",
            f"<style>{CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
            *sections_html(sections, images), "</body></html>"]
    (out / "report.md").write_text("\n".join([f"# {title}", "", *sections_markdown(sections)]), encoding="utf-8")
    (out / "report.html").write_text("\n".join(page) + "\n", encoding="utf-8")


class _Caught(list):
    """Warnings raised inside a ``with`` block, shown as usual and kept (as text) for the report."""

    def __enter__(self) -> _Caught:
        import warnings

        self._context = warnings.catch_warnings(record=True)
        self._records = self._context.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc) -> None:
        import warnings

        self._context.__exit__(*exc)
        for record in self._records:
            warnings.showwarning(record.message, record.category, record.filename, record.lineno)
            self.append(str(record.message))


def run_approach2(args: argparse.Namespace, table, out: Path) -> int:
    """Approach 2 for `fit` (a recipe's ``approach: 2``): print it, write approach2.json and a figure."""
    from ..approaches import isoflop_approach
    from ..report.render import check_output_dir

    options = dict(args.approach_options)
    with _Caught() as caught:
        result = isoflop_approach(table, n_boot=args.bootstrap, level=args.level, seed=args.seed, **options)
    check_output_dir(out, args.force)
    out.mkdir(parents=True, exist_ok=True)
    figures = out / "figures"
    figures.mkdir(exist_ok=True)
    figure = _save_figure("isoflop_parabolas", result, figures / "approach2_isoflop.png")
    payload = {"kind": "approach2", "result": result.to_dict(), "options": options,
               "provenance": table.provenance, "figure": figure}
    _write_json(out / APPROACH2_JSON, payload)
    write_recipe_report(out, json.loads(json.dumps(json_safe(payload))), caught, figure)
    if not args.quiet:
        print(result.summary())
        print(f"report: {out / 'report.html'} (also report.md, {APPROACH2_JSON}, figures/)")
    return 0


def run_staged_data_constrained(args: argparse.Namespace, table, out: Path, alone: bool = False) -> int:
    """The paper's staged data-constrained fit (base constants fixed, then R_N*, R_D*, cluster bootstrap).

    Prints its summary and writes data_constrained_staged.json into ``out``. ``alone``: the whole `fit`
    (a recipe's data-constrained law): the output directory is checked and a figure of the value of
    repeated epochs is written too; otherwise it runs beside the general report of the joint fit and is
    skipped when the table has no U column.
    """
    from ..approaches import fit_data_constrained

    if "U" not in table.df:
        if alone:
            raise ScalefitError("the data-constrained law needs a U (unique tokens) column; map one with "
                                "--columns U=...")
        return 0
    with _Caught() as caught:
        staged = fit_data_constrained(table, joint=False, n_boot=args.bootstrap, level=args.level, seed=args.seed)
    payload = {"kind": "data_constrained_staged", "result": staged.to_dict(), "provenance": table.provenance}
    if alone:
        from ..report.render import check_output_dir

        check_output_dir(out, args.force)
    out.mkdir(parents=True, exist_ok=True)
    figure = None
    if alone:
        (out / "figures").mkdir(exist_ok=True)
        figure = _save_figure("value_of_epochs", staged, out / "figures" / "value_of_epochs.png")
        payload["figure"] = figure
    _write_json(out / STAGED_JSON, payload)
    if alone:
        write_recipe_report(out, json.loads(json.dumps(json_safe(payload))), caught, figure)
    if not args.quiet:
        print()
        print("staged fit (Muennighoff et al. 2023: base constants fixed, then R_N*, R_D*):")
        print(staged.summary())
        print(f"staged fit: {out / STAGED_JSON}" + (f" (figure: {figure})" if figure else "")
              + ("; report.html renders parametric fits only: for the joint 7-parameter fit and its report, "
                 "run with --law data_constrained" if alone else " (not yet part of report.html)"))
    return 0


def _value_of_epochs_figure(staged):
    """D'/D against epochs with the bootstrap band: how much repeated data is worth."""
    import matplotlib.pyplot as plt
    import numpy as np

    frame = staged.value_of_epochs(np.geomspace(1, 1000, 120))
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(frame.epochs, frame.value, color="#0072B2", lw=1.8, label="staged fit")
    ax.fill_between(frame.epochs, frame.value_lo, frame.value_hi, color="#0072B2", alpha=0.2, lw=0,
                    label=f"{staged.level:.0%} bootstrap interval")
    ax.set_xscale("log")
    ax.set_xlabel("epochs over the unique data (D / U)")
    ax.set_ylabel("value of a repeated token (D' / D)")
    ax.set_title(f"R_D* = {staged.stars['R_D_star']:.3g}")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def _save_figure(name: str, result, path: Path) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plots import approaches as plots_approaches

    try:
        fig = _value_of_epochs_figure(result) if name == "value_of_epochs" else \
            getattr(plots_approaches, name)(result)
        fig.savefig(path, dpi=110)
        fig.savefig(path.with_suffix(".svg"))  # the report names both, as for every other figure
        plt.close(fig)
    except (OSError, ValueError) as exc:
        raise ScalefitError(f"{path}: {exc}") from None
    return str(path)


def run_approaches(args: argparse.Namespace, table) -> int:
    """`approaches RUNS`: Approaches 1, 2 and 3 side by side, one table (or --json) and an optional figure."""
    from ..approaches import compare_approaches

    computes = list(args.compute) if args.compute else _default_computes(table)
    isoflop = {}
    if args.budgets:  # each --budgets value is a checked list (scalefit.cli.argtypes.budget_list)
        isoflop["budgets"] = [c for values in args.budgets for c in values]
    if args.window is not None:
        isoflop["window"] = args.window
    if args.tolerance is not None:
        isoflop["tolerance"] = args.tolerance
    result = compare_approaches(table, computes, n_boot=args.bootstrap, level=args.level, seed=args.seed,
                                isoflop_kwargs=isoflop)
    if args.figure:
        _save_comparison_figure(result, args.figure)
    if args.json:
        payload = result.to_dict()
        payload["provenance"] = table.provenance
        print(json.dumps(json_safe(payload), indent=1))
    else:
        print(result.summary())
    return 0


def _save_comparison_figure(result, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from ..plots.approaches import approaches_allocation

    fig = approaches_allocation(result)
    try:
        fig.savefig(path, dpi=110)
    except (OSError, ValueError) as exc:
        raise ScalefitError(f"--figure {path}: {exc}") from None


def _default_computes(table) -> list[float]:
    """The data's largest compute and 100x beyond it: where approaches are compared by default."""
    import numpy as np

    df = table.df
    c = df["C"].to_numpy(float) if "C" in df else 6.0 * df["N"].to_numpy(float) * df["D"].to_numpy(float)
    top = float(np.max(c))
    return [top, 100.0 * top]
