"""The seed-001 study: roles, table and split, one repeat's rows, summaries, the config, the LLM arm with the causal
audit, a user's CSV, the CLI report.

The LLM arm talks to `fairsynth.llm.server.LocalLLMServer` started by the test (a stand-in that echoes perturbed
example rows, not an LLM): no paid API can run here.
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import fairsynth.studies.causal_fairness as causal_study
from fairsynth.cli import main
from fairsynth.core import FairsynthError, load_settings
from fairsynth.data import load_dataset
from fairsynth.studies.causal_fairness import (CausalConfig, causal_cell, causal_cells, causal_designs, causal_split,
                                               causal_table, deviation_table, reduction_table, resolve_causal_design,
                                               summarise_causal)
from fairsynth.studies.framework import run_config
from fairsynth.studies.grid import load_results

FAST = dict(models="logistic", methods="plugin,dr", learner="logistic", dr_learner="logistic", n_boot=10,
            fair_paths="both", generator_params=json.dumps({"node_model": "logistic"}))


@pytest.fixture(scope="module")
def nhanes():
    return load_dataset("nhanes")


def grid_cells(ds, **fields) -> list[dict]:
    """The cells of a CausalConfig on `ds` (seed 0 and one repeat unless given)."""
    cfg = CausalConfig(**{"dataset": ds.spec.name, "seed": 0, "repeats": 1, **fields})
    return causal_cells(cfg, ds, causal_designs(cfg, ds)[0])


def test_design_roles_defaults_overrides_and_errors(nhanes):
    d = resolve_causal_design(nhanes)
    assert (d.roles.x, d.roles.x0, d.roles.x1, d.roles.z, d.roles.w, d.roles.y) == \
        ("Race1", "White", "Black", ("Age", "Gender"), ("Education", "Poverty", "BMI"), "diabetes")
    assert "mediators" in d.rationale and not d.one_row_per_patient
    other = resolve_causal_design(nhanes, attribute="Gender")  # another attribute: the stored roles do not apply
    assert (other.roles.x0, other.roles.x1, other.roles.z) == ("male", "female", ("Age",))
    diab = resolve_causal_design(load_dataset("diabetes130"))
    assert diab.one_row_per_patient and diab.roles.y == "long_stay" and "time_in_hospital" not in diab.roles.w
    with pytest.raises(FairsynthError, match="time_in_hospital"):  # recorded with the outcome: not a mediator
        resolve_causal_design(load_dataset("diabetes130"), mediators=("time_in_hospital",))
    with pytest.raises(FairsynthError, match="x1"):
        resolve_causal_design(nhanes, x1="White")
    with pytest.raises(FairsynthError, match="both confounders and mediators"):
        resolve_causal_design(nhanes, confounders=("Age",), mediators=("Age",))
    with pytest.raises(FairsynthError, match="confounders"):
        resolve_causal_design(nhanes, confounders=("Shoe size",))
    # the config's comma-separated roles reach the design; none given: the design's
    cfg = CausalConfig(dataset="nhanes", confounders="Age", mediators="Education, BMI")
    assert causal_designs(cfg, nhanes)[0].roles.w == ("Education", "BMI")
    assert causal_designs(CausalConfig(dataset="nhanes"), nhanes)[0].roles == d.roles


def test_table_keeps_two_groups_and_one_row_per_patient_when_asked(nhanes):
    d = resolve_causal_design(nhanes)
    t = causal_table(nhanes, d)
    assert set(t.Race1) == {"White", "Black"} and t.diabetes.notna().all()
    assert list(t.columns) == ["ID", "Race1", "Age", "Gender", "Education", "Poverty", "BMI", "diabetes"]
    diab = load_dataset("diabetes130")
    td = causal_table(diab, resolve_causal_design(diab))
    assert td.patient_nbr.is_unique and set(td.race) == {"Caucasian", "AfricanAmerican"}
    assert len(td) < ((diab.frame.race.isin(["Caucasian", "AfricanAmerican"])).sum())
    train, test = causal_split(nhanes, d, seed=5)
    assert not set(train.ID) & set(test.ID) and len(train) + len(test) == len(t)
    assert abs(train.diabetes.mean() - test.diabetes.mean()) < 0.02  # stratified on Y
    # a spec that excludes a predictor for the outcome (diabetes130: time_in_hospital for long_stay) still splits
    dtrain, dtest = causal_split(diab, resolve_causal_design(diab), seed=0)
    assert len(dtrain) + len(dtest) == len(td)


def test_cell_rows_identity_and_generators_see_training_rows_only(nhanes, monkeypatch):
    d = resolve_causal_design(nhanes)
    seen = []
    real_get = causal_study.get_generator

    def spy(name, **params):
        gen = real_get(name, **params)
        fit = gen.fit
        def recording_fit(df, spec):
            seen.append(df.copy())
            return fit(df, spec)
        gen.fit = recording_fit
        return gen

    cell = grid_cells(nhanes, **FAST)[0]
    monkeypatch.setattr(causal_study, "get_generator", spy)
    rows = causal_cell(cell)
    assert set(rows[rows.kind == "data"].source) == {"real", "real (test)", "faithful", "fair: both"}
    assert set(rows[rows.kind == "predictor"].source) == {"real", "faithful", "fair: both"}
    wide = rows[rows.kind.isin(["data", "predictor"])].pivot_table(index=["source", "model", "method"], columns="measure", values="estimate")
    assert np.allclose(wide.tv, wide.de - wide.ie - wide.se, atol=1e-9)  # the identity, for every decomposition
    # the generators were fitted on the repeat's training rows, never on a test patient
    seed = causal_study.draw_seed(0, "nhanes", "Race1", "Black", "diabetes", 0.3, 0)
    train, test = causal_split(nhanes, d, seed, 0.3)
    assert len(seen) == 2
    key = lambda df: set(map(tuple, df.round(6).astype(str).to_numpy()))
    cols = list(d.roles.columns)
    for df in seen:
        assert list(df.columns) == cols and len(df) == len(train)
        assert key(df[cols]) == key(train[cols])
    auc = rows[rows.measure == "auroc"].set_index("source").estimate
    assert (auc > 0.6).all(), auc


def test_fair_data_removes_the_direct_effect_that_faithful_data_keeps(nhanes):
    cell = grid_cells(nhanes, seed=1, **{**FAST, "generator_params": None})[0]
    rows = causal_cell(cell)
    de = rows[(rows.kind == "data") & (rows.method == "dr") & (rows.measure == "de")].set_index("source").estimate
    assert de["real"] > 0.03  # Black participants: a direct effect on diabetes given age, gender and the mediators
    assert abs(de["fair: both"]) < 0.5 * abs(de["real"])
    assert abs(de["faithful"]) > abs(de["fair: both"])


def hand_results() -> pd.DataFrame:
    """Two repeats of made-up decompositions with known summaries."""
    rows = []
    for rep, bump in ((0, -0.01), (1, 0.01)):
        for source, scale in (("real", 1.0), ("faithful", 1.05), ("fair: both", 0.2)):
            for m, v in (("tv", 0.10), ("de", 0.08), ("ie", -0.01), ("se", -0.01), ("ett", 0.09)):
                rows.append(dict(repeat=rep, kind="data", source=source, model="", method="dr", measure=m, estimate=v * scale + bump, lo=np.nan, hi=np.nan))
                rows.append(dict(repeat=rep, kind="predictor", source=source, model="logistic", method="dr", measure=m, estimate=v * scale, lo=np.nan, hi=np.nan))
            rows.append(dict(repeat=rep, kind="score", source=source, model="logistic", method="", measure="auroc", estimate=0.8 - (source == "fair: both") * 0.02, lo=np.nan, hi=np.nan))
    return pd.DataFrame(rows)


def test_summaries_deviation_and_reduction_on_known_numbers():
    s = summarise_causal(hand_results())
    real_de = s[(s.kind == "data") & (s.source == "real") & (s.measure == "de")].iloc[0]
    assert real_de["mean"] == pytest.approx(0.08) and real_de["n"] == 2 and real_de.ci_low < 0.08 < real_de.ci_high
    dev = deviation_table(s).set_index(["source", "measure"])
    assert dev.loc[("faithful", "Ctf-DE"), "deviation"] == pytest.approx(0.05)
    assert dev.loc[("faithful", "Ctf-DE"), "within_tolerance"] and not dev.loc[("fair: both", "Ctf-DE"), "within_tolerance"]
    assert dev.loc[("faithful", "TV"), "abs_gap"] == pytest.approx(0.005)
    red = reduction_table(s).set_index("training")
    assert red.loc["fair: both", "de_reduction"] == pytest.approx(0.8) and red.loc["fair: both", "tv_reduction"] == pytest.approx(0.8)
    assert red.loc["fair: both", "goal_met"] and not red.loc["faithful", "goal_met"]
    assert red.loc["fair: both", "auroc_change"] == pytest.approx(-0.02)


def test_config_checks_parameters_before_running(nhanes):
    with pytest.raises(FairsynthError, match="models"):
        CausalConfig(models="svm")
    with pytest.raises(FairsynthError, match="methods"):
        CausalConfig(methods="magic")
    with pytest.raises(FairsynthError, match="methods"):
        CausalConfig(methods=" , ")
    with pytest.raises(FairsynthError, match="fair_paths.*remove"):
        CausalConfig(fair_paths="sideways")
    with pytest.raises(FairsynthError, match="generator_params"):
        CausalConfig(generator_params=json.dumps({"mode": "fair"}))
    with pytest.raises(FairsynthError, match="synthetic_factor"):
        CausalConfig(synthetic_factor=0)
    assert "synthetic_factor" not in grid_cells(nhanes)[0]  # the default leaves older stores valid
    assert grid_cells(nhanes, synthetic_factor=3)[0]["synthetic_factor"] == 3.0


@pytest.mark.parametrize("field, value", [("test_size", 1.0), ("test_size", 0), ("n_boot", -1), ("learner", "svm"),
                                          ("dr_learner", "tree"), ("max_fit_rows", 0), ("llm_rounds", -1), ("llm_rows", 0),
                                          ("synthetic_factor", 101), ("repeats", 0), ("generator_params", "{not json"),
                                          ("llm_params", "[1, 2]"), ("n_boot", "many")])
def test_a_bad_value_names_its_field(field, value):
    with pytest.raises(FairsynthError, match=field):
        CausalConfig(**{field: value})


def test_run_controls_and_report_fields_change_no_cell(nhanes):
    cfg = CausalConfig(dataset="nhanes", seed=0, repeats=2, **FAST)
    design = causal_designs(cfg, nhanes)[0]
    cells = causal_cells(cfg, nhanes, design)
    assert [c["repeat"] for c in cells] == [0, 1]
    other = dataclasses.replace(cfg, jobs=4, scheduler="tcp://127.0.0.1:8786", store="elsewhere", reports=False,
                                tolerance=0.2, goal=0.5)
    assert causal_cells(other, nhanes, design) == cells
    assert {"jobs", "scheduler", "store", "reports"}.isdisjoint(cfg.parameters())
    # the same cells as the study made before the framework, key for key
    assert list(cells[0]) == ["dataset", "spec_path", "attribute", "x0", "x1", "confounders", "mediators", "outcome", "seed",
                              "test_size", "fair_paths", "generator_params", "models", "methods", "learner", "dr_learner",
                              "n_boot", "max_fit_rows", "repeat"]
    assert cells[0]["generator_params"] == '{"node_model": "logistic"}' and cells[0]["x1"] == "Black"


def test_importing_the_study_imports_no_llm_client():
    code = "import sys, fairsynth.studies.causal_fairness; print('openai' in sys.modules, 'fairsynth.generators.llm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


@pytest.mark.slow
def test_llm_arm_refines_against_the_causal_audit(nhanes, llm_server):
    cell = grid_cells(nhanes, seed=2, llm_rounds=1, llm_rows=120,
                      llm_params=json.dumps({"tolerance": 0.0, "backoff_seconds": 0.01}), **FAST)[0]
    rows = causal_cell(cell)
    assert "llm (causal audit)" in set(rows[rows.kind == "data"].source)
    rounds = rows[rows.measure.str.startswith("refine_max_deviation_round_")]
    assert len(rounds) == 2 and (rounds.estimate >= 0).all()  # tolerance 0: the loop ran its extra round
    prompts = [r["body"]["messages"][-1]["content"] for r in llm_server.requests]
    assert any("Ctf-DE" in p for p in prompts)  # the second round's prompt names the causal measures it missed


def test_user_csv_whose_spec_excludes_a_predictor_for_the_outcome(tmp_path):
    """A CSV + JSON spec with `outcome_excludes` naming a column outside the causal roles runs every cell."""
    nhefs = load_dataset("nhefs")
    nhefs.frame.to_csv(tmp_path / "cohort.csv", index=False)
    spec = {**nhefs.spec.to_dict(), "name": "cohort", "outcome_excludes": {"death": ["cholesterol", "bronch"]}}
    (tmp_path / "cohort.json").write_text(json.dumps(spec))
    cfg = CausalConfig(csv=str(tmp_path / "cohort.csv"), spec=str(tmp_path / "cohort.json"), attribute="race",
                       x1="black or other", confounders="age,sex", mediators="education,income,marital", seed=0, repeats=1,
                       store=str(tmp_path / "store"), **{**FAST, "n_boot": 5})
    grid, = run_config(cfg, load_settings({"reports_dir": str(tmp_path / "reports")}), progress=False)
    assert not grid.failed, grid.failed
    assert {"real", "faithful", "fair: both"} <= set(grid.results.source)
    cell = causal_cells(cfg, None, causal_designs(cfg, causal_study.load_study_data(*cfg.source()))[0])[0]
    assert cell["dataset"] == str((tmp_path / "cohort.csv").resolve()) and cell["spec_path"].endswith("cohort.json")


@pytest.mark.slow
def test_cli_report_and_resume(tmp_path, capsys):
    argv = ["run", "causal", "--dataset", "nhanes", "--models", "logistic", "--fair-paths", "both", "--n-boot", "10",
            "--dr-learner", "logistic", "--generator-params", json.dumps({"node_model": "logistic"}), "--repeats", "1",
            "--reports-dir", str(tmp_path)]
    assert main(argv) == 0
    page = tmp_path / "nhanes" / "Race1" / "causal_fairness.html"
    html = page.read_text()
    for text in ("Ctf-DE", "Ctf-IE", "Ctf-SE", "deviation", "reduction", "Why.", "git commit", "fair: both",
                 "fairsynth: nhanes causal fairness, Race1 (White vs Black)"):
        assert text in html, text
    assert str(tmp_path) not in html  # no absolute path in the page
    res = pd.read_parquet(tmp_path / "nhanes" / "Race1" / "causal_fairness_results.parquet")
    assert res.repeat.nunique() == 1 and {"data", "predictor", "score", "generator"} <= set(res.kind)
    side = json.loads(page.with_suffix(".json").read_text())
    assert side["study"] == "causal_fairness" and side["group"] == "Race1" and side["provenance"]["data_sha256"]
    capsys.readouterr()
    assert main(argv + ["--no-reports"]) == 0
    assert "0 to compute" in capsys.readouterr().err
    assert len(load_results(tmp_path / "nhanes" / "causal_store_Race1")) == len(res)


def test_cli_names_a_bad_role_and_writes_nothing(tmp_path, capsys):
    assert main(["run", "causal", "--dataset", "nhanes", "--mediators", "Planet", "--reports-dir", str(tmp_path)]) == 2
    assert "Planet" in capsys.readouterr().err
    assert not (tmp_path / "nhanes").exists()
    assert main(["run", "causal", "--test-size", "1.5", "--reports-dir", str(tmp_path)]) == 2
    assert "test_size" in capsys.readouterr().err


# --- health checks on every synthetic table (issue 16) ---

def test_broken_tables_are_recorded_and_not_decomposed(nhanes, monkeypatch):
    from fairsynth.studies.causal_fairness import HEALTH
    from fairsynth.studies.common import WITHHELD, mark_unhealthy, table_health
    def broken_arms(train, spec, roles, fair_paths, generator_params, seed, synthetic_factor=1.0):
        data = train[list(spec.columns)].reset_index(drop=True)
        return {"faithful": data.assign(**{roles.y: 0}),  # a collapsed outcome
                "fair: both": data[data[roles.x] == roles.x0].sample(len(data), replace=True, random_state=0).reset_index(drop=True)}, []  # x1 lost
    monkeypatch.setattr(causal_study, "synthetic_arms", broken_arms)
    rows = causal_cell(grid_cells(nhanes, **FAST)[0]).assign(cell_id="c0", repeat=0)
    health = rows[rows.kind == "health"]
    failed = health[health.measure == "health_failed"].set_index("source").estimate
    assert failed["faithful"] >= 1 and failed["fair: both"] >= 1
    fails = health[health.status == "fail"]
    assert "one class" in fails[(fails.source == "faithful") & (fails.measure == "health:outcome_classes")].note.iloc[0]
    assert set(fails[(fails.source == "fair: both") & (fails.measure == "health:group_share")].group) == {"Race1=Black"}
    est = rows[rows.kind.isin(["data", "predictor", "score"])]
    # the collapsed table: neither decomposed nor used to train a predictor
    f = est[est.source == "faithful"]
    assert set(f.kind) == {"data", "predictor", "score"} and f.estimate.isna().all() and (f.status == WITHHELD).all()
    # the table that lost x1: not decomposed, but a predictor trained on it is still audited on real patients
    g = est[est.source == "fair: both"]
    assert g[g.kind == "data"].estimate.isna().all() and g[g.kind == "data"].note.str.contains("missing").all()
    assert g[g.kind.isin(["predictor", "score"])].estimate.notna().all()
    assert est[est.source.str.startswith("real")].estimate.notna().all()  # the real rows are never withheld
    th = table_health(rows, HEALTH).set_index("source")
    assert th.loc["faithful", "withheld_values"] == len(f) and th.loc["fair: both", "failed_tables"] == 1
    assert mark_unhealthy(pd.DataFrame({"source": ["real", "faithful"]}), rows, HEALTH, "source").source.tolist() == ["real", "faithful †"]
