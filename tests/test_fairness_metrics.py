"""Known-answer tests of fairsynth.metrics.fairness: group labels, fairness scores, group tables, the stratified
bootstrap, Pareto fronts and the trade-off plot."""
from __future__ import annotations

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import equalized_odds_difference
from sklearn.metrics import average_precision_score, roc_auc_score

from fairsynth.core import FairsynthError
from fairsynth.metrics.fairness import (SCORE_NAMES, bootstrap_scores, bootstrap_weights, di_fairness, fairness_scores,
                                        fairness_summary, group_table, intersectional_groups, pareto_front,
                                        plot_tradeoff, privileged_label)
from fairsynth.spec import DatasetSpec

# 10 rows, group 'a' privileged; predicted = score >= 0.5
#   a: y 1 1 0 0 / pred 1 1 1 0 -> selection 3/4, TPR 1,   FPR 1/2
#   b: y 1 1 0   / pred 1 0 0   -> selection 1/3, TPR 1/2, FPR 0
#   c: y 1 0 0   / pred 1 1 1   -> selection 1,   TPR 1,   FPR 1
Y = np.array([1, 1, 0, 0, 1, 1, 0, 1, 0, 0])
SCORE = np.array([0.9, 0.8, 0.6, 0.1, 0.7, 0.4, 0.2, 0.55, 0.5, 0.95])
GROUPS = np.array(list("aaaabbbccc"))


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, score, groups): three groups, the privileged one selected more often."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["priv", "g1", "g2"], size=n, p=[0.6, 0.3, 0.1])
    y = rng.binomial(1, np.where(g == "priv", 0.4, 0.3))
    s = 1 / (1 + np.exp(-(2.5 * (y - 0.5) + np.where(g == "priv", 0.4, -0.2) + rng.normal(0, 1, n))))
    return y, s, g


def test_hand_example_known_answers():
    s = fairness_scores(Y, SCORE, GROUPS, privileged="a")
    assert list(s.index) == SCORE_NAMES and s.dtype == float
    want = {"di": (4 / 6) / (3 / 4), "di_worst": 4 / 9, "spd": 4 / 6 - 3 / 4, "worst_group_tpr": 0.5,
            "mean_group_tpr": 5 / 6, "eod": 1.0, "f1": 8 / 12, "accuracy": 0.6, "selection_rate": 0.7, "tpr": 0.5}
    for k, v in want.items():
        assert s[k] == pytest.approx(v), k
    assert s["auroc"] == pytest.approx(roc_auc_score(Y, SCORE))
    assert s["auprc"] == pytest.approx(average_precision_score(Y, SCORE))


def test_eod_by_hand_and_fairlearn():
    s = fairness_scores(Y, SCORE, GROUPS, "a")
    # TPR range: 1 - 1/2 = 1/2; FPR range: 1 - 0 = 1
    assert s["eod"] == pytest.approx(max(1 - 0.5, 1 - 0))
    assert s["eod"] == pytest.approx(equalized_odds_difference(Y, (SCORE >= 0.5).astype(int), sensitive_features=GROUPS))
    # different example where the TPR range is the larger one: a TPR 1 FPR 0, b TPR 0 FPR 0 -> EOD 1 from TPR
    s2 = fairness_scores([1, 0, 1, 0], [1, 0, 0, 0], ["a", "a", "b", "b"], "a")
    assert s2["eod"] == 1.0 and s2["worst_group_tpr"] == 0.0


def test_tpr_choice_min_vs_mean():
    mn = fairness_scores(Y, SCORE, GROUPS, "a", tpr="min")
    me = fairness_scores(Y, SCORE, GROUPS, "a", tpr="mean")
    assert mn["tpr"] == pytest.approx(0.5) and me["tpr"] == pytest.approx(5 / 6)
    assert mn.drop("tpr").equals(me.drop("tpr"))
    with pytest.raises(FairsynthError, match="'tpr'"):
        fairness_scores(Y, SCORE, GROUPS, "a", tpr="max")
    with pytest.raises(FairsynthError, match="'tpr'"):
        bootstrap_scores(Y, SCORE, GROUPS, "a", n_boot=5, tpr="median")


@pytest.mark.parametrize("change, word", [
    (dict(y_score=SCORE[:-1]), "'y_score'"),
    (dict(groups=GROUPS[:-1]), "'groups'"),
    (dict(y_true=Y * 2), "'y_true'"),
    (dict(y_true=np.where(Y == 1, 1.0, np.nan)), "'y_true'"),
    (dict(privileged="z"), "'privileged'"),
    (dict(threshold=1.0), "'threshold'"),
    (dict(threshold=0.0), "'threshold'"),
    (dict(y_score=SCORE + 0.2), "'y_score'"),
    (dict(y_score=SCORE - 0.2), "'y_score'"),
    (dict(groups=np.where(GROUPS == "b", None, GROUPS)), "'groups'"),
])
def test_errors_name_the_parameter(change, word):
    args = dict(y_true=Y, y_score=SCORE, groups=GROUPS, privileged="a") | change
    with pytest.raises(FairsynthError, match=word):
        fairness_scores(**args)


def test_bootstrap_parameter_errors():
    with pytest.raises(FairsynthError, match="'n_boot'"):
        bootstrap_scores(Y, SCORE, GROUPS, "a", n_boot=0)
    with pytest.raises(FairsynthError, match="'level'"):
        bootstrap_scores(Y, SCORE, GROUPS, "a", n_boot=5, level=1.5)
    with pytest.raises(FairsynthError, match="'privileged'"):
        bootstrap_scores(Y, SCORE, GROUPS, "zz", n_boot=5)


def test_di_nan_when_privileged_selects_nobody():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division warnings
        s = fairness_scores([1, 0, 1, 0], [0.1, 0.2, 0.9, 0.8], ["p", "p", "u", "u"], "p")
        boot = bootstrap_scores([1, 0, 1, 0], [0.1, 0.2, 0.9, 0.8], ["p", "p", "u", "u"], "p", n_boot=20).set_index("metric")
    assert np.isnan(s["di"]) and np.isnan(s["di_worst"]) and not np.isinf(s["di"])
    assert s["spd"] == 1.0
    assert boot.loc["di", "n_boot"] == 0 and np.isnan(boot.loc["di", "lo"]) and boot.loc["spd", "n_boot"] == 20


def test_group_without_positives_left_out_of_tpr():
    y = np.r_[Y, 0, 0]
    s = np.r_[SCORE, 0.9, 0.1]
    g = np.concatenate([GROUPS, ["d", "d"]])
    table = group_table(y, s, g)
    assert np.isnan(table.loc["d", "tpr"]) and np.isnan(table.loc["d", "auroc"]) and table.loc["d", "fpr"] == 0.5
    scores = fairness_scores(y, s, g, "a")
    assert scores["worst_group_tpr"] == pytest.approx(0.5) and scores["mean_group_tpr"] == pytest.approx(5 / 6)
    assert scores["eod"] == pytest.approx(1.0)


def test_group_table_values():
    t = group_table(Y, SCORE, GROUPS)
    assert t.index.name == "group" and list(t.index) == ["a", "b", "c"]
    assert list(t.columns) == ["n", "positives", "prevalence", "selection_rate", "tpr", "fpr", "precision", "f1", "auroc", "auprc"]
    assert t.n.tolist() == [4, 3, 3] and t.positives.tolist() == [2, 2, 1]
    assert np.allclose(t.selection_rate, [3 / 4, 1 / 3, 1]) and np.allclose(t.tpr, [1, 0.5, 1])
    assert np.allclose(t.fpr, [0.5, 0, 1]) and np.allclose(t.precision, [2 / 3, 1, 1 / 3])
    assert np.allclose(t.f1, [0.8, 2 / 3, 0.5]) and np.allclose(t.prevalence, [0.5, 2 / 3, 1 / 3])
    single = group_table([0, 0, 1, 0], [0.1, 0.2, 0.9, 0.3], ["x", "x", "y", "y"])
    assert np.isnan(single.loc["x", "auroc"]) and np.isnan(single.loc["x", "tpr"]) and single.loc["y", "auroc"] == 1.0


def test_zero_one_predictions_match_probabilities():
    probs = fairness_scores(Y, SCORE, GROUPS, "a")
    preds = fairness_scores(Y, (SCORE >= 0.5).astype(int), GROUPS, "a")
    assert np.allclose(probs.drop(["auroc", "auprc"]), preds.drop(["auroc", "auprc"]))
    # a higher threshold selects fewer
    assert fairness_scores(Y, SCORE, GROUPS, "a", threshold=0.85)["selection_rate"] == pytest.approx(0.2)


def test_intersectional_labels():
    df = pd.DataFrame({"Race1": ["Black", "White", "Mexican"], "Gender": ["female", "male", "male"], "flag": [1.0, 0.0, 1.0]})
    assert intersectional_groups(df, ["Race1", "Gender"]).tolist() == ["Black & female", "White & male", "Mexican & male"]
    assert intersectional_groups(df, ["Gender", "Race1"], sep="/").tolist() == ["female/Black", "male/White", "male/Mexican"]
    assert intersectional_groups(df, "flag").tolist() == ["1", "0", "1"]
    assert intersectional_groups(df, "Race1").index.equals(df.index)
    assert privileged_label({"race": "Caucasian", "gender": "Male"}, ["race", "gender"]) == "Caucasian & Male"
    assert privileged_label({"flag": 0.0}, "flag") == "0"
    spec = DatasetSpec("t", {"Race1": "categorical", "Gender": "categorical"}, sensitive={"Race1": "White", "Gender": "male"})
    assert privileged_label(spec.sensitive, ["Race1", "Gender"]) in set(intersectional_groups(df, ["Race1", "Gender"]))
    with pytest.raises(FairsynthError, match="'Gender'"):
        intersectional_groups(df.assign(Gender=["female", None, "male"]), ["Race1", "Gender"])
    with pytest.raises(FairsynthError, match="Age"):
        intersectional_groups(df, ["Race1", "Age"])
    with pytest.raises(FairsynthError, match="Gender"):
        privileged_label({"Race1": "White"}, ["Race1", "Gender"])


def test_bootstrap_reproducible_and_seed_dependent():
    y, s, g = synthetic(600)
    a = bootstrap_scores(y, s, g, "priv", n_boot=100, seed=4)
    assert a.equals(bootstrap_scores(y, s, g, "priv", n_boot=100, seed=4))
    b = bootstrap_scores(y, s, g, "priv", n_boot=100, seed=5)
    assert not a.equals(b) and np.allclose(a.value, b.value)
    assert list(a.columns) == ["metric", "value", "lo", "hi", "n_boot"] and a.metric.tolist() == SCORE_NAMES


def test_interval_contains_point_estimate():
    y, s, g = synthetic(2000, seed=1)
    boot = bootstrap_scores(y, s, g, "priv", n_boot=200, seed=0)
    assert (boot.lo <= boot.value).all() and (boot.value <= boot.hi).all()
    assert (boot.n_boot == 200).all() and (boot.hi - boot.lo > 0).all()
    narrow = bootstrap_scores(y, s, g, "priv", n_boot=200, seed=0, level=0.5)
    assert ((narrow.hi - narrow.lo) < (boot.hi - boot.lo)).all()


def test_stratified_resampling_keeps_every_group():
    g = np.array(["big"] * 50 + ["small"] * 2 + ["tiny"])
    w = bootstrap_weights(g, n_boot=300, seed=0)
    assert w.shape == (300, 53)
    for lab in ["big", "small", "tiny"]:
        assert (w[:, g == lab].sum(1) == (g == lab).sum()).all()
    assert (w[:, -1] == 1).all()  # a one-row group is always drawn exactly once
    assert not (w == 1).all()  # but the others are resampled


def test_bootstrap_resample_equals_scores_on_duplicated_rows():
    y, s, g = synthetic(300, seed=2)
    s = np.round(s, 2)  # ties in the scores
    w = bootstrap_weights(g, n_boot=1, seed=7)[0].astype(int)
    idx = np.repeat(np.arange(len(y)), w)
    direct = fairness_scores(y[idx], s[idx], g[idx], "priv")
    one = bootstrap_scores(y, s, g, "priv", n_boot=1, seed=7)
    assert np.allclose(one.lo, direct.to_numpy(), equal_nan=True) and np.allclose(one.hi, direct.to_numpy(), equal_nan=True)


def test_bootstrap_speed_30k_rows():
    rng = np.random.default_rng(0)
    n = 30_000
    g = rng.choice(["priv", "g1", "g2", "g3"], size=n)
    y = rng.binomial(1, 0.3, n)
    s = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    t0 = time.perf_counter()
    boot = bootstrap_scores(y, s, g, "priv", n_boot=200)
    assert time.perf_counter() - t0 < 10
    assert (boot.n_boot == 200).all()


def test_fairness_summary_pairs():
    y, s, g = synthetic(400)
    boot, table = fairness_summary(y, s, g, "priv", n_boot=30, seed=3)
    assert boot.equals(bootstrap_scores(y, s, g, "priv", n_boot=30, seed=3))
    assert table.equals(group_table(y, s, g)) and table.n.sum() == 400


def test_pareto_front_hand_made():
    pts = pd.DataFrame({"f1": [0.70, 0.65, 0.60, 0.55, 0.70, np.nan, 0.65],
                        "fair": [0.60, 0.90, 0.95, 0.70, 0.50, 1.0, 0.90]}, index=list("ABCDEFG"))
    front = pareto_front(pts, ["f1", "fair"])
    assert front.index.equals(pts.index)
    # D is beaten by B, E by A; F has a NaN; G ties B exactly, so neither beats the other
    assert front.to_dict() == {"A": True, "B": True, "C": True, "D": False, "E": False, "F": False, "G": True}
    assert pareto_front(pts, "f1").tolist() == [True, False, False, False, True, False, False]
    with pytest.raises(FairsynthError, match="auroc"):
        pareto_front(pts, ["f1", "auroc"])


def test_di_fairness():
    assert di_fairness(0.5) == 0.5 and di_fairness(2.0) == 0.5 and di_fairness(1.0) == 1.0 and di_fairness(0.0) == 0.0
    assert np.isnan(di_fairness(np.nan))
    s = di_fairness(pd.Series([0.8, 1.25, np.nan], index=["x", "y", "z"]))
    assert isinstance(s, pd.Series) and list(s.index) == ["x", "y", "z"] and np.allclose(s[:2], 0.8) and np.isnan(s["z"])


def test_plot_tradeoff_returns_figure_with_labels():
    pts = pd.DataFrame({"method": ["real", "smote", "tvae", "ctgan"], "di": [0.7, 0.9, 1.1, np.nan],
                        "f1": [0.6, 0.55, 0.5, 0.4]})
    pts["di_lo"], pts["di_hi"] = pts.di - 0.1, pts.di + 0.1
    front = pareto_front(pts.assign(fair=di_fairness(pts.di)), ["f1", "fair"])
    fig = plot_tradeoff(pts, "di", "f1", "method", front=front, xerr=("di_lo", "di_hi"))
    assert isinstance(fig, plt.Figure)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["real", "smote", "tvae"]  # the NaN point is not drawn
    assert "Pareto front" in ax.get_legend_handles_labels()[1] and "DI in [0.8, 1.25]" in ax.get_legend_handles_labels()[1]
    assert ax.get_xlabel() == "di" and ax.get_ylabel() == "f1"
    fig2, ax2 = plt.subplots()
    out = plot_tradeoff(pts.assign(fair=di_fairness(pts.di)), "fair", "f1", "method", ax=ax2)
    assert out is fig2 and len(ax2.texts) == 3 and "DI in [0.8, 1.25]" not in ax2.get_legend_handles_labels()[1]
    plt.close(fig2)
    with pytest.raises(FairsynthError, match="f1_lo"):
        plot_tradeoff(pts, "di", "f1", "method", yerr=("f1_lo", "f1_hi"))


def test_nhanes_intersectional_groups():
    from fairsynth.data import load_dataset
    ds = load_dataset("nhanes")
    groups = intersectional_groups(ds.frame, ["Race1", "Gender"])
    priv = privileged_label(ds.spec.sensitive, ["Race1", "Gender"])
    assert priv == "White & male" and priv in set(groups) and groups.nunique() == 10
    assert privileged_label(ds.spec.sensitive, "Race1") == "White"
