"""Known-truth tests of fairsynth.metrics.causal_fairness: the plug-in and doubly robust estimators recover the
analytic effects of a simulated Standard Fairness Model, the decomposition identity, seeding, scores as Y,
categorical and missing features, errors naming the culprit, the comparison tables, the plot and the LLM audit."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from fairsynth.audit import get_audit
from fairsynth.core import FairsynthError
from fairsynth.metrics.causal_fairness import (EFFECT_COLUMNS, MEASURE_LABELS, MEASURES, SFM_COEFFICIENTS, CausalRoles,
                                               bias_reduction, causal_effects, causal_fairness_audit, compare_effects,
                                               plot_decomposition, roles_from_spec, sfm_truth, simulated_sfm)
from fairsynth.spec import DatasetSpec

N = 6000


@pytest.fixture(scope="module", params=["binary", "continuous"])
def sfm(request):
    """(table, roles, truth) of the simulated SFM with a binary or a continuous mediator."""
    return simulated_sfm(N, request.param, seed=11)


def covers(effects: pd.DataFrame, truth: dict[str, float]) -> pd.Series:
    """Per measure: does the interval contain the true effect?"""
    e = effects.set_index("measure")
    t = pd.Series(truth)[e.index]
    return (e.lo - 1e-9 <= t) & (t <= e.hi + 1e-9)  # rounding slack for zero-width intervals


def assert_identity(effects: pd.DataFrame) -> None:
    e = effects.set_index("measure").estimate
    assert abs(e.tv - (e.de - e.ie - e.se)) < 1e-10 and abs(e.ett - (e.de - e.ie)) < 1e-10


def test_truth_is_analytic_and_nonzero():
    t = sfm_truth()
    assert min(abs(t[m]) for m in ("de", "ie", "se")) > 0.04
    assert t["de"] == SFM_COEFFICIENTS["dX"] and t["ie"] == -SFM_COEFFICIENTS["dW"] * SFM_COEFFICIENTS["cX"]
    assert abs(t["tv"] - (t["de"] - t["ie"] - t["se"])) < 1e-12
    # the sample TV of a large draw agrees with the analytic one (P(X=1) and E[Z | X] are right)
    df, roles, _ = simulated_sfm(400_000, "continuous", seed=3)
    assert abs(df.y[df.x == 1].mean() - df.y[df.x == 0].mean() - t["tv"]) < 0.006


def test_plugin_bootstrap_covers_truth(sfm):
    df, roles, truth = sfm
    res = causal_effects(df, roles, method="plugin", learner="linear", n_boot=120, seed=0)
    assert list(res.columns) == EFFECT_COLUMNS and res.measure.tolist() == list(MEASURES)
    assert res.label.tolist() == [MEASURE_LABELS[m] for m in MEASURES]
    assert res.interval.eq("bootstrap").all() and res.n_boot.eq(120).all() and (res.n_x0 + res.n_x1).eq(N).all()
    assert covers(res, truth).all(), res
    assert_identity(res)
    est = res.set_index("measure").estimate
    assert all(abs(est[m] - truth[m]) < 0.03 for m in MEASURES)


def test_dr_influence_covers_truth(sfm):
    df, roles, truth = sfm
    res = causal_effects(df, roles, method="dr", learner="linear", seed=0)
    assert res.interval.eq("influence").all() and res.n_boot.eq(0).all()
    assert covers(res, truth).all(), res
    assert_identity(res)
    width = (res.hi - res.lo).to_numpy()
    assert (width > 0.01).all() and (width < 0.1).all()


def test_dr_boosting_covers_truth(sfm):
    df, roles, truth = sfm
    res = causal_effects(df, roles, method="dr", learner="boosting", seed=0)
    assert covers(res, truth).all(), res
    assert_identity(res)


def test_plugin_without_bootstrap_has_no_interval_and_matches_bootstrap_estimate():
    df, roles, _ = simulated_sfm(2000, "binary", seed=4)
    plain = causal_effects(df, roles, learner="linear")
    assert plain.interval.eq("none").all() and plain.lo.isna().all() and plain.hi.isna().all()
    boot = causal_effects(df, roles, learner="linear", n_boot=5)
    assert np.allclose(plain.estimate, boot.estimate)


def test_same_seed_same_output_other_seed_differs():
    df, roles, _ = simulated_sfm(1000, "binary", seed=5)
    a = causal_effects(df, roles, method="dr", n_folds=3, seed=7)  # the folds depend on the seed
    pd.testing.assert_frame_equal(a, causal_effects(df, roles, method="dr", n_folds=3, seed=7))
    assert not np.allclose(a.estimate, causal_effects(df, roles, method="dr", n_folds=3, seed=8).estimate)
    f = causal_effects(df, roles, learner="forest", seed=7)  # so do the forest's trees
    pd.testing.assert_frame_equal(f, causal_effects(df, roles, learner="forest", seed=7))
    assert not np.allclose(f.estimate, causal_effects(df, roles, learner="forest", seed=8).estimate)
    b = causal_effects(df, roles, learner="linear", n_boot=20, seed=1)
    pd.testing.assert_frame_equal(b, causal_effects(df, roles, learner="linear", n_boot=20, seed=1))
    assert not b.lo.equals(causal_effects(df, roles, learner="linear", n_boot=20, seed=2).lo)
    assert simulated_sfm(100, seed=3)[0].equals(simulated_sfm(100, seed=3)[0])


def test_dr_with_bootstrap_intervals():
    df, roles, truth = simulated_sfm(2000, "binary", seed=6)
    res = causal_effects(df, roles, method="dr", learner="linear", n_folds=2, n_boot=20, seed=0)
    assert res.interval.eq("bootstrap").all() and res.n_boot.eq(20).all()
    assert (res.lo <= res.estimate + 0.02).all() and (res.estimate - 0.02 <= res.hi).all()
    assert_identity(res)


def test_scores_as_outcome():
    """A model's score (here the true P(y)) as Y: regressors are used, and the effects on E[score] are the same."""
    df, roles, truth = simulated_sfm(N, "continuous", seed=8)
    k = SFM_COEFFICIENTS
    df["score"] = k["d0"] + k["dX"] * df.x + k["dW"] * df.w + k["d1"] * df.z1 + k["d2"] * df.z2
    score_roles = CausalRoles("x", 0, 1, z=roles.z, w=roles.w, y="score")
    for method, learner in [("plugin", "linear"), ("dr", "linear"), ("dr", "logistic")]:
        res = causal_effects(df, score_roles, method=method, learner=learner, n_boot=30 if method == "plugin" else 0)
        assert_identity(res)
        est = res.set_index("measure").estimate
        # the direct and indirect effects come from a correctly specified regression without outcome noise
        assert abs(est.de - truth["de"]) < 0.005 and abs(est.ie - truth["ie"]) < 0.005, res
        if (method, learner) == ("dr", "linear"):  # de is exact, its interval of zero width (Ridge shrinks it by 1e-5)
            assert covers(res, truth).all(), res


def test_categorical_and_missing_features():
    df, roles, truth = simulated_sfm(3000, "binary", seed=9)
    numeric = causal_effects(df, roles, learner="linear")
    as_text = df.assign(z1=df.z1.map({0: "no", 1: "yes"}), x=df.x.map({0: "ref", 1: "cmp"}))
    text_roles = CausalRoles("x", "ref", "cmp", z=roles.z, w=roles.w, y="y")
    # a one-hot binary column spans the same space as the numeric one: identical linear fits
    assert np.allclose(causal_effects(as_text, text_roles, learner="linear").estimate, numeric.estimate, atol=1e-8)
    holes = as_text.copy()
    rng = np.random.default_rng(0)
    holes.loc[rng.random(len(holes)) < 0.1, "z2"] = np.nan
    holes.loc[rng.random(len(holes)) < 0.1, "z1"] = None
    holes.loc[rng.random(len(holes)) < 0.05, "y"] = np.nan
    holes.loc[:20, "x"] = "other"  # a third level, left out
    res = causal_effects(holes, text_roles, method="dr", learner="logistic")
    assert res.estimate.notna().all() and res.n_x0.iloc[0] + res.n_x1.iloc[0] < 0.96 * len(holes)
    assert (res.set_index("measure").estimate - pd.Series(truth)).abs().max() < 0.08
    # float-coded X matches integer levels by label
    assert np.allclose(causal_effects(df.assign(x=df.x.astype(float)), roles, learner="linear").estimate, numeric.estimate)


def test_callable_learner_and_empty_roles():
    df, roles, _ = simulated_sfm(2000, "binary", seed=10)
    mine = lambda kind: LogisticRegression(max_iter=500) if kind == "classifier" else LinearRegression()
    res = causal_effects(df, roles, method="dr", learner=mine, n_folds=3)
    assert_identity(res)
    no_mediator = causal_effects(df, CausalRoles("x", 0, 1, z=roles.z, w=(), y="y"), learner="linear").set_index("measure")
    assert abs(no_mediator.estimate.ie) < 1e-12  # with no W, A = B
    bare = causal_effects(df, CausalRoles("x", 0, 1, y="y"), method="dr").set_index("measure").estimate
    assert abs(bare.se) < 1e-12 and abs(bare.ie) < 1e-12 and abs(bare.de - bare.tv) < 1e-12  # no Z, no W: all is direct


@pytest.mark.parametrize("kwargs, word", [
    (dict(method="ols"), "method"), (dict(learner="svm"), "learner"), (dict(learner=lambda kind: "nothing"), "learner"),
    (dict(n_folds=1), "n_folds"), (dict(n_boot=-1), "n_boot"), (dict(n_boot=2.5), "n_boot"),
    (dict(level=1.0), "level"), (dict(clip=0.5), "clip")])
def test_bad_parameters_name_the_culprit(kwargs, word):
    df, roles, _ = simulated_sfm(200, seed=0)
    with pytest.raises(FairsynthError, match=word):
        causal_effects(df, roles, **kwargs)


def test_bad_roles_name_the_culprit():
    df, roles, _ = simulated_sfm(200, seed=0)
    with pytest.raises(FairsynthError, match="'w'"):
        causal_effects(df.drop(columns="w"), roles)
    with pytest.raises(FairsynthError, match="x1=2"):
        causal_effects(df, CausalRoles("x", 0, 2, z=("z1",), y="y"))
    with pytest.raises(FairsynthError, match="'y'"):
        causal_effects(df.assign(y=np.where(df.y == 1, "yes", "no")), roles)
    with pytest.raises(FairsynthError, match="z1"):
        CausalRoles("x", 0, 1, z=("z1",), w=("z1",), y="y")
    with pytest.raises(FairsynthError, match="x1"):
        CausalRoles("x", 1, 1.0, y="y")
    with pytest.raises(FairsynthError, match="n_folds"):
        causal_effects(df.iloc[:40], roles, method="dr", n_folds=30)


SPEC = DatasetSpec("sim", {"z1": "categorical", "z2": "numerical", "x": "categorical", "w": "categorical",
                           "y": "categorical", "age": "numerical"},
                   sensitive={"x": 0}, outcomes=("y",), confounders=("z1", "z2", "x"), mediators=("w",))


def test_roles_from_spec():
    df, roles, _ = simulated_sfm(500, seed=0)
    assert roles_from_spec(SPEC, df) == roles  # X dropped from the confounders, x1 = the other level
    three = df.assign(x=np.where(df.index < 100, 2, df.x))
    assert roles_from_spec(SPEC, three).x1 == 1  # the most frequent other level
    over = roles_from_spec(SPEC, x1=1, confounders=["z2"], mediators=("z1", "w"))
    assert (over.z, over.w) == (("z2",), ("z1", "w"))
    for kwargs, word in [(dict(), "x1"), (dict(x1=1, mediators=("bmi",)), "mediators"),
                         (dict(x1=1, attribute="race"), "attribute"), (dict(x1=1, outcome="death"), "outcome"),
                         (dict(x1=1, attribute="z2"), "x0")]:
        with pytest.raises(FairsynthError, match=word):
            roles_from_spec(SPEC, **kwargs)


def hand(est, lo, hi):
    return pd.DataFrame({"measure": ["tv", "de", "ie"], "label": ["TV", "Ctf-DE", "Ctf-IE"], "estimate": est, "lo": lo, "hi": hi})


def test_compare_effects_and_bias_reduction_by_hand():
    real = hand([0.10, 0.04, 0.0], [0.05, 0.01, -0.02], [0.15, 0.07, 0.02])
    syn = hand([0.12, -0.01, 0.01], [0.08, -0.03, np.nan], [0.16, 0.0, np.nan])
    c = compare_effects(real, syn)
    assert list(c.columns) == ["measure", "label", "real", "synthetic", "abs_gap", "deviation", "real_lo", "real_hi",
                               "synthetic_lo", "synthetic_hi", "overlap"]
    assert np.allclose(c.abs_gap, [0.02, 0.05, 0.01]) and np.allclose(c.deviation[:2], [0.2, 1.25]) and np.isnan(c.deviation[2])
    assert c.overlap.tolist() == [True, False, True] and c.overlap.dtype == bool  # NaN interval -> its point estimate
    nan_syn = syn.assign(estimate=[np.nan, 0.0, 0.0], lo=np.nan, hi=np.nan)
    assert compare_effects(real, nan_syn).overlap.tolist() == [False, False, True]
    b = bias_reduction(real, syn)
    assert list(b.columns) == ["measure", "label", "real", "fair", "reduction"]
    assert np.allclose(b.reduction[:2], [-0.2, 0.75]) and np.isnan(b.reduction[2])
    with pytest.raises(FairsynthError, match="synthetic"):
        compare_effects(real, syn.drop(columns="hi"))


def test_plot_decomposition():
    real = hand([0.10, 0.04, -0.02], [0.05, 0.01, -0.04], [0.15, 0.07, 0.0])
    fair = hand([0.02, 0.01, 0.0], [np.nan] * 3, [np.nan] * 3)
    fig = plot_decomposition({"real": real, "fair": fair}, measures=("tv", "de", "ie"), title="t")
    ax = fig.axes[0]
    assert isinstance(fig, plt.Figure) and len(ax.patches) == 6 and ax.get_title() == "t"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["TV", "Ctf-DE", "Ctf-IE"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["real", "fair"]
    with pytest.raises(FairsynthError, match="measures"):
        plot_decomposition({"real": real}, measures=("tv", "xx"))


def test_audit_columns_self_zero_and_degenerate_batches():
    df, _, _ = simulated_sfm(3000, seed=12)
    assert get_audit("causal_fairness") is causal_fairness_audit
    own = causal_fairness_audit(df, df, SPEC)
    assert list(own.columns) == ["measure", "real", "synthetic", "deviation"] and len(own) == 5
    assert own.measure[1] == "Ctf-DE (x: 0 -> 1) on y" and (own.deviation == 0).all()
    other = causal_fairness_audit(df, simulated_sfm(3000, seed=13)[0], SPEC)
    assert (other.deviation > 0).all() and other.synthetic.notna().all()
    for batch in (df[df.x == 0], df.iloc[:15], df.assign(y=0), df.drop(columns="w"), df.iloc[:0]):
        bad = causal_fairness_audit(df, batch, SPEC)
        assert bad.synthetic.isna().all() and (bad.deviation == 1.0).all() and bad.real.notna().all()
