"""arf (adversarial random forests, Watson et al. 2023): seeds, conditional sampling against the real conditional
distribution, missing values, levels and dtypes, small and constant columns, pruned leaves, NHEFS fidelity, parameter errors."""
import pickle

import numpy as np
import pandas as pd
import pytest

from fairsynth.core import FairsynthError
from fairsynth.data import load_dataset, patient_split
from fairsynth.generators.arf import ARFGenerator, forest_leaves, value_grid
from fairsynth.generators.base import get_generator, list_generators
from fairsynth.spec import DatasetSpec

N_SYN = 10_000  # generated rows for rates: their sampling error is about 0.005-0.01


def simulated(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, DatasetSpec]:
    """Group a/b, an integer age, a lab value on a 0.1 grid (15% missing), a smoker flag (10% missing), a rare level,
    a constant column and an outcome whose rate depends on group, age and smoking."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.3, "b", "a")
    age = np.clip(np.round(rng.normal(50, 12, n) + 5 * (group == "b")), 20, 90).astype(int)
    lab = np.round(rng.normal(5 + 0.03 * (age - 50), 1, n), 1)
    lab[rng.random(n) < 0.15] = np.nan
    smoker = np.where(rng.random(n) < 0.2 + 0.3 * (group == "b"), "yes", "no").astype(object)
    smoker[rng.random(n) < 0.1] = np.nan
    site = np.where(rng.random(n) < 0.5, "north", "south").astype(object)
    site[:6] = "island"  # a rare level
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 1.2 * (group == "b") + 0.04 * (age - 50) + 0.8 * (smoker == "yes"))))).astype(int)
    df = pd.DataFrame({"group": group, "age": age, "lab": lab, "smoker": smoker, "site": pd.Categorical(site),
                       "visits": rng.integers(0, 4, n), "const": 7.0, "y": y})
    spec = DatasetSpec("sim_arf", {"group": "categorical", "age": "numerical", "lab": "numerical", "smoker": "categorical",
                                   "site": "categorical", "visits": "numerical", "const": "numerical", "y": "categorical"},
                       sensitive={"group": "a"}, outcomes=("y",))
    return df, spec


@pytest.fixture(scope="module")
def sim():
    return simulated()


@pytest.fixture(scope="module")
def fitted(sim):
    df, spec = sim
    return ARFGenerator(seed=0).fit(df, spec)


def test_registered():
    assert isinstance(get_generator("arf"), ARFGenerator)
    assert list_generators().set_index("name").loc["arf", "kind"] == "tree"


def test_same_seed_same_rows(sim, fitted):
    df, spec = sim
    first = fitted.sample(500, seed=3)
    pd.testing.assert_frame_equal(first, fitted.sample(500, seed=3))
    pd.testing.assert_frame_equal(first, ARFGenerator(seed=0).fit(df, spec).sample(500, seed=3))  # a second fit
    assert not first.equals(fitted.sample(500, seed=4))
    assert not first.equals(ARFGenerator(seed=1).fit(df, spec).sample(500, seed=3))  # another fit seed, another forest


def test_condition_follows_real_conditional(sim, fitted):
    df, _ = sim
    for group in ("a", "b"):
        out = fitted.sample(N_SYN, conditions={"group": group}, seed=1)
        real = df[df.group == group]
        assert (out.group == group).all()
        assert abs(out.y.mean() - real.y.mean()) < 0.04, group  # the outcome rate within the group
        assert abs((out.smoker == "yes").mean() - (real.smoker == "yes").mean()) < 0.04, group
        assert abs(out.age.mean() - real.age.mean()) < 1.0, group
    b_rate = fitted.sample(N_SYN, conditions={"group": "b"}, seed=1).y.mean()
    a_rate = fitted.sample(N_SYN, conditions={"group": "a"}, seed=1).y.mean()
    real_gap = df[df.group == "b"].y.mean() - df[df.group == "a"].y.mean()
    assert abs((b_rate - a_rate) - real_gap) < 0.05  # the group gap is kept


def test_two_conditions_and_few_valued_numerical(sim, fitted):
    df, _ = sim
    out = fitted.sample(3000, conditions={"y": 1, "visits": 2}, seed=2)
    assert (out.y == 1).all() and (out.visits == 2).all()
    real = df[df.y == 1]
    assert abs((out.group == "b").mean() - (real.group == "b").mean()) < 0.05  # P(group | y=1) kept (visits is independent)


def test_pairing_kept_and_unseen_combination_rare():
    df = pd.DataFrame({"a": ["x", "y"] * 200, "b": ["u", "v"] * 200, "n": np.arange(400.0)})  # a=x always with b=u
    spec = DatasetSpec("pairs", {"a": "categorical", "b": "categorical", "n": "numerical"})
    gen = ARFGenerator(seed=0).fit(df, spec)
    assert (gen.sample(2000, conditions={"a": "x"}, seed=0).b == "u").mean() > 0.98  # the pairing is kept
    unseen = gen._leaf_weights({0: 0.0, 1: 1.0}).sum() / gen._leaf_weights({0: 0.0}).sum()  # P(b=v | a=x) in the model
    assert unseen < 0.02


@pytest.mark.parametrize("numeric", ["empirical", "truncnorm"])
def test_missing_values_at_the_real_rate(sim, numeric):
    df, spec = sim
    gen = ARFGenerator(seed=0, numeric=numeric).fit(df, spec)
    out = gen.sample(N_SYN, seed=1)
    for col in ("lab", "smoker"):
        assert abs(out[col].isna().mean() - df[col].isna().mean()) < 0.03, col
    assert out[["group", "age", "site", "visits", "y"]].notna().all().all()  # columns without missing values stay complete


def test_levels_dtypes_and_values(sim, fitted):
    df, spec = sim
    out = fitted.sample(N_SYN, seed=5)
    assert out.dtypes.to_dict() == df.dtypes.to_dict()
    assert set(out.site.dropna()) == {"island", "north", "south"}  # the rare level (6 rows of 2,000) is kept
    assert set(out.smoker.dropna()) == {"no", "yes"} and set(out.visits) <= set(df.visits)
    assert (out.const == 7.0).all()  # a constant column stays constant
    assert out.age.between(df.age.min(), df.age.max()).all() and out.lab.dropna().between(df.lab.min(), df.lab.max()).all()


def test_truncnorm_keeps_grid_and_range(sim):
    df, spec = sim
    out = ARFGenerator(seed=0, numeric="truncnorm").fit(df, spec).sample(5000, seed=1)
    lab = out.lab.dropna()
    assert np.allclose(lab * 10, np.round(lab * 10)) and lab.between(df.lab.min(), df.lab.max()).all()  # 0.1 grid
    assert out.age.dtype == df.age.dtype and abs(out.age.mean() - df.age.mean()) < 1.0
    assert value_grid(df.lab.to_numpy()) == (df.lab.min(), 0.1)


def test_alpha_smoothing_keeps_levels_and_rates(sim):
    df, spec = sim
    out = ARFGenerator(seed=0, alpha=0.5).fit(df, spec).sample(N_SYN, seed=1)
    assert set(out.site.dropna()) == {"island", "north", "south"}
    assert abs(out.y.mean() - df.y.mean()) < 0.03


def test_pruned_leaves_hold_enough_real_rows(sim, fitted):
    leaves = fitted.leaves_
    assert leaves.count.min() >= fitted.min_node_size  # every leaf draws from at least min_node_size real rows
    assert leaves.coverage.sum() == fitted.n_trees * len(sim[0])  # each real row is in one leaf per tree
    again = forest_leaves(fitted.forest_, fitted.x_, 50)
    assert again.count.min() >= 50 and len(again.count) < len(leaves.count)
    assert fitted.accuracy_[0] > 0.5 and fitted.accuracy_[-1] < fitted.accuracy_[0]


def test_small_table_and_pickle():
    df, spec = simulated(n=50, seed=1)
    gen = ARFGenerator(seed=0, min_node_size=5).fit(df, spec)
    out = gen.sample(200, conditions={"group": "b"}, seed=0)
    assert len(out) == 200 and (out.group == "b").all() and out.dtypes.to_dict() == df.dtypes.to_dict()
    restored = pickle.loads(pickle.dumps(gen))
    pd.testing.assert_frame_equal(restored.sample(100, seed=3), gen.sample(100, seed=3))


def test_bad_parameters_name_the_parameter():
    for params, name in [({"n_trees": 0}, "'n_trees'"), ({"min_node_size": 2.5}, "'min_node_size'"), ({"delta": 0.6}, "'delta'"),
                         ({"max_iters": -1}, "'max_iters'"), ({"alpha": -1}, "'alpha'"), ({"numeric": "kde"}, "'numeric'"),
                         ({"early_stop": 1}, "'early_stop'"), ({"redraw_copies": "no"}, "'redraw_copies'"),
                         ({"n_jobs": 0}, "'n_jobs'"), ({"seed": -2}, "'seed'")]:
        with pytest.raises(FairsynthError, match=name):
            get_generator("arf", **params)


def test_nhefs_fidelity_utility_and_no_copies():
    from fairsynth.metrics.fidelity import fidelity_summary
    from fairsynth.metrics.privacy import exact_copy_rate
    from fairsynth.metrics.utility import utility_table
    ds = load_dataset("nhefs")
    train, test = patient_split(ds.frame, ds.spec, test_size=0.3, seed=0)
    gen = ARFGenerator(seed=0).fit(train, ds.spec)
    syn = gen.sample(len(train), seed=1)
    fid = fidelity_summary(train, syn, ds.spec).set_index("metric").value
    assert fid["quality_score"] > 0.92  # measured 0.95 (causal_dag 0.964, gaussian_copula 0.898)
    assert fid["detection_auc"] < 0.65  # measured 0.45-0.50 (gaussian_copula 0.92)
    util = utility_table(train, test, ds.spec, outcome=ds.spec.outcome, synthetic={"arf": syn}, seed=0, models=("random_forest",))
    auroc = util[util.metric == "auroc"].set_index("train_on").value
    assert auroc["arf"] > auroc["real"] - 0.04  # measured 0.819-0.823 against 0.829
    assert exact_copy_rate(train, syn, ds.spec) == 0.0
    assert set(gen.sample_stats_) == {"copies_redrawn", "copies_left"} and gen.sample_stats_["copies_left"] == 0.0
