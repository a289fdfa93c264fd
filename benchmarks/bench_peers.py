"""scalefit against its peers on the same data, in interleaved rounds, with BLAS pinned to one thread.

Data: Epoch AI's reconstruction of the Chinchilla runs, loaded by scalefit
(``datasets.load("chinchilla_epoch", drop_highest_loss=5)``: 240 runs, 43 model sizes) and handed to every
tool as one CSV. Each tool runs in its own subprocess (its own interpreter if asked), every process with
OPENBLAS/OMP/MKL_NUM_THREADS=1; one round runs each tool once, in the order simple-scaling-laws, chinchilla,
Hoffmann grid, scalefit; the summary reports medians over rounds, wall-clock and CPU time, the ratios, the
objective value of every tool's optimum evaluated by scalefit's objective code, and the load average. Every
timed call runs on one thread, so when the load average exceeds the number of cores, read the CPU-time ratios.

Comparisons (ratios are peer time / scalefit time, so > 1 means scalefit is faster):
  * one fit, Huber delta=1e-3 on log loss (summed): scalefit ``fit(objective="hoffmann")`` against
    Hoffmann et al.'s 4,500-start L-BFGS-B grid (scipy default tolerances, and scalefit's tight ones), and
    against the ``chinchilla`` package (BFGS from the same 4,500 starts on ``log_huber(delta=1e-3)``, mean
    instead of sum: same optimum; run with ``parallel=False``, i.e. one core). Both grids time a random
    subset of starts and scale to 4,500 (the chinchilla package's fixed cost is measured with one start and
    counted once).
  * simple-scaling-laws (``simple_scaling_laws.fit``, law ``separable-power``) only does least squares, and
    on the loss itself, not its log; so it is compared with scalefit's least squares on log loss
    (``objective="ls"``): "its fit" is ``fit()`` without the time spent in its bootstrap; "its bare solver"
    is ``fitting.fit_curve`` (variable-projection grid + 5 trust-region polishes) on the same arrays.
  * 1,000 bootstrap replicates: simple-scaling-laws' bootstrap (a wild cluster bootstrap: Webb six-point
    multipliers on HC2/cluster-corrected residuals, one multiplier per (N, D) configuration -- here every
    run is its own configuration -- design kept fixed, each draw a warm-started least-squares refit plus a
    grid guard) against scalefit's cluster bootstrap (whole model sizes resampled) with Huber and with least
    squares, and scalefit's residual bootstrap with least squares (design kept fixed, like the wild
    bootstrap: the closest like-for-like scheme scalefit has).

This script installs nothing. Peers that are not importable through ``--peer-python`` are skipped with the
reason printed. simple-scaling-laws needs Python >= 3.12, so a second environment is usual, e.g.:

    python3.12 -m venv /tmp/peers && /tmp/peers/bin/pip install simple-scaling-laws chinchilla
    SCALEFIT_DATA_MIRROR=../shared/datasets python benchmarks/bench_peers.py --peer-python /tmp/peers/bin/python

Options: ``--rounds R`` (default 3), ``--n-boot`` (1000), ``--grid-starts K`` (random Hoffmann starts timed
per round, default 200), ``--chinchilla-starts K`` (default 30), ``--repeats`` (fits timed per round, median
taken; default 10), ``--scalefit-python`` (interpreter in which scalefit is installed; default: this one),
``--mirror DIR`` (dataset mirror; default: ``SCALEFIT_DATA_MIRROR`` or ../shared/datasets).
A round took 1.5-2.5 minutes of wall-clock on a 2-core machine at load average ~11.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PINNED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
os.environ.update(PINNED)  # before numpy is imported anywhere (workers import it lazily, below)

HUBER_DELTA = 1e-3
HOFFMANN_STARTS = 4500
WORKER_TIMEOUT = 3600  # seconds for one worker run; a hung worker is reported, not waited on forever
PARAMS = ("E", "A", "B", "alpha", "beta")


# ----------------------------------------------------------------------------------------------- workers
# Each worker reads the CSV written by `prepare`, times its tool, and writes one JSON file. Workers import
# their tool (and numpy) only inside these functions, so this file runs under any interpreter.

def _clock():
    return time.perf_counter(), time.process_time()


def _since(start) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def _median_time(fn, repeats: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeats):
        start = _clock()
        fn()
        wall, cpu = _since(start)
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus)


def worker_prepare(args) -> dict:
    """Load the Epoch data through scalefit and write N, D, loss, group to a CSV."""
    import scalefit

    runs = scalefit.datasets.load("chinchilla_epoch", mirror=args.mirror, drop_highest_loss=5)
    runs.df[["N", "D", "loss", "group"]].to_csv(args.csv, index=False)
    return {"rows": len(runs), "groups": int(runs.n_groups), "version": scalefit.__version__ if hasattr(
        scalefit, "__version__") else "?"}


def _public(fit) -> dict:
    return {name: float(fit.params[name]) for name in PARAMS}


def _exponent_intervals(replicates) -> dict:
    """2.5% and 97.5% quantiles of alpha and beta over bootstrap replicates (rows E, A, B, alpha, beta)."""
    import numpy as np

    q = np.quantile(np.asarray(replicates)[:, 3:5], [0.025, 0.975], axis=0)
    return {"alpha": [float(q[0, 0]), float(q[1, 0])], "beta": [float(q[0, 1]), float(q[1, 1])]}


def worker_scalefit(args) -> dict:
    import warnings

    import scalefit

    warnings.simplefilter("ignore")
    runs = scalefit.load_runs(args.csv)
    huber = scalefit.fit(runs, objective="hoffmann")
    ls = scalefit.fit(runs, objective="ls")
    huber.bootstrap(n=50, seed=1)  # warm-up (imports, caches)
    out = {"params": {"huber": _public(huber), "ls": _public(ls)}, "times": {}, "boot": {}}
    out["times"]["fit_huber"] = _median_time(lambda: scalefit.fit(runs, objective="hoffmann"), args.repeats)
    out["times"]["fit_ls"] = _median_time(lambda: scalefit.fit(runs, objective="ls"), args.repeats)
    for key, fit, scheme in (("boot_cluster_huber", huber, "cluster"), ("boot_cluster_ls", ls, "cluster"),
                             ("boot_residual_ls", ls, "residual")):
        start = _clock()
        boot = fit.bootstrap(n=args.n_boot, seed=args.seed, scheme=scheme)
        out["times"][key] = _since(start)
        checks = dict(getattr(boot, "global_checks", {}) or {})
        out["boot"][key] = {"failed": int(boot.failed), "intervals": _exponent_intervals(boot.replicates),
                            "rescued": checks.get("rescued_by_lbfgsb"),
                            "mismatches": len(checks.get("mismatches", []) or [])}
    return out


def worker_grid(args) -> dict:
    """Hoffmann et al.'s L-BFGS-B grid on a random subset of its 4,500 starts (scalefit's objective code)."""
    import numpy as np
    from scipy.optimize import minimize

    import scalefit
    from scalefit import solver

    runs = scalefit.load_runs(args.csv)
    fit = scalefit.fit(runs, objective="hoffmann")
    problem = solver.Problem.build(fit.law, {"N": runs.N, "D": runs.D}, runs.loss, fit.objective)
    starts = solver.hoffmann_grid_starts(problem.law)
    k = min(args.grid_starts, len(starts))
    starts = starts[np.random.default_rng(args.seed).choice(len(starts), k, replace=False)]
    scale = HOFFMANN_STARTS / k

    def fun(z):
        v, g = problem.value_and_grad(z)
        return float(v), g

    start = _clock()
    default = min((minimize(fun, z0, jac=True, method="L-BFGS-B") for z0 in starts), key=lambda r: r.fun)
    wall_d, cpu_d = _since(start)
    start = _clock()
    tight = solver.solve_hoffmann_grid(problem, starts)
    wall_t, cpu_t = _since(start)

    def public(z):
        z = np.asarray(z, float)
        return dict(zip(PARAMS, [*np.exp(z[:3]).tolist(), *z[3:].tolist()], strict=True))

    return {"starts": k, "times": {"grid_default": (wall_d * scale, cpu_d * scale),
                                   "grid_tight": (wall_t * scale, cpu_t * scale)},
            "params": {"grid_default": public(default.x), "grid_tight": public(tight.z)}}


def worker_ssl(args) -> dict:
    """simple-scaling-laws: its fit (minus its bootstrap), its bare solver, and its 1,000-draw bootstrap."""
    import numpy as np
    import polars as pl
    import simple_scaling_laws as ssl
    from simple_scaling_laws import api, fitting

    table = pl.read_csv(args.csv)
    frame = pl.DataFrame({"training_run_id": [f"run{i}" for i in range(table.height)],
                          "model_size__n": table["N"], "dataset_size__d": table["D"],
                          "test_loss__cross_entropy": table["loss"]})
    target = "test_loss__cross_entropy"
    seen: dict = {}
    real_bootstrap, real_fit_curve = api.bootstrap, api.fit_curve

    def timed_bootstrap(*a, **k):  # time spent inside its bootstrap, measured during its own fit() call
        start = _clock()
        result = real_bootstrap(*a, **k)
        seen["boot"] = _since(start)
        return result

    def recording_fit_curve(law, log_x, y, weights, bounds, *a, **k):  # keep the first (unweighted) problem
        seen.setdefault("problem", (law, log_x, y, weights, bounds))
        return real_fit_curve(law, log_x, y, weights, bounds, *a, **k)

    api.bootstrap, api.fit_curve = timed_bootstrap, recording_fit_curve
    ssl.fit(frame, n_draws=20, seed=0)  # warm-up
    start = _clock()
    model = ssl.fit(frame, n_draws=args.n_boot, seed=args.seed)
    wall, cpu = _since(start)
    boot_wall, boot_cpu = seen["boot"]
    law, log_x, y, weights, bounds = seen["problem"]
    bare = _median_time(lambda: fitting.fit_curve(law, log_x, y, weights, bounds), args.repeats)

    domain = model.observed_domain
    reference = np.array([domain[name]["reference"] for name in ("model_size__n", "dataset_size__d")])
    draws = model.draws[target]

    def public(vector):  # its amplitudes are on predictors normalised by `reference`; restate them raw
        raw = model.law.raw_scale_params(np.asarray(vector, float), reference)
        return {name: float(raw[name]) for name in PARAMS}

    point = public(model.fits[target].params)
    reps = np.array([[public(row)[n] for n in PARAMS] for row in draws.params])
    return {"version": ssl.__version__,
            "times": {"ssl_fit": (wall - boot_wall, cpu - boot_cpu), "ssl_fit_total": (wall, cpu),
                      "ssl_bare_solver": bare, "ssl_boot": (boot_wall, boot_cpu)},
            "params": {"ssl": point},
            "boot": {"ssl_boot": {"method": draws.method, "failed": int(draws.n_failed),
                                  "intervals": _exponent_intervals(reps)}}}


def worker_chinchilla(args) -> dict:
    """The chinchilla package's fit (BFGS from Hoffmann's grid, log-Huber delta=1e-3) on a subset of starts."""
    import functools
    import itertools
    import logging
    import random
    import types

    import pandas as pd
    from chinchilla import core
    from chinchilla._metrics import log_huber

    table = pd.read_csv(args.csv)
    project = Path(tempfile.mkdtemp(prefix="chinchilla-", dir=Path(args.csv).parent))
    pd.DataFrame({"C": 6 * table.N * table.D, "N": table.N, "D": table.D, "loss": table.loss}).to_csv(
        project / "df.csv", index=False)
    half = [x / 2 for x in range(5)]
    grid = {"e": [-1.0, -0.5, 0.0, 0.5, 1.0], "a": [0.0, 5.0, 10.0, 15.0, 20.0, 25.0],
            "b": [0.0, 5.0, 10.0, 15.0, 20.0, 25.0], "alpha": half, "beta": half}
    everything = list(itertools.product(*grid.values()))
    assert len(everything) == HOFFMANN_STARTS
    picked = random.Random(args.seed).sample(everything, min(args.chinchilla_starts, len(everything)))

    def run(starts):
        # The full grid is passed (its ranges set the package's parameter scaling); only the starts it
        # iterates over are replaced by a subset.
        core.itertools = types.SimpleNamespace(product=lambda *_: iter(starts))
        try:
            cc = core.Chinchilla(str(project), param_grid=grid, loss_fn=functools.partial(log_huber,
                                 delta=HUBER_DELTA), log_level=logging.ERROR)
            start = _clock()
            cc.fit(parallel=False)
            return _since(start), cc.params
        finally:
            core.itertools = itertools

    one, _ = run(picked[:1])
    many, params = run(picked)
    k = len(picked)
    per_start = [(m - o) / max(k - 1, 1) for m, o in zip(many, one, strict=True)]
    total = tuple(o + (HOFFMANN_STARTS - 1) * p for o, p in zip(one, per_start, strict=True))
    from importlib.metadata import version

    return {"version": version("chinchilla"), "starts": k, "times": {"chinchilla_fit": total},
            "params": {"chinchilla": {n: float(params[n]) for n in PARAMS}}}


def worker_evaluate(args) -> dict:
    """Objective values of parameter sets, by scalefit's objective code, on the same rows."""
    import numpy as np

    import scalefit
    from scalefit.solver import objective as obj

    runs = scalefit.load_runs(args.csv)
    sets = json.loads(Path(args.params).read_text())
    huber, lsq = obj.Objective("huber", HUBER_DELTA), obj.Objective("ls")
    out = {}
    for name, p in sets.items():
        with np.errstate(all="ignore"):
            pred = p["E"] + p["A"] * runs.N ** -p["alpha"] + p["B"] * runs.D ** -p["beta"]
            r = np.log(pred) - np.log(runs.loss)
            out[name] = {"huber_log": float(np.sum(huber.rho(r))), "ls_log": float(np.sum(lsq.rho(r))),
                         "ls_loss": float(np.sum(lsq.rho(pred - runs.loss)))}
    return out


WORKERS = {"prepare": worker_prepare, "scalefit": worker_scalefit, "grid": worker_grid, "ssl": worker_ssl,
           "chinchilla": worker_chinchilla, "evaluate": worker_evaluate}


# ------------------------------------------------------------------------------------------------ driver

def call_worker(python: str, kind: str, args, out: Path, **extra) -> tuple[dict | None, str]:
    """Run one worker in a subprocess with BLAS pinned; return (result, error text)."""
    cmd = [python, str(Path(__file__).resolve()), "--worker", kind, "--csv", str(args.csv), "--out", str(out),
           "--seed", str(extra.get("seed", 0)), "--n-boot", str(args.n_boot), "--repeats", str(args.repeats),
           "--grid-starts", str(args.grid_starts), "--chinchilla-starts", str(args.chinchilla_starts)]
    if args.mirror:
        cmd += ["--mirror", args.mirror]
    if "params" in extra:
        cmd += ["--params", str(extra["params"])]
    env = {**os.environ, **PINNED}
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {WORKER_TIMEOUT} s"
    if proc.returncode != 0 or not out.exists():
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return None, lines[-1] if lines else f"exit code {proc.returncode}"
    return json.loads(out.read_text()), ""


def importable(python: str, module: str) -> str:
    """'' when `module` imports under `python`, else the reason."""
    try:
        proc = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True, timeout=120,
                              env={**os.environ, **PINNED})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if proc.returncode == 0:
        return ""
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit code {proc.returncode}"


def load_average() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.1f} ms" if seconds < 10 else f"{seconds:9.1f} s "


def summarise(results: dict[str, list[dict]]) -> tuple[dict, dict, dict]:
    """Medians over rounds of every timing, plus the first round's parameters and bootstrap notes."""
    times: dict[str, list] = {}
    params: dict[str, dict] = {}
    boots: dict[str, dict] = {}
    for rounds in results.values():
        for res in rounds:
            for key, value in res.get("times", {}).items():
                times.setdefault(key, []).append(value)
            for key, value in res.get("params", {}).items():
                params.setdefault(key, value)
            for key, value in res.get("boot", {}).items():
                boots.setdefault(key, value)
    med = {k: (statistics.median(v[0] for v in vals), statistics.median(v[1] for v in vals), len(vals))
           for k, vals in times.items()}
    return med, params, boots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", default=sys.executable, help="interpreter with the peers installed")
    parser.add_argument("--scalefit-python", default=sys.executable, help="interpreter with scalefit installed")
    parser.add_argument("--mirror", default=None, help="dataset mirror (default: SCALEFIT_DATA_MIRROR)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=10, help="fits timed per round (median)")
    parser.add_argument("--grid-starts", type=int, default=200)
    parser.add_argument("--chinchilla-starts", type=int, default=30)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--csv", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--params", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        Path(args.out).write_text(json.dumps(WORKERS[args.worker](args)))
        return

    print(f"load average before: {load_average()}  (cores: {os.cpu_count()}; BLAS pinned to 1 thread everywhere)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    args.csv = tmp / "runs.csv"
    info, err = call_worker(args.scalefit_python, "prepare", args, tmp / "prepare.json")
    if info is None:
        sys.exit(f"bench_peers: cannot load the data through scalefit ({args.scalefit_python}): {err}")
    print(f"data: Epoch AI's Chinchilla reconstruction, {info['rows']} runs, {info['groups']} model sizes")

    tools = {}
    for tool, module in (("ssl", "simple_scaling_laws"), ("chinchilla", "chinchilla")):
        reason = importable(args.peer_python, module)
        if reason:
            print(f"skipping {module}: not importable with {args.peer_python}: {reason}")
        else:
            tools[tool] = args.peer_python
    tools["grid"] = args.scalefit_python
    tools["scalefit"] = args.scalefit_python

    results: dict[str, list[dict]] = {tool: [] for tool in tools}
    for r in range(args.rounds):
        for tool, python in tools.items():
            started = time.perf_counter()
            res, err = call_worker(python, tool, args, tmp / f"{tool}-{r}.json", seed=r)
            print(f"round {r + 1}/{args.rounds} {tool:10s} {time.perf_counter() - started:7.1f} s "
                  f"load {load_average()}" + (f"  FAILED: {err}" if res is None else ""), flush=True)
            if res is not None:
                results[tool].append(res)
    med, params, boots = summarise(results)
    versions = {t: rs[0].get("version") for t, rs in results.items() if rs and rs[0].get("version")}
    (tmp / "params.json").write_text(json.dumps(params))
    objectives, err = call_worker(args.scalefit_python, "evaluate", args, tmp / "objectives.json",
                                  params=tmp / "params.json")
    report(args, med, params, boots, objectives or {}, versions, results)
    if objectives is None:
        print(f"(objective evaluation failed: {err})")
    print(f"load average after: {load_average()}")
    shutil.rmtree(tmp, ignore_errors=True)


def report(args, med, params, boots, objectives, versions, results) -> None:
    def t(key):
        return med.get(key)

    print(f"\npeer versions: {versions or 'none'}; medians over rounds (wall-clock | CPU), ratio = other / scalefit")
    print("(every timed call is single-threaded, so on a machine busier than its cores the CPU-time ratios are the "
          "ones to read: wall-clock also counts the time other processes held the cores)")

    def line(label, key, ref_key, note=""):
        other, ref = t(key), t(ref_key)
        if other is None or ref is None:
            return
        print(f"  {label:64s} {_ms(other[0])} | {_ms(other[1])}   ratio {other[0] / ref[0]:9.1f}x wall "
              f"{other[1] / ref[1]:9.1f}x CPU  {note}")

    def own(label, key):
        if t(key) is not None:
            print(f"  {label:64s} {_ms(t(key)[0])} | {_ms(t(key)[1])}   (reference, {t(key)[2]} rounds)")

    grid_k = results.get("grid", [{}])[0].get("starts") if results.get("grid") else None
    cc_k = results.get("chinchilla", [{}])[0].get("starts") if results.get("chinchilla") else None
    print("one fit, Huber delta=1e-3 on log loss:")
    own("scalefit fit(objective='hoffmann')", "fit_huber")
    line("4,500-start L-BFGS-B grid, scipy default tolerances", "grid_default", "fit_huber",
         f"(scaled from {grid_k} starts)")
    line("4,500-start L-BFGS-B grid, tight tolerances", "grid_tight", "fit_huber", f"(scaled from {grid_k} starts)")
    line("chinchilla package, BFGS from the 4,500 starts, 1 process", "chinchilla_fit", "fit_huber",
         f"(scaled from {cc_k} starts)")
    line("simple-scaling-laws fit (least squares on loss: other objective)", "ssl_fit", "fit_huber")
    print("one fit, least squares:")
    own("scalefit fit(objective='ls')  (on log loss)", "fit_ls")
    line("simple-scaling-laws fit() minus its bootstrap (on loss)", "ssl_fit", "fit_ls")
    line("simple-scaling-laws bare solver fitting.fit_curve (on loss)", "ssl_bare_solver", "fit_ls")
    print(f"{args.n_boot} bootstrap replicates:")
    for key, label in (("boot_cluster_huber", "scalefit cluster bootstrap, Huber delta=1e-3"),
                       ("boot_cluster_ls", "scalefit cluster bootstrap, least squares"),
                       ("boot_residual_ls", "scalefit residual bootstrap, least squares")):
        own(label, key)
        line("  simple-scaling-laws wild-cluster bootstrap (least squares)", "ssl_boot", key)
    if boots:
        print("bootstrap notes (first round): 95% percentile intervals of the exponents")
        for key, b in boots.items():
            extra = {k: b[k] for k in ("failed", "rescued", "mismatches", "method") if b.get(k) is not None}
            iv = b["intervals"]
            print(f"  {key:20s} alpha [{iv['alpha'][0]:.4f}, {iv['alpha'][1]:.4f}]  "
                  f"beta [{iv['beta'][0]:.4f}, {iv['beta'][1]:.4f}]  {extra}")
    if objectives:
        print("objective at each tool's optimum (scalefit's objective code; sums over runs; lower is better):")
        heads = " ".join(f"{h:>17s} {'(vs best)':>9s}" for h in ("Huber 1e-3, log", "LSQ, log loss", "LSQ, loss"))
        print(f"  {'optimum of':14s} {heads}   E, A, B, alpha, beta")
        best = {k: min(v[k] for v in objectives.values()) for k in ("huber_log", "ls_log", "ls_loss")}
        for name, v in objectives.items():
            p = params[name]
            cells = " ".join(f"{v[k]:17.12g} {(v[k] - best[k]) / best[k]:9.1e}" for k in best)
            print(f"  {name:14s} {cells}   " + ", ".join(f"{p[n]:.6g}" for n in PARAMS))
        print("  (grid and chinchilla rows: best of the random subset of starts timed in round 1, not of all 4,500)")


if __name__ == "__main__":
    main()
