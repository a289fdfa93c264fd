"""Every law behind one interface: the contract (Jacobian, records, replicate arrays), exact recovery from
noise-free synthetic data, fixed and tied parameters, Kaplan's allocation, and the no-law-name rule."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import scalefit
from scalefit.laws import (
    LAWS,
    Chinchilla,
    ComputeOptimal,
    CustomLaw,
    Inverse,
    Kaplan,
    Law,
    PowerLaw,
    get_law,
    law_from_dict,
    numerical_compute_optimal,
)
from tests.custom_laws import chinchilla_form

REPO = Path(__file__).resolve().parent.parent
N_GRID = np.geomspace(5e7, 1e10, 6)
D_GRID = np.geomspace(1e9, 2e11, 6)

#: a plausible parameter point for every law, by parameter name
POINTS = {"E": 1.7, "A": 400.0, "B": 1800.0, "alpha": 0.33, "beta": 0.29, "N_c": 8.8e13, "D_c": 5.4e13,
          "alpha_N": 0.076, "alpha_D": 0.095, "R_N_star": 5.3, "R_D_star": 15.4}


def custom_law() -> CustomLaw:
    return CustomLaw(chinchilla_form, inputs=("N", "D"), params={
        "E": (0, None), "A": (0, None), "B": (0, None), "alpha": (0.02, 1.5), "beta": (0.02, 1.5)},
        linear=("E", "A", "B"))


ALL_LAWS = {**{name: make for name, make in LAWS.items()}, "custom": custom_law}


def design(law: Law) -> dict[str, np.ndarray]:
    n, d = (a.ravel() for a in np.meshgrid(N_GRID, D_GRID))
    return {"N": n, "D": d, "C": 6 * n * d, "U": d / 4}  # U: unique tokens, repeated 4 epochs


def point(law: Law) -> np.ndarray:
    values = dict(POINTS)
    values["A"] = {"C": 3e3}.get(law.inputs[0], values["A"]) if len(law.inputs) == 1 else values["A"]
    return law.expand(law.reduce(np.array([values[n] for n in law.param_names])))


@pytest.mark.parametrize("name", list(ALL_LAWS))
def test_contract(name):
    law = ALL_LAWS[name]()
    data = design(law)
    p = point(law)
    pred = law.predict(p, data)
    assert pred.shape == (len(data["N"]),) and np.all(np.isfinite(pred)) and np.all(pred > 0)
    # Jacobian against central differences (relative step 1e-6)
    jac = law.jacobian(p, data)
    for j in range(len(p)):
        h = 1e-6 * max(abs(p[j]), 1e-3)
        up, down = p.copy(), p.copy()
        up[j] += h
        down[j] -= h
        fd = (law.predict(up, data) - law.predict(down, data)) / (2 * h)
        np.testing.assert_allclose(jac[:, j], fd, rtol=1e-5, atol=1e-9 * np.abs(pred).max())
    # replicate arrays: (B, P) -> (B, n); derived quantities elementwise on (B,) columns
    reps = p * (1 + 0.01 * np.arange(3))[:, None]
    out = law.predict(reps, data)
    assert out.shape == (3, len(data["N"]))
    np.testing.assert_allclose(out[0], pred, rtol=1e-12)
    cols = {n: reps[:, j] for j, n in enumerate(law.param_names)}
    for key, value in law.derived(cols).items():
        assert np.shape(value) == (3,), key
    # the record round trip rebuilds an equal law with equal predictions
    again = law_from_dict(law.to_dict())
    assert again == law and again.to_dict() == law.to_dict()
    np.testing.assert_allclose(again.predict(p, data), pred, rtol=1e-15)
    # elementwise loss agrees with predict
    np.testing.assert_allclose(law.loss(dict(zip(law.param_names, p, strict=True)), data), pred, rtol=1e-12)


def synthetic(law: Law, params: np.ndarray) -> pd.DataFrame:
    data = design(law)
    return pd.DataFrame({"N": data["N"], "D": data["D"], "C": data["C"], "loss": law.predict(params, data)})


RECOVERY = {
    "chinchilla": dict(E=st.floats(1.0, 2.5), A=st.floats(100, 2000), B=st.floats(300, 5000),
                       alpha=st.floats(0.2, 0.6), beta=st.floats(0.2, 0.6)),
    "chinchilla_no_e": dict(A=st.floats(100, 2000), B=st.floats(300, 5000), alpha=st.floats(0.2, 0.6),
                            beta=st.floats(0.2, 0.6)),
    "chinchilla_tied": dict(E=st.floats(1.0, 2.5), A=st.floats(100, 2000), B=st.floats(300, 5000),
                            alpha=st.floats(0.2, 0.6)),
    # both terms must matter on the design (else D_c is not identified): exponent ratio near 1
    "kaplan": dict(N_c=st.floats(1e12, 1e14), D_c=st.floats(1e12, 1e14), alpha_N=st.floats(0.06, 0.12),
                   alpha_D=st.floats(0.07, 0.12)),
    "power_n": dict(E=st.floats(1.0, 2.5), A=st.floats(50, 2000), alpha=st.floats(0.2, 0.6)),
    "power_c_no_e": dict(A=st.floats(20, 200), alpha=st.floats(0.03, 0.1)),
}


@pytest.mark.parametrize("name", list(RECOVERY))
def test_exact_recovery_from_noise_free_data(name):
    law = get_law(name)

    @settings(max_examples=4, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate])
    @given(st.fixed_dictionaries(RECOVERY[name]))
    def check(values):
        free = np.array([values[n] for n in law.free_names])
        truth = law.expand(free)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = scalefit.fit(synthetic(law, truth), law=law, objective="ls")
        assert result.diagnostics["converged"]
        for n, v in zip(law.param_names, truth, strict=True):
            assert result.params[n] == pytest.approx(v, rel=1e-5, abs=1e-12), n

    check()


def test_custom_law_recovers_through_the_general_path():
    law = custom_law()
    truth = np.array([1.7, 400.0, 1800.0, 0.33, 0.29])
    result = scalefit.fit(synthetic(law, truth), law=law, objective="ls")
    assert result.spec.engine.kind == "general"
    np.testing.assert_allclose(result.param_vector, truth, rtol=1e-6)


def test_fixed_and_tied_parameters_stay_put():
    truth = np.array([1.7, 400.0, 1800.0, 0.33, 0.33])
    tied = Chinchilla(tied={"beta": "alpha"})
    result = scalefit.fit(synthetic(tied, truth), law=tied, objective="ls")
    assert result.params["alpha"] == result.params["beta"] == pytest.approx(0.33, rel=1e-6)
    assert result.spec.engine.kind == "varpro" and len(result.solution.z) == 4
    no_e = Chinchilla(fixed={"E": 0.0})
    fitted = scalefit.fit(synthetic(no_e, np.array([0.0, 400.0, 1800.0, 0.33, 0.29])), law=no_e, objective="ls")
    assert fitted.params["E"] == 0.0 and fitted.params["A"] == pytest.approx(400.0, rel=1e-6)
    fixed_exp = Chinchilla(fixed={"E": 1.5})  # a non-zero fixed coefficient: not separable -> general path
    general = scalefit.fit(synthetic(fixed_exp, np.array([1.5, 400.0, 1800.0, 0.33, 0.29])), law=fixed_exp,
                           objective="ls")
    assert general.spec.engine.kind == "general"
    assert general.params["beta"] == pytest.approx(0.29, rel=1e-6)
    with pytest.raises(ValueError, match="no parameter"):
        Chinchilla(fixed={"gamma": 1.0})


def test_kaplan_allocation_closed_form_matches_numerical_minimum():
    law = Kaplan()
    p = {"N_c": 8.8e13, "D_c": 5.4e13, "alpha_N": 0.076, "alpha_D": 0.095}
    c = np.array([1e19, 1e21, 1e23])
    exact, numeric = law.compute_optimal(p, c), numerical_compute_optimal(law, p, c)
    np.testing.assert_allclose(exact["N_opt"], numeric["N_opt"], rtol=1e-5)
    np.testing.assert_allclose(6 * exact["N_opt"] * exact["D_opt"], c, rtol=1e-12)
    assert np.all(exact["L_opt"] <= numeric["L_opt"] * (1 + 1e-12))
    back = law.compute_for_loss(p, exact["L_opt"])
    np.testing.assert_allclose(back["C"], c, rtol=1e-9)
    assert law.derived(p)["a"] == pytest.approx(0.095 / 0.171)


def test_chinchilla_allocation_matches_numerical_minimum():
    law, p = Chinchilla(), {"E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37}
    c = np.array([1e20, 5.76e23])
    np.testing.assert_allclose(law.compute_optimal(p, c)["N_opt"], numerical_compute_optimal(law, p, c)["N_opt"],
                               rtol=1e-5)


def test_abilities_are_protocols_and_missing_ones_fail_clearly():
    assert isinstance(Chinchilla(), ComputeOptimal) and isinstance(Kaplan(), Inverse)
    n_only = scalefit.fit(synthetic(PowerLaw("N"), np.array([1.7, 400.0, 0.33])), law="power_n", objective="ls")
    assert not isinstance(n_only.law, ComputeOptimal)
    with pytest.raises(scalefit.FitError, match="no compute-optimal allocation"):
        n_only.optimal(1e21)
    assert n_only.predict(N=1e9) == pytest.approx(1.7 + 400.0 * 1e9**-0.33, rel=1e-6)
    with pytest.raises(TypeError, match="inputs"):
        n_only.predict(1e9, 1e10)


def test_lmfit_model_becomes_a_law():
    import lmfit

    model = lmfit.Model(chinchilla_form, independent_vars=["N", "D"])
    for name in ("E", "A", "B"):
        model.set_param_hint(name, min=0)
    for name in ("alpha", "beta"):
        model.set_param_hint(name, min=0.02, max=1.5)
    law = CustomLaw.from_lmfit(model, linear=("E", "A", "B"))
    assert law.param_names == ("E", "A", "B", "alpha", "beta") and law.path.endswith(":chinchilla_form")
    truth = np.array([1.7, 400.0, 1800.0, 0.33, 0.29])
    np.testing.assert_allclose(law.predict(truth, design(law)), Chinchilla().predict(truth, design(law)), rtol=1e-14)


def test_no_law_name_checks_outside_laws():
    """No `law.name ==` and no "chinchilla" string literal outside scalefit/laws/ and the CLI default."""
    offenders = []
    for path in sorted((REPO / "scalefit").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith("scalefit/laws/"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"law\.name\s*[!=]=", line) or re.search(r"""["']chinchilla["']""", line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


class OldStyleLaw(Law):
    """A separable law written against the earlier interface only (no param_specs, no __init__ call)."""

    name = "old_style"
    formula = "E + A/N^alpha"
    linear_names = ("E", "A")
    nonlinear_names = ("alpha",)
    grid_range = ((0.02, 1.5),)
    nonlinear_limits = ((1e-4, 10.0),)
    inputs = ("N",)

    def features(self, data):
        return {"logN": np.log(np.asarray(data["N"], dtype=float))}

    def log_basis(self, theta, features):
        theta = np.asarray(theta, dtype=float)
        zero = np.zeros(theta.shape[:-1] + features["logN"].shape)
        return np.stack([zero, -theta[..., 0:1] * features["logN"]], axis=-2)

    def log_basis_jacobian(self, theta, features):
        theta = np.asarray(theta, dtype=float)
        jac = np.zeros((*theta.shape[:-1], 2, features["logN"].shape[0], 1))
        jac[..., 1, :, 0] = -features["logN"]
        return jac


def test_laws_written_against_the_earlier_interface_still_work():
    law = OldStyleLaw()
    assert law.is_separable and law.param_names == ("E", "A", "alpha") and law.free_names == law.param_names
    truth = np.array([1.7, 400.0, 0.33])
    result = scalefit.fit(synthetic(law, truth), law=law, objective="ls")
    assert result.spec.engine.kind == "varpro"
    np.testing.assert_allclose(result.param_vector, truth, rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # noise-free data: every replicate sits at the start, as it should
        boot = result.bootstrap(n=8, seed=0, progress=False)
    assert boot.replicates.shape == (8, 3)
    assert law_from_dict(law.to_dict()) == law
    np.testing.assert_allclose(law.loss({"E": 1.7, "A": 400.0, "alpha": 0.33}, {"N": N_GRID}),
                               law.predict(truth, {"N": N_GRID}), rtol=1e-14)
