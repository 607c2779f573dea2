"""Longitudinal loaders (fairsynth.visits): diabetes130, the MIMIC demos and full MIMIC folders by path, a user's own
CSV pair with a JSON spec, the split by patient, and every bad input answered by an error naming the culprit."""
from __future__ import annotations

import gzip
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairsynth.core import FairsynthError, load_settings
from fairsynth.datafiles import FILES, locate
from fairsynth.visits import (VISIT_DATASETS, VisitDataset, VisitSpec, list_visit_datasets, load_visit_spec, load_visits,
                              visit_split, visits_from_csv, visits_to_csv)

SETTINGS = load_settings({"allow_download": False})  # the configured data folders, never downloading
DEMO3 = Path(locate(FILES["mimic3_demo/ADMISSIONS.csv"], SETTINGS)).parent
DEMO4 = Path(locate(FILES["mimic4_demo/hosp/admissions.csv.gz"], SETTINGS)).parent  # .../mimic4_demo/hosp


@pytest.fixture(scope="module")
def d130() -> tuple[VisitDataset, float]:
    """diabetes130 as visits, loaded once, with its load time in seconds."""
    start = time.perf_counter()
    data = load_visits("diabetes130", settings=SETTINGS)
    return data, time.perf_counter() - start


@pytest.fixture(scope="module")
def raw130() -> pd.DataFrame:
    """The raw encounter table, read independently of the loader."""
    p = locate(FILES["diabetes130/diabetic_data.csv.gz"], SETTINGS)
    return pd.read_csv(p, keep_default_na=False, na_values=["?"], low_memory=False)


def _error(call, *culprits: str) -> str:
    """Run `call`, expect a one-line FairsynthError naming every culprit; return its message."""
    with pytest.raises(FairsynthError) as e: call()
    msg = str(e.value)
    assert "\n" not in msg, msg
    for c in culprits: assert c in msg, (c, msg)
    return msg


def test_registry_lists_the_three_loaders():
    table = list_visit_datasets()
    assert {"diabetes130", "mimic3_demo", "mimic4_demo"} <= set(table["name"]) == set(VISIT_DATASETS)
    _error(lambda: load_visits("nope"), "'nope'")


def test_diabetes130_counts_labels_and_load_time(d130, raw130):
    data, secs = d130
    assert secs < 30, f"diabetes130 as visits took {secs:.1f} s"
    assert (len(data.patients), len(data.visits)) == (71518, 101766) == (raw130["patient_nbr"].nunique(), len(raw130))
    # visits ordered by encounter_id within each patient, ranked 1..n
    order = raw130.sort_values(["patient_nbr", "encounter_id"])
    assert data.visits["patient_nbr"].tolist() == order["patient_nbr"].tolist()
    assert (data.visits.groupby("patient_nbr")["visit"].max() == order.groupby("patient_nbr").size()).all()
    assert np.allclose(data.visits["time_in_hospital"], order["time_in_hospital"])
    # labels recomputed another way: death = last encounter expired; readmit_30d = last encounter '<30'
    last = order.drop_duplicates("patient_nbr", keep="last").set_index("patient_nbr")
    death = last["discharge_disposition_id"].isin([11, 19, 20, 21]).astype(int)
    readmit = (last["readmitted"] == "<30").astype(int)
    p = data.patients.set_index("patient_nbr")
    assert p["death"].equals(death.reindex(p.index)) and p["readmit_30d"].equals(readmit.reindex(p.index))
    assert 0.01 < p["death"].mean() < 0.05 and 0.02 < p["readmit_30d"].mean() < 0.1  # last visit readmitted within 30 days: 4.5%
    rates = p.groupby("race")[["death", "readmit_30d"]].mean()
    assert {"Caucasian", "AfricanAmerican", "Hispanic", "Asian", "Other"} == set(rates.index)
    assert rates["readmit_30d"].between(0.03, 0.25).all()
    # missing sensitive values stay missing, as in the flat loader
    assert p["race"].isna().sum() > 0 and set(p["gender"].dropna()) == {"Female", "Male"}
    assert data.spec.sensitive == {"race": "Caucasian", "gender": "Male"} and data.spec.labels == ("death", "readmit_30d")


def test_diabetes130_code_formats(d130):
    data, _ = d130
    patterns = {"diag": r"\d{3}|V\d{2}|E\d{3}", "med": r"[a-z-]+:(Up|Down|Steady)", "admission": r"(type|source):\d+",
                "lab": r"(A1C:(>7|>8|Norm)|glucose:(>200|>300|Norm))"}
    for vocab, pattern in patterns.items():
        codes = data.codes(vocab)
        assert codes and all(re.fullmatch(pattern, c) for c in codes), (vocab, [c for c in codes if not re.fullmatch(pattern, c)][:5])
    assert "250" in data.codes("diag") and "insulin:Up" in data.codes("med")
    assert not {"type:5", "type:6", "type:8", "source:9", "source:17"} & set(data.codes("admission"))  # 'not available' ids give no code
    assert 600 < len(data.codes("diag")) < 1000


def test_diabetes130_by_path_with_chapters(tmp_path, raw130):
    small = raw130.head(3000)
    small.to_csv(tmp_path / "diabetic_data.csv", index=False, na_rep="?")
    data = load_visits("diabetes130", path=tmp_path, settings=SETTINGS, chapters=True, label="readmit_30d", vocabularies=["diag", "diag_group"])
    assert list(data.spec.vocabularies) == ["diag", "diag_group"] and data.spec.label == "readmit_30d"
    assert len(data.patients) == small["patient_nbr"].nunique() and set(data.codes("diag_group")) <= {
        "diabetes", "circulatory", "respiratory", "digestive", "injury", "musculoskeletal", "genitourinary", "neoplasms", "other"}
    _error(lambda: load_visits("diabetes130", path=tmp_path, settings=SETTINGS, label="long_stay"), "'label'")


def test_split_keeps_patients_apart(d130):
    data, _ = d130
    train, test = visit_split(data, test_size=0.3, seed=3)
    pid = "patient_nbr"
    assert not set(train.visits[pid]) & set(test.visits[pid])
    assert len(train.visits) + len(test.visits) == len(data.visits) and len(train.patients) + len(test.patients) == len(data.patients)
    assert abs(len(test.patients) / len(data.patients) - 0.3) < 0.001
    assert abs(train.patients["death"].mean() - test.patients["death"].mean()) < 0.003  # stratified on the default label
    assert visit_split(data, test_size=0.3, seed=3)[1].patients[pid].tolist() == test.patients[pid].tolist()


@pytest.mark.parametrize("name, visits, race", [("mimic3_demo", 129, "ethnicity"), ("mimic4_demo", 275, "race")])
def test_mimic_demos_end_to_end(name, visits, race):
    data = load_visits(name, settings=SETTINGS)
    assert (len(data.patients), len(data.visits)) == (100, visits)
    assert data.spec.sensitive == {race: "WHITE", "gender": "M"} and data.spec.label == "hospital_expire_flag"
    assert 0 < data.patients["hospital_expire_flag"].mean() < 0.5 and data.patients["age"].between(0, 120).all()
    assert not data.patients[race].isin(["UNKNOWN", "UNKNOWN/NOT SPECIFIED", "UNABLE TO OBTAIN"]).any()
    pattern = r"(9:(\d{3}|V\d{2}|E\d{3})|10:[A-Z0-9]{3})" if name == "mimic4_demo" else r"\d{3}|V\d{2}|E\d{3}"
    assert all(re.fullmatch(pattern, c) for c in data.codes("diag"))
    if name == "mimic4_demo": assert {c.split(":")[0] for c in data.codes("diag")} == {"9", "10"}
    assert (data.visits.groupby("subject_id")["los_days"].count() == data.visits.groupby("subject_id")["visit"].max()).all()
    again = load_visits(name, settings=SETTINGS)
    assert again.visits.equals(data.visits) and again.patients.equals(data.patients) and again.sha256 == data.sha256
    train, test = visit_split(data, 0.3, seed=0)
    assert not set(train.patients["subject_id"]) & set(test.patients["subject_id"])


def _gz(src: Path, dst: Path, upper: bool = False) -> None:
    """Copy a (gzipped or plain) CSV to `dst` gzipped, optionally with UPPER-case headers as full MIMIC-III has."""
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    if upper: df.columns = [c.upper() for c in df.columns]
    with gzip.open(dst, "wt") as f: df.to_csv(f, index=False)


def test_full_mimic3_folder_by_path_with_procedures(tmp_path):
    for f in ["ADMISSIONS", "PATIENTS", "DIAGNOSES_ICD"]: _gz(DEMO3 / f"{f}.csv", tmp_path / f"{f}.csv.gz", upper=True)
    adm = pd.read_csv(DEMO3 / "ADMISSIONS.csv")
    proc = pd.DataFrame({"ROW_ID": range(4), "SUBJECT_ID": adm["subject_id"].head(4), "HADM_ID": adm["hadm_id"].head(4),
                         "SEQ_NUM": 1, "ICD9_CODE": ["9604", "3893", "9671", "0331"]})
    proc.to_csv(tmp_path / "PROCEDURES_ICD.csv.gz", index=False)
    data = load_visits("mimic3_demo", path=tmp_path, settings=SETTINGS)
    demo = load_visits("mimic3_demo", settings=SETTINGS)
    assert data.spec.name == "mimic3_visits" and list(data.spec.vocabularies) == ["diag", "proc"]
    assert data.codes("proc") == ["03", "38", "96"] and data.visits["diag"].equals(demo.visits["diag"])
    assert data.sha256 != demo.sha256 and "PROCEDURES_ICD" in data.source
    _error(lambda: load_visits("mimic3_demo", path=tmp_path, settings=SETTINGS, vocabularies=["diag", "lab"]), "'lab'")


def test_full_mimic4_folder_by_path_with_procedures(tmp_path):
    hosp = tmp_path / "hosp"; hosp.mkdir()
    for f in ["admissions", "patients", "diagnoses_icd"]: shutil.copy(DEMO4 / f"{f}.csv.gz", hosp / f"{f}.csv.gz")
    adm = pd.read_csv(DEMO4 / "admissions.csv.gz")
    pd.DataFrame({"subject_id": adm["subject_id"].head(3), "hadm_id": adm["hadm_id"].head(3), "seq_num": 1, "chartdate": "2180-01-01",
                  "icd_code": ["0DTJ4ZZ", "3893", "02HV33Z"], "icd_version": [10, 9, 10]}).to_csv(hosp / "procedures_icd.csv", index=False)
    data = load_visits("mimic4_demo", path=tmp_path, settings=SETTINGS)
    assert data.spec.name == "mimic4_visits" and data.codes("proc") == ["10:02H", "10:0DT", "9:38"]
    assert len(data.visits) == 275


# --- a user's own CSV pair and JSON spec ---------------------------------------------------------------------------

SPEC = {"name": "mine", "patient_id": "pid", "patient_columns": {"sex": "categorical", "age": "numerical", "death": "categorical"},
        "visit_order": "order", "vocabularies": {"diag": "diag", "med": "med"}, "sensitive": {"sex": "m"}, "labels": ["death"],
        "visit_numbers": ["los"]}


def _write(folder: Path, spec: dict | None = None, patients: str | None = None, visits: str | None = None) -> tuple[Path, Path, Path]:
    """A small valid CSV pair and spec in `folder`, with any part replaced."""
    (folder / "spec.json").write_text(json.dumps(spec or SPEC))
    (folder / "patients.csv").write_text(patients or "pid,sex,age,death\n1,m,50,0\n2,f,61,1\n3,f,70,0\n")
    (folder / "visits.csv").write_text(visits or "pid,order,diag,med,los\n1,1,250;401,,3\n1,2,428,insulin;metformin,5\n2,1,V58,,1\n3,1,,insulin,2\n")
    return folder / "patients.csv", folder / "visits.csv", folder / "spec.json"


def test_csv_pair_round_trips(tmp_path):
    data = visits_from_csv(*_write(tmp_path))
    assert data.visits["diag"].tolist() == [("250", "401"), ("428",), ("V58",), ()] and data.codes("med") == ["insulin", "metformin"]
    back = visits_from_csv(*visits_to_csv(data, tmp_path / "copy"))
    assert back.spec == data.spec and back.patients.equals(data.patients) and back.visits.equals(data.visits)
    demo = load_visits("mimic4_demo", settings=SETTINGS)  # a real dataset round-trips too
    again = visits_from_csv(*visits_to_csv(demo, tmp_path / "demo"))
    assert again.visits.equals(demo.visits) and again.spec == demo.spec
    assert again.patients.drop(columns="race").equals(demo.patients.drop(columns="race"))
    assert again.patients["race"].fillna("-").equals(demo.patients["race"].fillna("-"))


def test_csv_bad_inputs_name_the_culprit(tmp_path):
    p, v, s = _write(tmp_path)
    _error(lambda: visits_from_csv(p, v, tmp_path / "nope.json"), "nope.json")
    _error(lambda: visits_from_csv(tmp_path / "missing.csv", v, s), "missing.csv")
    _error(lambda: visits_from_csv(*_write(tmp_path, visits="pid,order,diag,med,los\n1,1,250,,3\n9,1,428,,1\n2,1,1,,1\n3,1,1,,1\n")),
           "not in the patient table", "'9'")
    _error(lambda: visits_from_csv(*_write(tmp_path, visits="pid,order,diag,med,los\n1,1,250,,3\n1,2,,,3\n2,1,1,,1\n3,1,1,,1\n")),
           "empty code set", "1 visit 2")
    _error(lambda: visits_from_csv(*_write(tmp_path, patients="pid,sex,age,death\n1,m,50,0\n2,f,61,1\n3,f,70,0\n4,m,40,0\n")),
           "no visit", "'4'")
    _error(lambda: visits_from_csv(*_write(tmp_path, patients="pid,sex,sex,age,death\n1,m,m,50,0\n2,f,f,61,1\n3,f,f,70,0\n")),
           "patients.csv", "'sex'", "more than once")
    _error(lambda: visits_from_csv(*_write(tmp_path, patients="pid,sex,age,death\n1,m,old,0\n2,f,61,1\n3,f,70,0\n")), "'age'")
    _error(lambda: visits_from_csv(*_write(tmp_path, patients="pid,sex,age,death\n1,m,50,2\n2,f,61,1\n3,f,70,0\n")), "'death'")
    _error(lambda: visits_from_csv(*_write(tmp_path, visits="pid,order,diag,los\n1,1,250,3\n2,1,1,1\n3,1,1,1\n")), "visits.csv", "'med'")


def test_visit_spec_bad_fields_name_the_culprit(tmp_path):
    assert load_visit_spec(_write(tmp_path)[2]) == VisitSpec(**{**SPEC, "labels": tuple(SPEC["labels"]), "visit_numbers": ("los",)})
    for change, culprit in [({"patient_columns": ["sex"]}, "'patient_columns'"), ({"vocabularies": "diag"}, "'vocabularies'"),
                            ({"labels": [1]}, "'labels'"), ({"visit_order": 3}, "'visit_order'"), ({"colour": "red"}, "'colour'"),
                            ({"patient_columns": {"sex": "text"}}, "'sex'"), ({"labels": ["dead"]}, "'dead'")]:
        _error(lambda: load_visit_spec(_write(tmp_path, spec={**SPEC, **change})[2]), culprit)
    _error(lambda: load_visit_spec(_write(tmp_path, spec={k: v for k, v in SPEC.items() if k != "visit_order"})[2]), "'visit_order'")
    (tmp_path / "broken.json").write_text("{not json")
    _error(lambda: load_visit_spec(tmp_path / "broken.json"), "broken.json")


def test_unknown_vocabulary_names_it(tmp_path):
    data = visits_from_csv(*_write(tmp_path))
    _error(lambda: data.codes("proc"), "'proc'")
    _error(lambda: load_visits("mimic3_demo", settings=SETTINGS, vocabularies=["proc"]), "'proc'", "'diag'")
    only = load_visits("mimic3_demo", settings=SETTINGS, vocabularies="diag")
    assert list(only.spec.vocabularies) == ["diag"]
