"""Known-answer tests of fairsynth.metrics.causal_inference (STEAM treatment-effect fidelity): identical tables score
JSD_pi = 1 and U_PEHE = 0, a reversed or random treatment lowers JSD_pi, a constant shift of the treated outcomes
raises U_PEHE and the ATE by exactly that shift, alpha-precision / beta-recall on hand-computed and limiting cases,
learners that learn the simulated CATE, test rows that are never fitted, seeding, lost treatment arms and errors
that name the culprit."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from fairsynth.core import FairsynthError
from fairsynth.metrics.causal_inference import (BASE_LEARNERS, LEARNERS, METRIC_COLUMNS, PROPENSITY_MODELS,
                                                TreatmentReference, _baseline, _simulated_covariates,
                                                alpha_beta, ate, cate_estimates, covariate_fidelity, jsd_pi,
                                                outcome_kind, propensity_scores, simulated_treatment, treatment_metrics,
                                                treatment_reference)

N_TRAIN, N_TEST = 2500, 800


def split(sim):
    """(train, test) of a simulated study: the first N_TRAIN rows and the next N_TEST."""
    return sim.frame.iloc[:N_TRAIN], sim.frame.iloc[N_TRAIN:N_TRAIN + N_TEST]


@pytest.fixture(scope="module")
def sim():
    return simulated_treatment(N_TRAIN + N_TEST, "continuous", seed=0)


@pytest.fixture(scope="module")
def fresh():
    """An independent draw of the same simulation (what a perfect generator would give)."""
    return simulated_treatment(N_TRAIN, "continuous", seed=1).frame


@pytest.fixture(scope="module")
def reference(sim):
    train, test = split(sim)
    return treatment_reference(train, test, sim.spec, sim.covariates, "treat", "y", true_cate=sim.cate(test), group="sex")


def value(scores: pd.DataFrame, metric: str, learner: str = "", group: str = "", data: str = "synthetic") -> float:
    hit = scores[(scores.metric == metric) & (scores.learner == learner) & (scores.group == group) & (scores.data == data)]
    assert len(hit) == 1, (metric, learner, group, data)
    return float(hit.value.iloc[0])


def raises(call, *words):
    with pytest.raises(FairsynthError) as e: call()
    for w in words: assert w in str(e.value), str(e.value)


# --- the simulation -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["continuous", "binary"])
def test_simulation_roles_and_truth(kind):
    s = simulated_treatment(20000, kind, seed=3)
    df, spec = s.frame, s.spec
    assert list(df.columns) == ["pid", "age", "sex", "severity", "comorbidity", "treat", "y"]
    assert spec.name == "simulated_cate" and spec.id_column == "pid" and spec.treatment == "treat" and spec.sensitive == {"sex": "male"}
    assert spec.outcomes == (("y",) if kind == "binary" else ()) and set(df.sex) == {"female", "male"}
    assert set(df.treat) == {0, 1} and df.treat.dtype.kind == "i"
    pi, tau = s.propensity(df), s.cate(df)
    assert 0.05 <= pi.min() and pi.max() <= 0.95 and 0.25 < df.treat.mean() < 0.6
    # confounded: the treated are sicker; heterogeneous: tau depends on severity and sex
    assert df.severity[df.treat == 1].mean() - df.severity[df.treat == 0].mean() > 0.5
    female = (df.sex == "female").to_numpy()
    sev = df.severity.to_numpy()
    if kind == "continuous": assert np.allclose(tau, 1 + 0.8 * sev + 0.5 * female)
    else: assert np.allclose(tau, -(0.05 + 0.15 / (1 + np.exp(-2 * sev)) + 0.05 * female))
    assert np.corrcoef(tau, sev)[0, 1] * (1 if kind == "continuous" else -1) > 0.8
    if kind == "binary":  # every probability of the outcome model lies strictly inside (0, 1)
        base = _baseline(*_simulated_covariates(df), "binary")
        assert (base > 0.3).all() and (base < 0.8).all() and ((base + tau) > 0.04).all() and (tau < 0).all()
        assert set(df.y) == {0, 1}
    else:
        assert df.y.dtype == float and spec.columns["y"] == "numerical"


def test_simulation_seeded():
    a, b = simulated_treatment(300, seed=5).frame, simulated_treatment(300, seed=5).frame
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(simulated_treatment(300, seed=6).frame)
    raises(lambda: simulated_treatment(outcome="count"), "outcome")
    raises(lambda: simulated_treatment(n=3), "'n'")


# --- alpha-precision / beta-recall ----------------------------------------------------------------------------------

def test_alpha_beta_hand_example():
    real = np.array([[-2.0], [-1.0], [0.0], [1.0], [2.0]])
    synthetic = np.array([[0.0], [0.0], [0.0], [0.0], [5.0]])
    res = alpha_beta(real, synthetic, n_levels=3)
    # radii (quantiles 0, .5, 1 of |x|) = 0, 1, 2; four synthetic rows sit on the centre, one far out
    assert np.allclose(res["alphas"], [0, 0.5, 1]) and np.allclose(res["precision_curve"], [0.8, 0.8, 0.8])
    assert res["P_alpha"] == pytest.approx(1 - (0.8 + 0.3 + 0.2) / 1.5)
    # the real rows -1, 0, 1 have a synthetic row (0) at most as close as their nearest real neighbour (1 away)
    assert np.allclose(res["recall_curve"], [0.6, 0.6, 0.6]) and res["R_beta"] == pytest.approx(1 - (0.6 + 0.1 + 0.4) / 1.5)
    # only the synthetic row at 5 is farther from its nearest real row (2) than that row is from its neighbour
    assert res["authenticity"] == pytest.approx(0.2)


def test_alpha_beta_limits():
    rng = np.random.default_rng(0)
    real, other = rng.normal(size=(1500, 3)), rng.normal(size=(1500, 3))
    same = alpha_beta(real, real)
    assert same["P_alpha"] > 0.97 and same["R_beta"] > 0.97 and same["authenticity"] == 0
    draw = alpha_beta(real, other)
    # a fresh draw: precision near 1; naive beta-recall near 0.5 (nearest synthetic vs nearest real is a coin flip)
    assert draw["P_alpha"] > 0.95 and 0.4 < draw["R_beta"] < 0.65 and 0.3 < draw["authenticity"] < 0.8
    far = alpha_beta(real, other + 20)
    assert far["P_alpha"] < 0.01 and far["R_beta"] < 0.01 and far["authenticity"] == 1
    collapsed = alpha_beta(real, 0.02 * other)  # mode collapse on the mean: all rows "typical", little covered
    assert (collapsed["precision_curve"][1:] == 1).all() and collapsed["R_beta"] < 0.1 and collapsed["P_alpha"] < 0.1
    half = alpha_beta(real, np.where(rng.uniform(size=(1500, 1)) < 0.5, other, other + 20))  # half the rows far away
    assert 0.3 < half["precision_curve"][-1] < 0.7 and half["P_alpha"] < draw["P_alpha"] - 0.3
    for r in (same, draw, far, collapsed):
        assert r["alphas"].shape == r["precision_curve"].shape == r["recall_curve"].shape == (30,)
        assert 0 <= r["P_alpha"] <= 1 and 0 <= r["R_beta"] <= 1


def test_alpha_beta_bad_input():
    x = np.zeros((10, 2))
    raises(lambda: alpha_beta(x, np.zeros((9, 2))), "(10, 2) and (9, 2)")
    raises(lambda: alpha_beta(x, x, n_levels=1), "n_levels")
    raises(lambda: alpha_beta(x, x, n_levels=2.5), "n_levels")
    raises(lambda: alpha_beta(x[:, 0], x[:, 0]), "2-d")
    raises(lambda: alpha_beta(np.full((10, 2), np.nan), x), "finite")


def test_covariate_fidelity(sim, fresh):
    train, _ = split(sim)
    same = covariate_fidelity(train, train, sim.spec, sim.covariates)
    assert same["P_alpha"] > 0.95 and same["R_beta"] > 0.95 and same["authenticity"] == 0 and set(same) == {"P_alpha", "R_beta", "authenticity"}
    draw = covariate_fidelity(train, fresh, sim.spec, sim.covariates)
    assert draw["P_alpha"] > 0.9 and 0.35 < draw["R_beta"] < 0.65
    sicker = covariate_fidelity(train, fresh.assign(severity=fresh.severity + 1.5), sim.spec, sim.covariates)
    assert sicker["P_alpha"] < draw["P_alpha"] - 0.2
    old = covariate_fidelity(train, fresh[fresh.age > 70], sim.spec, sim.covariates)
    assert old["R_beta"] < 0.5 * draw["R_beta"]
    # subsampling is seeded; a small max_rows still works
    assert covariate_fidelity(train, fresh, sim.spec, sim.covariates, max_rows=300, seed=2) == \
           covariate_fidelity(train, fresh, sim.spec, sim.covariates, max_rows=300, seed=2)
    raises(lambda: covariate_fidelity(train, fresh.drop(columns="comorbidity"), sim.spec, sim.covariates), "comorbidity")
    raises(lambda: covariate_fidelity(train, fresh, sim.spec, ["age", "bmi"]), "bmi")
    raises(lambda: covariate_fidelity(train, fresh, sim.spec, sim.covariates, n_levels=0), "n_levels")
    raises(lambda: covariate_fidelity(train, fresh, sim.spec, []), "covariates")


# --- propensity and JSD_pi ------------------------------------------------------------------------------------------

def test_jsd_pi_values():
    p = np.array([0.1, 0.5, 0.9])
    assert jsd_pi(p, p) == 1.0
    assert jsd_pi(np.array([0.0, 1.0]), np.array([1.0, 0.0])) == pytest.approx(0.0, abs=1e-12)
    h = lambda q: -(q * np.log2(q) + (1 - q) * np.log2(1 - q))
    # JS divergence of Bernoulli(0.5) and Bernoulli(0) in bits is H(0.25) - 0.5
    assert jsd_pi(np.array([0.5]), np.array([0.0])) == pytest.approx(1 - np.sqrt(h(0.25) - 0.5))
    assert jsd_pi(p, 1 - p) < jsd_pi(p, np.clip(p + 0.05, 0, 1))
    raises(lambda: jsd_pi(p, p[:2]), "length")
    raises(lambda: jsd_pi(p, np.array([0.1, 0.5, 1.5])), "propensity_synthetic")
    raises(lambda: jsd_pi(np.array([np.nan, 0.5, 0.5]), p), "propensity_real")


@pytest.mark.parametrize("model", PROPENSITY_MODELS)
def test_propensity_ordering(sim, fresh, model):
    train, test = split(sim)
    pi_r = propensity_scores(train, test, sim.spec, sim.covariates, "treat", model)
    assert pi_r.shape == (len(test),) and ((0 <= pi_r) & (pi_r <= 1)).all()
    assert jsd_pi(sim.propensity(test), pi_r) > 0.9  # close to the true policy
    score = lambda df: jsd_pi(pi_r, propensity_scores(df, test, sim.spec, sim.covariates, "treat", model))
    same, draw = score(train), score(fresh)
    reversed_w = score(fresh.assign(treat=1 - fresh.treat))
    random_w = score(fresh.assign(treat=np.random.default_rng(1).binomial(1, 0.5, len(fresh))))
    assert same == 1.0 and draw > 0.92
    assert reversed_w < draw - 0.2 and reversed_w < 0.75
    assert random_w < draw - 0.08 and reversed_w < random_w


def test_propensity_edge_cases(sim):
    train, test = split(sim)
    with pytest.warns(UserWarning, match="single value"):
        const = propensity_scores(train.assign(treat=0), test, sim.spec, sim.covariates, "treat")
    assert (const == 0).all()
    # treatments as floats, bools or '0'/'1' labels give the same model; missing treatments are dropped
    base = propensity_scores(train, test, sim.spec, sim.covariates, "treat")
    for coded in (train.treat.astype(float), train.treat.astype(bool), train.treat.astype(str)):
        assert np.allclose(propensity_scores(train.assign(treat=coded), test, sim.spec, sim.covariates, "treat"), base)
    with_missing = train.assign(treat=train.treat.astype(float).where(train.index % 10 != 0))
    assert np.isfinite(propensity_scores(with_missing, test, sim.spec, sim.covariates, "treat")).all()
    callable_model = propensity_scores(train, test, sim.spec, sim.covariates, "treat", lambda kind: LogisticRegression(C=0.01))
    assert not np.allclose(callable_model, base) and np.corrcoef(callable_model, base)[0, 1] > 0.9
    raises(lambda: propensity_scores(train.assign(treat=train.treat * 3), test, sim.spec, sim.covariates, "treat"), "'treat'", "0/1")
    raises(lambda: propensity_scores(train.assign(treat="yes"), test, sim.spec, sim.covariates, "treat"), "'treat'")
    raises(lambda: propensity_scores(train, test, sim.spec, sim.covariates, "arm"), "arm")
    raises(lambda: propensity_scores(train, test.drop(columns="age"), sim.spec, sim.covariates, "treat"), "age", "test")
    raises(lambda: propensity_scores(train, test, sim.spec, sim.covariates, "treat", model="svm"), "model")
    raises(lambda: propensity_scores(train, test, sim.spec, [*sim.covariates, "treat"], "treat"), "treat", "covariate")


# --- CATE learners and the ATE --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_draw():
    s = simulated_treatment(7000, "continuous", seed=4)
    return s, s.frame.iloc[:6000], s.frame.iloc[6000:]


@pytest.mark.parametrize("base_learner", BASE_LEARNERS)
def test_learners_learn_the_true_cate(big_draw, base_learner):
    s, train, test = big_draw
    tau = s.cate(test)
    est = cate_estimates(train, test, s.spec, s.covariates, "treat", "y", base_learner=base_learner)
    assert list(est.columns) == list(LEARNERS) and est.index.equals(test.index) and est.notna().all().all()
    pehe = np.sqrt(est.sub(tau, axis=0).pow(2).mean())
    # a constant guess scores sd(tau) = 0.82; the learners do much better
    if base_learner == "linear":  # tau is linear in X here; a linear S-learner, though, has one constant effect
        assert (pehe.drop("S") < 0.2 * tau.std()).all() and est["S"].std() < 1e-9, pehe
        est = est.drop(columns="S")
    else:
        assert (pehe < 0.6 * tau.std()).all() and pehe.mean() < 0.5 * tau.std(), pehe
    assert (est.corrwith(pd.Series(tau, index=test.index)) > 0.75).all()


def test_binary_outcome_learners():
    s = simulated_treatment(6000, "binary", seed=4)
    train, test = s.frame.iloc[:5000], s.frame.iloc[5000:]
    est = cate_estimates(train, test, s.spec, s.covariates, "treat", "y", base_learner="linear")
    tau = s.cate(test)
    assert (est.abs() <= 1).all().all() and (est.mean() - tau.mean()).abs().max() < 0.05 and (est.mean() < 0).all()
    # the T-learner with boosting classifiers outputs differences of probabilities
    t = cate_estimates(train, test, s.spec, s.covariates, "treat", "y", learners=["T"])["T"]
    assert t.between(-1, 1).all() and abs(t.mean() - tau.mean()) < 0.05
    # one class within an arm: the classifier predicts that class's rate, no error and no NaN
    no_events = train.assign(y=np.where(train.treat == 1, 0, train.y))
    est0 = cate_estimates(no_events, test, s.spec, s.covariates, "treat", "y", base_learner="linear")
    assert est0.notna().all().all() and (est0["T"] < 0).all()
    raises(lambda: cate_estimates(train.assign(y=train.y * 0.5), test, s.spec, s.covariates, "treat", "y", kind="binary"), "'y'", "0/1")
    raises(lambda: cate_estimates(train, test, s.spec, s.covariates, "treat", "y", kind="count"), "kind")


def test_cate_missing_arm_and_subsets(sim):
    train, test = split(sim)
    with pytest.warns(UserWarning, match="NaN"):
        none = cate_estimates(train[train.treat == 0], test, sim.spec, sim.covariates, "treat", "y")
    assert none.isna().all().all() and list(none.columns) == list(LEARNERS)
    with pytest.warns(UserWarning, match="n_folds = 3"):
        one = cate_estimates(pd.concat([train[train.treat == 0], train[train.treat == 1].iloc[:2]]), test, sim.spec,
                             sim.covariates, "treat", "y", n_folds=3)
    assert one.isna().all().all()
    ra = cate_estimates(train, test, sim.spec, sim.covariates, "treat", "y", learners=["RA", "T"], base_learner="linear")
    full = cate_estimates(train, test, sim.spec, sim.covariates, "treat", "y", base_learner="linear")
    assert list(ra.columns) == ["RA", "T"] and np.allclose(ra, full[["RA", "T"]])
    own = cate_estimates(train, test, sim.spec, sim.covariates, "treat", "y", base_learner=lambda kind: LinearRegression())
    assert own.notna().all().all() and np.std(own["S"]) < 1e-9  # a linear S-learner has a constant effect


def test_ate_covers_truth():
    for kind in ("continuous", "binary"):
        s = simulated_treatment(6000, kind, seed=8)
        df, truth = s.frame, s.cate(s.frame).mean()
        res = ate(df, s.spec, s.covariates, "treat", "y")
        assert set(res) == {"ate", "se", "lo", "hi", "n"} and res["n"] == 6000
        assert res["lo"] < truth < res["hi"], (kind, res, truth)
        naive = df.y[df.treat == 1].mean() - df.y[df.treat == 0].mean()
        assert abs(naive - truth) > abs(res["ate"] - truth)
        wider = ate(df, s.spec, s.covariates, "treat", "y", level=0.99)
        assert wider["hi"] - wider["lo"] > res["hi"] - res["lo"] and wider["ate"] == res["ate"]


def test_ate_errors(sim):
    df = sim.frame
    raises(lambda: ate(df, sim.spec, sim.covariates, "treat", "y", level=0), "level")
    raises(lambda: ate(df, sim.spec, sim.covariates, "treat", "y", n_folds=1), "n_folds")
    raises(lambda: ate(df[df.treat == 0], sim.spec, sim.covariates, "treat", "y"), "'treat'", "0 treated")
    raises(lambda: ate(df.assign(y="high"), sim.spec, sim.covariates, "treat", "y"), "'y'", "numeric")
    raises(lambda: ate(df, sim.spec, sim.covariates, "treat", "y", base_learner="svm"), "base_learner")
    raises(lambda: ate(df, sim.spec, sim.covariates, "treat", "y", propensity="svm"), "propensity")


def test_outcome_kind():
    assert outcome_kind(pd.Series([0, 1, np.nan])) == "binary"
    assert outcome_kind(pd.Series([0.0, 1.0])) == "binary" and outcome_kind(pd.Series([True, False])) == "binary"
    assert outcome_kind(pd.Series([0, 1, 2])) == "continuous" and outcome_kind(pd.Series([0.2, 1.0])) == "continuous"
    raises(lambda: outcome_kind(pd.Series(["low", "high"], name="grade")), "grade")
    raises(lambda: outcome_kind(pd.Series([np.nan, np.nan], name="y")), "'y'")


# --- reference and metrics: the known answers -----------------------------------------------------------------------

def test_reference_contents(sim, reference):
    train, test = split(sim)
    assert isinstance(reference, TreatmentReference) and reference.outcome_kind == "continuous"
    assert reference.cate_test.shape == (N_TEST, 4) and reference.cate_test.index.equals(test.index)
    assert reference.propensity_test.shape == (N_TEST,) and reference.true_cate.shape == (N_TEST,)
    assert reference.ate_real["n"] == N_TRAIN and reference.ate_real["lo"] < reference.ate_real["ate"] < reference.ate_real["hi"]
    assert reference.groups.tolist() == test.sex.tolist()
    assert reference.params == dict(learners=list(LEARNERS), base_learner="boosting", propensity="logistic", n_levels=30, n_folds=2, seed=0)
    text = repr(reference)
    assert "ate_real" in text and "real_test" not in text and "severity=" not in text and len(text) < 600


def test_test_rows_are_never_fitted(sim, reference):
    train, test = split(sim)
    rng = np.random.default_rng(0)
    perturbed = test.assign(treat=rng.binomial(1, 0.5, len(test)), y=rng.normal(50, 10, len(test)))
    other = treatment_reference(train, perturbed, sim.spec, sim.covariates, "treat", "y", true_cate=sim.cate(test), group="sex")
    assert np.array_equal(other.propensity_test, reference.propensity_test)
    pd.testing.assert_frame_equal(other.cate_test, reference.cate_test)
    assert other.ate_real == reference.ate_real
    # the test table does not even need a treatment or outcome column
    bare = treatment_reference(train, test.drop(columns=["treat", "y"]), sim.spec, sim.covariates, "treat", "y")
    pd.testing.assert_frame_equal(bare.cate_test, reference.cate_test)
    syn = simulated_treatment(1500, seed=9).frame
    pd.testing.assert_frame_equal(treatment_metrics(other, syn), treatment_metrics(reference, syn))


def test_identical_data(sim, reference):
    train, _ = split(sim)
    scores = treatment_metrics(reference, train, real_train=train)
    assert list(scores.columns) == METRIC_COLUMNS
    assert value(scores, "JSD_pi") == 1.0
    for learner in [*LEARNERS, "mean"]: assert value(scores, "U_PEHE", learner) == 0.0
    real, syn = scores[scores.metric == "ATE"].set_index("data").loc["real"], scores[scores.metric == "ATE"].set_index("data").loc["synthetic"]
    assert syn.value == real.value and syn.lo == real.lo and syn.hi == real.hi  # intervals overlap (coincide)
    assert value(scores, "P_alpha") > 0.95 and value(scores, "R_beta") > 0.95 and value(scores, "authenticity") == 0
    for learner in [*LEARNERS, "mean"]: assert value(scores, "PEHE", learner, data="real") == value(scores, "PEHE", learner)
    for g in ("female", "male"):
        assert value(scores, "JSD_pi", group=g) == 1.0 and value(scores, "U_PEHE", "mean", group=g) == 0.0


def test_fresh_draw_and_reversed_treatment(sim, reference, fresh):
    train, _ = split(sim)
    draw = treatment_metrics(reference, fresh, real_train=train)
    flipped = treatment_metrics(reference, fresh.assign(treat=1 - fresh.treat), real_train=train)
    assert value(draw, "JSD_pi") > 0.95 and value(draw, "P_alpha") > 0.85 and 0.35 < value(draw, "R_beta") < 0.65
    assert value(draw, "U_PEHE", "mean") < 0.6 * reference.true_cate.std()
    assert value(flipped, "JSD_pi") < value(draw, "JSD_pi") - 0.2
    # reversing W flips every effect: U_PEHE near 2 |tau|, the ATEs of opposite signs, no interval overlap
    assert value(flipped, "U_PEHE", "mean") > 2 * reference.ate_real["ate"] and value(flipped, "ATE") < 0
    ates = draw[draw.metric == "ATE"].set_index("data")
    assert ates.lo.synthetic <= ates.hi.real and ates.lo.real <= ates.hi.synthetic  # a fresh draw's ATE agrees with the real one
    # the real and synthetic covariate scores do not depend on the treatment
    for m in ("P_alpha", "R_beta", "authenticity"): assert value(flipped, m) == value(draw, m)


@pytest.mark.parametrize("delta", [0.5, 2.0])
def test_shifted_treated_outcomes(sim, reference, delta):
    train, _ = split(sim)
    shifted = train.assign(y=train.y + delta * train.treat)
    scores = treatment_metrics(reference, shifted)
    # every learner but S fits the same trees to targets moved by delta: the effect moves by exactly delta
    for learner in ("T", "DR", "RA"): assert value(scores, "U_PEHE", learner) == pytest.approx(delta, abs=1e-6)
    assert value(scores, "U_PEHE", "S") == pytest.approx(delta, rel=0.3)
    assert value(scores, "ATE") - value(scores, "ATE", data="real") == pytest.approx(delta, abs=1e-9)
    assert value(scores, "JSD_pi") == 1.0


def test_groups_are_consistent(sim, reference, fresh):
    scores = treatment_metrics(reference, fresh)
    groups = scores[scores.group != ""]
    assert sorted(groups.group.unique()) == ["female", "male"] and set(groups.metric) == {"JSD_pi", "U_PEHE"}
    assert set(groups.learner) == {"", "mean"} and (groups.data == "synthetic").all()
    # the overall mean JS distance is the row-weighted mean of the groups' ones
    n = reference.groups.value_counts()
    weighted = sum(n[g] * (1 - value(scores, "JSD_pi", group=g)) for g in n.index) / n.sum()
    assert 1 - value(scores, "JSD_pi") == pytest.approx(weighted)
    # and the overall squared error is the weighted mean of the groups' (per learner, so check the T-learner directly)
    test = reference.real_test
    t_syn = cate_estimates(fresh, test, sim.spec, sim.covariates, "treat", "y", learners=["T"])["T"]
    assert value(scores, "U_PEHE", "T") == pytest.approx(np.sqrt(((reference.cate_test["T"] - t_syn) ** 2).mean()))


def test_lost_arm_never_crashes(sim, reference, fresh):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = treatment_metrics(reference, fresh[fresh.treat == 1])
    messages = " | ".join(str(w.message) for w in caught)
    assert "single value" in messages and "NaN" in messages and "no ATE" in messages
    assert np.isfinite(value(scores, "P_alpha")) and value(scores, "JSD_pi") < 0.8
    assert scores[(scores.metric.isin(["U_PEHE", "PEHE"])) & (scores.data == "synthetic")].value.isna().all()
    assert np.isnan(value(scores, "ATE")) and np.isfinite(value(scores, "ATE", data="real"))
    assert scores[(scores.metric == "PEHE") & (scores.data == "real")].value.notna().all()


def test_seeds(sim, fresh):
    train, test = split(sim)
    small_train, small_test, syn = train.iloc[:1200], test.iloc[:300], fresh.iloc[:1000]
    make = lambda seed: treatment_reference(small_train, small_test, sim.spec, sim.covariates, "treat", "y", seed=seed)
    a, b, c = make(3), make(3), make(4)
    pd.testing.assert_frame_equal(a.cate_test, b.cate_test)
    pd.testing.assert_frame_equal(treatment_metrics(a, syn), treatment_metrics(b, syn))
    assert not a.cate_test.equals(c.cate_test)  # boosting and folds follow the seed
    assert not treatment_metrics(a, syn).equals(treatment_metrics(c, syn))


def test_binary_reference_and_metrics():
    s = simulated_treatment(3000, "binary", seed=2)
    train, test = s.frame.iloc[:2200], s.frame.iloc[2200:]
    ref = treatment_reference(train, test, s.spec, s.covariates, "treat", "y", base_learner="linear", true_cate=s.cate(test))
    assert ref.outcome_kind == "binary" and (ref.cate_test.abs() <= 1).all().all()
    same = treatment_metrics(ref, train)
    assert value(same, "JSD_pi") == 1.0 and value(same, "U_PEHE", "mean") == 0.0
    # a synthetic table coding the 0/1 outcome as floats or bools is read alike
    as_float = treatment_metrics(ref, train.assign(y=train.y.astype(float), treat=train.treat.astype(float)))
    pd.testing.assert_frame_equal(as_float, same)
    raises(lambda: treatment_metrics(ref, train.assign(y=train.y * 0.5)), "'y'", "0/1")


def test_reference_and_metrics_errors(sim, reference, fresh):
    train, test = split(sim)
    ref = lambda **kw: treatment_reference(**{**dict(real_train=train, real_test=test, spec=sim.spec, covariates=sim.covariates,
                                                     treatment="treat", outcome="y"), **kw})
    raises(lambda: ref(real_train=train.drop(columns="severity")), "severity", "training")
    raises(lambda: ref(real_test=test.drop(columns="sex")), "sex", "test")
    raises(lambda: ref(real_train=train.drop(columns="y")), "'y'")
    raises(lambda: ref(real_train=train.assign(treat=train.treat + 1)), "'treat'", "0/1")
    raises(lambda: ref(real_train=train[train.treat == 1]), "'treat'", "untreated")
    raises(lambda: ref(true_cate=np.zeros(5)), "true_cate", str(N_TEST))
    raises(lambda: ref(group="race"), "race")
    raises(lambda: ref(n_levels=1), "n_levels")
    raises(lambda: ref(n_folds=1), "n_folds")
    raises(lambda: ref(learners=["T", "X"]), "learners")
    raises(lambda: ref(base_learner="svm"), "base_learner")
    raises(lambda: ref(propensity="svm"), "propensity")
    raises(lambda: ref(covariates=["age", "bmi"]), "bmi")
    raises(lambda: ref(covariates=["age", "y"]), "'y'", "covariate")
    raises(lambda: treatment_metrics(reference, fresh.drop(columns="treat")), "treat", "synthetic")
    raises(lambda: treatment_metrics(reference, fresh.assign(treat=fresh.treat.map({0: "no", 1: "yes"}))), "'treat'", "0/1")
    raises(lambda: treatment_metrics(reference, fresh.assign(y="x")), "'y'", "numeric")


def test_nhefs_runs_end_to_end():
    from fairsynth.data import load_dataset, patient_split
    nhefs = load_dataset("nhefs")
    train, test = patient_split(nhefs.frame, nhefs.spec, seed=1)
    cov = list(nhefs.spec.confounders)
    ref = treatment_reference(train, test, nhefs.spec, cov, "qsmk", "death", base_learner="linear", group="race", seed=1)
    assert ref.outcome_kind == "binary" and abs(ref.ate_real["ate"]) < 0.15
    scores = treatment_metrics(ref, train.sample(frac=1.0, replace=True, random_state=1), real_train=train)
    assert value(scores, "JSD_pi") > 0.9 and value(scores, "authenticity") < 0.05 and value(scores, "R_beta") > 0.7
    assert scores[scores.metric == "U_PEHE"].value.between(0, 1).all()
    assert set(scores[scores.group != ""].group) == set(test.race.unique())
