"""CLLM curation: scores across boosting checkpoints, the easy/ambiguous/hard filter, the 'curated' generator."""
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from fairsynth.core import FairsynthError
from fairsynth.data import load_dataset, patient_split
from fairsynth.generators.base import Generator, _REGISTRY, get_generator, list_generators, register
from fairsynth.generators.curation import (CuratedGenerator, aleatoric_cutoff, cllm_filter, cllm_scores,
                                           fit_label_models, staged_label_probabilities)
from fairsynth.tabular import feature_encoder


@pytest.fixture(scope="module")
def nhefs():
    """A small real set of 400 NHEFS rows, 500 unseen rows from the other side of a patient split, and the spec."""
    ds = load_dataset("nhefs")
    train, test = patient_split(ds.frame, ds.spec, test_size=0.5, seed=0)
    return train.sample(400, random_state=0), test.sample(500, random_state=0), ds.spec


@pytest.fixture(scope="module")
def curated(nhefs):
    """The 'curated' generator around gaussian_copula, fitted once on the small real set."""
    small, _, spec = nhefs
    return CuratedGenerator(generator="gaussian_copula", seed=0).fit(small, spec)


def flip(rows):
    return rows.assign(death=1 - rows.death)


# --- scores and filter ------------------------------------------------------------------------------------

def test_true_labels_mostly_pass_and_flipped_labels_are_mostly_rejected(nhefs):
    small, unseen, spec = nhefs
    for rows, easy_min in ((small, 0.7), (unseen, 0.6)):
        true, flipped = cllm_filter(cllm_scores(small, rows, spec)), cllm_filter(cllm_scores(small, flip(rows), spec))
        assert true.keep.mean() > easy_min, true.keep.mean()
        assert flipped.keep.mean() < 0.15, flipped.keep.mean()
        assert (flipped.category == "hard").mean() > 0.5  # the real data confidently say the other label
        assert true.index.equals(rows.index) and list(true.columns[:2]) == ["confidence__death", "aleatoric__death"]


def test_confidence_and_aleatoric_are_means_over_the_boosting_stages(nhefs):
    small, unseen, spec = nhefs
    scores = cllm_scores(small, unseen, spec, n_estimators=30, max_depth=2, seed=5)
    features = spec.features("death")
    encoder = feature_encoder(spec, features, scale=None).fit(small[features])
    boost = GradientBoostingClassifier(n_estimators=30, max_depth=2, random_state=5).fit(encoder.transform(small[features]), small.death)
    y = unseen.death.to_numpy()
    stages = np.array([p[np.arange(len(y)), y] for p in boost.staged_predict_proba(encoder.transform(unseen[features]))])
    assert stages.shape == (30, len(unseen))
    np.testing.assert_allclose(scores.confidence__death, stages.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(scores.aleatoric__death, (stages * (1 - stages)).mean(axis=0), rtol=1e-10)
    # the exported helper gives the same (rows x stages) matrix
    model = fit_label_models(small, spec, n_estimators=30, max_depth=2, seed=5)["death"]
    np.testing.assert_allclose(staged_label_probabilities(model, unseen[features], y.astype(float)), stages.T, rtol=1e-10)


def test_thresholds_and_adaptive_threshold_by_hand():
    scores = pd.DataFrame({"confidence__a": [0.95, 0.81, 0.10, 0.50, 0.90, np.nan],
                           "aleatoric__a": [0.02, 0.19, 0.05, 0.10, 0.22, np.nan],
                           "confidence__b": [0.90, 0.90, 0.90, 0.90, 0.90, 0.15],
                           "aleatoric__b": [0.01, 0.01, 0.01, 0.01, 0.01, 0.03]})
    fixed = cllm_filter(scores)  # confidence >= 0.8 easy, <= 0.2 hard, aleatoric <= 0.2
    assert fixed.category__a.tolist() == ["easy", "easy", "hard", "ambiguous", "ambiguous", "unassessed"]
    assert fixed.category__b.tolist() == ["easy"] * 5 + ["hard"]
    assert fixed.category.tolist() == ["easy", "easy", "hard", "ambiguous", "ambiguous", "hard"]
    assert fixed.keep.tolist() == [True, True, False, False, False, False]
    # adaptive: 0.75 * (max - min) of each outcome's aleatoric values, NaN ignored
    cut_a = 0.75 * (0.22 - 0.02)
    assert aleatoric_cutoff(scores.aleatoric__a, "adaptive") == pytest.approx(cut_a)
    adaptive = cllm_filter(scores, aleatoric_threshold="adaptive")
    expected = ["easy" if (c >= 0.8 and a <= cut_a) else "hard" if (c <= 0.2 and a <= cut_a) else "ambiguous"
                for c, a in zip(scores.confidence__a[:5], scores.aleatoric__a[:5])]
    assert adaptive.category__a.tolist()[:5] == expected == ["easy", "ambiguous", "hard", "ambiguous", "ambiguous"]
    # a stricter confidence threshold
    assert cllm_filter(scores, confidence_threshold=0.9).category__a.tolist()[:3] == ["easy", "ambiguous", "ambiguous"]


@pytest.mark.parametrize("kwargs, name", [({"confidence_threshold": 1.5}, "confidence_threshold"),
                                          ({"confidence_threshold": 0.3}, "confidence_threshold"),
                                          ({"aleatoric_threshold": 0.3}, "aleatoric_threshold"),
                                          ({"aleatoric_threshold": "auto"}, "aleatoric_threshold"),
                                          ({"aleatoric_threshold": True}, "aleatoric_threshold")])
def test_bad_thresholds_name_the_parameter(nhefs, kwargs, name):
    small, _, spec = nhefs
    with pytest.raises(FairsynthError, match=f"'{name}'"):
        cllm_filter(pd.DataFrame({"confidence__y": [0.9], "aleatoric__y": [0.1]}), **kwargs)
    with pytest.raises(FairsynthError, match=f"'{name}'"):
        CuratedGenerator(**kwargs).fit(small, spec)


def test_single_class_outcome_is_unassessed_and_kept(nhefs):
    small, unseen, spec = nhefs
    with pytest.warns(UserWarning, match="'death'.*single class"):
        scores = cllm_scores(small[small.death == 0], unseen, spec)
    assert scores.isna().all().all() and cllm_filter(scores).keep.all()
    assert set(cllm_filter(scores).category) == {"unassessed"}
    with pytest.warns(UserWarning, match="'death'"):
        gen = CuratedGenerator(seed=1).fit(small[small.death == 0], spec)
    assert gen.unassessed_outcomes_ == ["death"] and len(gen.sample(20)) == 20
    assert gen.sample_stats_["curation_unassessed_outcomes"] == 1 and gen.sample_stats_["curation_unassessed_rows"] == 40


def test_a_row_with_a_missing_label_is_unassessed(nhefs):
    small, unseen, spec = nhefs
    rows = unseen.head(10).astype({"death": "float64"})
    rows.iloc[3, rows.columns.get_loc("death")] = np.nan
    verdict = cllm_filter(cllm_scores(small, rows, spec))
    assert verdict.confidence__death.isna().tolist() == [i == 3 for i in range(10)]
    assert verdict.category__death.iloc[3] == "unassessed" and verdict.keep.iloc[3]


def test_labels_other_than_0_1_and_unknown_outcomes_are_errors(nhefs):
    small, unseen, spec = nhefs
    with pytest.raises(FairsynthError, match="'death'"):
        cllm_scores(small, unseen.assign(death=unseen.death + 1), spec)
    with pytest.raises(FairsynthError, match="'outcomes'"):
        cllm_scores(small, unseen, spec, outcomes=["qsmk"])


# --- the 'curated' generator ------------------------------------------------------------------------------

def test_curated_rows_satisfy_conditions_are_seeded_and_counted(curated, nhefs):
    small, _, spec = nhefs
    out = curated.sample(150, conditions={"sex": "female"}, seed=3)
    assert out.shape == (150, len(spec.columns)) and (out.sex == "female").all()
    stats = curated.sample_stats_
    assert stats["curation_candidates"] == 300 * stats["curation_rounds"]
    assert stats["curation_kept"] + stats["curation_dropped_ambiguous"] + stats["curation_dropped_hard"] == stats["curation_candidates"]
    assert stats["curation_kept"] >= 150 and stats["curation_dropped_ambiguous"] + stats["curation_dropped_hard"] > 0
    assert all(isinstance(v, float) for v in stats.values())
    scores = curated.curation_scores_
    assert len(scores) == stats["curation_candidates"] and scores.returned.sum() == 150 and (scores.category[scores.returned] == "easy").all()
    # every returned row is easy when scored again against the small real set
    assert cllm_filter(cllm_scores(small, out, spec)).keep.all()
    assert out.equals(curated.sample(150, conditions={"sex": "female"}, seed=3))
    assert not out.equals(curated.sample(150, conditions={"sex": "female"}, seed=4))


def test_shortfall_error_says_kept_of_drawn(nhefs):
    small, _, spec = nhefs
    gen = CuratedGenerator(confidence_threshold=0.99, oversample=1.0, max_rounds=2, seed=0).fit(small, spec)
    with pytest.raises(FairsynthError) as e: gen.sample(80)
    msg = str(e.value)
    assert f"only {int(gen.sample_stats_['curation_kept'])} of 160 candidate rows" in msg
    assert "max_rounds=2" in msg and "confidence_threshold" in msg and "n=80" in msg
    assert gen.sample_stats_["curation_rounds"] == 2


def test_inner_sample_stats_are_summed_over_rounds(nhefs):
    small, _, spec = nhefs

    @register("counting_test")
    class Counting(Generator):
        """Redraw training rows and count the draws (test only)."""
        def __init__(self, seed: int = 0): self.seed = seed
        def _fit(self, data, spec): self.data_ = data
        def _sample(self, n, conditions, seed):
            self.sample_stats_ = {"draws": 1.0, "rows": float(n)}
            return self.data_.sample(n, replace=True, random_state=seed)
    try:
        gen = get_generator("counting_test", curate={"oversample": 1.0, "max_rounds": 10, "confidence_threshold": 0.95}, seed=2)
        gen.fit(small, spec).sample(100)
        stats = gen.sample_stats_
        assert stats["curation_rounds"] > 1 and stats["draws"] == stats["curation_rounds"]
        assert stats["rows"] == stats["curation_candidates"] == 100 * stats["curation_rounds"]
        assert gen.generator_.seed == 2
    finally:
        _REGISTRY.pop("counting_test")


def test_get_generator_curate_shorthand():
    plain = get_generator("tvae", epochs=3)
    assert type(plain).__name__ == "TVAEGenerator" and type(get_generator("tvae", curate=False, epochs=3)) is type(plain)
    wrapped = get_generator("tvae", curate=True, epochs=3, seed=7)
    assert isinstance(wrapped, CuratedGenerator) and wrapped.generator == "tvae"
    assert wrapped.generator_params == {"epochs": 3, "seed": 7} and wrapped.seed == 7
    custom = get_generator("tvae", curate={"aleatoric_threshold": "adaptive", "seed": 1}, epochs=30, seed=7)
    assert custom.aleatoric_threshold == "adaptive" and custom.seed == 1 and custom.generator_params["seed"] == 7
    from_json = get_generator("gaussian_copula", **json.loads('{"curate": {"max_rounds": 3}}'), seed=4)
    assert isinstance(from_json, CuratedGenerator) and from_json.max_rounds == 3 and from_json.seed == 4
    assert json.loads(json.dumps(custom.get_params())) == custom.get_params()  # parameters are JSON
    with pytest.raises(FairsynthError, match="'curate'"): get_generator("tvae", curate="yes")
    with pytest.raises(FairsynthError, match="'epoch'"): get_generator("tvae", curate=True, epoch=3)
    with pytest.raises(FairsynthError, match="'nope'"): get_generator("tvae", curate={"nope": 1})
    rows = list_generators().set_index("name")
    assert rows.loc["curated", "kind"] == "curation" and rows.loc["curated", "class"].endswith("CuratedGenerator")


def test_bad_generator_parameters_are_named(nhefs):
    small, _, spec = nhefs
    for params, name in (({"oversample": 0.5}, "oversample"), ({"max_rounds": 0}, "max_rounds"),
                         ({"n_estimators": 0}, "n_estimators"), ({"generator": "nope"}, "nope"),
                         ({"generator_params": {"epoch": 3}, "generator": "tvae"}, "epoch")):
        with pytest.raises(FairsynthError, match=f"'{name}'"):
            CuratedGenerator(**params).fit(small, spec)
    with pytest.raises(FairsynthError, match="needs an outcome"):
        CuratedGenerator().fit(small, spec.replace(outcomes=()))
