"""Every bad input of the reliability audit (issue 17) through the command line: exit code 2, one error line that
names the parameter, column or file at fault, and nothing written (no report, no store), because each is refused
before any data is split or any generator fitted. No test here fits a model."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fairsynth.cli
from fairsynth.cli import main

SPEC = {"name": "toy", "id_column": "pid", "sensitive": {"sex": "m"}, "outcomes": ["y"], "treatment": "t",
        "confounders": ["age"], "mediators": ["inc"],
        "columns": {"age": "numerical", "sex": "categorical", "inc": "categorical", "y": "categorical", "t": "categorical"}}


def toy_frame(n: int = 120) -> pd.DataFrame:
    """A valid table for SPEC: one row per patient."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({"pid": np.arange(n), "age": rng.normal(50, 10, n).round(1), "sex": rng.choice(["m", "f"], n),
                         "inc": rng.choice(["lo", "hi"], n), "y": rng.integers(0, 2, n), "t": rng.integers(0, 2, n)})


@pytest.fixture(autouse=True)
def one_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the CLI's parser once for the module (it reads every study's field comments: about a second each time)."""
    monkeypatch.setattr(fairsynth.cli, "build_parser", _parser)


@functools.lru_cache(maxsize=1)
def _parser():
    return _BUILD()


_BUILD = fairsynth.cli.build_parser


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A valid CSV and spec in their own folder."""
    csv, spec = tmp_path / "data" / "toy.csv", tmp_path / "data" / "toy.json"
    csv.parent.mkdir()
    toy_frame().to_csv(csv, index=False)
    spec.write_text(json.dumps(SPEC))
    return {"csv": csv, "spec": spec}


def refused(capsys, reports_dir: Path, argv: list[str], *culprits: str) -> str:
    """Run the CLI; assert exit 2, one error line naming every culprit, no traceback and nothing written. The line."""
    rc = main(argv)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("fairsynth:")]
    assert rc == 2, err
    assert len(errors) == 1 and errors[0] == err.strip().splitlines()[-1] and "Traceback" not in err, err
    assert all(c in errors[0] for c in culprits), errors[0]
    assert not reports_dir.exists() or not any(reports_dir.rglob("*")), sorted(reports_dir.rglob("*"))
    return errors[0]


def run_argv(study: str, files: dict[str, Path], *extra: str) -> list[str]:
    return ["run", study, "--csv", str(files["csv"]), "--spec", str(files["spec"]), *extra]


# ------------------------------------------------------------------ parameters, refused before the report notebook runs

@pytest.mark.parametrize("flags, culprit", [
    (["--epochs", "0"], "parameter 'epochs'"),
    (["--rows", "0"], "parameter 'rows'"),
    (["--rows", "-3"], "parameter 'rows'"),
    (["--test-size", "0"], "parameter 'test_size'"),
    (["--test-size", "1.5"], "parameter 'test_size'"),
    (["--max-train-rows", "-5"], "parameter 'max_train_rows'"),
    (["--privacy-rows", "0"], "parameter 'privacy_rows'"),
    (["--outcome", "nope"], "parameter 'outcome': 'nope'"),
    (["--outcome", "age"], "parameter 'outcome': 'age'"),
    (["--generator", "nope"], "nope"),
    (["--seed", "-1"], "setting 'seed'"),
    (["--repeats", "0"], "setting 'repeats'"),
])
def test_synthesis_parameters(files, reports_dir, capsys, flags, culprit):
    refused(capsys, reports_dir, run_argv("synthesis", files, "--generator", "gaussian_copula", *flags), culprit)


@pytest.mark.parametrize("study, flags, culprit", [
    ("augmentation", ["--epochs", "0"], "parameter 'epochs'"),
    ("augmentation", ["--generator", "tvae", "--generator-params", '{"epochs": 0}'], "epochs"),
    ("augmentation", ["--n-majority", "1"], "parameter 'n_majority'"),
    ("fairness", ["--epochs", "0"], "parameter 'epochs'"),
    ("fairness", ["--test-size", "1.5"], "parameter 'test_size'"),
    ("fairness", ["--outcome", "age"], "age"),
    ("fairness", ["--generator-params", '{"bogus": 1}'], "bogus"),
    ("causal", ["--test-size", "1.5"], "parameter 'test_size'"),
    ("causal", ["--mediators", "inc,y"], "parameter 'mediators': ['y']"),
    ("causal", ["--confounders", "sex"], "parameter 'confounders': ['sex']"),
    ("treatment", ["--epochs", "0"], "parameter 'epochs'"),
    ("treatment", ["--test-size", "1.5"], "parameter 'test_size'"),
    ("treatment", ["--generator-params", '{"tvae": {"epochs": 0}}'], "epochs"),
])
def test_grid_study_parameters(files, reports_dir, capsys, study, flags, culprit):
    refused(capsys, reports_dir, run_argv(study, files, "--repeats", "1", *flags), culprit)


# ------------------------------------------------------------------ the table, refused when it is read

def _write(files: dict[str, Path], text: str | None = None, frame: pd.DataFrame | None = None) -> None:
    if frame is not None: frame.to_csv(files["csv"], index=False)
    else: files["csv"].write_text(text)


@pytest.mark.parametrize("value", ["inf", "-inf", "1e308"])
def test_non_finite_values_name_the_column_and_count(files, reports_dir, capsys, value):
    df = toy_frame().astype({"age": object})
    df.loc[[3, 7, 11], "age"] = value
    _write(files, frame=df)
    refused(capsys, reports_dir, run_argv("synthesis", files), "column 'age'", "3 row(s)", "clean the column")


@pytest.mark.parametrize("study", ["synthesis", "fairness", "augmentation"])
def test_empty_csv(files, reports_dir, capsys, study):
    _write(files, "")
    refused(capsys, reports_dir, run_argv(study, files), str(files["csv"]), "empty")


def test_header_without_rows(files, reports_dir, capsys):
    _write(files, "pid,age,sex,inc,y,t\n")
    refused(capsys, reports_dir, run_argv("synthesis", files), str(files["csv"]), "no rows")


def test_duplicated_header_is_named(files, reports_dir, capsys):
    text = toy_frame().to_csv(index=False).replace("pid,age,sex,inc,y,t", "pid,age,sex,age,y,t", 1)
    _write(files, text)
    refused(capsys, reports_dir, run_argv("synthesis", files), "['age']", "more than once")


def test_missing_outcome_values_are_counted(files, reports_dir, capsys):
    df = toy_frame().astype({"y": "Int64"})
    df.loc[:11, "y"] = pd.NA
    _write(files, frame=df)
    refused(capsys, reports_dir, run_argv("causal", files, "--repeats", "1"), "outcome 'y'", "12 of 120 rows")


def test_unreadable_csv(files, reports_dir, capsys):
    files["csv"].write_bytes(b"pid,age\n\xff\xfe\x00,1\n")
    refused(capsys, reports_dir, run_argv("synthesis", files), str(files["csv"]))


def test_missing_csv_file(files, reports_dir, capsys):
    refused(capsys, reports_dir, ["run", "synthesis", "--csv", str(files["csv"]) + ".nope", "--spec", str(files["spec"])],
            "parameter 'csv'", ".nope")


# ------------------------------------------------------------------ the spec, refused when it is read

@pytest.mark.parametrize("change, culprits", [
    ({"sensitive": ["sex"]}, ["field 'sensitive'", "e.g."]),
    ({"columns": ["age", "sex", "inc", "y", "t"]}, ["field 'columns'"]),
    ({"id_column": ["pid"]}, ["field 'id_column'"]),
    ({"outcomes": "y"}, ["field 'outcomes'"]),
    ({"treatment": ["t"]}, ["field 'treatment'"]),
    ({"outcome_excludes": ["y"]}, ["field 'outcome_excludes'"]),
    ({"sensitive": {"sex": ["m"]}}, ["'sex'", "privileged value"]),
    ({"mediators": ["inc", "y"]}, ["['y']", "'outcomes' and 'mediators'"]),
    ({"confounders": ["age", "t"]}, ["['t']", "'treatment' and 'confounders'"]),
    ({"colums": {}}, ["colums"]),
])
def test_spec_fields_of_the_wrong_shape(files, reports_dir, capsys, change, culprits):
    files["spec"].write_text(json.dumps({**SPEC, **change}))
    refused(capsys, reports_dir, run_argv("synthesis", files), *culprits, str(files["spec"]))


@pytest.mark.parametrize("text, culprit", [("[1, 2]", "JSON object"), ("{not json", "cannot read spec file"), ("", "cannot read spec file")])
def test_spec_file_that_is_no_spec(files, reports_dir, capsys, text, culprit):
    files["spec"].write_text(text)
    refused(capsys, reports_dir, run_argv("synthesis", files), culprit, str(files["spec"]))


def test_valid_input_passes_the_checks(files):
    """The same files, unchanged, pass every check the tests above trip (so each refusal is the change's doing)."""
    from fairsynth.spec import load_spec
    from fairsynth.userdata import from_csv
    ds = from_csv(files["csv"], load_spec(files["spec"]))
    assert ds.frame.shape == (120, 6) and ds.spec.mediators == ("inc",)
