"""The seed-000 study: design, split, arms, summaries, best-lambda pick, the config, the grid and the reports."""
from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import fairsynth.studies.fairness as fairness_study
from fairsynth.cli import main
from fairsynth.core import FairsynthError, load_settings
from fairsynth.data import load_dataset
from fairsynth.report import execute_study
from fairsynth.studies.fairness import (SMALL_GROUPS, STUDY, FairnessConfig, added_counts, best_weight, duplicated_rows,
                                        fairness_cell, fairness_cells, fairness_designs, goal_check, group_of,
                                        resolve_fairness_design, study_split, summarise_fairness, synthetic_counts)
from fairsynth.studies.framework import add_flags, get_study, run_config
from fairsynth.studies.grid import load_results

TINY = {"d_model": 16, "n_heads": 2, "n_layers": 1}


@pytest.fixture(scope="module")
def nhanes():
    return load_dataset("nhanes")


def test_design_pools_small_groups_and_checks_names(nhanes):
    mimic = load_dataset("mimic3_demo")
    d = resolve_fairness_design(mimic, "ethnicity", min_group_rows=10)
    assert d.privileged == "WHITE" and d.groups[-1] == SMALL_GROUPS and "ASIAN" in d.pooled
    assert (group_of(mimic.frame, d) == SMALL_GROUPS).sum() == mimic.frame.ethnicity.isin(d.pooled).sum()
    assert resolve_fairness_design(nhanes, "Race1").pooled == ()  # every NHANES race has >= 50 rows
    with pytest.raises(FairsynthError, match="attribute"):
        resolve_fairness_design(nhanes, "BMI")
    with pytest.raises(FairsynthError, match="privileged"):
        resolve_fairness_design(nhanes, "Race1", privileged="nobody")


def test_split_is_by_patient_and_drops_missing(nhanes):
    d = resolve_fairness_design(nhanes, "Race1", outcome="health_fair_poor")
    train, test = study_split(nhanes, d, seed=3)
    ids = nhanes.spec.id_column
    assert set(train[ids]).isdisjoint(test[ids])
    assert train.health_fair_poor.notna().all() and test.health_fair_poor.notna().all()
    assert len(train) + len(test) == nhanes.frame.health_fair_poor.notna().sum()
    again, _ = study_split(nhanes, d, seed=3)
    assert again[ids].equals(train[ids])


def test_duplicate_arm_adds_each_non_privileged_row(nhanes):
    d = resolve_fairness_design(nhanes, "Race1")
    train, _ = study_split(nhanes, d, seed=0)
    dup = duplicated_rows(train, d, 1.0, seed=0)
    non_priv = train[train.Race1 != "White"]
    assert len(dup) == len(non_priv) and dup.ID.value_counts().max() == 1  # each row once more
    assert sorted(dup.ID) == sorted(non_priv.ID)
    two = duplicated_rows(train, d, 2.5, seed=0)
    assert len(two) == sum(added_counts(train, d, 2.5).values()) and (two.Race1 != "White").all()


def test_all_groups_mode_spreads_the_same_total(nhanes):
    d = resolve_fairness_design(nhanes, "Race1")
    train, _ = study_split(nhanes, d, seed=0)
    only, spread = synthetic_counts(train, d, 1.0), synthetic_counts(train, d, 1.0, "all")
    assert "White" not in only and sum(only.values()) == (train.Race1 != "White").sum()
    assert abs(sum(spread.values()) - sum(only.values())) <= len(spread)  # same total, up to rounding
    share = train.Race1.value_counts(normalize=True)
    assert spread["White"] / sum(spread.values()) == pytest.approx(share["White"], abs=0.01)
    with pytest.raises(FairsynthError, match="augment"):
        synthetic_counts(train, d, 1.0, "majority")


class SpyGenerator:
    """Stands in for the fair_transformer inside one cell: records what it was fitted on, returns group rows."""
    fitted: list[pd.DataFrame] = []

    def __init__(self, **params):
        self.params = params

    def fit(self, df, spec):
        SpyGenerator.fitted.append(df.copy())
        self.df, self.history_, self.epoch_seconds_ = df, pd.DataFrame({"nll": [1.0], "gap": [0.1]}), [0.5]
        return self

    def sample(self, n, conditions=None, seed=None):
        rows = self.df
        for c, v in (conditions or {}).items(): rows = rows[rows[c] == v]
        return rows.sample(n, replace=True, random_state=seed)[list(self.df.columns)].reset_index(drop=True)


def test_generator_sees_training_patients_only(nhanes, monkeypatch):
    monkeypatch.setattr(fairness_study, "get_generator", lambda name, **p: SpyGenerator(**p))
    SpyGenerator.fitted = []
    cfg = FairnessConfig(dataset="nhanes", attribute="Race1", lambdas="3", repeats=1, seed=0, generator_params=json.dumps(TINY),
                         models="logistic", n_boot=20)
    (d,) = fairness_designs(cfg, nhanes)
    cell = fairness_cells(cfg, nhanes, d)[2]
    assert cell["fairness_weight"] == 3.0
    rows = fairness_cell(cell)
    (fitted,) = SpyGenerator.fitted
    seed = fairness_study.draw_seed(cell["seed"], "nhanes", "Race1", "diabetes", cell["test_size"], 0)
    train, test = study_split(nhanes, d, seed, cell["test_size"])
    assert set(fitted.ID) <= set(train.ID) and set(fitted.ID).isdisjoint(test.ID)
    added = rows[(rows.metric == "added_rows")].value.item()
    assert added == (train.Race1 != "White").sum()
    assert set(rows[rows.metric == "synthetic_rate"].group) == set(d.groups) - {"White"}
    spread = fairness_cell({**cell, "augment": "all"})
    assert set(spread[spread.metric == "synthetic_rate"].group) == set(d.groups)  # the privileged group gets rows too


def _results(values: dict[tuple[str, float | None], dict[str, list[float]]]) -> pd.DataFrame:
    """Hand-made cell rows: (arm, weight) -> metric -> one value per repeat."""
    rows = []
    for (arm, w), metrics in values.items():
        for m, vals in metrics.items():
            rows += [dict(arm=arm, fairness_weight=w, model="logistic", metric=m, group="all", value=v, lo=v - 0.1, hi=v + 0.1, repeat=r)
                     for r, v in enumerate(vals)]
    return pd.DataFrame(rows)


def test_summary_pairs_by_repeat_and_best_weight_respects_f1():
    res = _results({
        ("real", None): {"di": [0.6, 0.7], "worst_group_tpr": [0.50, 0.52], "f1": [0.40, 0.42], "auroc": [0.7, 0.7]},
        ("duplicate", None): {"di": [0.7, 0.8], "worst_group_tpr": [0.52, 0.54], "f1": [0.40, 0.42], "auroc": [0.7, 0.7]},
        ("synthetic", 0.0): {"di": [0.65, 0.75], "worst_group_tpr": [0.51, 0.53], "f1": [0.41, 0.43], "auroc": [0.7, 0.7]},
        ("synthetic", 1.0): {"di": [0.85, 0.95], "worst_group_tpr": [0.58, 0.60], "f1": [0.39, 0.41], "auroc": [0.7, 0.7]},
        ("synthetic", 5.0): {"di": [1.0, 1.1], "worst_group_tpr": [0.70, 0.72], "f1": [0.30, 0.32], "auroc": [0.6, 0.6]},
    })
    s = summarise_fairness(res, metrics=("di", "worst_group_tpr", "f1", "auroc"))
    one = s[(s.arm_label == "synthetic λ=1") & (s.metric == "worst_group_tpr")].iloc[0]
    assert one["mean"] == pytest.approx(0.59) and one.diff_mean == pytest.approx(0.08) and one.n == 2
    assert one.diff_low == pytest.approx(0.08) and one.interval == "t over repeats"  # equal paired differences: no spread
    assert list(s[s.metric == "di"].arm_label.astype(str)) == ["real", "duplicate", "synthetic λ=0", "synthetic λ=1", "synthetic λ=5"]
    assert best_weight(s, "logistic", f1_tolerance=0.02) == "synthetic λ=1"  # λ=5 has a higher TPR but loses 10 points of F1
    assert best_weight(s, "logistic", f1_tolerance=0.2) == "synthetic λ=5"
    g = goal_check(s).set_index("role")
    assert bool(g.loc["best λ", "goal_met"]) and g.loc["best λ", "worst_tpr_gain"] == pytest.approx(0.08)
    assert not bool(g.loc["λ = 0", "goal_met"]) and not bool(g.loc["λ = 0", "di_in_band"])
    single = summarise_fairness(res[res.repeat == 0], metrics=("di",))
    assert (single.interval == "bootstrap").all() and single.ci_low.tolist() == pytest.approx((single["mean"] - 0.1).tolist())


def test_config_fields_name_their_bad_values():
    for bad, name in [(dict(generator_params='{"fairness_weight": 2}'), "generator_params"), (dict(generator_params="[2]"), "generator_params"),
                      (dict(lambdas="1,abc"), "lambdas"), (dict(repeats=0), "repeats"), (dict(epochs=0), "epochs"),
                      (dict(test_size=0.0), "test_size"), (dict(synthetic_ratio=101.0), "synthetic_ratio"), (dict(n_boot=0), "n_boot"),
                      (dict(models="logistic,svm"), "models"), (dict(augment="majority"), "augment"), (dict(min_group_rows=-1), "min_group_rows"),
                      (dict(max_fit_rows=0), "max_fit_rows"), (dict(jobs=0), "jobs")]:
        with pytest.raises(FairsynthError, match=name):
            FairnessConfig(**bad)
    with pytest.raises(FairsynthError, match="epochz"):
        FairnessConfig.from_dict({"epochz": 3})


def test_cli_flags_are_todays():
    parser = add_flags(argparse.ArgumentParser(), FairnessConfig)
    flags = {o for a in parser._actions for o in a.option_strings} - {"-h", "--help"}
    assert flags == {"--dataset", "--csv", "--spec", "--attribute", "--privileged", "--outcome", "--lambdas", "--epochs",
                     "--generator-params", "--synthetic-ratio", "--augment", "--models", "--n-boot", "--test-size",
                     "--min-group-rows", "--max-fit-rows", "--jobs", "--scheduler", "--store", "--no-reports"}
    args = parser.parse_args(["--lambdas", "2", "--n-boot", "20", "--augment", "all", "--max-fit-rows", "600", "--no-reports"])
    assert (args.lambdas, args.n_boot, args.augment, args.max_fit_rows, args.reports) == ("2", 20, "all", 600, False)
    assert get_study("fairness") is STUDY and FairnessConfig.study == "fairness"


def test_cells_designs_pages_and_stores(nhanes):
    cfg = FairnessConfig(dataset="nhanes", attribute="Race1,Gender", lambdas="1,5", generator_params=json.dumps(TINY)).resolve(load_settings({"repeats": 2, "seed": 0}))
    race, gender = fairness_designs(cfg, nhanes)
    assert (race.attribute, gender.attribute, gender.privileged) == ("Race1", "Gender", "male")
    cells = fairness_cells(cfg, nhanes, race)
    assert len(cells) == 2 * 4 and sorted({c["fairness_weight"] for c in cells if c["fairness_weight"] is not None}) == [0.0, 1.0, 5.0]
    assert {c["class_weight"] for c in cells} == {"balanced"} and json.loads(cells[1]["generator_params"]) == {**TINY, "epochs": 20}
    with pytest.raises(FairsynthError, match="n_layerz"):  # unknown generator parameters fail before any cell runs
        fairness_cells(dataclasses.replace(cfg, generator_params='{"n_layerz": 1}'), nhanes, race)
    assert STUDY.store_name(cfg, race) == "fairness_store_Race1"
    (page,) = STUDY.pages(cfg, nhanes, gender)
    assert (page.folder, page.file, page.overrides) == ("Gender", "fairness.html", {"attribute": "Gender"})
    assert page.title == "fairsynth: nhanes fair synthetic augmentation, Gender"
    everywhere = dataclasses.replace(cfg, augment="all")
    assert STUDY.store_name(everywhere, race) == "fairness_store_Race1_all" and "augment" not in cells[1]
    (page,) = STUDY.pages(everywhere, nhanes, race)
    assert page.file == "fairness-all.html" and page.title.endswith("Race1 (all groups)")
    assert all(c["augment"] == "all" for c in fairness_cells(everywhere, nhanes, race) if c["fairness_weight"] is not None)
    with pytest.raises(FairsynthError, match="Planet"):
        fairness_designs(dataclasses.replace(cfg, attribute="Race1,Planet"), nhanes)


def test_run_controls_do_not_change_the_cells(nhanes, tmp_path):
    cfg = FairnessConfig(dataset="nhanes", attribute="Race1", lambdas="2", repeats=1, seed=0)
    (d,) = fairness_designs(cfg, nhanes)
    cells = fairness_cells(cfg, nhanes, d)
    for controls in (dict(jobs=2), dict(jobs=-1, store=str(tmp_path)), dict(scheduler="tcp://nowhere:8786", reports=False)):
        assert fairness_cells(dataclasses.replace(cfg, **controls), nhanes, d) == cells, controls
    assert "jobs" not in cfg.parameters() and "store" not in cfg.parameters() and cfg.parameters()["lambdas"] == "2"


@pytest.mark.slow
def test_report_notebook_renders_and_shares_the_store(tmp_path):
    store = tmp_path / "store"
    config = {"dataset": "nhanes", "attribute": "Race1", "lambdas": "4", "epochs": 1, "generator_params": json.dumps(TINY),
              "max_fit_rows": 600, "n_boot": 20, "models": "logistic", "repeats": 1, "seed": 0, "store": str(store)}
    out = tmp_path / "Race1"
    page = execute_study("fairness", {"config": config, "results_dir": str(out)}, out / "fairness.html", "fairness", progress=False)
    html = page.read_text()
    for text in ("Disparate impact", "Pareto", "worst-group TPR", "The goal, with paired intervals", "not enough repeats for a verdict", "Advice per group",
                 "synthetic λ=4", "git commit"):
        assert text in html, text
    assert str(tmp_path) not in html  # no absolute path in the page
    side = json.loads(page.with_suffix(".json").read_text())
    assert side["study"] == "fairness" and side["group"] == "Race1" and side["provenance"]["parameters"]["lambdas"] == "4"
    (grid,) = run_config(FairnessConfig.from_dict({**config, "jobs": 1}), progress=False)
    assert len(grid.skipped) == 3 and not grid.computed  # the notebook's cells are the Python run's cells
    assert len(pd.read_parquet(out / "fairness_results.parquet")) == len(grid.results)


@pytest.mark.slow
def test_cli_report_and_resume(tmp_path, capsys):
    argv = ["run", "fairness", "--dataset", "nhanes", "--attribute", "Race1", "--lambdas", "4", "--epochs", "1",
            "--generator-params", json.dumps(TINY), "--max-fit-rows", "600", "--n-boot", "20", "--models", "logistic",
            "--repeats", "1", "--reports-dir", str(tmp_path)]
    assert main(argv) == 0
    page = tmp_path / "nhanes" / "Race1" / "fairness.html"
    html = page.read_text()
    for text in ("Disparate impact", "Pareto", "worst-group TPR", "The goal, with paired intervals", "not enough repeats for a verdict", "Advice per group",
                 "synthetic λ=4", "git commit"):
        assert text in html, text
    res = pd.read_parquet(tmp_path / "nhanes" / "Race1" / "fairness_results.parquet")
    assert set(res.arm) == {"real", "duplicate", "synthetic"} and res.repeat.nunique() == 1
    side = json.loads(page.with_suffix(".json").read_text())
    assert side["study"] == "fairness" and side["group"] == "Race1" and side["provenance"]["data_sha256"]
    assert "Race1" in (tmp_path / "index.html").read_text()
    capsys.readouterr()
    assert main(argv + ["--no-reports"]) == 0
    assert "0 to compute" in capsys.readouterr().err  # the store already holds every cell
    assert len(load_results(tmp_path / "nhanes" / "fairness_store_Race1")) == len(res)


def test_cli_names_a_bad_attribute(tmp_path, capsys):
    assert main(["run", "fairness", "--dataset", "nhanes", "--attribute", "Planet", "--reports-dir", str(tmp_path)]) == 2
    assert "Planet" in capsys.readouterr().err
    assert not (tmp_path / "nhanes").exists()


# --- health checks on every synthetic table (issue 16) ---

def _broken_rows(monkeypatch, transform):
    """Make the study's fair_transformer return the training rows of the sampled groups, changed by `transform`."""
    def fake(train, spec, design, fairness_weight, generator_params=None, ratio=1.0, seed=0, max_fit_rows=None, augment="non_privileged"):
        counts = synthetic_counts(train, design, ratio, augment)
        rows = pd.concat([train[train[design.attribute] == v].sample(n, replace=True, random_state=seed) for v, n in counts.items()])
        return transform(rows[list(spec.columns)].reset_index(drop=True)), {"fit_seconds": 0.0}
    monkeypatch.setattr(fairness_study, "fair_synthetic_rows", fake)


def _cell(ds, lam=1.0):
    design = resolve_fairness_design(ds, "Race1")
    cfg = FairnessConfig(dataset="nhanes", attribute="Race1", lambdas=str(lam), repeats=1, seed=0, n_boot=5, models="logistic", epochs=1)
    return [c for c in fairness_cells(cfg, ds, design) if c["fairness_weight"] == lam][0]


def test_a_collapsed_outcome_is_recorded_and_every_synthetic_score_withheld(nhanes, monkeypatch):
    from fairsynth.studies.common import WITHHELD, mark_unhealthy, table_health
    from fairsynth.studies.fairness import HEALTH, headline_table
    _broken_rows(monkeypatch, lambda rows: rows.assign(diabetes=0))
    rows = fairness_cell(_cell(nhanes)).assign(fairness_weight=1.0, repeat=0, cell_id="c1")
    checks = rows[rows.metric.str.startswith("health:") & (rows.status == "fail")]
    assert rows.query("metric == 'health_failed'").value.iloc[0] == len(checks) >= 1
    assert "health:outcome_classes" in set(checks.metric) and checks.note.str.contains("one class").any()
    scores = rows[rows.model != "all"]
    assert len(scores) and scores.value.isna().all() and (scores.status == WITHHELD).all() and scores.note.str.contains("one class").all()
    assert not (checks.metric == "health:group_share").any()  # the privileged group, left out on purpose, is no lost group
    real = fairness_cell({**_cell(nhanes), "fairness_weight": None}).assign(fairness_weight=np.nan, repeat=0, cell_id="c0")
    both = pd.concat([real, rows], ignore_index=True)
    th = table_health(both, HEALTH)
    assert th.arm.tolist() == ["synthetic λ=1"] and th.failed_tables.iloc[0] == 1 and th.withheld_values.iloc[0] == len(scores)
    marked = mark_unhealthy(headline_table(summarise_fairness(both)), both, HEALTH, "arm_label")
    assert set(marked.arm_label) == {"real", "duplicate", "synthetic λ=1 †"}


def test_a_lost_group_withholds_that_groups_scores_only(nhanes, monkeypatch):
    from fairsynth.studies.common import WITHHELD
    _broken_rows(monkeypatch, lambda rows: rows[rows.Race1 != "Mexican"].reset_index(drop=True))
    rows = fairness_cell(_cell(nhanes))
    lost = rows[(rows.metric == "health:group_share") & (rows.status == "fail")]
    assert set(lost.group) == {"Race1=Mexican"} and lost.note.str.contains("missing").all()
    scores = rows[rows.model != "all"]
    withheld = scores[scores.status == WITHHELD]
    assert set(withheld.group) == {"Mexican"} and set(withheld.metric) <= {f"group_{m}" for m in fairness_study.GROUP_METRICS}
    assert withheld.value.isna().all() and scores[scores.status != WITHHELD].value.notna().any()
    assert scores[(scores.group == "all") & (scores.metric == "di")].value.notna().all()


def test_intersectional_attribute_is_one_joint_group_in_the_cell(nhanes, monkeypatch):
    real_get, seen = fairness_study.get_generator, []
    def recording(name, **params):  # the real fair_transformer, its training rows recorded
        gen = real_get(name, **params)
        fit = gen.fit
        gen.fit = lambda df, spec: (seen.append(df.copy()), fit(df, spec))[1]
        return gen
    monkeypatch.setattr(fairness_study, "get_generator", recording)
    cfg = FairnessConfig(dataset="nhanes", attribute="Race1:Gender", lambdas="1", repeats=1, seed=0, epochs=1, max_fit_rows=400,
                         generator_params=json.dumps(TINY), models="logistic", n_boot=20)
    data = fairness_study.fairness_data(cfg)
    (d,) = fairness_designs(cfg, data)
    assert d.privileged == "White & male" and d.groups[0] == "White & male" and len(d.groups) == 10
    rows = fairness_cell(fairness_cells(cfg, data, d)[2])
    (fitted,) = seen
    assert "Race1:Gender" in fitted and not {"Race1", "Gender"} & set(fitted.columns)  # the generator sees the joint group only
    assert set(rows[rows.metric == "synthetic_rate"].group) == set(d.groups) - {"White & male"}
    assert main(["run", "fairness", "--dataset", "nhanes", "--attribute", "Race1:Age", "--no-reports"]) == 2
