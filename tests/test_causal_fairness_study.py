"""The seed-001 study: roles, table and split, one repeat's rows, summaries, the LLM arm with the causal audit, the CLI report.

The LLM arm talks to `fairsynth.llm.server.LocalLLMServer` started by the test (a stand-in that echoes perturbed
example rows, not an LLM): no paid API can run here.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import fairsynth.studies.causal_fairness as causal_study
from fairsynth.cli import main
from fairsynth.core import FairsynthError
from fairsynth.data import load_dataset
from fairsynth.studies.causal_fairness import (causal_cell, causal_cells, causal_split, causal_table, deviation_table,
                                               reduction_table, resolve_causal_design, summarise_causal)
from fairsynth.studies.grid import load_results

FAST = dict(models=["logistic"], methods=["plugin", "dr"], learner="logistic", dr_learner="logistic", n_boot=10,
            fair_paths=["both"], generator_params={"node_model": "logistic"})


@pytest.fixture(scope="module")
def nhanes():
    return load_dataset("nhanes")


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

    monkeypatch.setattr(causal_study, "get_generator", spy)
    cell = causal_cells("nhanes", d, repeats=1, seed=0, **FAST)[0]
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
    d = resolve_causal_design(nhanes)
    cell = causal_cells("nhanes", d, repeats=1, seed=1, **{**FAST, "generator_params": {}})[0]
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


def test_cells_check_parameters_before_running(nhanes):
    d = resolve_causal_design(nhanes)
    with pytest.raises(FairsynthError, match="models"):
        causal_cells("nhanes", d, models=["svm"])
    with pytest.raises(FairsynthError, match="methods"):
        causal_cells("nhanes", d, methods=["magic"])
    with pytest.raises(FairsynthError, match="remove"):
        causal_cells("nhanes", d, fair_paths=["sideways"])
    with pytest.raises(FairsynthError, match="generator_params"):
        causal_cells("nhanes", d, generator_params={"mode": "fair"})
    with pytest.raises(FairsynthError, match="synthetic_factor"):
        causal_cells("nhanes", d, synthetic_factor=0)
    assert "synthetic_factor" not in causal_cells("nhanes", d)[0]  # the default leaves older stores valid
    assert causal_cells("nhanes", d, synthetic_factor=3)[0]["synthetic_factor"] == 3.0


def test_llm_arm_refines_against_the_causal_audit(nhanes, llm_server):
    d = resolve_causal_design(nhanes)
    cell = causal_cells("nhanes", d, repeats=1, seed=2, llm_rounds=1, llm_rows=120,
                        llm_params={"tolerance": 0.0, "backoff_seconds": 0.01}, **FAST)[0]
    rows = causal_cell(cell)
    assert "llm (causal audit)" in set(rows[rows.kind == "data"].source)
    rounds = rows[rows.measure.str.startswith("refine_max_deviation_round_")]
    assert len(rounds) == 2 and (rounds.estimate >= 0).all()  # tolerance 0: the loop ran its extra round
    prompts = [r["body"]["messages"][-1]["content"] for r in llm_server.requests]
    assert any("Ctf-DE" in p for p in prompts)  # the second round's prompt names the causal measures it missed


def test_cli_report_and_resume(tmp_path, capsys):
    argv = ["run", "causal", "--dataset", "nhanes", "--models", "logistic", "--fair-paths", "both", "--n-boot", "10",
            "--dr-learner", "logistic", "--generator-params", json.dumps({"node_model": "logistic"}), "--repeats", "1",
            "--reports-dir", str(tmp_path)]
    assert main(argv) == 0
    page = tmp_path / "nhanes" / "Race1" / "causal_fairness.html"
    html = page.read_text()
    for text in ("Ctf-DE", "Ctf-IE", "Ctf-SE", "deviation", "reduction", "Why.", "git commit", "fair: both"):
        assert text in html, text
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
