"""Known-answer tests of fairsynth.metrics (tabular, fidelity, utility, privacy) on NHEFS and hand-made tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from causaldata import nhefs_complete

from fairsynth.core import FairsynthError
from fairsynth.metrics.fidelity import (column_similarity, correlation_difference, correlation_matrix, detection_auc,
                                        fidelity_summary, quality_score)
from fairsynth.metrics.privacy import dcr, exact_copy_rate, membership_inference_auc, privacy_summary
from fairsynth.tabular import categorical_labels, feature_encoder, xy
from fairsynth.metrics.utility import utility_gap, utility_table
from fairsynth.spec import DatasetSpec

SPEC = DatasetSpec("nhefs_test", {"sex": "categorical", "race": "categorical", "age": "numerical",
                                  "education": "categorical", "wt71": "numerical", "sbp": "numerical",
                                  "smokeintensity": "numerical", "smokeyrs": "numerical", "exercise": "categorical",
                                  "qsmk": "categorical", "death": "categorical"},
                   id_column="seqn", sensitive={"sex": "0"}, outcomes=("death",), treatment="qsmk")


class RealTables(tuple):
    """Real tables whose repr shows shapes only, so a failing test never prints patient records."""
    def __repr__(self) -> str:
        return f"RealTables(shapes={[t.shape for t in self]})"


class RealSeries(pd.Series):
    """A column of real data whose repr shows its length only."""
    @property
    def _constructor(self):
        return RealSeries

    @property
    def _constructor_expanddim(self):
        return RealFrame

    def __repr__(self) -> str:
        return f"RealSeries(name={self.name!r}, len={len(self)})"


class RealFrame(pd.DataFrame):
    """Real data whose repr (and that of every frame or column derived from it) shows its shape only, so a failing
    assertion never prints patient records."""
    @property
    def _constructor(self):
        return RealFrame

    @property
    def _constructor_sliced(self):
        return RealSeries

    def __repr__(self) -> str:
        return f"RealFrame(shape={self.shape})"


@pytest.fixture(scope="module")
def nhefs() -> pd.DataFrame:
    return RealFrame(nhefs_complete.load_pandas().data)


@pytest.fixture(scope="module")
def splits(nhefs):
    """Train (1/2), hold-out (1/4) and 'fresh' (1/4: real rows outside train, an ideal generator's stand-in)."""
    part = np.random.default_rng(1).permutation(np.arange(len(nhefs)) % 4)
    return RealTables((nhefs[part < 2], nhefs[part == 2], nhefs[part == 3]))


def perturbed(df: pd.DataFrame, scale: float, seed: int = 0) -> pd.DataFrame:
    """Copy of `df` with Gaussian noise of `scale` standard deviations on every numerical column."""
    rng = np.random.default_rng(seed)
    return df.assign(**{c: df[c] + rng.normal(0, scale * df[c].std(), len(df)) for c in SPEC.numerical})


def shuffled_columns(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Each column permuted independently: same marginals, no dependence between columns."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: rng.permutation(df[c].to_numpy()) for c in df.columns})


# ---------------------------------------------------------------- tabular

def test_categorical_labels_cast_alike():
    for s in [pd.Series([3, 1, None]), pd.Series([3.0, 1.0, np.nan]), pd.Series(["3", "1", None], dtype="category"),
              pd.Series(pd.array([3, 1, pd.NA], dtype="Int64"))]:
        out = categorical_labels(s)
        assert out.iloc[:2].tolist() == ["3", "1"] and pd.isna(out.iloc[2])


def test_feature_encoder_int_and_string_categories_encode_alike(nhefs):
    enc = feature_encoder(SPEC, SPEC.features("death"), scale="standard").fit(nhefs)
    as_ints = nhefs.astype({"sex": int, "race": int, "education": int, "exercise": float, "qsmk": int})
    assert np.array_equal(enc.transform(nhefs), enc.transform(as_ints))
    assert not np.isnan(enc.transform(nhefs)).any()  # sbp has missing values: imputed


def test_xy_drops_missing_outcome_and_names_table(nhefs):
    X, y = xy(nhefs.assign(death=nhefs.death.where(nhefs.age < 50)), SPEC)
    assert len(X) == len(y) == (nhefs.age < 50).sum() and "death" not in X and set(y) == {0, 1}
    with pytest.raises(FairsynthError, match=r"death.*synthetic 'ctgan'"):
        xy(nhefs.assign(death=2.0), SPEC, where="synthetic 'ctgan'")


# ---------------------------------------------------------------- fidelity

def test_identical_tables_score_perfectly(nhefs):
    cols = column_similarity(nhefs, nhefs, SPEC)
    assert list(cols.columns) == ["column", "type", "metric", "score"] and (cols.score == 1).all()
    assert set(cols.loc[cols.type == "numerical", "metric"]) == {"KSComplement"}
    diff = correlation_difference(nhefs, nhefs, SPEC)
    assert len(diff) == 11 * 10 // 2 and diff.abs_diff.max() == 0
    q = quality_score(nhefs, nhefs, SPEC)
    assert list(q.property) == ["Column Shapes", "Column Pair Trends", "Overall"] and np.allclose(q.score, 1)


def test_shifted_numerical_column_lowers_its_ks_complement(nhefs):
    scores = column_similarity(nhefs, nhefs.assign(age=nhefs.age + 10), SPEC).set_index("column").score
    assert scores["age"] < 0.8 and (scores.drop("age") == 1).all()
    # a categorical whose frequencies change lowers its TV complement
    flipped = nhefs.assign(sex=np.where(np.arange(len(nhefs)) < len(nhefs) // 2, "1", "0"))
    assert column_similarity(nhefs, flipped, SPEC).set_index("column").score["sex"] < 1


def test_correlation_codes_come_from_reference(nhefs):
    # synthetic ints vs real string categories give the same matrix when codes come from the real table
    real = correlation_matrix(nhefs, SPEC, reference=nhefs)
    syn = correlation_matrix(nhefs.astype({"education": int, "exercise": int}), SPEC, reference=nhefs)
    assert np.allclose(real.to_numpy(), syn.to_numpy(), equal_nan=True)


def test_independent_columns_raise_correlation_difference(splits):
    train, holdout, _ = splits
    base = correlation_difference(train, holdout, SPEC)
    broken = correlation_difference(train, shuffled_columns(train), SPEC)
    assert broken.abs_diff.mean() > 2 * base.abs_diff.mean()
    strong = base.real.abs() > 0.2  # pairs with a clear real correlation lose it when columns are shuffled
    assert strong.sum() >= 5 and broken.abs_diff[strong].mean() > max(0.25, 3 * base.abs_diff[strong].mean())
    assert broken.set_index(["column_a", "column_b"]).abs_diff[("age", "smokeyrs")] > 0.5  # real corr ~0.9


def test_detection_auc_chance_for_halves_and_one_for_shift(nhefs):
    halves = detection_auc(nhefs.iloc[::2], nhefs.iloc[1::2], SPEC, seed=0)
    assert abs(halves - 0.5) < 0.1
    assert detection_auc(nhefs.iloc[::2], nhefs.iloc[1::2], SPEC, seed=0) == halves  # seeded
    assert detection_auc(nhefs, nhefs.assign(age=nhefs.age + 30, wt71=nhefs.wt71 * 1.5), SPEC, seed=0) > 0.95


def test_fidelity_summary_rows(splits):
    train, holdout, _ = splits
    s = fidelity_summary(train, holdout, SPEC).set_index("metric").value
    assert list(s.index) == ["mean_ks_complement", "mean_tv_complement", "mean_abs_correlation_difference",
                             "quality_score", "detection_auc", "detection_auc_coarse", "missingness_detection_auc"]
    assert abs(s["detection_auc_coarse"] - 0.5) < 0.12 and s["missingness_detection_auc"] == 0.5  # same population, no missing values
    assert s["mean_ks_complement"] > 0.85 and s["mean_tv_complement"] > 0.9 and s["quality_score"] > 0.85
    assert s["mean_abs_correlation_difference"] < 0.1 and abs(s["detection_auc"] - 0.5) < 0.12


# ---------------------------------------------------------------- utility

@pytest.fixture(scope="module")
def utility(splits):
    train, holdout, _ = splits
    shuffled = train.assign(death=np.random.default_rng(0).permutation(train.death.to_numpy()))
    return utility_table(train, holdout, SPEC, synthetic={"label_shuffled": shuffled, "noisy": perturbed(train, 0.1)}, seed=0)


def test_utility_table_shape_and_real_beats_label_shuffled(utility, splits):
    assert list(utility.columns) == ["train_on", "model", "metric", "value", "n_train"]
    assert len(utility) == 3 * 2 * 4 and set(utility.metric) == {"accuracy", "auroc", "auprc", "f1"}
    assert set(utility.n_train) == {len(splits[0])} and utility.value.between(0, 1).all()
    auroc = utility[utility.metric == "auroc"].set_index(["train_on", "model"]).value
    for m in ("random_forest", "logistic_regression"):
        assert auroc[("real", m)] > 0.75 and auroc[("real", m)] > auroc[("label_shuffled", m)] + 0.15
        assert abs(auroc[("noisy", m)] - auroc[("real", m)]) < 0.08


def test_utility_gap(utility):
    gap = utility_gap(utility)
    assert list(gap.columns) == ["train_on", "model", "metric", "real", "synthetic", "gap"] and len(gap) == 2 * 2 * 4
    assert np.allclose(gap.gap, gap.synthetic - gap.real)
    assert (gap[(gap.train_on == "label_shuffled") & (gap.metric == "auroc")].gap < -0.15).all()


def test_utility_single_class_synthetic_outcome_names_outcome_and_table(splits):
    train, holdout, _ = splits
    with pytest.raises(FairsynthError, match=r"outcome 'death' in synthetic 'tvae' has a single class"):
        utility_table(train, holdout, SPEC, synthetic={"tvae": train.assign(death=0)}, models=("logistic_regression",))


def test_utility_unknown_model_lists_known(splits):
    train, holdout, _ = splits
    with pytest.raises(FairsynthError, match=r"xgboost.*logistic_regression.*random_forest"):
        utility_table(train, holdout, SPEC, models=("xgboost",))


# ---------------------------------------------------------------- privacy

def test_identical_copy_has_zero_dcr_and_full_exact_copy_rate(splits):
    train, holdout, _ = splits
    d = dcr(train, train, holdout, SPEC)
    assert list(d.columns) == ["source", "dcr"] and (d.source == "synthetic").sum() == len(train)
    assert (d.dcr[d.source == "synthetic"] == 0).all() and d.dcr[d.source == "holdout"].median() > 0
    assert exact_copy_rate(train, train, SPEC) == 1
    assert exact_copy_rate(train, train.astype({"sex": int, "death": int, "qsmk": int}), SPEC) == 1


def test_dcr_of_perturbed_copy_small_nonzero_and_ordered(splits):
    train, holdout, _ = splits
    medians = [dcr(train, perturbed(train, s), holdout, SPEC).query("source == 'synthetic'").dcr.median()
               for s in (0.01, 0.05, 0.2)]
    holdout_median = dcr(train, train, holdout, SPEC).query("source == 'holdout'").dcr.median()
    assert 0 < medians[0] < medians[1] < medians[2] and medians[1] < holdout_median
    assert exact_copy_rate(train, perturbed(train, 0.01), SPEC) == 0


def test_categorical_mismatch_adds_exactly_one():
    spec = DatasetSpec("tiny", {"g": "categorical", "h": "categorical", "x": "numerical"})
    train = pd.DataFrame({"g": ["a", "b"], "h": ["p", "q"], "x": [0.0, 10.0]})
    query = pd.DataFrame({"g": ["a", "a", "z", "a", "b", "a"], "h": ["p", "q", "p", "p", "p", None],
                          "x": [0.0, 0.0, 0.0, 2.5, 5.0, 20.0]})
    d = dcr(train, query, train, spec)
    # one mismatch -> 1 (also for a label train lacks); numerical adds its share of the train range;
    # missing h imputed from train ('p' / 'q' tie -> first, 'p'); values beyond the train range count in full
    assert np.allclose(d.dcr[d.source == "synthetic"], [0, 1, 1, 0.25, 1.5, 2.0])
    assert np.allclose(d.dcr[d.source == "holdout"], [0, 0])


def test_exact_copy_rate_nan_equals_nan():
    spec = DatasetSpec("tiny", {"g": "categorical", "x": "numerical"})
    train = pd.DataFrame({"g": ["1", None], "x": [np.nan, 2.0]})
    syn = pd.DataFrame({"g": [1, None, None, 1], "x": [np.nan, 2.0, np.nan, 2.0]})
    assert exact_copy_rate(train, syn, spec) == 0.5


def test_dcr_subsampling_is_seeded(splits):
    train, holdout, _ = splits
    a, b = dcr(train, perturbed(train, 0.1), holdout, SPEC, seed=3, max_rows=50), dcr(train, perturbed(train, 0.1), holdout, SPEC, seed=3, max_rows=50)
    assert len(a) == 100 and a.equals(b)


def test_membership_inference_and_privacy_summary(splits):
    train, holdout, fresh = splits
    assert membership_inference_auc(train, train, holdout, SPEC) > 0.95
    assert abs(membership_inference_auc(train, fresh, holdout, SPEC) - 0.5) < 0.07
    s = privacy_summary(train, fresh, holdout, SPEC).set_index("metric").value
    assert list(s.index) == ["dcr_median_synthetic", "dcr_median_holdout", "share_synthetic_closer_than_holdout_p5",
                             "exact_copy_rate_synthetic", "exact_copy_rate_holdout", "membership_inference_auc"]
    assert abs(s["dcr_median_synthetic"] - s["dcr_median_holdout"]) < 0.3 * s["dcr_median_holdout"]
    assert s["share_synthetic_closer_than_holdout_p5"] < 0.12
    copy = privacy_summary(train, train, holdout, SPEC).set_index("metric").value
    assert copy["share_synthetic_closer_than_holdout_p5"] == 1 and copy["exact_copy_rate_synthetic"] == 1


# ---------------------------------------------------------------- detection at the real data's resolution

def test_fidelity_summary_appends_the_coarse_and_missingness_detection(splits):
    from fairsynth.metrics.fidelity import detection_report
    train, holdout, _ = splits
    s = fidelity_summary(train, holdout, SPEC).set_index("metric").value
    assert list(s.index) == ["mean_ks_complement", "mean_tv_complement", "mean_abs_correlation_difference",
                             "quality_score", "detection_auc", "detection_auc_coarse", "missingness_detection_auc"]
    numbers, away = detection_report(train, holdout, SPEC)
    assert s["detection_auc_coarse"] == numbers["detection_auc_coarse"] and abs(numbers["detection_auc_coarse"] - 0.5) < 0.12
    assert s["missingness_detection_auc"] == numbers["missingness_detection_auc"]
    assert list(away.columns) == ["feature", "auc_coarse", "auc_exact", "auc_missing", "gives_away"] and len(away) == 10


def test_numbers_passed_in_give_the_same_summaries(splits):
    """A study computes each table once and passes it on: fidelity_summary and privacy_summary give the same numbers."""
    from fairsynth.metrics.fidelity import detection_report
    train, holdout, fresh = splits
    syn = perturbed(fresh, 0.3)
    own = fidelity_summary(train, syn, SPEC, seed=2)
    given = fidelity_summary(train, syn, SPEC, seed=2, columns=column_similarity(train, syn, SPEC),
                             correlations=correlation_difference(train, syn, SPEC), quality=quality_score(train, syn, SPEC),
                             detection=detection_report(train, syn, SPEC, seed=2))
    pd.testing.assert_frame_equal(given, own)
    with pytest.raises(FairsynthError, match="detection"):
        fidelity_summary(train, syn, SPEC, detection=({"detection_auc": 0.5}, pd.DataFrame()))
    for max_rows in (None, 100):
        d = dcr(train, syn, holdout, SPEC, seed=1, max_rows=max_rows)
        pd.testing.assert_frame_equal(privacy_summary(train, syn, holdout, SPEC, seed=1, max_rows=max_rows, distances=d),
                                      privacy_summary(train, syn, holdout, SPEC, seed=1, max_rows=max_rows))
    with pytest.raises(FairsynthError, match="distances"):
        privacy_summary(train, syn, holdout, SPEC, distances=pd.DataFrame({"dcr": [0.1]}))


def test_detection_report_sees_through_a_finer_grid_on_nhefs(nhefs):
    from fairsynth.metrics.fidelity import detection_report
    half_a, half_b = nhefs.iloc[::2], nhefs.iloc[1::2]
    rng = np.random.default_rng(1)
    finer = half_b.assign(**{c: (half_b[c] + rng.uniform(-0.45, 0.45, len(half_b))).round(1)
                             for c in ["age", "sbp", "smokeintensity", "smokeyrs"]})
    plain = detection_auc(half_a, finer, SPEC, seed=0, folds=3)
    numbers, away = detection_report(half_a, finer, SPEC, seed=0, folds=3, top=4)
    assert plain > 0.9 and abs(numbers["detection_auc_coarse"] - 0.5) < 0.1
    assert set(away.feature) == {"age", "sbp", "smokeintensity", "smokeyrs"} and (away.gives_away == "resolution").all()
