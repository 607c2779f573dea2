"""The longitudinal study (issue 18) through the command line on the MIMIC-IV demo, HALO fitted on training patients
only, and bad input refused by name (exit 2) before any store or report is written."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from fairsynth.cli import main
from fairsynth.generators.halo import HALOGenerator
from fairsynth.studies import longitudinal as lg
from fairsynth.visits import load_visits, visits_to_csv

TINY = ["--repeats", "2", "--epochs", "2", "--n-boot", "20", "--lambdas", "0,2", "--anchor-patients", "30",
        "--anchor-halo-epochs", "2", "--par-epochs", "1"]  # a run of seconds: the numbers are noise, the page is complete


def test_mimic4_demo_end_to_end(tmp_path: Path, capsys) -> None:
    reports = tmp_path / "reports"
    assert main(["run", "longitudinal", "--dataset", "mimic4_demo", *TINY, "--reports-dir", str(reports)]) == 0
    page = reports / "mimic4_demo_visits" / "race" / "longitudinal-hospital_expire_flag.html"
    html = page.read_text()
    for section in ("The data as visits", "Health of the synthetic patients", "The goal, with paired intervals",
                    "Longitudinal fidelity, per group", "Advice per group", "HALO beside SDV", "Privacy of the synthetic patients", "Provenance"):
        assert section in html, section
    assert "not enough repeats for a verdict (2 &lt; 5)" in html or "not enough repeats for a verdict (2 < 5)" in html  # 2 splits: no verdict
    assert str(tmp_path) not in html and "Traceback" not in html
    side = json.loads(page.with_suffix(".json").read_text())
    assert side["study"] == "longitudinal" and side["dataset"] == "mimic4_demo_visits"
    results = pd.read_parquet(page.parent / "longitudinal-hospital_expire_flag_results.parquet")
    assert set(results.arm) == {"real", "duplicate", "synthetic", "anchor"} and results.repeat.nunique() == 2


def test_halo_sees_training_patients_only(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[set] = []
    fit = HALOGenerator.fit
    def spy(self, data):
        seen.append(set(data.patients[data.spec.patient_id]))
        return fit(self, data)
    monkeypatch.setattr(HALOGenerator, "fit", spy)
    params = dict(dataset="mimic3_demo", data_path=None, csv=None, visits_csv=None, spec=None, attribute="ethnicity", label="hospital_expire_flag",
                  privileged="WHITE", min_group_patients=50, seed=0, repeat=1, test_size=0.3, models=["bag_of_codes_lr"], n_boot=10,
                  synthetic_ratio=1.0, generator_params=json.dumps({"epochs": 1}), max_fit_patients=40, kind="halo", fairness_weight=1.0)
    rows = lg.longitudinal_cell(params)
    data = load_visits("mimic3_demo")
    design = lg.resolve_visit_design(data, "ethnicity", "hospital_expire_flag")
    seed = lg.draw_seed(0, data.spec.name, "ethnicity", "hospital_expire_flag", 0.3, 1)
    train, test = lg.study_visit_split(data, design, seed, 0.3)
    assert len(seen) == 1 and len(seen[0]) == 40 and seen[0] <= set(train.patients.subject_id)
    assert not seen[0] & set(test.patients.subject_id)
    assert rows[rows.metric == "gen_fit_patients"].value.iloc[0] == 40


@pytest.fixture
def own_files(tmp_path: Path) -> dict[str, str]:
    """The MIMIC-III demo written as a user's own patient CSV, visit CSV and spec."""
    return dict(zip(["csv", "visits", "spec"], map(str, visits_to_csv(load_visits("mimic3_demo"), tmp_path / "mine"))))


@pytest.mark.parametrize("argv, culprits", [
    (["--dataset", "nhefs"], ["'dataset'", "nhefs", "diabetes130"]),
    (["--models", "transformer"], ["'models'", "transformer"]),
    (["--generator-params", '{"seed": 1}'], ["'generator_params'", "seed"]),
    (["--generator-params", '{"d_modle": 8}'], ["d_modle"]),
    (["--epochs", "0"], ["'epochs'"]),
    (["--dataset", "mimic3_demo", "--attribute", "age"], ["'attribute'", "age"]),
    (["--dataset", "mimic3_demo", "--label", "gender"], ["'label'", "gender"]),
    (["--dataset", "mimic3_demo", "--privileged", "MARTIAN"], ["'privileged'", "MARTIAN"]),
])
def test_bad_parameters_are_refused_by_name(argv, culprits, tmp_path: Path, capsys) -> None:
    reports = tmp_path / "reports"
    assert main(["run", "longitudinal", *argv, "--reports-dir", str(reports)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("fairsynth:") and all(c in err[-1] for c in culprits), err[-1]
    assert not reports.exists() or not any(reports.rglob("*"))


def test_own_csvs_need_all_three_and_name_a_stray_visit(own_files: dict[str, str], tmp_path: Path, capsys) -> None:
    reports = tmp_path / "reports"
    assert main(["run", "longitudinal", "--csv", own_files["csv"], "--spec", own_files["spec"], "--reports-dir", str(reports)]) == 2
    assert "'visits_csv'" in capsys.readouterr().err
    visits = pd.read_csv(own_files["visits"])
    visits.loc[0, "subject_id"] = 999999  # a visit of no patient
    visits.to_csv(own_files["visits"], index=False)
    assert main(["run", "longitudinal", "--csv", own_files["csv"], "--visits-csv", own_files["visits"], "--spec", own_files["spec"],
                 "--reports-dir", str(reports)]) == 2
    assert "999999" in capsys.readouterr().err.strip().splitlines()[-1]
    assert not reports.exists() or not any(reports.rglob("*"))


def _cheap_cell(params, settings=None) -> pd.DataFrame:
    """A stand-in for the study's cell (no fitting): one row."""
    return pd.DataFrame({"metric": ["rows"], "value": [1.0]})


def test_grid_cells_are_keyed_by_the_data_checksum(own_files: dict[str, str], tmp_path: Path) -> None:
    import dataclasses
    from fairsynth.core import load_settings
    from fairsynth.studies.framework import data_checksum, get_study, run_study_grid, study_data
    study = dataclasses.replace(get_study("longitudinal"), cell=_cheap_cell)
    config = study.config(csv=own_files["csv"], visits_csv=own_files["visits"], spec=own_files["spec"], repeats=1, store=str(tmp_path / "store"))
    settings = load_settings()
    def run():
        data = study_data(study, config, settings)
        return run_study_grid(study, config, data, study.designs(config, data)[0], settings, progress=False), data
    first, data = run()
    again, _ = run()
    assert first.computed and not again.computed and again.skipped == first.computed
    visits = Path(own_files["visits"])
    visits.write_text(visits.read_text() + visits.read_text().splitlines()[1].replace(",1,", ",99,", 1) + "\n")  # the user adds a visit
    edited, data2 = run()
    assert data_checksum(data2) != data_checksum(data) and not edited.skipped and len(edited.computed) == len(first.computed)
