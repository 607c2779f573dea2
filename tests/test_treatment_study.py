"""The seed-004 study: setups and tables, one cell's rows, STEAM against its base on known truth, summaries, the config,
a table of your own, the CLI report."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import fairsynth.studies.treatment as treatment_study
from fairsynth.cli import main
from fairsynth.core import FairsynthError, load_settings
from fairsynth.data import load_dataset
from fairsynth.studies.framework import run_config
from fairsynth.studies.grid import load_results
from fairsynth.studies.treatment import (STUDY, TREATMENT_DESIGNS, TreatmentConfig, base_parameters, load_treatment, metrics_table,
                                         resolve_treatment_design, steam_gain, summarise_treatment, treatment_cell,
                                         treatment_cells, treatment_data, treatment_split)

FAST = dict(bases=["gaussian_copula"], n_simulated=2000)


@pytest.mark.parametrize("setup, rows, binary", [("rhc", 5735, True), ("nhefs", 1566, True), ("nhefs_weight", 1566, False),
                                                  ("actg320", 1151, True), ("simulated", 2000, False), ("simulated_binary", 2000, True)])
def test_every_setup_loads_its_table_without_other_outcomes(setup, rows, binary):
    d = resolve_treatment_design(setup)
    data = treatment_data(d, n_simulated=2000)
    assert len(data.frame) == rows and data.spec.treatment == d.treatment and set(data.frame[d.treatment]) == {0, 1}
    assert bool(data.spec.outcomes) == binary and d.outcome not in data.covariates and d.treatment not in data.covariates
    others = {"rhc": {"death"}, "nhefs_weight": {"death"}}.get(setup, set())
    assert not others & set(data.frame.columns)  # outcomes after the treatment are not covariates
    assert (data.truth is not None) == setup.startswith("simulated") and d.group in data.covariates
    train, test = treatment_split(data, seed=3)
    ids = data.spec.id_column
    assert not set(train[ids]) & set(test[ids]) and len(train) + len(test) == rows


def test_design_overrides_and_errors():
    assert resolve_treatment_design("rhc", outcome="death").outcome == "death"
    assert resolve_treatment_design("framingham").treatment == "BPMeds"  # a registered dataset with a treatment
    with pytest.raises(FairsynthError, match="treatment"):
        resolve_treatment_design("nhanes")  # no treatment, none given
    with pytest.raises(FairsynthError, match="known setups"):
        resolve_treatment_design("mars")
    with pytest.raises(FairsynthError, match="Shoe"):
        treatment_data(resolve_treatment_design("nhefs", outcome="Shoe"))


def test_cell_rows_and_generators_see_training_rows_only(monkeypatch):
    seen = []
    real_get = treatment_study.get_generator

    def spy(name, **params):
        gen = real_get(name, **params)
        fit = gen.fit
        def recording_fit(df, spec):
            seen.append((name, df.copy()))
            return fit(df, spec)
        gen.fit = recording_fit
        return gen

    monkeypatch.setattr(treatment_study, "get_generator", spy)
    d = resolve_treatment_design("nhefs")
    cell = treatment_cells("nhefs", d, repeats=1, seed=0, **FAST)[0]
    rows = treatment_cell(cell)
    assert set(rows.arm) == {"real", "alone", "steam", "holdout"}
    per_arm = rows[rows.group.fillna("") == ""].groupby("arm").metric.agg(set)
    assert {"P_alpha", "R_beta", "JSD_pi", "U_PEHE", "ATE", "ATE_error", "fit_seconds"} <= per_arm["steam"] == per_arm["alone"]
    assert {"ATE", "train_rows", "test_rows"} <= per_arm["real"]
    # the yardstick: the real test patients measured as a synthetic table would be
    hold = rows[(rows.arm == "holdout") & (rows.group.fillna("") == "") & rows.learner.isin(["", "mean"])].set_index("metric").value
    assert {"P_alpha", "R_beta", "JSD_pi", "U_PEHE", "ATE_error"} <= set(hold.index) and 0 < hold["U_PEHE"] < 1
    # both arms were fitted on the repeat's training rows only
    data = treatment_data(d)
    seed = treatment_study.draw_seed(0, "nhefs", "qsmk", "death", 0.3, 0)
    train, test = treatment_split(data, seed, 0.3)
    assert [n for n, _ in seen] == ["gaussian_copula", "steam"]
    assert hold["treated_rate"] == pytest.approx(test.qsmk.mean()) and hold["outcome_mean"] == pytest.approx(test.death.mean())
    cols = list(data.spec.columns)
    for _, df in seen:
        assert list(df.columns) == cols and sorted(map(tuple, df.astype(str).to_numpy())) == sorted(map(tuple, train[cols].astype(str).to_numpy()))
    j = rows[(rows.metric == "JSD_pi") & (rows.group.fillna("") == "")].set_index("arm").value
    assert 0 < j["alone"] <= 1 and 0 < j["steam"] <= 1
    assert set(rows[rows.group.fillna("") != ""].group) == {"male", "female"}  # per-group rows for the subgroup attribute


def test_steam_beats_its_base_where_the_truth_is_known():
    d = resolve_treatment_design("simulated")
    rows = pd.concat([treatment_cell(c).assign(repeat=c["repeat"], base=c["base"])
                      for c in treatment_cells("simulated", d, repeats=2, seed=0, bases=["gaussian_copula"], n_simulated=3000)])
    gain = steam_gain(rows).set_index("metric")
    assert gain.loc["JSD_pi", "better"] and gain.loc["JSD_pi", "steam"] > 0.9
    assert gain.loc["U_PEHE", "better"] and gain.loc["PEHE", "better"]
    pehe = rows[(rows.metric == "PEHE") & (rows.learner == "mean") & (rows.group.fillna("") == "")]
    real = pehe[pehe.arm == "real"].value.mean()
    steam = pehe[pehe.arm == "steam"].value.mean()
    assert steam < 2 * real + 0.1, (steam, real)  # STEAM's learners approach what the real rows allow


def hand_results(repeats: int = 2) -> pd.DataFrame:
    """Made-up metrics with known paired differences over `repeats` repeats (2: bumps -0.01, +0.01)."""
    rows = []
    for rep, bump in enumerate(np.linspace(-0.01, 0.01, repeats)):
        for arm, j, u in (("alone", 0.80, 0.30), ("steam", 0.95, 0.10)):
            for m, v in (("JSD_pi", j + bump), ("P_alpha", 0.9), ("R_beta", 0.5 + bump), ("ATE_error", u / 3)):
                rows.append(dict(repeat=rep, base="tvae", arm=arm, metric=m, learner="", group="", data="synthetic", value=v, lo=np.nan, hi=np.nan))
            for lrn in ("T", "S", "mean"):
                rows.append(dict(repeat=rep, base="tvae", arm=arm, metric="U_PEHE", learner=lrn, group="", data="synthetic",
                                 value=u + (0.05 if lrn == "T" else 0) + bump, lo=np.nan, hi=np.nan))
        for base in ("tvae", "ctgan"):  # the hold-out yardstick, the same in every cell of a repeat
            rows += [dict(repeat=rep, base=base, arm="holdout", metric=m, learner=l, group="", data="synthetic", value=v + bump,
                          lo=np.nan, hi=np.nan) for m, l, v in (("JSD_pi", "", 0.90), ("U_PEHE", "mean", 0.12))]
    return pd.DataFrame(rows)


def test_summaries_on_known_numbers():
    gain = steam_gain(hand_results()).set_index("metric")
    assert gain.loc["JSD_pi", "difference"] == pytest.approx(0.15) and gain.loc["JSD_pi", "better"]
    assert not gain.loc["JSD_pi", "significant"] and gain.loc["JSD_pi", "verdict"] == "not enough repeats for a verdict (2 < 5)"  # 2 repeats: no verdict
    five = steam_gain(hand_results(5)).set_index("metric")
    assert five.loc["JSD_pi", "significant"] and five.loc["JSD_pi", "verdict"] == "STEAM better (paired interval)"
    assert five.loc["P_alpha", "verdict"] == "no difference shown"
    assert gain.loc["U_PEHE", "difference"] == pytest.approx(-0.2) and gain.loc["U_PEHE", "better"]  # the learners' mean, lower is better
    assert gain.loc["P_alpha", "difference"] == pytest.approx(0) and not gain.loc["P_alpha", "better"]
    assert gain.loc["U_PEHE", "holdout"] == pytest.approx(0.12) and np.isnan(gain.loc["P_alpha", "holdout"])
    table = metrics_table(hand_results()).set_index("arm")
    assert table.loc["holdout", "base"] == "(real test patients)" and table.loc["holdout", "U_PEHE"] == "0.120 ± 0.014"
    assert table.loc["steam", "JSD_pi"] == "0.950 ± 0.014" and list(table.columns[1:]) == ["P_alpha", "R_beta", "JSD_pi", "U_PEHE", "ATE_error"]
    # a base table without treated rows has no U_PEHE or ATE: undefined, counted, and worse than any value
    lost = hand_results()
    gone = (lost.arm == "alone") & lost.metric.isin(["U_PEHE", "ATE_error"])
    lost.loc[gone & (lost.repeat == 0), "value"] = np.nan
    gain = steam_gain(lost).set_index("metric")
    assert gain.loc["U_PEHE", "undefined_alone"] == 1 and gain.loc["U_PEHE", "undefined_steam"] == 0
    assert gain.loc["U_PEHE", "repeats"] == 1 and gain.loc["U_PEHE", "better"] and not gain.loc["U_PEHE", "significant"]
    lost.loc[(lost.arm == "steam") & (lost.metric == "U_PEHE") & (lost.repeat == 1), "value"] = np.nan
    lost.loc[gone & (lost.repeat == 1), "value"] = 0.01  # each arm undefined once; STEAM's one value is worse
    both = steam_gain(lost).set_index("metric").loc["U_PEHE"]
    assert both.repeats == 0 and both.undefined_alone == both.undefined_steam == 1 and not both.better
    lost.loc[gone, "value"] = np.nan
    table = metrics_table(lost).set_index("arm")
    assert table.loc["alone", "U_PEHE"] == "undefined in all 2" and table.loc["steam", "U_PEHE"] == "0.090 (1 of 2 undefined)"
    s = summarise_treatment(hand_results())
    row = s[(s.arm == "steam") & (s.metric == "U_PEHE") & (s.learner == "T")].iloc[0]
    assert row["mean"] == pytest.approx(0.15) and row["n"] == 2 and row.interval == "t over repeats"
    one = hand_results().query("repeat == 0").assign(lo=0.0, hi=1.0)  # a single repeat: the estimator's own interval
    s1 = summarise_treatment(one)
    assert (s1.interval == "estimator").all() and (s1.n == 1).all() and (s1.ci_low == 0).all() and (s1.ci_high == 1).all()


def test_cells_check_parameters_before_running():
    d = resolve_treatment_design("nhefs")
    with pytest.raises(FairsynthError, match="learners"):
        treatment_cells("nhefs", d, learners=["X"])
    with pytest.raises(FairsynthError, match="steam_params"):
        treatment_cells("nhefs", d, steam_params={"treatment": "sex"})
    with pytest.raises(FairsynthError, match="generator_params"):
        treatment_cells("nhefs", d, bases=["tvae"], generator_params={"ctgan": {"epochs": 3}})
    with pytest.raises(FairsynthError, match="epoch"):
        treatment_cells("nhefs", d, bases=["tvae"], generator_params={"tvae": {"epoch": 3}})
    with pytest.raises(FairsynthError, match="magic"):
        treatment_cells("nhefs", d, bases=["magic"])
    cells = treatment_cells("nhefs", d, repeats=2, bases=["gaussian_copula", "tvae"])
    assert [(c["repeat"], c["base"]) for c in cells] == [(0, "gaussian_copula"), (0, "tvae"), (1, "gaussian_copula"), (1, "tvae")]


@pytest.mark.slow
def test_cli_report_and_resume(tmp_path, capsys):
    argv = ["run", "treatment", "--setup", "simulated_binary", "--bases", "gaussian_copula,tvae", "--epochs", "2",
            "--n-simulated", "1200", "--repeats", "1", "--reports-dir", str(tmp_path)]
    assert main(argv) == 0
    page = tmp_path / "simulated_binary" / "y" / "treatment.html"
    html = page.read_text()
    for text in ("JSD_pi", "U_PEHE", "P_alpha", "R_beta", "P_alpha_OC", "R_beta_OC", "first 20% of the rows", "PEHE against the true CATE",
                 "STEAM against its base", "git commit", "Subgroups"):
        assert text in html, text
    res = pd.read_parquet(tmp_path / "simulated_binary" / "y" / "treatment_results.parquet")
    assert set(res.base) == {"gaussian_copula", "tvae"} and set(res.arm) == {"real", "alone", "steam", "holdout"}
    side = json.loads(page.with_suffix(".json").read_text())
    assert side["study"] == "treatment" and side["provenance"]["data_sha256"] and "JSD_pi" in side["summary"]
    capsys.readouterr()
    assert main(argv + ["--no-reports"]) == 0
    assert "0 to compute" in capsys.readouterr().err
    assert len(load_results(tmp_path / "simulated_binary" / "treatment_store_y")) == len(res)


def test_cli_names_a_bad_outcome_and_writes_nothing(tmp_path, capsys):
    assert main(["run", "treatment", "--setup", "nhefs", "--outcome", "Planet", "--reports-dir", str(tmp_path)]) == 2
    assert "Planet" in capsys.readouterr().err
    assert not (tmp_path / "nhefs").exists()


def config_cells(config: TreatmentConfig) -> list[dict]:
    """The cells the study's runner makes for a config (seed and repeats resolved from the settings)."""
    cfg = config.resolve(load_settings({"seed": 0, "repeats": 2}))
    data = load_treatment(cfg)
    return STUDY.cells(cfg, data, STUDY.designs(cfg, data)[0])


def test_neural_bases_keep_their_own_size_aware_epochs_unless_given():
    assert TreatmentConfig().epochs is None
    assert base_parameters(TreatmentConfig(bases="gaussian_copula,ctgan,tvae")) == {"gaussian_copula": {}, "ctgan": {}, "tvae": {}}
    assert base_parameters(TreatmentConfig(bases="ctgan,tvae", epochs=4)) == {"ctgan": {"epochs": 4}, "tvae": {"epochs": 4}}


def test_config_names_a_bad_field():
    for bad, name in ((dict(test_size=1.0), "test_size"), (dict(epochs=0), "epochs"), (dict(learners="T,X"), "learners"),
                      (dict(base_learner="svm"), "base_learner"), (dict(generator_params="{oops"), "generator_params"),
                      (dict(generator_params='{"tvae": 3}'), "generator_params"), (dict(steam_params="[1]"), "steam_params"),
                      (dict(bases=" , "), "bases"), (dict(n_simulated=5), "n_simulated"), (dict(max_fit_rows=0), "max_fit_rows")):
        with pytest.raises(FairsynthError, match=name):
            TreatmentConfig(**bad)


def test_config_cells_are_todays_and_run_controls_do_not_change_them(tmp_path):
    cfg = TreatmentConfig(dataset="nhefs_weight", bases="gaussian_copula,tvae", epochs=7, generator_params='{"tvae": {"batch_size": 50}}',
                          learners="T,DR", base_learner="linear", max_fit_rows=500)
    cells = config_cells(cfg)
    d = resolve_treatment_design("nhefs_weight")
    assert cells == treatment_cells("nhefs_weight", d, 2, 0, bases=["gaussian_copula", "tvae"], learners=["T", "DR"],
                                    generator_params={"gaussian_copula": {}, "tvae": {"epochs": 7, "batch_size": 50}},
                                    base_learner="linear", max_fit_rows=500)
    runs = TreatmentConfig(**{**{k: getattr(cfg, k) for k in cfg.parameters()}, "jobs": 2, "store": str(tmp_path),
                              "scheduler": "tcp://nowhere:8786", "reports": False})
    assert config_cells(runs) == cells and runs.parameters() == cfg.parameters()


def own_table(tmp_path, **spec_changes) -> tuple[str, str]:
    """NHEFS written out as a CSV of your own with its JSON spec (renamed, and changed as asked)."""
    ds = load_dataset("nhefs")
    csv, spec = tmp_path / "cohort.csv", tmp_path / "cohort.json"
    ds.frame.to_csv(csv, index=False)
    spec.write_text(json.dumps({**ds.spec.to_dict(), "name": "my_cohort", **spec_changes}))
    return str(csv), str(spec)


def test_a_table_of_your_own_runs_to_completion(tmp_path, capsys):
    csv, spec = own_table(tmp_path, outcome_excludes={"death": ["cholesterol"]})  # cholesterol: recorded after the outcome
    cfg = TreatmentConfig(csv=csv, spec=spec, bases="gaussian_copula", learners="T", base_learner="linear", repeats=1, seed=0)
    data = load_treatment(cfg)
    design = STUDY.designs(cfg, data)[0]
    assert (design.treatment, design.outcome, design.group) == ("qsmk", "death", "sex")  # the spec's roles
    assert "cholesterol" not in data.frame and "cholesterol" not in data.covariates and data.spec.outcome_excludes == {}
    assert STUDY.folder(data) == "my_cohort" and STUDY.store_name(cfg, design) == "treatment_store_death"
    page = STUDY.pages(cfg, data, design)[0]
    assert (page.folder, page.file) == ("death", "treatment.html") and str(tmp_path) not in page.title
    settings = load_settings({"reports_dir": str(tmp_path / "reports"), "seed": 0, "repeats": 1})
    [grid] = run_config(cfg, settings, progress=False)
    assert not grid.failed and len(grid.computed) == 1
    assert set(grid.results.arm) == {"real", "alone", "steam", "holdout"} and (tmp_path / "reports" / "my_cohort" / "treatment_store_death").is_dir()
    # the command line with --csv / --spec finds the same cells in the same store
    argv = ["run", "treatment", "--csv", csv, "--spec", spec, "--bases", "gaussian_copula", "--learners", "T", "--base-learner", "linear",
            "--repeats", "1", "--seed", "0", "--reports-dir", str(tmp_path / "reports"), "--no-reports"]
    capsys.readouterr()
    assert main(argv) == 0 and "0 to compute" in capsys.readouterr().err


def test_a_table_without_a_treatment_is_named(tmp_path, capsys):
    csv, spec = own_table(tmp_path, treatment=None)
    with pytest.raises(FairsynthError, match="treatment"):
        load_treatment(TreatmentConfig(csv=csv, spec=spec))
    assert main(["run", "treatment", "--csv", csv, "--spec", spec, "--reports-dir", str(tmp_path / "reports")]) == 2
    assert "'treatment'" in capsys.readouterr().err and not (tmp_path / "reports").exists()
    design = load_treatment(TreatmentConfig(csv=csv, spec=spec, treatment="qsmk", outcome="wt71", group="race")).design
    assert (design.treatment, design.outcome, design.group) == ("qsmk", "wt71", "race")
    with pytest.raises(FairsynthError, match="csv"):
        load_treatment(TreatmentConfig(csv=csv))


def test_every_setup_has_a_rationale():
    assert all(len(v["rationale"]) > 80 for v in TREATMENT_DESIGNS.values())


# --- health checks on every synthetic table (issue 16) ---

from fairsynth.generators.base import Generator, register  # noqa: E402


@register("treatment_one_class")
class TreatmentOneClass(Generator):
    """Test double: resamples its training rows with every outcome set to 0 and the women left out (a collapsed generator)."""
    test_double = True

    def _fit(self, data, spec):
        self.frame_ = data.reset_index(drop=True)

    def _sample(self, n, conditions, seed):
        f = self.frame_[self.frame_.sex != "female"]
        for c, v in conditions.items(): f = f[f[c] == v]
        out = f.sample(n, replace=True, random_state=seed).reset_index(drop=True)
        return out.assign(y=0) if "y" in out else out


def test_a_collapsed_base_is_recorded_and_its_outcome_metrics_withheld():
    from fairsynth.studies.common import WITHHELD, mark_unhealthy, table_health
    from fairsynth.studies.treatment import HEALTH
    d = resolve_treatment_design("simulated_binary")
    cell = treatment_cells("simulated_binary", d, repeats=1, seed=0, bases=["treatment_one_class"], n_simulated=600,
                           learners=["T", "DR"], base_learner="linear")[0]
    rows = treatment_cell(cell).assign(base="treatment_one_class", repeat=0, cell_id="c0")
    alone = rows[rows.arm == "alone"]
    fails = alone[alone.metric.str.startswith("health:") & (alone.status == "fail")]
    assert alone.query("metric == 'health_failed'").value.iloc[0] == len(fails)
    assert {"health:outcome_classes", "health:group_share"} <= set(fails.metric) and "sex=female" in set(fails.group)
    w = alone[alone.status == WITHHELD]
    assert w.value.isna().all() and {"U_PEHE", "ATE", "ATE_error"} <= set(w.metric)
    assert set(w[w.group == "female"].metric) == {"JSD_pi", "U_PEHE"}  # the lost group: all its rows
    kept = alone[(alone.group == "") & alone.metric.isin(["P_alpha", "R_beta", "JSD_pi"])]
    assert kept.value.notna().all() and (kept.status.fillna("") != WITHHELD).all()  # covariates and treatment still measured
    # STEAM draws the outcome from its own model: its table keeps both classes, so its outcome metrics stand
    steam = rows[(rows.arm == "steam") & (rows.group == "")]
    assert "health:outcome_classes" not in set(steam.metric) and steam[steam.metric == "ATE"].value.notna().all()
    th = table_health(rows, HEALTH).set_index("arm")
    assert th.loc["alone", "failed_tables"] == 1 and th.loc["alone", "withheld_values"] == len(w)
    marked = mark_unhealthy(metrics_table(rows), rows, HEALTH, "arm")
    assert "alone †" in set(marked.arm)
