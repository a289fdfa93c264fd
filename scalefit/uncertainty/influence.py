"""Which runs drive the fit: leave-one-out influence on the parameters and, above all, the requested targets.

For every group (model size, or training run when rows are checkpoints) the fit is refitted without it,
exactly, in one batched warm-started solve (the bootstrap's refit machinery; the groups whose removal moves a
target most are re-solved from scratch by the global search as well). For every run the same is done exactly
up to ``EXACT_RUNS`` rows, and above that by a one-step (Newton) approximation: removing run i changes the
objective's gradient at the optimum by -g_i, so the parameters move by about H_(-i)^-1 g_i, with H_(-i) the
objective's Hessian without run i (tests/test_influence.py checks it against exact refits).

Each shift is stated in units of the quantity's interval width (the bootstrap law band at ``level``): a
leave-out that moves a target by more than ``INFLUENCE_THRESHOLD`` widths is named in the summary. Nothing is
ever dropped: the table says what dropping would change, and dropping stays the user's choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.formatting import from_json_safe, json_safe, num
from ..solver import identify
from ..solver import objective as obj
from . import replicates as replicate_refits

INFLUENCE_THRESHOLD = 0.5  # a leave-out moving a target by more than half its interval width is named
EXACT_RUNS = 400  # leave-one-run-out refitted exactly up to this many rows; one-step approximation above
GLOBAL_RECHECK = 3  # the groups that move the targets most are re-solved from scratch by the global search
INFLUENCE_BOOT = 200  # bootstrap replicates for the interval widths when the caller gives no bootstrap
HESSIAN_STEP = 1e-6  # relative finite-difference step of the analytic gradient (one-step approximation)


@dataclass(frozen=True)
class Influence:
    """Leave-one-group-out and leave-one-run-out shifts of a fit's parameters and targets.

    ``groups`` and ``runs`` are DataFrames with one row per left-out unit: ``label``, ``runs`` (how many
    runs), ``lines`` (file lines), ``method`` ("exact" or "one-step"), ``identified`` (can the rest still
    identify the law), then for every quantity q the value without the unit (``q``), the shift
    (``shift q``) and the shift in interval widths (``widths q``), and ``max widths`` (the largest over the
    targets, or over the parameters when no target was requested). ``estimate`` and ``width`` hold the
    full fit's value and interval width (law band at ``level``) of every quantity.
    """

    quantities: tuple[str, ...]
    targets: tuple[str, ...]
    estimate: dict[str, float]
    width: dict[str, float]
    level: float
    groups: pd.DataFrame
    runs: pd.DataFrame
    threshold: float = INFLUENCE_THRESHOLD
    run_method: str = "exact"
    group_method: str = "exact"
    n_boot: int = 0

    @property
    def judged(self) -> tuple[str, ...]:
        """The quantities ``max widths`` is taken over: the targets, else the parameters."""
        return self.targets or tuple(q for q in self.quantities if "(" not in q)

    def table(self, kind: str = "groups") -> pd.DataFrame:
        """The groups' (``kind="groups"``) or runs' (``"runs"``) table, most influential first."""
        frame = {"groups": self.groups, "runs": self.runs}.get(kind)
        if frame is None:
            raise ValueError(f"kind must be 'groups' or 'runs', not {kind!r}")
        return frame.sort_values("max widths", ascending=False, na_position="last", kind="stable")

    def top(self, k: int = 5, kind: str = "groups", by: str | None = None) -> pd.DataFrame:
        """The ``k`` units that move ``by`` (a quantity; default: any judged quantity) most, in widths."""
        frame = self.table(kind)
        if by is not None:
            if by not in self.quantities:
                raise ValueError(f"by must be one of {list(self.quantities)}, not {by!r}")
            frame = frame.reindex(frame[f"widths {by}"].abs().sort_values(ascending=False, kind="stable").index)
        return frame.head(int(k))

    def exceeding(self, threshold: float | None = None) -> pd.DataFrame:
        """Groups and runs (column ``unit``) whose removal moves a judged quantity by more than ``threshold``
        interval widths (default :data:`INFLUENCE_THRESHOLD`), or leaves the law unidentified."""
        limit = self.threshold if threshold is None else float(threshold)
        parts = []
        for kind in ("groups", "runs"):
            frame = self.table(kind)
            hit = frame[(frame["max widths"] > limit) | ~frame["identified"]]
            parts.append(hit.assign(unit=kind[:-1]))
        return pd.concat(parts, ignore_index=True)

    def summary_lines(self, k: int = 3) -> list[str]:
        """One sentence per unit past the threshold (at most ``k``), largest first; empty when none is."""
        hits = self.exceeding()
        lines = []
        for _, row in hits.head(int(k)).iterrows():
            who = f"{row['unit']} {row['label']} ({_runs(row['runs'])}, {row['lines']})"
            if not row["identified"]:
                lines.append(f"without {who} the law is not identified")
                continue
            q = max(self.judged, key=lambda name: abs(row[f"widths {name}"]) if np.isfinite(row[f"widths {name}"])
                    else -1.0)
            lines.append(f"leaving out {who} moves {q} from {_fmt(self.estimate[q])} to {_fmt(row[q])} "
                         f"({row[f'widths {q}']:+.2f} interval widths; {row['method']} refit)")
        if len(hits) > k:
            lines.append(f"... and {len(hits) - k} more past {self.threshold:g} widths (fit.influence().exceeding())")
        return lines

    def describe(self) -> str:
        """Two sentences: what was computed and how many units pass the threshold."""
        hits = self.exceeding()
        return (f"Leave-one-out influence on {', '.join(self.judged)}: {len(self.groups)} groups "
                f"({self.group_method}), {len(self.runs)} runs ({self.run_method}); shifts in units of the "
                f"{self.level:.0%} law band's width ({self.n_boot} bootstrap replicates). {len(hits)} unit(s) "
                f"move a target by more than {self.threshold:g} widths.")

    def figure(self, **kwargs: Any):
        """Horizontal bars of the largest shifts, in interval widths (:func:`scalefit.plots.influence`)."""
        from ..plots.influence import influence_figure
        return influence_figure(self, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        def records(frame):
            return [{k: json_safe(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
        return {"quantities": list(self.quantities), "targets": list(self.targets),
                "estimate": {k: json_safe(v) for k, v in self.estimate.items()},
                "width": {k: json_safe(v) for k, v in self.width.items()}, "level": self.level,
                "threshold": self.threshold, "run_method": self.run_method,
                "group_method": self.group_method, "n_boot": self.n_boot,
                "groups": records(self.groups), "runs": records(self.runs)}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Influence:
        def frame(rows):
            return pd.DataFrame([{k: from_json_safe(v) for k, v in row.items()} for row in rows])
        return cls(tuple(record["quantities"]), tuple(record["targets"]),
                   {k: float(from_json_safe(v)) for k, v in record["estimate"].items()},
                   {k: float(from_json_safe(v)) for k, v in record["width"].items()}, float(record["level"]),
                   frame(record["groups"]), frame(record["runs"]), float(record["threshold"]),
                   str(record["run_method"]), str(record.get("group_method", "exact")), int(record["n_boot"]))


def influence(fit, boot=None, targets: Iterable[Mapping[str, float]] | None = None,
              budgets: Iterable[float] | None = None, level: float | None = None,
              threshold: float = INFLUENCE_THRESHOLD, exact_runs: int = EXACT_RUNS) -> Influence:
    """Leave-one-group-out (exact) and leave-one-run-out (exact or one-step) influence of a Fit.

    Parameters
    ----------
    boot:
        A Bootstrap of ``fit`` whose law band sets the interval widths; default: ``INFLUENCE_BOOT``
        cluster replicates, seed 0.
    targets:
        Points of the law's inputs (e.g. ``[{"N": 7e10, "D": 1.4e12}]``, N in parameters, D in tokens)
        whose loss is a target.
    budgets:
        Compute budgets C (FLOPs) whose compute-optimal N_opt and L_opt are targets (laws with allocation).
    threshold:
        Interval widths past which a unit is named in :meth:`Influence.summary_lines`.
    exact_runs:
        Leave-one-run-out is refitted exactly up to this many rows and by the one-step approximation above.

    Examples
    --------
    >>> fit = scalefit.fit(scalefit.datasets.load("example_chinchilla"))
    >>> inf = fit.influence(budgets=[1e22])
    >>> inf.targets
    ('N_opt(C=1e+22)', 'L_opt(C=1e+22)')
    >>> len(inf.groups) == fit.runs.n_groups
    True
    """
    if boot is None:
        from .bootstrap import bootstrap
        boot = bootstrap(fit, n=INFLUENCE_BOOT, seed=0, progress=False)
    level = boot.level if level is None else float(level)
    quantities = _quantities(fit, targets, budgets)
    names = tuple(quantities)
    target_names = tuple(q for q in names if "(" in q)
    estimate = {q: float(fn(_columns(fit.law.param_names, np.array([fit.param_vector])))[0])
                for q, fn in quantities.items()}
    width = {}
    for q, fn in quantities.items():
        row = boot.interval(fn, level=level)
        width[q] = float(row["hi"] - row["lo"])
    engine = fit.spec.engine
    problem = engine.problem(fit.data, fit.runs.loss, fit.objective, fit.weights)
    z0 = np.asarray(fit.solution.z, dtype=float)
    group_codes, group_values = _codes(fit.runs.groups)
    n_groups = len(group_values)
    if n_groups <= exact_runs or engine.kind != "varpro":
        leave_group = (group_codes[None, :] != np.arange(n_groups)[:, None]).astype(float)
        z_groups, ok_groups = _exact(engine, problem, z0, leave_group)
        group_method = "exact"
    else:  # as many groups as a long table has runs: the one-step approximation, per group
        leave_group = None
        z_groups, ok_groups, group_method = one_step(problem, z0, group_codes), np.ones(n_groups, bool), "one-step"
    labels = fit.runs.df["row"].astype(str).to_numpy()
    order = np.argsort(group_codes, kind="stable")
    members = np.split(order, np.cumsum(np.bincount(group_codes, minlength=n_groups))[:-1])
    groups = _frame(fit, engine, problem, quantities, estimate, width, target_names or names, z_groups, ok_groups,
                    _group_labels(fit, group_values, members), members, labels, group_method)
    if leave_group is not None:
        _recheck(engine, problem, z0, leave_group, z_groups, groups, fit, quantities, estimate, width,
                 target_names or names)
    n = len(labels)
    if n <= exact_runs or engine.kind != "varpro":
        z_runs, ok_runs = _exact(engine, problem, z0, 1.0 - np.eye(n))
        run_method = "exact"
    else:
        z_runs, ok_runs = one_step(problem, z0), np.ones(n, dtype=bool)
        run_method = "one-step"
    data = fit.data
    run_labels = [f"{labels[i]}: " + ", ".join(f"{k}={_fmt(v[i])}" for k, v in data.items())
                  + f", loss={_fmt(fit.runs.loss[i])}" for i in range(n)]
    runs = _frame(fit, engine, problem, quantities, estimate, width, target_names or names, z_runs, ok_runs,
                  run_labels, [np.array([i]) for i in range(n)], labels, run_method)
    return Influence(names, target_names, estimate, width, level, groups, runs, float(threshold), run_method,
                     group_method, len(boot.replicates))


def one_step(problem, z0: np.ndarray, units: np.ndarray | None = None) -> np.ndarray:
    """One Newton step per unit from the full optimum with that unit left out: internal z rows (U, P).

    ``units`` (n,) gives each run's unit code 0..U-1 (default: every run its own unit). g_u = sum over the
    unit's runs of w_i psi(r_i) J_i is its share of the gradient (zero in total at the optimum); H is the
    objective's Hessian (finite differences of the analytic gradient, symmetrised) and H_(-u) = H minus the
    unit's Gauss-Newton terms; the step is H_(-u)^-1 g_u. Parameters at a bound stay there.
    """
    law, k = problem.law, problem.n_linear
    log_pred, share = obj.log_predict(law, z0, problem.features)
    jac = obj.residual_jacobian(share, law.log_basis_jacobian(z0[k:], problem.features))  # (n, P)
    r = log_pred - problem.log_loss
    n = r.size
    units = np.arange(n) if units is None else np.asarray(units)
    n_units = int(units.max()) + 1
    w = problem.weights
    exact_curv = np.ones_like(r) if problem.objective.kind == "ls" else (np.abs(r) <= problem.objective.delta) * 1.0
    lo, hi = np.array(problem.bounds(), dtype=float).T
    free = ~((z0 <= lo + 1e-12) | (z0 >= hi - 1e-12))
    jf = jac[:, free]
    g = np.zeros((n_units, jf.shape[1]))
    np.add.at(g, units, (w * problem.objective.psi(r))[:, None] * jf)
    gn = np.zeros((n_units, jf.shape[1], jf.shape[1]))
    np.add.at(gn, units, (w * exact_curv)[:, None, None] * jf[:, :, None] * jf[:, None, :])
    h_minus = _hessian(problem, z0)[np.ix_(free, free)][None] - gn
    step = np.zeros((n_units, z0.size))
    try:
        step[:, free] = np.linalg.solve(h_minus, g[:, :, None])[..., 0]
    except np.linalg.LinAlgError:
        step[:, free] = np.einsum("nij,nj->ni", np.linalg.pinv(h_minus), g)
    return z0[None, :] + step


def _hessian(problem, z0: np.ndarray) -> np.ndarray:
    p = z0.size
    h = np.zeros((p, p))
    for j in range(p):
        e = np.zeros(p)
        e[j] = HESSIAN_STEP * max(1.0, abs(z0[j]))
        h[:, j] = (problem.value_and_grad(z0 + e)[1] - problem.value_and_grad(z0 - e)[1]) / (2 * e[j])
    return 0.5 * (h + h.T)


def _exact(engine, problem, z0, weights) -> tuple[np.ndarray, np.ndarray]:
    z, ok = replicate_refits.refit_rows(engine, problem, z0, weights)
    if engine.kind == "varpro":
        ok &= identify.reasons(problem.law, problem.features, z0, weights * problem.weights) == ""
    return z, ok


def _recheck(engine, problem, z0, leave_group, z_groups, groups, fit, quantities, estimate, width, judged) -> None:
    """Re-solve the most influential leave-outs from scratch; a better optimum replaces the warm start's."""
    order = groups["max widths"].fillna(-1.0).to_numpy().argsort()[::-1][:GLOBAL_RECHECK]
    for i in order:
        if not groups.at[i, "identified"]:
            continue
        sub = problem.reweighted(leave_group[i])
        solution = engine.solve(sub, n_starts=fit.spec.n_starts, grid_points=None)
        if float(sub.value(solution.z)) < float(sub.value(z_groups[i])) * (1 - 1e-7):
            z_groups[i] = solution.z
            row = _frame(fit, engine, problem, quantities, estimate, width, judged, z_groups[i:i + 1],
                         np.array([True]), [groups.at[i, "label"]], [np.array([0])], np.array([groups.at[i, "lines"]]),
                         "exact (global re-solve)")
            for column in row.columns:
                if column not in ("label", "runs", "lines"):
                    groups.at[i, column] = row.at[0, column]


def _quantities(fit, targets, budgets) -> dict[str, Callable[[dict[str, np.ndarray]], np.ndarray]]:
    """{name: fn(params {name: (B,)}) -> (B,)}: parameters, derived quantities, then the targets."""
    law = fit.law
    out: dict[str, Callable] = {name: (lambda p, name=name: np.asarray(p[name], float)) for name in law.param_names}
    out.update({name: (lambda p, name=name: np.asarray(law.derived(p)[name], float)) for name in fit.derived})
    for point in targets or ():
        x = {k: np.array([float(point[k])]) for k in law.inputs}
        label = "L(" + ", ".join(f"{k}={_fmt(v[0])}" for k, v in x.items()) + ")"
        out[label] = lambda p, x=x: _predict(law, p, x)
    for c in budgets or ():
        if not hasattr(law, "compute_optimal"):
            break
        for key in ("N_opt", "L_opt"):
            out[f"{key}(C={_fmt(float(c))})"] = lambda p, c=float(c), key=key: np.asarray(
                law.compute_optimal(p, c)[key], float)
    return out


def _predict(law, p, x) -> np.ndarray:
    vec = np.stack([np.atleast_1d(np.asarray(p[k], float)).ravel() for k in law.param_names], axis=-1)
    out = law.predict(vec, x)[:, 0]
    return out if np.ndim(p[law.param_names[0]]) else out[0]


def _frame(fit, engine, problem, quantities, estimate, width, judged, z, ok, labels, members, lines, method):
    public = engine.public(problem, z)
    cols = _columns(fit.law.param_names, public)
    frame = pd.DataFrame({"label": labels, "runs": [len(m) for m in members],
                          "lines": [_lines(lines[m]) for m in members], "method": method, "identified": ok})
    judged_widths = []
    for q, fn in quantities.items():
        with np.errstate(all="ignore"):
            value = np.where(ok, np.asarray(fn(cols), float), np.nan)
            shift = value - estimate[q]
            widths = shift / width[q] if width[q] > 0 else np.full(len(shift), np.nan)
        frame[q], frame[f"shift {q}"], frame[f"widths {q}"] = value, shift, widths
        if q in judged:
            judged_widths.append(np.abs(widths))
    stacked = np.vstack(judged_widths)
    frame["max widths"] = np.where(np.isfinite(stacked).any(axis=0), np.nanmax(np.where(np.isfinite(stacked),
                                                                                     stacked, -np.inf), axis=0), np.nan)
    return frame


def _codes(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, first, codes = np.unique(groups.astype(str), return_index=True, return_inverse=True)
    order = np.argsort(first)  # groups in the order the file lists them
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[np.asarray(codes).ravel()], np.asarray(groups)[first[order]]


def _group_labels(fit, values, members) -> list[str]:
    """A group's label, with its model size when the label does not already say it and the group has one."""
    n = fit.data.get("N")
    out = []
    for value, rows in zip(values, members, strict=True):
        label = str(value)
        if n is not None and "N=" not in label and np.unique(n[rows]).size == 1:
            label += f" (N={_fmt(n[rows][0])})"
        out.append(label)
    return out


def _lines(labels: np.ndarray) -> str:
    """Row labels of a unit, compressed: "lines 12-19", "index 3, 9, 15", or the labels themselves."""
    labels = [str(s) for s in labels]
    parts = [s.rpartition(" ") for s in labels]
    prefixes = {p[0] for p in parts}
    if len(labels) > 1 and len(prefixes) == 1 and all(p[2].isdigit() for p in parts):
        word = {"line": "lines"}.get(next(iter(prefixes)), next(iter(prefixes)))
        ints = sorted(int(p[2]) for p in parts)
        if ints[-1] - ints[0] == len(ints) - 1:
            return f"{word} {ints[0]}-{ints[-1]}"
        return f"{word} " + ", ".join(str(i) for i in ints[:4]) + (", ..." if len(ints) > 4 else "")
    return ", ".join(labels[:4]) + (", ..." if len(labels) > 4 else "")


def _columns(names, matrix: np.ndarray) -> dict[str, np.ndarray]:
    return {name: matrix[:, j] for j, name in enumerate(names)}


def _runs(count) -> str:
    return f"{int(count)} run" + ("" if int(count) == 1 else "s")


def _fmt(value) -> str:
    return num(value, 4)
