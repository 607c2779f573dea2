"""Tests of fairsynth.data (dataset registry and loaders), fairsynth.datafiles (file registry, checksums, downloads)
and fairsynth.userdata (from_csv, the patient split).

Run with FAIRSYNTH_DATA_DIR pointing at the shared data folder, e.g.
`FAIRSYNTH_DATA_DIR=/work/shared/data .venv/bin/pytest tests/test_data.py -q`. No test touches the network: the
download tests serve files from a loopback http.server started and stopped here.
"""
from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import fairsynth.data
import fairsynth.datafiles
import fairsynth.userdata
from fairsynth.core import FairsynthError, load_settings, sha256_file
from fairsynth.data import DATASETS, dataset, list_datasets, load_dataset, load_mimic3
from fairsynth.datafiles import FILES, DataFile, locate
from fairsynth.spec import Dataset, DatasetSpec, validate_frame
from fairsynth.userdata import from_csv, patient_split

# the configured data folders (FAIRSYNTH_DATA_DIR), never downloading: these tests must not need the network
SETTINGS = load_settings({"allow_download": False})


def _data_file(relpath: str) -> Path:
    """The verified shared copy of a registry file."""
    return locate(FILES[relpath], SETTINGS)


@functools.lru_cache(maxsize=None)
def _load(name: str, **kw):
    return load_dataset(name, settings=SETTINGS, **kw)


# ---------------------------------------------------------------- every loader

EXPECTED = {  # name: (rows, id column, sensitive, outcomes, treatment)
    "nhefs": (1566, "seqn", {"sex": "male", "race": "white"}, ("death",), "qsmk"),
    "diabetes130": (99343, "patient_nbr", {"race": "Caucasian", "gender": "Male"}, ("readmit_30d", "readmit_any", "long_stay"), None),
    "mimic3_demo": (129, "subject_id", {"ethnicity": "WHITE", "gender": "M"}, ("hospital_expire_flag",), None),
    "mimic4_demo": (275, "subject_id", {"race": "WHITE", "gender": "M"}, ("hospital_expire_flag",), None),
    "framingham": (4240, None, {"sex": "male"}, ("TenYearCHD",), "BPMeds"),
    "rhc": (5735, "ptid", {"race": "white", "sex": "Male"}, ("dth30", "death"), "swang1"),
    "nhanes": (4654, "ID", {"Race1": "White", "Gender": "male"}, ("diabetes", "health_fair_poor"), None),
    "actg320": (1151, "pid", {"raceth": "white non-Hispanic", "sex": "male"}, ("event",), "tx"),
}


def test_registry_covers_every_dataset():
    assert set(DATASETS) == set(EXPECTED)
    table = list_datasets()
    assert list(table["name"]) == list(DATASETS) and table["rows"].tolist() == [EXPECTED[n][0] for n in table["name"]]
    assert {"description", "sensitive", "outcomes", "treatment", "licence", "url"} <= set(table.columns)


# ---------------------------------------------------------------- the three modules, the registration decorator

def test_public_names_stay_importable_from_data():
    """Modules import these from fairsynth.data: the split into datafiles and userdata must not move them."""
    for name in ("FILES", "DataFile", "download", "locate", "combine_sha256"):
        assert getattr(fairsynth.data, name) is getattr(fairsynth.datafiles, name), name
    for name in ("from_csv", "patient_split"):
        assert getattr(fairsynth.data, name) is getattr(fairsynth.userdata, name), name
    wanted = {"DATASETS", "DatasetInfo", "dataset", "load_dataset", "list_datasets", "LONG_STAY_DAYS", "PLACEHOLDERS",
              "FILES", "DataFile", "download", "locate", "combine_sha256", "from_csv", "patient_split", "icd9_group",
              "diabetes130_id_labels", "prepare_admissions", *(DATASETS[n].loader.__name__ for n in DATASETS)}
    assert wanted <= set(fairsynth.data.__all__)


def test_file_registry_and_user_data_do_not_import_the_dataset_registry():
    code = ("import sys, fairsynth.datafiles, fairsynth.userdata; "
            "print(sorted(m for m in sys.modules if m.startswith('fairsynth.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "['fairsynth.core', 'fairsynth.datafiles', 'fairsynth.spec', 'fairsynth.userdata']"


TOY_INFO = dict(title="four made-up patients", description="A test table.", sensitive={"sex": "M"}, outcomes=("dead",),
                treatment=None, rows=4, licence="none", url="", homepage="")


def test_dataset_decorator_registers_a_loader_and_refuses_a_taken_name():
    frame = pd.DataFrame({"pid": [1, 2, 3, 4], "sex": ["M", "F", "F", "M"], "dead": [0, 1, 0, 1]})
    spec = DatasetSpec("toy_test", {"sex": "categorical", "dead": "categorical"}, id_column="pid", sensitive={"sex": "M"},
                       outcomes=("dead",))

    @dataset("toy_test", **TOY_INFO)
    def load_toy(path=None, settings=None, double=False):
        return Dataset(pd.concat([frame] * (2 if double else 1), ignore_index=True), spec, "0" * 64, "test")
    try:
        assert load_toy.__name__ == "load_toy" and DATASETS["toy_test"].loader is load_toy  # returned unchanged
        assert load_dataset("toy_test").frame.equals(frame) and len(load_dataset("toy_test", double=True).frame) == 8
        table = list_datasets()
        assert table["name"].iloc[-1] == "toy_test" and table["rows"].iloc[-1] == 4
        with pytest.raises(FairsynthError, match="'nhefs' is already taken by fairsynth.data.load_nhefs"):
            dataset("nhefs", **TOY_INFO)(load_toy)
        with pytest.raises(FairsynthError, match="'toy_test' is already taken by .*load_toy"):
            dataset("toy_test", **TOY_INFO)(lambda path=None, settings=None: None)
        assert dataset("toy_test", **{**TOY_INFO, "rows": 5})(load_toy) is load_toy  # the same definition again: replaced
        assert DATASETS["toy_test"].rows == 5 and list(DATASETS)[-1] == "toy_test"
        with pytest.raises(FairsynthError, match="'toy_missing'.*licence"):
            dataset("toy_missing", title="x", description="y")(load_toy)
        assert "toy_missing" not in DATASETS and DATASETS["nhefs"].loader is fairsynth.data.load_nhefs
    finally:
        DATASETS.pop("toy_test", None)
    assert set(DATASETS) == set(EXPECTED)


def test_mimic_loaders_share_one_admissions_helper(monkeypatch):
    before = {name: _load(name) for name in ("mimic3_demo", "mimic4_demo")}  # loaded before the helper is watched
    calls = []
    real = fairsynth.data._load_admissions
    monkeypatch.setattr(fairsynth.data, "_load_admissions", lambda name, *a, **k: calls.append(name) or real(name, *a, **k))
    for name in ("mimic3_demo", "mimic4_demo"):
        ds = load_dataset(name, settings=SETTINGS)
        assert ds.frame.equals(before[name].frame) and ds.spec == before[name].spec and ds.sha256 == before[name].sha256
    assert calls == ["mimic3_demo", "mimic4_demo"]


# ---------------------------------------------------------------- every loader (continued)

@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loader_roles_and_size(name):
    rows, id_col, sensitive, outcomes, treatment = EXPECTED[name]
    ds = _load(name)
    spec, df = ds.spec, ds.frame
    assert spec.name == name and spec.id_column == id_col and spec.sensitive == sensitive
    assert spec.outcomes == outcomes and spec.treatment == treatment
    assert list(df.columns) == ([id_col] if id_col else []) + list(spec.columns)
    assert len(df) == rows == DATASETS[name].rows
    validate_frame(df, spec)
    for c in (*outcomes, *([treatment] if treatment else [])):
        assert set(df[c].dropna().unique()) == {0, 1} and pd.api.types.is_integer_dtype(df[c]), c
    assert 8 <= len(spec.columns) <= 45 and len(spec.description) > 300
    assert len(ds.sha256) == 64 and ds.source
    assert set(spec.confounders) <= set(spec.columns) and set(spec.mediators) <= set(spec.columns)


def test_dataset_checksum_is_that_of_the_files_read():
    assert _load("framingham").sha256 == FILES["framingham/framingham.csv"].sha256
    assert _load("rhc").sha256 == FILES["rhc/rhc.csv.gz"].sha256
    shas = [FILES["mimic3_demo/ADMISSIONS.csv"].sha256, FILES["mimic3_demo/PATIENTS.csv"].sha256]
    assert _load("mimic3_demo").sha256 == hashlib.sha256("\n".join(shas).encode()).hexdigest()


def test_no_leaking_columns():
    assert not {"yrdth", "modth", "dadth", "wt82_71", "wt82"} & set(_load("nhefs").frame.columns)
    for name in ("mimic3_demo", "mimic4_demo"):
        assert not {"discharge_location", "deathtime", "dischtime", "dod"} & set(_load(name).frame.columns)
    assert not {"t3d30", "dthdte", "dschdte", "sadmdte"} & set(_load("rhc").frame.columns)
    assert not {"readmitted", "encounter_id", "weight", "payer_code", "medical_specialty"} & set(_load("diabetes130").frame.columns)


def test_nhefs_needs_no_data_folder(tmp_path):
    settings = load_settings({"data_dir": str(tmp_path / "nowhere"), "allow_download": False})
    ds = load_dataset("nhefs", settings=settings)
    assert ds.frame.shape == (1566, 18) and not (tmp_path / "nowhere").exists()
    assert set(ds.frame["sex"]) == {"male", "female"} and set(ds.frame["race"]) == {"white", "black or other"}
    assert ds.frame["education"].nunique() == 5 and ds.spec.confounders[:2] == ("sex", "race")


# ---------------------------------------------------------------- diabetes130

def test_diabetes130_all_encounters_and_patients():
    df = _load("diabetes130", drop_expired=False).frame
    assert len(df) == 101_766 and df["patient_nbr"].nunique() == 71_518
    assert df["race"].isna().sum() == 2273 and df["gender"].isna().sum() == 3
    assert round(df["readmit_30d"].mean(), 3) == 0.112 and round(df["readmit_any"].mean(), 3) == 0.461
    assert (df["long_stay"] == (df["time_in_hospital"] >= 7)).all() and 0.19 < df["long_stay"].mean() < 0.22
    kept = _load("diabetes130").frame
    assert len(kept) == 101_766 - 2423 and "2,423 encounters" in _load("diabetes130").spec.description


def test_diabetes130_none_is_a_level_and_diagnoses_grouped():
    df = _load("diabetes130").frame
    assert (df["A1Cresult"] == "None").sum() > 80_000 and (df["max_glu_serum"] == "None").sum() > 90_000
    assert df["A1Cresult"].notna().all() and df["max_glu_serum"].notna().all()
    chapters = {"circulatory", "respiratory", "digestive", "diabetes", "injury", "musculoskeletal", "genitourinary",
                "neoplasms", "other"}
    for c in ("diag_1", "diag_2", "diag_3"): assert set(df[c].dropna()) == chapters
    assert df["admission_type_id"].map(type).eq(str).all()


def test_diabetes130_id_labels():
    df = _load("diabetes130", id_labels=True).frame
    assert "Emergency" in set(df["admission_type_id"]) and "Discharged to home" in set(df["discharge_disposition_id"])


# ---------------------------------------------------------------- MIMIC

def test_mimic3_placeholders_and_missing_columns():
    ds = _load("mimic3_demo")
    df, spec = ds.frame, ds.spec
    assert df["subject_id"].nunique() == 100 and df["hospital_expire_flag"].sum() == 40
    assert {"language", "religion"}.isdisjoint(spec.columns) and "language (37%)" in spec.description
    assert df.drop(columns="ethnicity").notna().all().all()  # placeholders and gaps filled
    assert "UNKNOWN (DEFAULT)" not in set(df["marital_status"])
    assert df["ethnicity"].isna().sum() == 12  # unknown ethnicity is not imputed as WHITE
    assert 0 < df["age"].min() and df["age"].max() == 90 and (df["los_days"] > 0).all()
    seed = _load("mimic3_demo", impute_sensitive=True).frame
    assert seed["ethnicity"].notna().all() and (seed["ethnicity"] == "WHITE").sum() == 86 + 12


def test_mimic3_reads_a_full_style_folder(tmp_path):
    """The full credentialed MIMIC-III has UPPER-case headers and .csv.gz files."""
    for table in ("ADMISSIONS", "PATIENTS"):
        df = pd.read_csv(_data_file(f"mimic3_demo/{table}.csv"))
        df.columns = [c.upper() for c in df.columns]
        with gzip.open(tmp_path / f"{table}.csv.gz", "wt") as f: df.to_csv(f, index=False)
    full = load_dataset("mimic3_demo", path=tmp_path)
    assert full.spec.name == "mimic3" and str(tmp_path) in full.source
    pd.testing.assert_frame_equal(full.frame, _load("mimic3_demo").frame)
    assert load_mimic3(tmp_path).frame.shape == full.frame.shape


def test_mimic4_age_and_placeholders():
    df = _load("mimic4_demo").frame
    adm = pd.read_csv(_data_file("mimic4_demo/hosp/admissions.csv.gz"))
    pat = pd.read_csv(_data_file("mimic4_demo/hosp/patients.csv.gz")).set_index("subject_id")
    row = adm.iloc[0]
    expected = pat.loc[row.subject_id, "anchor_age"] + pd.Timestamp(row.admittime).year - pat.loc[row.subject_id, "anchor_year"]
    assert df["age"].iloc[0] == expected
    assert "?" not in set(df["language"]) and df["language"].notna().all() and df["race"].isna().sum() == 23


# ---------------------------------------------------------------- framingham, rhc, nhanes

def test_framingham_rhc_nhanes_details():
    fr = _load("framingham").frame
    assert fr["sex"].value_counts().to_dict() == {"female": 2420, "male": 1820} and fr["TenYearCHD"].sum() == 644
    assert fr["BPMeds"].sum() == 124 and fr["BPMeds"].isna().sum() == 53
    rhc = _load("rhc").frame
    assert rhc["swang1"].sum() == 2184 and rhc["death"].sum() == 3722 and rhc["dth30"].sum() == 1918
    nh = _load("nhanes")
    assert nh.frame["Age"].min() >= 20 and not nh.frame.duplicated().any() and nh.frame["ID"].is_unique
    assert "1,757 exact duplicates" in nh.spec.description and "824 rows" in nh.spec.description and nh.frame["health_fair_poor"].isna().sum() > 0
    assert round(nh.frame["diabetes"].mean(), 3) == 0.117  # 0.103 before de-duplication (SOURCES.md)


# ---------------------------------------------------------------- patient split

def test_patient_split_keeps_patients_apart_and_is_deterministic():
    ds = _load("diabetes130")
    train, test = patient_split(ds.frame, ds.spec, test_size=0.3, seed=0)
    assert set(train["patient_nbr"]).isdisjoint(test["patient_nbr"]) and len(train) + len(test) == len(ds.frame)
    share = test["patient_nbr"].nunique() / ds.frame["patient_nbr"].nunique()
    assert abs(share - 0.3) < 0.005
    assert abs(train["readmit_30d"].mean() - test["readmit_30d"].mean()) < 0.005  # stratified
    again = patient_split(ds.frame, ds.spec, test_size=0.3, seed=0)[1]
    other = patient_split(ds.frame, ds.spec, test_size=0.3, seed=1)[1]
    assert test.index.equals(again.index) and not test.index.equals(other.index)


def test_patient_split_multi_admission_and_row_level():
    m3 = _load("mimic3_demo")
    a, b = patient_split(m3.frame, m3.spec, test_size=0.25, seed=5)
    assert set(a["subject_id"]).isdisjoint(b["subject_id"]) and len(a) + len(b) == 129
    fr = _load("framingham")
    a, b = patient_split(fr.frame, fr.spec, test_size=0.2, seed=0)
    assert len(b) == 848 and not set(a.index) & set(b.index)
    nh = _load("nhanes")  # outcome partly missing: still splits, by ID
    a, b = patient_split(nh.frame, nh.spec.replace(outcomes=("health_fair_poor", "diabetes")), seed=2)
    assert set(a["ID"]).isdisjoint(b["ID"])


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "0.3", True])
def test_patient_split_bad_test_size(bad):
    ds = _load("nhefs")
    with pytest.raises(FairsynthError, match="test_size"):
        patient_split(ds.frame, ds.spec, test_size=bad)


# ---------------------------------------------------------------- checksums, missing files, downloads

def test_checksum_mismatch_names_the_file(tmp_path):
    target = tmp_path / "framingham" / "framingham.csv"
    target.parent.mkdir()
    data = bytearray(_data_file("framingham/framingham.csv").read_bytes())
    data[200] = ord("9") if data[200] != ord("9") else ord("8")  # corrupt one digit
    target.write_bytes(bytes(data))
    settings = load_settings({"data_dir": str(tmp_path), "allow_download": False})
    with pytest.raises(FairsynthError) as err:
        load_dataset("framingham", settings=settings)
    msg = str(err.value)
    assert "framingham.csv" in msg and FILES["framingham/framingham.csv"].sha256 in msg and sha256_file(target) in msg


def test_gz_and_plain_copies_are_both_accepted(tmp_path):
    (tmp_path / "framingham").mkdir()
    with gzip.open(tmp_path / "framingham" / "framingham.csv.gz", "wb") as f:
        f.write(_data_file("framingham/framingham.csv").read_bytes())
    settings = load_settings({"data_dir": f"{tmp_path / 'empty'}:{tmp_path}", "allow_download": False})
    assert locate(FILES["framingham/framingham.csv"], settings) == tmp_path / "framingham" / "framingham.csv.gz"
    assert load_dataset("framingham", settings=settings).frame.shape == (4240, 16)


def test_missing_file_with_downloads_off(tmp_path):
    settings = load_settings({"data_dir": str(tmp_path), "allow_download": False})
    with pytest.raises(FairsynthError) as err:
        load_dataset("rhc", settings=settings)
    msg = str(err.value)
    assert "rhc/rhc.csv.gz" in msg and str(tmp_path) in msg and FILES["rhc/rhc.csv.gz"].url in msg
    assert not any(tmp_path.iterdir())


@pytest.fixture
def http_root(tmp_path):
    """A loopback HTTP server over a fresh folder: yields (folder, base URL); stopped afterwards."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try: yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown(); server.server_close(); thread.join(timeout=5)


def test_download_verifies_and_writes_atomically(http_root, tmp_path):
    root, base = http_root
    content = b"id,x\n1,2\n3,4\n"
    with zipfile.ZipFile(root / "bundle.zip", "w") as zf: zf.writestr("inside/table.csv", content)
    good = DataFile("toy/table.csv.gz", f"{base}/bundle.zip", hashlib.sha256(content).hexdigest(), member="inside/table.csv")
    data_dir = tmp_path / "data"
    settings = load_settings({"data_dir": f"{data_dir}:{tmp_path / 'second'}", "allow_download": True})
    path = locate(good, settings)
    assert path == data_dir / "toy" / "table.csv.gz" and gzip.decompress(path.read_bytes()) == content
    assert [p.name for p in path.parent.iterdir()] == ["table.csv.gz"]  # no temporary file left behind
    assert not (tmp_path / "second").exists()  # downloads land in the first folder only
    # a download whose checksum is wrong writes nothing
    bad = dataclasses.replace(good, relpath="toy/other.csv", sha256="f" * 64)
    with pytest.raises(FairsynthError) as err:
        locate(bad, settings)
    assert "toy/other.csv" in str(err.value) and "f" * 64 in str(err.value) and bad.url in str(err.value)
    assert [p.name for p in path.parent.iterdir()] == ["table.csv.gz"]
    # an unreachable file names the URL and the folders searched
    gone = dataclasses.replace(good, relpath="toy/gone.csv", url=f"{base}/missing.csv", member=None)
    with pytest.raises(FairsynthError, match="missing.csv") as err:
        locate(gone, settings)
    assert "toy/gone.csv" in str(err.value) and str(data_dir) in str(err.value)


def test_download_of_a_mirror_with_a_normaliser(http_root, tmp_path):
    """framingham's mirror has CRLF endings and the header 'Gender': the normalised bytes match SOURCES.md."""
    root, base = http_root
    original = _data_file("framingham/framingham.csv").read_bytes()
    mirror = original.replace(b"\n", b"\r\n").replace(b"male,", b"Gender,", 1)
    (root / "framingham.csv").write_bytes(mirror)
    registered = dataclasses.replace(FILES["framingham/framingham.csv"], url=f"{base}/framingham.csv")
    settings = load_settings({"data_dir": str(tmp_path / "data"), "allow_download": True})
    path = locate(registered, settings)
    assert path.read_bytes() == original and sha256_file(path) == registered.sha256


def test_download_of_a_gzip_file_keeps_its_bytes(http_root, tmp_path):
    root, base = http_root
    shutil.copy(_data_file("mimic4_demo/hosp/patients.csv.gz"), root / "patients.csv.gz")
    registered = dataclasses.replace(FILES["mimic4_demo/hosp/patients.csv.gz"], url=f"{base}/patients.csv.gz")
    path = locate(registered, load_settings({"data_dir": str(tmp_path / "data"), "allow_download": True}))
    assert path.read_bytes() == (root / "patients.csv.gz").read_bytes() and sha256_file(path) == registered.sha256


# ---------------------------------------------------------------- load_dataset and from_csv errors

def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(FairsynthError) as err:
        load_dataset("mimic5")
    assert "mimic5" in str(err.value) and all(n in str(err.value) for n in DATASETS)


SPEC = DatasetSpec("toy", {"sex": "categorical", "age": "numerical", "dead": "categorical"}, id_column="pid",
                   sensitive={"sex": "M"}, outcomes=("dead",))
TOY = pd.DataFrame({"pid": [1, 1, 2, 3], "sex": ["M", "M", "F", "F"], "age": [50.0, 51, 60, 70], "dead": [0, 1, 0, 1]})


def test_from_csv_reads_and_validates(tmp_path):
    TOY.assign(extra="x").to_csv(tmp_path / "toy.csv", index=False)
    ds = from_csv(tmp_path / "toy.csv", SPEC)
    assert list(ds.frame.columns) == ["pid", "sex", "age", "dead"] and ds.sha256 == sha256_file(tmp_path / "toy.csv")
    TOY.to_csv(tmp_path / "toy.tsv", sep="\t", index=False)
    assert from_csv(tmp_path / "toy.tsv", SPEC, sep="\t").frame.shape == (4, 4)


@pytest.mark.parametrize("change, culprit", [
    (lambda d: d.drop(columns="age"), "age"),  # declared column missing from the CSV
    (lambda d: d.assign(sex=None), "sex"),  # an all-missing column
    (lambda d: d.assign(dead=0), "dead"),  # a single-class outcome
    (lambda d: d.assign(dead=[0, 1, None, 1]), "outcome 'dead' is missing in 1 of 4 rows"),  # refused, not dropped
    (lambda d: d.assign(age=[50.0, float("inf"), 60, 1e308]), "column 'age'"),  # non-finite values
])
def test_from_csv_errors_name_the_culprit(tmp_path, change, culprit):
    change(TOY).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(FairsynthError) as err:
        from_csv(tmp_path / "bad.csv", SPEC)
    assert culprit in str(err.value) and "bad.csv" in str(err.value)


@pytest.mark.parametrize("text, culprit", [
    ("", "is empty"),
    ("pid,sex,age,age,dead\n1,M,50,1,0\n2,F,60,2,1\n", "['age'] more than once"),
    ("pid,sex,age,dead\n", "has no rows"),
])
def test_from_csv_refuses_files_pandas_would_misread(tmp_path, text, culprit):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(FairsynthError, match="bad.csv") as err:
        from_csv(tmp_path / "bad.csv", SPEC)
    assert culprit in str(err.value)


def test_from_csv_header_check_follows_the_separator(tmp_path):
    """A repeated header is found in a semicolon file too; a comma inside a quoted name is not a separator."""
    (tmp_path / "semi.csv").write_text("pid;sex;age;sex;dead\n1;M;50;M;0\n")
    with pytest.raises(FairsynthError, match=r"\['sex'\]"):
        from_csv(tmp_path / "semi.csv", SPEC, sep=";")
    TOY.rename(columns={"sex": "sex, self-reported"}).to_csv(tmp_path / "quoted.csv", index=False)
    spec = DatasetSpec("toy", {"sex, self-reported": "categorical", "age": "numerical", "dead": "categorical"}, id_column="pid",
                       sensitive={"sex, self-reported": "M"}, outcomes=("dead",))
    assert from_csv(tmp_path / "quoted.csv", spec).frame.shape == (4, 4)


def test_from_csv_missing_file(tmp_path):
    with pytest.raises(FairsynthError, match="nope.csv"):
        from_csv(tmp_path / "nope.csv", SPEC)
