"""causal_dag (seed 001): the SFM DAG, user DAG checks, PC with tiers, faithful mechanisms, what each fair-mode
removal does, seeds, conditions, numerical and missing values, node models, registry, discriminator refinement."""
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from fairsynth.core import FairsynthError
from fairsynth.generators.base import get_generator, list_generators
from fairsynth.generators.causal import FAIR_PATHS, CausalDAGGenerator, ParentEncoder, learn_dag, sfm_dag, strongest_parents
from fairsynth.spec import DatasetSpec

N_SYN = 20_000  # generated rows for the contrasts: their sampling error is about 0.01


def simulated_sfm(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, DatasetSpec]:
    """A linear SFM: Z binary; X in {a, b} | Z; W numerical | X, Z; job | X; Y binary | X, Z, W; plus an integer age,
    a numerical column with 20% missing and a categorical one with 20% missing (further mediators)."""
    rng = np.random.default_rng(seed)
    z = (rng.random(n) < 0.5).astype(int)
    xb = rng.random(n) < 1 / (1 + np.exp(-(-1.0 + 1.2 * z)))
    w = np.round(1.0 * xb + 0.8 * z + rng.normal(0, 1, n), 2)
    job = np.where(rng.random(n) < 0.3 + 0.3 * xb, "manual", "office")
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1.2 + 0.9 * xb + 0.5 * z + 0.7 * w)))).astype(int)
    age = np.clip(np.round(rng.normal(50, 12, n)), 20, 90).astype(int)
    lab = np.round(rng.normal(5, 1, n), 3)
    lab[rng.random(n) < 0.2] = np.nan
    smoker = np.where(rng.random(n) < 0.3, "yes", "no").astype(object)
    smoker[rng.random(n) < 0.2] = np.nan
    df = pd.DataFrame({"group": np.where(xb, "b", "a"), "z": np.where(z == 1, "yes", "no"), "w": w, "job": job,
                       "age": age, "lab": lab, "smoker": smoker, "y": y})
    spec = DatasetSpec("sim_sfm", {"group": "categorical", "z": "categorical", "w": "numerical", "job": "categorical",
                                   "age": "numerical", "lab": "numerical", "smoker": "categorical", "y": "categorical"},
                       sensitive={"group": "a"}, outcomes=("y",), confounders=("z",), mediators=("w", "job"))
    return df, spec


@pytest.fixture(scope="module")
def sim():
    return simulated_sfm()


def fitted(sim, **params) -> CausalDAGGenerator:
    df, spec = sim
    return CausalDAGGenerator(seed=0, **params).fit(df, spec)


@pytest.fixture(scope="module")
def faithful(sim):
    return fitted(sim)


@pytest.fixture(scope="module")
def faithful_rows(faithful):
    return faithful.sample(N_SYN, seed=1)


def w_quartile(frame: pd.DataFrame, real: pd.DataFrame) -> np.ndarray:
    return np.searchsorted(np.quantile(real.w, [0.25, 0.5, 0.75]), frame.w)


def direct_contrast(frame: pd.DataFrame, real: pd.DataFrame) -> float:
    """Mean over (z, w-quartile) strata, weighted by size, of P(y=1 | b) - P(y=1 | a)."""
    f = frame.assign(wq=w_quartile(frame, real), y=frame.y.astype(float))
    rates = f.groupby(["z", "wq", "group"]).y.mean().unstack("group")
    sizes = f.groupby(["z", "wq"]).size()
    return float(((rates.b - rates.a) * sizes).sum() / sizes.sum())


def w_contrast(frame: pd.DataFrame) -> float:
    """Mean over z of E[w | b, z] - E[w | a, z]."""
    by = frame.groupby(["z", "group"]).w.mean().unstack("group")
    return float((by.b - by.a).mean())


def job_contrast(frame: pd.DataFrame) -> float:
    by = frame.assign(manual=frame.job.eq("manual")).groupby(["z", "group"]).manual.mean().unstack("group")
    return float((by.b - by.a).mean())


def z_contrast(frame: pd.DataFrame) -> float:
    by = frame.assign(zy=frame.z.eq("yes")).groupby("group").zy.mean()
    return float(by.b - by.a)


# --- DAGs --------------------------------------------------------------------------------------------------

def test_sfm_dag_order_and_parents():
    dag = sfm_dag(["y", "w1", "o2", "extra", "z1", "x", "z2", "w2"], "x", ["z1", "z2"], ["w1", "w2"], "y", outcomes=("y", "o2"))
    assert list(dag) == ["x", "z1", "z2", "w1", "w2", "extra", "y", "o2"]
    assert dag["x"] == () and dag["z1"] == ("x",) and dag["z2"] == ("x", "z1")
    assert dag["w2"] == ("x", "z1", "z2", "w1") and dag["extra"] == ("x", "z1", "z2", "w1", "w2")
    assert dag["y"] == ("x", "z1", "z2", "w1", "w2", "extra") and dag["o2"][-1] == "y"
    assert FAIR_PATHS["both"] == ("direct", "indirect") and FAIR_PATHS["all"] == ("direct", "indirect", "spurious")
    with pytest.raises(FairsynthError, match="'w'"): sfm_dag(["x", "y", "z"], "x", ["z"], ["nope"], "y")
    with pytest.raises(FairsynthError, match="'z' and 'w'"): sfm_dag(["x", "y", "z"], "x", ["z"], ["z"], "y")


def test_user_dag_is_validated(sim):
    df, spec = sim
    good = {"group": [], "z": [], "w": ["group", "z"], "job": "group", "age": [], "lab": [], "smoker": [], "y": ["group", "z", "w"]}
    gen = CausalDAGGenerator(dag=good, node_model="logistic").fit(df, spec)
    assert gen.order_[0] == "group" and gen.dag_["job"] == ("group",) and gen.order_.index("w") < gen.order_.index("y")
    with pytest.raises(FairsynthError, match="cycle"):
        CausalDAGGenerator(dag={**good, "z": ["y"]}).fit(df, spec)
    with pytest.raises(FairsynthError, match=r"misses column\(s\) \['smoker'\]"):
        CausalDAGGenerator(dag={k: v for k, v in good.items() if k != "smoker"}).fit(df, spec)
    with pytest.raises(FairsynthError, match="unknown column.*'bmi'"):
        CausalDAGGenerator(dag={**good, "y": ["bmi"]}).fit(df, spec)
    with pytest.raises(FairsynthError, match="'dag'"):
        CausalDAGGenerator(dag="ges").fit(df, spec)


def test_learn_dag_on_a_chain_has_no_backward_edges():
    rng = np.random.default_rng(0)
    n = 3000
    x = (rng.random(n) < 0.4).astype(int)
    z = rng.normal(0, 1, n) + 0.8 * x
    m1 = 1.5 * x + rng.normal(0, 1, n)
    m2 = 1.2 * m1 + rng.normal(0, 1, n)
    y = 1.0 * m2 + 0.8 * z + rng.normal(0, 1, n)
    df = pd.DataFrame({"y": y, "m2": m2, "m1": m1, "z": z, "x": np.where(x == 1, "b", "a")})
    dag = learn_dag(df, "x", ["z"], ["m1", "m2"], "y", seed=0)
    tier = {"x": 0, "z": 0, "m1": 1, "m2": 1, "y": 2}
    assert set(dag) == set(df.columns) and list(dag)[0] == "x" and dag["x"] == ()
    assert all(tier[p] <= tier[c] for c, ps in dag.items() for p in ps)  # nothing points backwards
    order = list(dag)
    assert all(order.index(p) < order.index(c) for c, ps in dag.items() for p in ps)  # a topological order
    assert "m2" in dag["y"] and "z" in dag["y"] and "x" not in dag["y"] and "m1" not in dag["y"]  # y depends on x only through m1, m2
    assert ("m1" in dag["m2"]) and ("x" in dag["m1"])


def test_pc_dag_in_the_generator(sim):
    gen = fitted(sim, dag="pc", node_model="logistic")
    assert gen.dag_["group"] == () and "w" in gen.dag_["y"]
    assert len(gen.sample(200)) == 200


# --- faithful mode -----------------------------------------------------------------------------------------

def test_faithful_reproduces_marginals_and_the_outcome_mechanism(sim, faithful_rows):
    df, _ = sim
    syn = faithful_rows
    assert abs(syn.group.eq("b").mean() - df.group.eq("b").mean()) < 0.02
    assert abs(syn.z.eq("yes").mean() - df.z.eq("yes").mean()) < 0.02
    assert abs(syn.w.mean() - df.w.mean()) < 0.05 and abs(syn.w.std() - df.w.std()) < 0.05
    assert abs(syn.y.mean() - df.y.mean()) < 0.02
    real = df.assign(wq=w_quartile(df, df)).groupby(["group", "wq"]).y.mean()
    gen = syn.assign(wq=w_quartile(syn, df)).groupby(["group", "wq"]).y.mean()
    assert (gen - real).abs().max() < 0.08, (gen - real).round(3).to_dict()
    assert real.max() - real.min() > 0.4  # so a generator ignoring X and W could not pass
    assert abs(direct_contrast(syn, df) - direct_contrast(df, df)) < 0.06
    assert abs(w_contrast(syn) - w_contrast(df)) < 0.12 and abs(z_contrast(syn) - z_contrast(df)) < 0.03


def test_remove_in_faithful_mode_is_ignored(sim, faithful):
    gen = fitted(sim, remove="all", node_model="logistic")
    assert gen.removed_ == () and faithful.removed_ == () and faithful.refine_auc_ is None
    assert faithful.roles_["x"] == "group" and faithful.roles_["x0"] == "a" and faithful.roles_["z"] == ("z",)
    assert faithful.roles_["w"] == ("w", "job") and faithful.roles_["y"] == "y" and set(faithful.node_models_) == set(faithful.order_)


# --- fair mode ---------------------------------------------------------------------------------------------

def test_fair_direct_removes_the_direct_effect_only(sim, faithful_rows):
    df, _ = sim
    gen = fitted(sim, mode="fair", remove="direct")
    syn = gen.sample(N_SYN, seed=1)
    assert gen.removed_ == ("direct",)
    real_effect = direct_contrast(df, df)
    assert real_effect > 0.12 and direct_contrast(faithful_rows, df) > 0.12
    assert abs(direct_contrast(syn, df)) < 0.03
    assert abs(w_contrast(syn) - w_contrast(df)) < 0.12  # the indirect path is kept


def test_fair_indirect_makes_mediators_independent_of_x_given_z(sim, faithful_rows):
    df, _ = sim
    syn = fitted(sim, mode="fair", remove="indirect").sample(N_SYN, seed=1)
    assert w_contrast(df) > 0.8 and w_contrast(faithful_rows) > 0.8 and job_contrast(faithful_rows) > 0.2
    assert abs(w_contrast(syn)) < 0.06 and abs(job_contrast(syn)) < 0.03
    assert direct_contrast(syn, df) > 0.12  # the direct path is kept


def test_fair_spurious_makes_confounders_independent_of_x(sim, faithful_rows):
    df, _ = sim
    syn = fitted(sim, mode="fair", remove="spurious").sample(N_SYN, seed=1)
    assert z_contrast(df) > 0.2 and z_contrast(faithful_rows) > 0.2
    assert abs(z_contrast(syn)) < 0.03
    assert abs(syn.z.eq("yes").mean() - df[df.group == "a"].z.eq("yes").mean()) < 0.03  # Z from the reference group


def test_fair_mode_with_a_dag_lacking_the_removed_edge_warns(sim):
    df, spec = sim
    dag = {"group": [], "z": [], "w": ["group", "z"], "job": ["group"], "age": [], "lab": [], "smoker": [], "y": ["z", "w"]}
    with pytest.warns(UserWarning, match="'direct'"):
        gen = CausalDAGGenerator(mode="fair", remove="direct", dag=dag, node_model="logistic").fit(df, spec)
    assert gen.reset_nodes_ == []


# --- sampling ----------------------------------------------------------------------------------------------

def test_seeds(faithful):
    a = faithful.sample(500, seed=7)
    assert a.equals(faithful.sample(500, seed=7)) and not a.equals(faithful.sample(500, seed=8))


def test_conditions_exact_on_x_and_by_rejection_elsewhere(sim, faithful):
    df, _ = sim
    only_b = faithful.sample(3000, conditions={"group": "b"}, seed=2)
    assert (only_b.group == "b").all() and abs(only_b.y.mean() - df[df.group == "b"].y.mean()) < 0.04
    manual = faithful.sample(3000, conditions={"job": "manual"}, seed=2)
    assert (manual.job == "manual").all()
    # rejection keeps the conditional distribution: P(X=b | job=manual) as in the real rows, not the marginal
    assert abs(manual.group.eq("b").mean() - df[df.job == "manual"].group.eq("b").mean()) < 0.04
    assert manual.group.eq("b").mean() - df.group.eq("b").mean() > 0.05
    both = faithful.sample(300, conditions={"group": "a", "y": 1}, seed=2)
    assert (both.group == "a").all() and (both.y == 1).all()


def test_too_rare_condition_names_the_column(sim):
    df, spec = sim
    rare = df.assign(flag=np.where(np.arange(len(df)) == 0, "rare", "common"))
    spec2 = spec.replace(columns={**spec.columns, "flag": "categorical"})
    gen = CausalDAGGenerator(node_model="logistic").fit(rare, spec2)
    with pytest.raises(FairsynthError, match="'flag'"):
        gen.sample(10, conditions={"flag": "rare"})


def test_numerical_values_integers_and_missingness(sim, faithful_rows):
    df, _ = sim
    syn = faithful_rows
    assert syn.w.between(df.w.min(), df.w.max()).all() and syn.lab.dropna().between(df.lab.min(), df.lab.max()).all()
    assert syn.age.dtype == df.age.dtype and (syn.age == syn.age.round()).all() and syn.age.between(20, 90).all()
    assert abs(syn.lab.isna().mean() - df.lab.isna().mean()) < 0.02 and abs(syn.smoker.isna().mean() - df.smoker.isna().mean()) < 0.02
    assert not syn.w.isna().any() and list(syn.columns) == list(df.columns) and (syn.dtypes == df.dtypes).all()
    assert syn.w.isin(set(df.w)).mean() < 0.5  # values are drawn inside bins, not copied


def test_residual_numeric_mode(sim):
    df, _ = sim
    gen = fitted(sim, numeric="residual", node_model="logistic")
    syn = gen.sample(N_SYN, seed=1)
    assert gen.node_models_["w"].kind_ == "residual" and gen.node_models_["lab"].kind_ == "residual"
    assert abs(w_contrast(syn) - w_contrast(df)) < 0.12 and abs(syn.w.std() - df.w.std()) < 0.08
    assert abs(syn.lab.isna().mean() - 0.2) < 0.02 and syn.w.between(df.w.min(), df.w.max()).all()


# --- node models, registry, errors -------------------------------------------------------------------------

def test_logistic_and_callable_node_models(sim):
    df, _ = sim
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    calls = []
    def make(kind: str):
        calls.append(kind)
        return (RandomForestClassifier if kind == "classifier" else RandomForestRegressor)(n_estimators=30, min_samples_leaf=10, random_state=0)
    for node_model in ("logistic", make, "forest"):
        syn = fitted(sim, node_model=node_model).sample(5000, seed=1)
        assert abs(direct_contrast(syn, df) - direct_contrast(df, df)) < 0.08 and abs(syn.y.mean() - df.y.mean()) < 0.03
    assert calls and set(calls) == {"classifier"}


def test_registry():
    assert isinstance(get_generator("causal_dag", mode="fair", remove="direct"), CausalDAGGenerator)
    assert list_generators().set_index("name").loc["causal_dag", "kind"] == "causal"


@pytest.mark.parametrize("params, name", [
    ({"mode": "biased"}, "'mode'"), ({"remove": "total"}, "'remove'"), ({"node_model": "svm"}, "'node_model'"),
    ({"numeric": "kde"}, "'numeric'"), ({"refine": "gan"}, "'refine'"), ({"mode": "fair", "refine": "discriminator"}, "'refine'"),
    ({"attribute": "race"}, "'attribute'"), ({"confounders": ["age2"]}, "'confounders'"), ({"mediators": ["bmi"]}, "'mediators'"),
    ({"outcome": "death"}, "'outcome'"), ({"reference": "c"}, "'reference'"), ({"n_bins": 1}, "'n_bins'"),
    ({"pool_factor": 0}, "'pool_factor'"), ({"confounders": ["w"]}, "'confounders' and 'mediators'")])
def test_bad_parameters_name_themselves(sim, params, name):
    df, spec = sim
    with pytest.raises(FairsynthError, match=name):
        CausalDAGGenerator(**params).fit(df, spec)


def test_fair_refine_error_explains_why(sim):
    df, spec = sim
    with pytest.raises(FairsynthError, match="removed paths"):
        CausalDAGGenerator(mode="fair", refine="discriminator").fit(df, spec)


def test_only_the_fit_rows_are_needed(sim):
    df, spec = sim
    rows = df.copy()
    gen = CausalDAGGenerator(node_model="logistic", dag="pc", seed=3).fit(rows, spec)
    before = gen.sample(400, seed=1)
    rows.loc[:, "w"] = 0.0  # change the training table after fit: nothing may read it again
    rows.loc[:, "group"] = "a"
    restored = pickle.loads(pickle.dumps(gen))
    assert before.equals(gen.sample(400, seed=1)) and before.equals(restored.sample(400, seed=1))


def test_discriminator_refinement(sim):
    df, spec = sim
    small = df.iloc[:1500]
    gen = CausalDAGGenerator(refine="discriminator", pool_factor=3, node_model="logistic", seed=0).fit(small, spec)
    assert 0.3 < gen.refine_auc_ < 1
    out = gen.sample(400, conditions={"group": "b", "job": "office"}, seed=4)
    assert len(out) == 400 and (out.group == "b").all() and (out.job == "office").all()
    assert out.equals(gen.sample(400, conditions={"group": "b", "job": "office"}, seed=4))
    assert not out.equals(gen.sample(400, conditions={"group": "b", "job": "office"}, seed=5))


def test_x_interactions_keep_a_mechanism_that_differs_by_group():
    """Y depends on z in group b only: per-group slopes keep that, one shared logistic slope cannot."""
    rng = np.random.default_rng(3)
    n = 6000
    xb = rng.random(n) < 0.5
    z = (rng.random(n) < 0.5).astype(int)
    y = (rng.random(n) < np.where(xb, 0.1 + 0.6 * z, 0.4)).astype(int)
    df = pd.DataFrame({"group": np.where(xb, "b", "a"), "z": np.where(z == 1, "yes", "no"), "y": y})
    spec = DatasetSpec("inter", {"group": "categorical", "z": "categorical", "y": "categorical"}, sensitive={"group": "a"},
                       outcomes=("y",), confounders=("z",))
    def contrast(gen):
        s = gen.fit(df, spec).sample(N_SYN, seed=2)
        r = s.assign(y=s.y.astype(float)).groupby(["group", "z"]).y.mean()
        return r[("b", "yes")] - r[("b", "no")], r[("a", "yes")] - r[("a", "no")]
    b_with, a_with = contrast(CausalDAGGenerator(seed=0))
    b_without, a_without = contrast(CausalDAGGenerator(seed=0, x_interactions=False))
    assert abs(b_with - 0.6) < 0.05 and abs(a_with) < 0.05  # the real z effects: 0.6 in b, 0 in a
    assert abs(a_without) > 0.15  # a shared slope leaks b's z effect into a
    with pytest.raises(FairsynthError, match="x_interactions"):
        CausalDAGGenerator(x_interactions="yes").fit(df, spec)


# --- wide tables: sparse logistic designs, capped parent sets, the L2 strength ----------------------------

def test_sparse_parent_encoding_matches_the_dense_one_up_to_centring(sim):
    df, spec = sim
    parents = ["group", "z", "w", "lab", "smoker"]
    dense = ParentEncoder(keep_nan=False, interact="group").fit(df[parents], spec.columns)
    sparse = ParentEncoder(keep_nan=False, interact="group", sparse=True).fit(df[parents], spec.columns)
    a, b = dense.transform(df), sparse.transform(df)
    assert sp.issparse(b) and b.shape == a.shape and b.nnz < 0.6 * a.size
    b = b.toarray()
    # columns: group a, b | z no, yes | w | lab | lab missing | smoker no, yes | smoker missing | the 8 after group, again, for group b
    assert a.shape[1] == 18 and (a[:, 10:] == a[:, 2:10] * a[:, [1]]).all()
    centred = [4, 5, 12, 13]  # w and lab, and their copies: shifted by the training median
    others = [j for j in range(a.shape[1]) if j not in centred]
    assert np.array_equal(a[:, others], b[:, others])
    assert np.allclose(a[:, 4] - b[:, 4], df.w.median()) and np.allclose(a[:, 5] - b[:, 5], df.lab.median())
    in_b = df.group.eq("b").to_numpy()
    assert np.allclose((a[:, 12] - b[:, 12])[in_b], df.w.median()) and (b[~in_b][:, 10:] == 0).all()  # copies: group b rows only
    with pytest.raises(FairsynthError, match="keep_nan"):
        ParentEncoder(sparse=True).fit(df[parents], spec.columns)


def test_strongest_parents_keeps_x_and_the_informative_parents():
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.choice(["a", "b"], n)
    strong = rng.normal(0, 1, n)
    weak = rng.normal(0, 1, n)
    many = rng.choice(list("abcdefghijklmnopqrst"), n)  # 20 levels, independent of the node: favoured by plain MI
    node = np.where(strong + 0.3 * weak + rng.normal(0, 0.5, n) > 0, "hi", "lo")
    df = pd.DataFrame({"x": x, "many": many, "weak": weak, "strong": strong, "node": node, "y": rng.integers(0, 2, n)})
    dag = {c: tuple(df.columns[:i]) for i, c in enumerate(df.columns)}
    cut = strongest_parents(df, dag, max_parents=2, keep=["x"], exempt=["y"])
    assert cut["node"] == ("x", "strong") and cut["y"] == dag["y"] and list(cut) == list(dag)
    assert cut["strong"] == ("x", "weak") or cut["strong"] == ("x", "many")  # some two, x among them
    assert strongest_parents(df, dag, max_parents=3, keep=["x"])["node"] == ("x", "weak", "strong")  # parent order kept
    assert strongest_parents(df, dag, max_parents=10) == dag


def test_max_parents_in_the_generator(sim):
    df, spec = sim
    gen = fitted(sim, max_parents=2)
    assert all(len(ps) <= 2 for c, ps in gen.dag_.items() if c != "y") and gen.dag_["y"] == sfm_dag(
        list(spec.columns), "group", ["z"], ["w", "job"], "y")["y"]  # the outcome keeps every parent
    assert all("group" in ps for c, ps in gen.dag_.items() if c != "group")
    syn = gen.sample(N_SYN, seed=1)
    assert abs(direct_contrast(syn, df) - direct_contrast(df, df)) < 0.06 and abs(w_contrast(syn) - w_contrast(df)) < 0.12
    full = fitted(sim, max_parents=None)
    assert full.dag_ == sfm_dag(list(spec.columns), "group", ["z"], ["w", "job"], "y")
    own = {"group": [], "z": [], "w": ["group", "z"], "job": "group", "age": [], "lab": [], "smoker": [], "y": ["group", "z", "w"]}
    assert CausalDAGGenerator(dag=own, max_parents=1).fit(df, spec).dag_["y"] == ("group", "z", "w")  # a DAG of your own is kept
    with pytest.raises(FairsynthError, match="'max_parents'"):
        CausalDAGGenerator(max_parents=0).fit(df, spec)


def test_logistic_c_sets_the_penalty_and_shrinks_the_fitted_slopes(sim):
    df, spec = sim
    strong, weak = fitted(sim, logistic_c=1.0), fitted(sim, logistic_c=1e-4)
    coef = lambda g: np.abs(g.node_models_["y"].estimator_[-1].coef_).sum()
    assert strong.node_models_["y"].estimator_[-1].C == 1.0 and weak.node_models_["y"].estimator_[-1].C == 1e-4
    assert coef(weak) < 0.5 * coef(strong)
    for bad in (0, -1.0, "1", True):
        with pytest.raises(FairsynthError, match="'logistic_c'"):
            CausalDAGGenerator(logistic_c=bad).fit(df, spec)


def test_small_tables_fit_on_one_blas_and_one_openmp_thread(sim):
    from threadpoolctl import threadpool_info
    gen = fitted(sim)
    with gen._threads(): inside = {i["user_api"]: i["num_threads"] for i in threadpool_info()}
    assert inside and all(k == 1 for k in inside.values()) and {"blas", "openmp"} <= set(inside)
