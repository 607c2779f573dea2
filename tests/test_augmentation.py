"""The seed-002 augmentation study: the draw, the methods, the summaries, the grid and the reports."""
from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fairsynth.cli import main
from fairsynth.core import FairsynthError
from fairsynth.data import load_dataset
from fairsynth.generators.base import register
from fairsynth.report import execute_study
from fairsynth.studies.augmentation import (METHODS, STANDARD_METHODS, STUDY, AugmentationConfig, augmentation_cell,
                                            augmentation_cells, config_generator_params, count_wins, style_paper_table, draw_group_sample,
                                            paper_table, resolve_design, smote_rows, summarise, synthetic_rows, train_and_score)
from fairsynth.studies.common import draw_seed
from fairsynth.studies.framework import run_config
from fairsynth.studies.grid import cell_id, load_results

from test_study import SEEN_BY_SPY as FITTED_ON, SpyCopy, own_table


@register("aug_spy")
class AugSpy(SpyCopy):
    """test_study's SpyCopy (records the rows it was fitted on) that also honours conditions."""

    def _sample(self, n, conditions, seed):
        f = self.frame_
        for c, v in conditions.items(): f = f[f[c] == v]
        return f.sample(n, replace=True, random_state=seed).reset_index(drop=True)


@pytest.fixture(scope="module")
def diabetes():
    return load_dataset("diabetes130")


@pytest.fixture(scope="module")
def nhefs():
    return load_dataset("nhefs")


def test_draw_is_by_patient_one_row_each_and_seeded(diabetes):
    s = draw_group_sample(diabetes, "race", "Caucasian", "Asian", 1000, 200, seed=7)
    ids = diabetes.spec.id_column
    assert len(s.train) == 1200 and s.is_minority_train.sum() == 200 and s.train[ids].is_unique
    assert set(s.train[ids]).isdisjoint(s.test[ids])  # no patient on both sides
    both = diabetes.frame[diabetes.frame.race.isin(["Caucasian", "Asian"])]
    assert len(s.test) == (~both[ids].isin(set(s.train[ids]))).sum()  # the hold-out is every undrawn patient's rows
    assert set(s.test.race) == {"Caucasian", "Asian"} and s.is_minority_test.sum() == (s.test.race == "Asian").sum()
    again = draw_group_sample(diabetes, "race", "Caucasian", "Asian", 1000, 200, seed=7)
    assert again.train.index.equals(s.train.index)
    assert not draw_group_sample(diabetes, "race", "Caucasian", "Asian", 1000, 200, seed=8).train.index.equals(s.train.index)


def test_draw_rejects_sizes_the_group_cannot_supply(diabetes):
    with pytest.raises(FairsynthError, match="n_minority.*Asian"):
        draw_group_sample(diabetes, "race", "Caucasian", "Asian", 1000, 600)
    with pytest.raises(FairsynthError, match="n_majority"):
        draw_group_sample(diabetes, "race", "Caucasian", "Asian", 1, 100)


def test_design_defaults_and_bad_names(diabetes):
    d = resolve_design(diabetes)
    assert (d.attribute, d.majority, d.outcomes) == ("race", "Caucasian", ("readmit_30d", "readmit_any", "long_stay"))
    with pytest.raises(FairsynthError, match="'Martian'"):
        resolve_design(diabetes, minorities=["Martian"])
    with pytest.raises(FairsynthError, match="no_such_outcome"):
        resolve_design(diabetes, outcomes=["no_such_outcome"])
    with pytest.raises(FairsynthError, match="attribute"):
        resolve_design(diabetes, attribute="num_medications")


def test_long_stay_is_predicted_without_the_stay_itself(diabetes):
    feats = diabetes.spec.features("long_stay")
    assert "time_in_hospital" not in feats and "num_medications" not in feats and "age" in feats
    assert "time_in_hospital" in diabetes.spec.features("readmit_30d")


def test_generators_see_only_the_drawn_rows_and_the_group_generator_only_the_minority(nhefs):
    s = draw_group_sample(nhefs, "race", "white", "black or other", 500, 100, seed=3)
    FITTED_ON.clear()
    rows, timing, _ = synthetic_rows(s, nhefs.spec, "race", "black or other", "aug_spy", seed=3)
    generic, group = FITTED_ON
    assert set(generic) == set(s.train.index) and set(group) == set(s.train.index[s.is_minority_train])
    assert set(generic).isdisjoint(s.test.index)
    assert (rows["synthetic-group"].race == "black or other").all() and len(rows["synthetic-generic"]) == 400
    assert timing["fit_seconds"] >= 0 and timing["sample_seconds"] >= 0
    FITTED_ON.clear()
    rows, _, _ = synthetic_rows(s, nhefs.spec, "race", "black or other", "aug_spy", group_mode="condition", seed=3)
    assert len(FITTED_ON) == 1 and (rows["synthetic-group"].race == "black or other").all()


def test_smote_upsamples_the_minority_to_the_majority(nhefs):
    s = draw_group_sample(nhefs, "race", "white", "black or other", 500, 100, seed=3)
    rows = smote_rows(s, nhefs.spec, "race", "black or other", seed=3)
    assert len(rows) == 400 and (rows.race == "black or other").all()
    real_min = s.train[s.is_minority_train]
    assert rows.age.between(real_min.age.min(), real_min.age.max()).all()  # interpolated between minority rows


def test_upweighting_equals_duplicating_the_minority(nhefs):
    s = draw_group_sample(nhefs, "race", "white", "black or other", 500, 100, seed=4)
    dup = s.train[s.is_minority_train].loc[lambda d: d.index.repeat(4)]  # 1 + 4 copies = weight 5 = 500 / 100
    rows, _ = train_and_score(s, nhefs.spec, "race", "black or other", ["death"], {"upweighted": None, "baseline": dup}, seed=0)
    t = pd.DataFrame(rows).query("metric in ['auroc', 'auprc']").pivot_table(index=["group", "metric"], columns="method", values="value")
    np.testing.assert_allclose(t["upweighted"], t["baseline"], atol=2e-3)


def test_a_one_class_group_falls_back_to_the_prevalence(nhefs):
    s = draw_group_sample(nhefs, "race", "white", "black or other", 500, 100, seed=5)
    s.train = s.train.copy()
    s.train.loc[s.is_minority_train, "death"] = 0  # no minority death among the drawn rows
    rows = pd.DataFrame(train_and_score(s, nhefs.spec, "race", "black or other", ["death"], {"separate": None})[0])
    assert rows.query("metric == 'single_class_fallbacks'").value.item() == 1
    assert rows.query("group == 'minority' and metric == 'auroc'").value.item() == 0.5


def test_a_cell_is_deterministic_and_shares_its_draw_with_the_generator_cell(nhefs):
    cell = dict(dataset="nhefs", attribute="race", majority="white", minority="black or other", outcomes=["death"],
                n_majority=500, n_minority=100, repeat=2, seed=0, generator=None)
    scores = lambda d: d[~d.metric.str.endswith("_seconds")].reset_index(drop=True)
    a = augmentation_cell(cell)
    pd.testing.assert_frame_equal(scores(a), scores(augmentation_cell(cell)))
    assert set(a.method) == {*STANDARD_METHODS, "all"}
    FITTED_ON.clear()
    g = augmentation_cell({**cell, "generator": "aug_spy"})
    assert set(g.method) == {"synthetic-group", "synthetic-generic", "all"}
    s = draw_group_sample(load_dataset("nhefs"), "race", "white", "black or other", 500, 100,
                          seed=draw_seed(0, "nhefs", "race", "white", "black or other", 500, 100, 2))
    assert set(FITTED_ON[0]) == set(s.train.index)  # the generator cell drew the same patients
    # same hold-out: the per-group test sizes agree between the two cells
    n = lambda d: d.query("metric == 'n_test'").groupby("group").value.first()
    pd.testing.assert_series_equal(n(a), n(g))


def _fake_results(values: dict[str, list[float]]) -> pd.DataFrame:
    """Tidy rows of one setting: method -> minority AUROC per repeat."""
    rows = []
    for method, vals in values.items():
        gen = "g" if method.startswith("synthetic") else None
        for r, v in enumerate(vals):
            rows.append(dict(dataset="d", attribute="a", majority="M", minority="m", n_majority=10, n_minority=5, repeat=r,
                             generator=gen, method=method, outcome="y", group="minority", metric="auroc", value=v))
    return pd.DataFrame(rows)


def test_summary_intervals_and_paired_differences():
    base, up = [0.60, 0.62, 0.64, 0.66], [0.61, 0.64, 0.65, 0.69]
    s = summarise(_fake_results({"baseline": base, "upweighted": up})).set_index("method_label")
    lo, hi = stats.t.interval(0.95, 3, loc=np.mean(up), scale=stats.sem(up))
    assert s.loc["upweighted", "mean"] == pytest.approx(np.mean(up)) and s.loc["upweighted", "n"] == 4
    assert (s.loc["upweighted", "ci_low"], s.loc["upweighted", "ci_high"]) == pytest.approx((lo, hi))
    d = np.subtract(up, base)
    dlo, dhi = stats.t.interval(0.95, 3, loc=d.mean(), scale=stats.sem(d))
    assert (s.loc["upweighted", "diff_mean"], s.loc["upweighted", "diff_low"], s.loc["upweighted", "diff_high"]) == pytest.approx((d.mean(), dlo, dhi))
    assert s.loc["baseline", "diff_mean"] == 0


def test_win_counts_and_best_marking():
    res = _fake_results({"baseline": [.60, .61, .62], "upweighted": [.62, .63, .64], "separate": [.5, .5, .5],
                         "smote": [.55, .56, .57], "synthetic-group": [.61, .62, .63], "synthetic-generic": [.70, .71, .72]})
    s = summarise(res)
    means, text = paper_table(s)
    assert list(means.columns[:4]) == list(STANDARD_METHODS) and means.shape == (1, 6)
    assert "[" in text.iloc[0, 0]
    w = count_wins(s).set_index("method")
    assert w.loc["synthetic-group (g)", "beats_baseline"] == 1 and w.loc["synthetic-group (g)", "beats_all_standard"] == 0
    assert w.loc["synthetic-generic (g)", "beats_all_standard"] == 1 and np.isnan(w.loc["synthetic-generic (g)", "beats_baseline_significantly"])
    assert (w.verdict == "not enough repeats for a verdict (3 < 5)").all()  # 3 repeats: no wins claimed, no best marked
    assert "font-weight" not in style_paper_table(means, text, repeats=3).to_html()
    five = summarise(_fake_results({"baseline": [.60, .61, .62, .60, .61], "upweighted": [.62, .63, .64, .62, .63], "separate": [.5] * 5,
                                    "smote": [.55, .56, .57, .55, .56], "synthetic-group": [.61, .62, .63, .61, .62],
                                    "synthetic-generic": [.70, .71, .72, .70, .71]}))
    w5 = count_wins(five).set_index("method")
    assert w5.loc["synthetic-generic (g)", "beats_baseline_significantly"] == 1 and w5.loc["synthetic-generic (g)", "repeats"] == 5
    m5, t5 = paper_table(five)
    bold = style_paper_table(m5, t5, repeats=5, summary=five).to_html()
    assert bold.count("font-weight: bold") == 1  # synthetic-generic: the only paired interval above 0 (upweighted's mean is higher than the baseline's too)
    assert "font-weight" not in style_paper_table(m5, t5, repeats=5).to_html()  # without the intervals nothing is marked


def test_run_resumes_and_only_computes_new_cells(tmp_path):
    kw = dict(dataset="nhefs", generator="aug_spy", n_majority=400, n_minority=100, seed=0, store=str(tmp_path / "store"))
    [first] = run_config(AugmentationConfig(repeats=2, **kw), progress=False)
    assert len(first.computed) == 4 and not first.failed
    [second] = run_config(AugmentationConfig(repeats=3, **kw), progress=False)
    assert sorted(second.skipped) == sorted(first.computed) and len(second.computed) == 2
    r = load_results(tmp_path / "store")
    assert set(r.repeat) == {0, 1, 2} and set(r.method) == {*METHODS, "all"}
    assert {"fit_seconds", "sample_seconds", "train_seconds"} <= set(r.metric)
    shown = second._repr_html_()  # in Jupyter: the report's advice verdicts and the tables' health
    assert second.study == "augmentation" and "Headline" in shown and "not enough repeats for a verdict (3 &lt; 5)" in shown
    assert "Health of the synthetic tables" in shown


def test_config_cells_are_todays_cells(nhefs):
    cfg = AugmentationConfig(generator="gaussian_copula,tvae", epochs=5, generator_params='{"curate": true}', n_majority=500,
                             sensitivity="50,100", n_synthetic=80, group_mode="condition", repeats=2, seed=3)
    design = STUDY.designs(cfg, nhefs)[0]
    params = {"gaussian_copula": {"curate": True}, "tvae": {"epochs": 5, "curate": True}}
    assert STUDY.cells(cfg, nhefs, design) == augmentation_cells("nhefs", resolve_design(nhefs), ["gaussian_copula", "tvae"], 500,
                                                                 [100, 50], 2, 3, params, 80, "condition")
    curated = AugmentationConfig(generator="gaussian_copula,tvae", epochs=5, curate=True, n_majority=500, sensitivity="50",
                                 n_synthetic=80, group_mode="condition", repeats=2, seed=3)
    assert STUDY.cells(curated, nhefs, design) == STUDY.cells(cfg, nhefs, design)  # --curate is curate=true for every generator


def test_neural_generators_keep_their_own_size_aware_epochs_unless_given():
    assert AugmentationConfig().epochs is None
    assert config_generator_params(AugmentationConfig(generator="gaussian_copula,ctgan,tvae")) == {"gaussian_copula": {}, "ctgan": {}, "tvae": {}}
    assert config_generator_params(AugmentationConfig(generator="ctgan,tvae", epochs=3)) == {"ctgan": {"epochs": 3}, "tvae": {"epochs": 3}}


def test_a_bad_config_value_names_its_field():
    for bad, name in [(dict(group_mode="both"), "group_mode"), (dict(epochs=0), "epochs"), (dict(n_minority=1), "n_minority"),
                      (dict(sensitivity="50,many"), "sensitivity"), (dict(generator_params="{not json"), "generator_params"),
                      (dict(n_synthetic=0), "n_synthetic"), (dict(jobs=0), "jobs")]:
        with pytest.raises(FairsynthError, match=f"'{name}'"):
            AugmentationConfig.from_dict(bad)
    with pytest.raises(FairsynthError, match="n_minority"):  # a size the group cannot supply fails before any cell runs
        STUDY.designs(AugmentationConfig(sensitivity="500"), load_dataset("nhefs"))


def test_run_controls_and_report_options_leave_the_cells_alone(nhefs):
    cfg = AugmentationConfig(repeats=2, seed=0, n_majority=500)
    design = STUDY.designs(cfg, nhefs)[0]
    cells = STUDY.cells(cfg, nhefs, design)
    for change in (dict(jobs=4), dict(store="somewhere"), dict(scheduler="tcp://x:8786"), dict(reports=False), dict(explore=False)):
        assert STUDY.cells(AugmentationConfig(repeats=2, seed=0, n_majority=500, **change), nhefs, design) == cells
        assert AugmentationConfig(**change).parameters() == AugmentationConfig().parameters()


def test_pages_narrow_the_config_to_one_group_and_reuse_its_cells(diabetes):
    cfg = AugmentationConfig(generator="", n_majority=1000, repeats=1, seed=0)
    design = STUDY.designs(cfg, diabetes)[0]
    pages = STUDY.pages(cfg, diabetes, design)
    assert [(p.notebook, p.folder, p.file) for p in pages] == [("augmentation", "AfricanAmerican", "augmentation.html"),
                                                                ("augmentation", "Hispanic", "augmentation.html"),
                                                                ("augmentation", "Asian", "augmentation.html"),
                                                                ("augmentation_dataset", "all", "augmentation.html")]
    assert STUDY.store_name(cfg, design) == "augmentation_store"
    ids = {cell_id(c) for c in STUDY.cells(cfg, diabetes, design)}
    for page in pages[:3]:
        narrowed = AugmentationConfig.from_dict({**vars(cfg), **page.overrides})
        one = STUDY.designs(narrowed, diabetes)[0]
        assert one.minorities == (page.overrides["minority"],)
        assert {cell_id(c) for c in STUDY.cells(narrowed, diabetes, one)} <= ids  # the page finds its cells in the study's store


@pytest.mark.slow
def test_report_notebooks_render_from_a_config(tmp_path):
    config = {"n_majority": 400, "repeats": 1, "seed": 0, "explore": False, "store": str(tmp_path / "store")}
    group = execute_study("augmentation", {"config": config, "results_dir": str(tmp_path / "g")}, tmp_path / "g" / "augmentation.html",
                          "group", progress=False).read_text()
    assert "Table 2" in group and "Provenance" in group and "Traceback" not in group and "Exploratory" in group
    everything = execute_study("augmentation_dataset", {"config": config, "results_dir": str(tmp_path / "all")},
                               tmp_path / "all" / "augmentation.html", "all", progress=False).read_text()
    assert "Gain over the baseline" in everything and "0 computed, 2 skipped" in everything  # the group page's cells, reused
    meta = json.loads((tmp_path / "g" / "augmentation.json").read_text())
    assert meta["provenance"]["parameters"]["n_majority"] == 400 and "store" not in meta["provenance"]["parameters"]


@pytest.mark.slow
def test_cli_writes_group_and_dataset_pages(reports_dir):
    assert main(["--reports-dir", str(reports_dir), "--repeats", "2", "run", "augmentation", "--n-majority", "400",
                 "--generator", "gaussian_copula", "--sensitivity", "60"]) == 0
    page = reports_dir / "nhefs" / "black_or_other" / "augmentation.html"
    html = page.read_text()
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(pngs) >= 6 and all(base64.b64decode(p[:64])[:4] == b"\x89PNG" for p in pngs)
    for heading in ("Table 2", "Table S3", "Sensitivity", "Exploratory", "Provenance", "synthetic-group (gaussian_copula)"):
        assert heading in html
    assert load_dataset("nhefs").sha256 in html and "Traceback" not in html and "[grid" not in html
    dataset_page = (reports_dir / "nhefs" / "all" / "augmentation.html").read_text()
    assert "Gain over the baseline" in dataset_page and "beats_all_standard" in dataset_page
    assert "Advice per group and outcome" in html and "Advice per group and outcome" in dataset_page and "not enough repeats for a verdict" in html
    index = (reports_dir / "index.html").read_text().replace("'", '"')
    assert 'href="nhefs/black_or_other/augmentation.html"' in index and 'href="nhefs/all/augmentation.html"' in index
    meta = json.loads((reports_dir / "nhefs" / "black_or_other" / "augmentation.json").read_text())
    assert meta["group"] == "black or other" and "higher mean than the baseline" in meta["summary"] and "not enough repeats" in meta["summary"]
    summary = pd.read_csv(reports_dir / "nhefs" / "black_or_other" / "augmentation_summary.csv")
    assert set(summary.n_minority) == {60, 100} and (summary.n == 2).all()


@pytest.mark.slow
def test_cli_on_own_csv_never_prints_a_real_record(tmp_path, reports_dir):
    csv, spec = own_table(tmp_path, n=400)
    assert main(["--reports-dir", str(reports_dir), "--repeats", "2", "run", "augmentation", "--csv", str(csv), "--spec", str(spec),
                 "--n-majority", "120", "--n-minority", "40", "--generator", "gaussian_copula"]) == 0
    pages = list((reports_dir / "own").rglob("*.html")) + list((reports_dir / "own").rglob("*.ipynb"))
    assert len(pages) == 5 and (reports_dir / "own" / "summary.html") in pages  # two pages, their notebooks, the dataset summary
    for p in pages:
        text = p.read_text()
        assert "ZQX" not in text and "PID0" not in text
        assert str(tmp_path) not in text  # the CSV is named by its file name, never by its path


def test_cli_bad_input_fails_cleanly_and_writes_nothing(reports_dir, capsys):
    for extra, culprit in [(["--minority", "martian"], "martian"), (["--generator", "nope"], "nope"),
                           (["--n-minority", "500"], "n_minority"), (["--dataset", "no_such_table"], "no_such_table")]:
        assert main(["--reports-dir", str(reports_dir), "--repeats", "1", "run", "augmentation", "--no-explore", *extra]) == 2
        assert culprit in capsys.readouterr().err
    assert not reports_dir.exists() or not any(reports_dir.rglob("*.html"))


# --- health checks on every synthetic table (issue 16) ---

@register("aug_one_class")
class AugOneClass(AugSpy):
    """Test double: resamples its training rows (honouring conditions) with every outcome set to 0, as a collapsed generator's."""
    test_double = True

    def _sample(self, n, conditions, seed):
        return super()._sample(n, conditions, seed).assign(death=0)


@register("aug_no_minority")
class AugNoMinority(AugSpy):
    """Test double: unconditioned draws leave out the minority race whenever other rows exist (a generic generator losing a group)."""
    test_double = True

    def _sample(self, n, conditions, seed):
        f = self.frame_[self.frame_.race != "black or other"]
        f = f if len(f) and not conditions else self.frame_
        for c, v in conditions.items(): f = f[f[c] == v]
        return f.sample(n, replace=True, random_state=seed).reset_index(drop=True)


def test_health_rows_record_failures_and_unusable_scores_are_withheld(tmp_path):
    from fairsynth.studies.augmentation import HEALTH, SYNTHETIC_METHODS
    from fairsynth.studies.common import WITHHELD, health_overview, mark_unhealthy, table_health
    cfg = AugmentationConfig(dataset="nhefs", generator="aug_one_class,aug_no_minority,gaussian_copula", n_majority=200,
                             n_minority=40, repeats=1, seed=0, store=str(tmp_path / "store"), reports=False)
    (grid,) = run_config(cfg, progress=False)
    assert not grid.failed
    r = grid.results
    failed = r[r.metric == "health_failed"].set_index(["generator", "method"]).value
    assert failed[("aug_one_class", "synthetic-group")] >= 1 and failed[("aug_no_minority", "synthetic-generic")] >= 1
    checks = r[r.metric.str.startswith("health:") & (r.status == "fail")]
    one = checks[(checks.generator == "aug_one_class") & (checks.metric == "health:outcome_classes") & (checks.group == "all")]
    assert set(one.method) == set(SYNTHETIC_METHODS) and one.note.str.contains("one class").all()
    lost = checks[(checks.generator == "aug_no_minority") & (checks.metric == "health:group_share")]
    assert set(lost.group) == {"race=black or other"} and set(lost.method) == {"synthetic-generic"}
    scores = r[r.metric.isin(["auroc", "auprc"])]
    # a collapsed outcome: no score of either synthetic method, every one with the reason
    bad = scores[scores.generator == "aug_one_class"]
    assert bad.value.isna().all() and (bad.status == WITHHELD).all() and bad.note.str.contains("one class").all()
    # a lost group: the generic method's minority scores withheld, its majority scores and the group method's kept
    nm = scores[scores.generator == "aug_no_minority"].set_index(["method", "group", "metric"])
    assert np.isnan(nm.loc[("synthetic-generic", "minority", "auroc"), "value"])
    assert "missing" in nm.loc[("synthetic-generic", "minority", "auroc"), "note"]
    assert nm.loc[("synthetic-generic", "majority", "auroc"), "value"] > 0.5 and nm.loc[("synthetic-group", "minority", "auroc"), "value"] > 0
    # standard methods and a healthy generator keep every number
    assert r[r.generator.fillna("").isin(["", "gaussian_copula"]) & (r.metric == "auroc")].value.notna().all()
    # the report's tables: failed tables counted, withheld values counted, the paper table's numbers marked
    th = table_health(r, HEALTH).set_index("method")
    assert th.loc["synthetic-group (aug_one_class)", "failed_tables"] == 1 and th.loc["synthetic-group (aug_one_class)", "withheld_values"] == 4
    assert "group_share (1)" in th.loc["synthetic-generic (aug_no_minority)", "failed_checks"]
    assert health_overview(r, HEALTH).why.notna().all()
    _, text = paper_table(summarise(r), "auroc")
    marked = mark_unhealthy(text, r, HEALTH)
    assert marked["synthetic-group (aug_one_class)"].str.endswith("†").all() and not marked["baseline"].str.endswith("†").any()


def test_quiet_run_prints_no_progress_and_a_plain_run_gives_the_time_left(tmp_path, capsys):
    args = ["run", "augmentation", "--dataset", "nhefs", "--generator", "", "--repeats", "2", "--n-majority", "300", "--no-reports",
            "--reports-dir", str(tmp_path / "reports")]
    assert main([*args, "--quiet", "--store", str(tmp_path / "a")]) == 0
    assert capsys.readouterr().err == ""
    assert main([*args, "--store", str(tmp_path / "b")]) == 0
    err = capsys.readouterr().err
    assert "[grid 1/2]" in err and "left" in err and "[grid 2/2]" in err
