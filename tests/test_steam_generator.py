"""steam (seed 004): covariates from a base generator, treatment from a propensity model, outcomes sampled from
outcome models; treatment mechanism and CATE recovered, outcome noise, missing outcomes, training rows only,
conditions, errors, seeds, registry, real-data smoke runs (NHEFS, RHC)."""
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from fairsynth.core import FairsynthError
from fairsynth.data import load_dataset, patient_split
from fairsynth.generators.base import get_generator, list_generators
from fairsynth.generators.steam import STEAMGenerator, covariate_spec
from fairsynth.spec import DatasetSpec

N_SYN = 10_000  # rows sampled for the coefficient checks
OUTCOMES = ["y", "y_bin"]


def simulated_treatment(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, DatasetSpec]:
    """Confounded treatment (logit pi = 2 x1 - x2); y = 1 + x1 + W (1 + x2) + N(0, 1); binary y_bin with
    logit -1 + 0.8 x1 + W (1 + 0.8 x2); a categorical covariate; a patient id."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    grp = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    treated = (rng.random(n) < 1 / (1 + np.exp(-(2 * x1 - x2)))).astype(int)
    y = 1 + x1 + treated * (1 + x2) + rng.normal(size=n)
    y_bin = (rng.random(n) < 1 / (1 + np.exp(-(-1 + 0.8 * x1 + treated * (1 + 0.8 * x2))))).astype(int)
    df = pd.DataFrame({"pid": np.arange(n), "x1": x1, "x2": x2, "grp": grp, "treated": treated, "y": y, "y_bin": y_bin})
    spec = DatasetSpec("sim_treatment", {"x1": "numerical", "x2": "numerical", "grp": "categorical", "treated": "categorical",
                                         "y": "numerical", "y_bin": "categorical"}, id_column="pid",
                       sensitive={"grp": "a"}, outcomes=("y_bin",), treatment="treated", confounders=("x1", "x2"))
    return df, spec


def treatment_coefficients(frame: pd.DataFrame) -> np.ndarray:
    """Coefficients of x1, x2 in an (unpenalised) logistic regression of the treatment on them."""
    return LogisticRegression(C=1e6, max_iter=5000).fit(frame[["x1", "x2"]], frame.treated.astype(int)).coef_[0]


def effect_coefficients(frame: pd.DataFrame) -> np.ndarray:
    """Coefficients of W, W x1, W x2 in a linear regression of y on x1, x2, W, W x1, W x2 (truth: 1, 0, 1)."""
    w = frame.treated.astype(int).to_numpy()
    design = np.column_stack([frame.x1, frame.x2, w, w * frame.x1, w * frame.x2])
    return LinearRegression().fit(design, frame.y).coef_[2:]


@pytest.fixture(scope="module")
def sim():
    return simulated_treatment()


@pytest.fixture(scope="module")
def fitted(sim):
    df, spec = sim
    return {"copula": get_generator("gaussian_copula").fit(df, spec),
            "boosting": STEAMGenerator(outcomes=OUTCOMES).fit(df, spec),
            "linear": STEAMGenerator(outcomes=OUTCOMES, outcome_model="linear").fit(df, spec),
            "none": STEAMGenerator(outcomes=OUTCOMES, outcome_model="linear", noise="none").fit(df, spec)}


@pytest.fixture(scope="module")
def samples(fitted):
    return {k: g.sample(N_SYN, seed=1) for k, g in fitted.items()}


def test_treatment_mechanism_far_better_than_the_base_alone(samples):
    truth = np.array([2.0, -1.0])
    err = {k: np.abs(treatment_coefficients(s) - truth).max() for k, s in samples.items()}
    assert err["linear"] < 0.3 and err["boosting"] < 0.3
    assert err["copula"] > 0.5 and err["copula"] > 3 * err["linear"]


@pytest.mark.parametrize("which", ["boosting", "linear"])
def test_cate_recovered(samples, which):
    assert np.abs(effect_coefficients(samples[which]) - [1, 0, 1]).max() < 0.25
    assert abs(effect_coefficients(samples["copula"])[2] - 1) > 0.5  # the copula loses the effect modification


def test_fitted_components_match_the_truth(sim, fitted):
    df, _ = sim
    g = fitted["linear"]
    pi_true = 1 / (1 + np.exp(-(2 * df.x1 - df.x2)))
    assert np.abs(g.propensity_scores(df) - pi_true).mean() < 0.03
    cate = g.outcome_means(df, 1, "y") - g.outcome_means(df, 0, "y")
    assert np.abs(cate - (1 + df.x2)).mean() < 0.1
    p1 = g.outcome_means(df, 1, "y_bin")
    assert ((p1 >= 0) & (p1 <= 1)).all() and abs(p1.mean() - 0.5) < 0.2
    assert g.outcome_means(df, 0).shape == (len(df),)  # default: the first outcome
    with pytest.raises(FairsynthError, match="'treatment_value'"): g.outcome_means(df, 2)
    with pytest.raises(FairsynthError, match="'outcome'"): g.outcome_means(df, 1, "x1")
    with pytest.raises(FairsynthError, match="x2"): g.propensity_scores(df.drop(columns="x2"))
    with pytest.raises(FairsynthError, match="not fitted"): STEAMGenerator().propensity_scores(df)


def test_s_learner_with_a_linear_model_misses_effect_modification(sim):
    """The reference's S-learner design: a linear model with the treatment as an input has no W x2 term."""
    df, spec = sim
    g = STEAMGenerator(outcomes=["y"], outcome_model="linear", learner="s").fit(df, spec)
    coefs = effect_coefficients(g.sample(N_SYN, seed=1))
    assert abs(coefs[2]) < 0.25 and abs(coefs[0] - 1) < 0.5
    assert set(g.outcome_models_["y"].models_) == {"both"} and set(g.residuals_["y"]) == {0, 1}
    boosted = STEAMGenerator(outcomes=["y"], learner="s").fit(df, spec)  # boosting can learn the interaction
    assert effect_coefficients(boosted.sample(N_SYN, seed=1))[2] > 0.6


def within_arm_variance_ratio(real: pd.DataFrame, syn: pd.DataFrame) -> pd.Series:
    return syn.groupby("treated").y.var() / real.groupby("treated").y.var()


def test_residual_noise_keeps_the_outcome_variance_none_does_not(sim, samples):
    df, _ = sim
    for which in ("linear", "boosting"):
        assert within_arm_variance_ratio(df, samples[which]).between(0.8, 1.25).all(), which
    assert (within_arm_variance_ratio(df, samples["none"]) < 0.75).all()


def test_gaussian_noise_keeps_the_outcome_variance(sim):
    df, spec = sim
    g = STEAMGenerator(outcomes=["y"], outcome_model="linear", noise="gaussian").fit(df, spec)
    assert within_arm_variance_ratio(df, g.sample(N_SYN, seed=2)).between(0.8, 1.25).all()


def test_binary_outcome_bernoulli_draws_keep_event_rates_none_does_not(sim, samples):
    df, _ = sim
    real = df.groupby("treated").y_bin.mean()
    for which in ("linear", "boosting"):
        syn = samples[which]
        assert set(syn.y_bin.unique()) == {0, 1}
        assert (syn.groupby("treated").y_bin.mean() - real).abs().max() < 0.04, which
    none = samples["none"].groupby("treated").y_bin.mean()
    assert abs(none[0] - real[0]) > 0.1


def test_missing_outcome_values_fitted_on_observed_rows_and_reproduced(sim):
    df, spec = sim
    rng = np.random.default_rng(5)
    missing = rng.random(len(df)) < np.where(df.x1 > 0, 0.3, 0.05)
    holed = df.assign(y=df.y.mask(missing))
    g = STEAMGenerator(outcomes=OUTCOMES, outcome_model="linear").fit(holed, spec)
    assert sum(g.outcome_rows_["y"].values()) == int((~missing).sum())
    syn = g.sample(N_SYN, seed=1)
    assert abs(syn.y.isna().mean() - missing.mean()) < 0.03
    assert syn.y[syn.x1 > 0].isna().mean() > syn.y[syn.x1 <= 0].isna().mean() + 0.15  # missingness depends on x1
    assert np.abs(effect_coefficients(syn.dropna(subset=["y"])) - [1, 0, 1]).max() < 0.3
    assert syn.y_bin.notna().all()


def test_integer_outcome_stays_whole_and_in_range(sim):
    df, spec = sim
    counts = df.assign(y=np.clip(np.round(df.y * 3 + 5), 0, 20).astype(int))
    syn = STEAMGenerator(outcomes=["y"], outcome_model="linear").fit(counts, spec).sample(2000, seed=1)
    assert syn.y.dtype == np.int64 and syn.y.min() >= 0 and syn.y.max() <= 20


def test_base_generator_sees_covariates_and_training_rows_only(sim):
    df, spec = sim
    train, test = patient_split(df, spec, seed=0)
    g = STEAMGenerator(outcomes=OUTCOMES).fit(train, spec)
    assert g.base_.columns_ == ["x1", "x2", "grp"] and g.covariates_ == ["x1", "x2", "grp"]
    assert g.base_.n_train_rows_ == len(train) == g.n_train_rows_
    assert all(sum(rows.values()) == len(train) for rows in g.outcome_rows_.values())
    assert g.outcome_rows_["y"] == {a: int((train.treated == a).sum()) for a in (0, 1)}
    assert g.treatment_ == "treated" and g.outcomes_ == OUTCOMES
    assert g.outcome_kinds_ == {"y": "continuous", "y_bin": "binary"} and set(g.residuals_) == {"y"}
    assert g.outcome_models_["y_bin"].inputs == ["x1", "x2", "grp", "y"]  # later outcomes see the earlier ones
    assert g.base_.spec_.treatment is None and g.base_.spec_.outcomes == () and g.base_.spec_.sensitive == {"grp": "a"}
    assert set(g.fit_parts_seconds_) == {"base", "propensity", "outcomes"} and min(g.fit_parts_seconds_.values()) > 0


def test_covariate_spec_drops_roles_of_removed_columns():
    spec = DatasetSpec("s", {"a": "categorical", "b": "numerical", "t": "categorical", "o": "categorical", "o2": "categorical"},
                       id_column="id", sensitive={"a": "x", "t": 1}, outcomes=("o", "o2"), treatment="t",
                       confounders=("b", "t"), mediators=("o2",), outcome_excludes={"o": ("b",), "o2": ("t",)})
    sub = covariate_spec(spec, ["a", "b", "o2"])
    assert list(sub.columns) == ["a", "b", "o2"] and sub.sensitive == {"a": "x"} and sub.outcomes == ("o2",)
    assert sub.treatment is None and sub.confounders == ("b",) and sub.mediators == ("o2",) and sub.id_column is None
    assert sub.outcome_excludes == {"o2": ()}


def test_output_columns_dtypes_and_seeds(sim, fitted):
    df, spec = sim
    g = fitted["boosting"]
    a = g.sample(1500, seed=3)
    assert list(a.columns) == list(spec.columns)
    assert a.dtypes.equals(df[list(spec.columns)].dtypes)
    assert a.equals(g.sample(1500, seed=3)) and not a.equals(g.sample(1500, seed=4))
    assert g.sample(50).equals(g.sample(50, seed=g.seed))
    refit = STEAMGenerator(outcomes=OUTCOMES).fit(df, spec)
    assert refit.sample(300, seed=3).equals(g.sample(300, seed=3))  # same fit seed, same generator


def test_categorical_treatment_dtype_comes_back(sim):
    df, spec = sim
    cat = df.assign(treated=df.treated.astype("category"))
    syn = STEAMGenerator(outcomes=["y"], outcome_model="linear").fit(cat, spec).sample(500, seed=1)
    assert syn.treated.dtype == cat.treated.dtype and set(syn.treated.astype(int)) == {0, 1}


def test_conditions(sim, fitted):
    df, _ = sim
    g = fitted["boosting"]
    only_b = g.sample(400, conditions={"grp": "b"}, seed=1)
    assert (only_b.grp == "b").all() and g.sample_stats_["rows_rejected"] == 0
    treated = g.sample(1000, conditions={"treated": 1}, seed=1)
    assert (treated.treated == 1).all() and g.sample_stats_["rows_rejected"] > 0
    assert abs(treated.x1.mean() - df[df.treated == 1].x1.mean()) < 0.15  # covariates of treated patients
    events = g.sample(300, conditions={"treated": 0, "y_bin": 1, "grp": "c"}, seed=1)
    assert ((events.treated == 0) & (events.y_bin == 1) & (events.grp == "c")).all()
    assert events.equals(g.sample(300, conditions={"treated": 0, "y_bin": 1, "grp": "c"}, seed=1))
    with pytest.raises(FairsynthError, match="'treated'"): g.sample(10, conditions={"treated": 2})
    with pytest.raises(FairsynthError, match="'y'"): g.sample(10, conditions={"y": 1.0})
    with pytest.raises(FairsynthError, match="'grp'"): g.sample(10, conditions={"grp": "z"})
    with pytest.raises(FairsynthError, match="'bmi'"): g.sample(10, conditions={"bmi": 1})


def test_too_rare_a_condition_names_the_column(sim):
    df, spec = sim
    rare = df.assign(treated=(df.x1 == df.x1.max()).astype(int))  # one treated row in 3,000
    g = STEAMGenerator(outcomes=[]).fit(rare, spec)
    with pytest.raises(FairsynthError, match="'treated'"): g.sample(10, conditions={"treated": 1})


@pytest.mark.parametrize("kwargs, change, word", [
    ({}, {"treatment": None}, "'treatment'"),
    ({"treatment": "dose"}, {}, "'treatment'"),
    ({"treatment": "grp"}, {}, "'grp'"),  # not 0/1
    ({"treatment": "y_bin", "outcomes": ["y"]}, {"frame": lambda d: d.assign(y_bin=d.y_bin.where(d.index > 0))}, "'y_bin'"),  # missing
    ({"treatment": "y_bin", "outcomes": ["y"]}, {"frame": lambda d: d.assign(y_bin=1)}, "'y_bin'"),  # a single value
    ({"outcomes": ["bmi"]}, {}, "'outcomes'"),
    ({"outcomes": ["treated"]}, {}, "'outcomes'"),
    ({"outcomes": ["y", "y"]}, {}, "'outcomes'"),
    ({"outcomes": "grp"}, {}, "'grp'"),  # categorical, not binary
    ({"outcomes": [1]}, {}, "'outcomes'"),
    ({"outcomes": ["x1", "x2", "grp", "y", "y_bin"]}, {}, "no covariates"),
    ({"noise": "poisson"}, {}, "'noise'"),
    ({"learner": "x"}, {}, "'learner'"),
    ({"propensity": "svm"}, {}, "'propensity'"),
    ({"propensity": "linear"}, {}, "'propensity'"),
    ({"propensity": lambda: object()}, {}, "'propensity'"),
    ({"outcome_model": "svm"}, {}, "'outcome_model'"),
    ({"outcome_model": lambda kind: object()}, {}, "'outcome_model'"),
    ({"base": "nope"}, {}, "'nope'"),
    ({"base": 3}, {}, "'base'"),
    ({"base_params": {"epochs": 2}}, {}, "'epochs'"),
    ({"base_params": [1]}, {}, "'base_params'"),
    ({"outcomes": ["y"]}, {"frame": lambda d: d.assign(treated=(d.index < 3).astype(int))}, "'y'"),  # 3 treated rows
])
def test_bad_input_names_the_culprit(sim, kwargs, change, word):
    df, spec = sim
    frame = change.get("frame", lambda d: d)(df)
    spec = spec.replace(treatment=None) if "treatment" in change else spec
    with pytest.raises(FairsynthError, match=word): STEAMGenerator(**kwargs).fit(frame, spec)


def test_callable_models(sim):
    df, spec = sim
    g = STEAMGenerator(outcomes=OUTCOMES, propensity=lambda: RandomForestClassifier(50, min_samples_leaf=20, random_state=0),
                       outcome_model=lambda kind: LogisticRegression(max_iter=1000) if kind == "classifier" else Ridge()).fit(df, spec)
    assert isinstance(g.propensity_[-1], RandomForestClassifier)
    assert isinstance(g.outcome_models_["y"].models_[1], Ridge) and isinstance(g.outcome_models_["y_bin"].models_[0], LogisticRegression)
    assert abs(g.sample(3000, seed=1).treated.mean() - df.treated.mean()) < 0.04


@pytest.mark.parametrize("propensity, outcome_model", [("boosting", "forest"), ("forest", "logistic")])
def test_other_built_in_models(sim, propensity, outcome_model):
    df, spec = sim
    syn = STEAMGenerator(outcomes=OUTCOMES, propensity=propensity, outcome_model=outcome_model).fit(df, spec).sample(N_SYN, seed=1)
    assert abs(syn.treated.mean() - df.treated.mean()) < 0.04
    assert abs(syn.y_bin.mean() - df.y_bin.mean()) < 0.04
    assert np.abs(effect_coefficients(syn) - [1, 0, 1]).max() < 0.35


def test_registry_and_neural_and_causal_bases(sim):
    df, spec = sim
    assert list_generators().set_index("name").loc["steam", "kind"] == "causal"
    g = get_generator("steam", base="tvae", base_params={"epochs": 2}, outcomes=OUTCOMES, seed=4)
    assert isinstance(g, STEAMGenerator)
    small = df.iloc[:600]
    syn = g.fit(small, spec).sample(200, seed=1)
    assert g.base_.name == "tvae" and g.base_.epochs == 2 and g.base_.seed == 4  # the base seed defaults to STEAM's
    assert syn.shape == (200, len(spec.columns)) and set(syn.treated.unique()) <= {0, 1}
    dag = STEAMGenerator(base="causal_dag", base_params={"outcome": "x2", "seed": 9}, outcomes=OUTCOMES).fit(small, spec)
    assert dag.base_.seed == 9 and dag.sample(100, seed=1).shape == (100, len(spec.columns))


def test_pickle_round_trip(fitted):
    g = fitted["boosting"]
    again = pickle.loads(pickle.dumps(g))
    assert again.sample(200, seed=5).equals(g.sample(200, seed=5))


def test_nhefs_smoke():
    ds = load_dataset("nhefs")
    train, test = patient_split(ds.frame, ds.spec, seed=0)
    g = get_generator("steam", treatment="qsmk", outcomes=["death"]).fit(train, ds.spec)
    syn = g.sample(len(train), seed=1)
    assert syn.shape == (len(train), len(ds.spec.columns)) and list(syn.columns) == list(ds.spec.columns)
    assert syn.dtypes.equals(train[list(ds.spec.columns)].dtypes)
    assert abs(syn.qsmk.mean() - train.qsmk.mean()) < 0.04 and abs(syn.death.mean() - train.death.mean()) < 0.05
    assert g.base_.n_train_rows_ == len(train) and "qsmk" not in g.base_.columns_ and "death" not in g.base_.columns_


def test_rhc_smoke():
    ds = load_dataset("rhc")
    train, test = patient_split(ds.frame, ds.spec, seed=0)
    g = STEAMGenerator(treatment="swang1", outcomes=("dth30", "death"), base_params={"default_distribution": "norm"}).fit(train, ds.spec)
    syn = g.sample(len(train), seed=1)
    assert syn.shape == (len(train), len(ds.spec.columns)) and syn.dtypes.equals(train[list(ds.spec.columns)].dtypes)
    assert abs(syn.swang1.mean() - train.swang1.mean()) < 0.03
    assert abs(syn.dth30.mean() - train.dth30.mean()) < 0.05 and abs(syn.death.mean() - train.death.mean()) < 0.05
    assert g.base_.n_train_rows_ == len(train) and {"swang1", "dth30", "death"}.isdisjoint(g.base_.columns_)
    assert g.outcome_models_["death"].inputs[-1] == "dth30"
