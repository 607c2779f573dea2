"""Tests of fairsynth.studies.exploratory (seed-002 section 3.1) on NHEFS: known answers with copied real rows,
seeding, the group column left out, bad input and figures. Assertions compare derived numbers only, so a failure
never prints a real record."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from fairsynth.core import FairsynthError
from fairsynth.data import load_dataset, patient_split
from fairsynth.studies.exploratory import (MAJORITY_HOLDOUT, MINORITY_HOLDOUT, REAL_MINORITY, SUMMARY_COLUMNS,
                                           Exploration, explore_minority, plot_correlations, plot_group_distances,
                                           plot_membership)

GROUP, MINORITY, MAJORITY = "race", "black or other", "white"


@pytest.fixture(scope="module")
def tables():
    """NHEFS split by patient: spec and the four real group tables (training side and hold-out side)."""
    ds = load_dataset("nhefs")
    train, test = patient_split(ds.frame, ds.spec, test_size=0.3, seed=0)
    return dict(spec=ds.spec, reference_minority=train[train[GROUP] == MINORITY],
                reference_majority=train[train[GROUP] == MAJORITY],
                holdout_minority=test[test[GROUP] == MINORITY], holdout_majority=test[test[GROUP] == MAJORITY])


@pytest.fixture(scope="module")
def copies(tables):
    """Two 'synthetic' sources: copies of the minority reference rows, and copies of 200 majority reference rows."""
    return {"minority copies": tables["reference_minority"].copy(),
            "majority copies": tables["reference_majority"].sample(200, random_state=1)}


def explore(tables, synthetic, **kw) -> Exploration:
    """explore_minority on the NHEFS tables with race as the group column."""
    return explore_minority(tables["reference_minority"], tables["reference_majority"], tables["holdout_minority"],
                            tables["holdout_majority"], synthetic, tables["spec"], GROUP, MINORITY, MAJORITY, **kw)


@pytest.fixture(scope="module")
def exp(tables, copies) -> Exploration:
    return explore(tables, copies, seed=0)


def features(tables) -> list[str]:
    return [c for c in tables["spec"].columns if c != GROUP]


def test_tables_have_the_promised_shapes(tables, copies, exp):
    sources = [*copies, MINORITY_HOLDOUT, MAJORITY_HOLDOUT]
    rows = {**{n: len(s) for n, s in copies.items()}, MINORITY_HOLDOUT: len(tables["holdout_minority"]),
            MAJORITY_HOLDOUT: len(tables["holdout_majority"])}
    assert (exp.group_column, exp.minority, exp.majority) == (GROUP, MINORITY, MAJORITY)
    assert list(exp.correlations) == [REAL_MINORITY, *copies]
    for m in exp.correlations.values():
        assert list(m.index) == list(m.columns) == features(tables)
    assert list(exp.distances.columns) == ["source", "to_group", "l1"]
    assert list(dict.fromkeys(exp.distances.source)) == sources and set(exp.distances.to_group) == {"minority", "majority"}
    assert exp.distances.groupby(["source", "to_group"]).size().to_dict() == {(s, g): rows[s] for s in sources
                                                                              for g in ("minority", "majority")}
    assert (exp.distances.l1 >= 0).all() and np.isfinite(exp.distances.l1).all()
    assert list(exp.membership.columns) == ["source", "p_minority"]
    assert exp.membership.groupby("source").size().to_dict() == rows and exp.membership.p_minority.between(0, 1).all()
    assert list(exp.summary.columns) == SUMMARY_COLUMNS and list(exp.summary.source) == sources
    assert exp.summary.set_index("source").rows.to_dict() == rows
    assert 0.5 < exp.membership_auc <= 1
    assert exp.reference_rows == min(len(tables["reference_minority"]), len(tables["reference_majority"]))
    assert exp.sources == list(copies) and "membership_auc" in repr(exp)


def test_copies_of_minority_rows_sit_on_the_minority(exp):
    d = exp.distances[exp.distances.source == "minority copies"]
    assert (d[d.to_group == "minority"].l1 == 0).all()
    s = exp.summary.set_index("source")
    assert s.median_l1_minority["minority copies"] == 0 and s.share_closer_to_minority["minority copies"] > 0.95


def test_copies_of_majority_rows_lean_to_the_majority(exp):
    s = exp.summary.set_index("source")
    assert s.share_closer_to_minority["majority copies"] < 0.5
    assert s.median_l1_majority["majority copies"] < s.median_l1_minority["majority copies"]
    assert s.mean_p_minority["majority copies"] < s.mean_p_minority["minority copies"]
    # the real hold-outs order the same way
    assert s.share_closer_to_minority[MAJORITY_HOLDOUT] < s.share_closer_to_minority[MINORITY_HOLDOUT]
    assert s.mean_p_minority[MAJORITY_HOLDOUT] < s.mean_p_minority[MINORITY_HOLDOUT]


def _same(a: Exploration, b: Exploration) -> bool:
    """Whether two explorations hold identical tables, matrices and numbers."""
    return (a.distances.equals(b.distances) and a.membership.equals(b.membership) and a.summary.equals(b.summary)
            and a.membership_auc == b.membership_auc and a.reference_rows == b.reference_rows
            and list(a.correlations) == list(b.correlations)
            and all(a.correlations[k].equals(b.correlations[k]) for k in a.correlations))


def test_seeded_runs_repeat_and_other_seeds_differ(tables, copies, exp):
    assert _same(exp, explore(tables, copies, seed=0))
    other = explore(tables, copies, seed=1)
    assert not other.distances.equals(exp.distances)  # another equal-sized majority reference sample
    assert not other.membership.equals(exp.membership)  # another forest


def test_group_column_of_synthetic_rows_is_not_used(tables, copies, exp):
    flipped = {n: s.assign(**{GROUP: MAJORITY}) for n, s in copies.items()}
    unknown = {n: s.assign(**{GROUP: "martian"}) for n, s in copies.items()}
    dropped = {n: s.drop(columns=GROUP) for n, s in copies.items()}
    for synthetic in (flipped, unknown, dropped):
        assert _same(exp, explore(tables, synthetic, seed=0))


def test_max_rows_caps_every_table(tables, copies):
    small = explore(tables, copies, seed=0, max_rows=40)
    assert small.summary.rows.tolist() == [40, 40, 40, 40] and small.reference_rows == 40
    assert small.membership.groupby("source").size().max() == 40


def test_missing_values_are_imputed(tables, copies):
    assert tables["reference_majority"][features(tables)].isna().any().any()  # NHEFS has gaps (income, cholesterol)
    gappy = {"gappy": copies["minority copies"].assign(cholesterol=np.nan, income=None)}
    small = explore(tables, gappy, seed=0, max_rows=200)
    assert np.isfinite(small.summary.drop(columns="source").to_numpy(dtype=float)).all()


@pytest.mark.parametrize("change, words", [
    (dict(group_column="ethnicity"), ["ethnicity"]),
    (dict(minority="asian"), ["asian", "race", "reference_minority"]),
    (dict(majority="asian"), ["asian", "race", "reference_majority"]),
    (dict(minority=MAJORITY), ["both"]),
    (dict(holdout_majority="no race"), ["race", "holdout_majority"]),
    (dict(reference_minority="swapped"), ["reference_minority"]),
    (dict(synthetic={}), ["synthetic"]),
    (dict(synthetic="no age"), ["age", "minority copies"]),
    (dict(synthetic={MINORITY_HOLDOUT: None}), [MINORITY_HOLDOUT]),
    (dict(max_rows=0), ["max_rows"]),
    (dict(seed=-1), ["seed"]),
])
def test_bad_input_raises_naming_the_culprit(tables, copies, change, words):
    kw = dict(reference_minority=tables["reference_minority"], reference_majority=tables["reference_majority"],
              holdout_minority=tables["holdout_minority"], holdout_majority=tables["holdout_majority"],
              synthetic=copies, spec=tables["spec"], group_column=GROUP, minority=MINORITY, majority=MAJORITY)
    kw.update(change)
    if change.get("holdout_majority") == "no race": kw["holdout_majority"] = tables["holdout_majority"].drop(columns=GROUP)
    if change.get("reference_minority") == "swapped": kw["reference_minority"] = tables["reference_majority"]
    if change.get("synthetic") == "no age": kw["synthetic"] = {"minority copies": copies["minority copies"].drop(columns="age")}
    with pytest.raises(FairsynthError) as err:
        explore_minority(**kw)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_figures(copies, exp):
    n = len(copies)
    distances, membership, correlations = plot_group_distances(exp), plot_membership(exp), plot_correlations(exp)
    assert all(isinstance(f, plt.Figure) for f in (distances, membership, correlations))
    assert len(distances.axes) == n + 2  # one panel per source and per real hold-out
    assert len(membership.axes) == n  # one panel per synthetic source
    titled = [ax for ax in correlations.axes if ax.get_visible() and ax.get_title()]
    assert len(titled) == 1 + n  # real minority and each source, one titled heatmap each (colour bars untitled)
    assert [ax.get_title() for ax in membership.axes] == list(copies)
