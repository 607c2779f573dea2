"""`fairsynth spec`: a spec drafted from a CSV loads as it is, flags leakage and refuses to overwrite an edited spec."""
from __future__ import annotations

import gzip
import shutil

import numpy as np
import pandas as pd

from fairsynth.cli import main
from fairsynth.core import load_settings
from fairsynth.spec import load_spec
from fairsynth.userdata import from_csv


def admissions(n: int = 300) -> pd.DataFrame:
    """A made-up admissions table: a text id repeated over a patient's stays, dates, a length of stay, a score that gives death away."""
    rng = np.random.default_rng(1)
    died = rng.integers(0, 2, n)
    return pd.DataFrame({"stay": np.arange(n), "mrn": [f"MRN-{i // 2:04d}" for i in range(n)],
                         "admit_date": pd.date_range("2021-03-01", periods=n, freq="12h").strftime("%Y-%m-%d %H:%M"),
                         "age": rng.integers(20, 90, n), "ethnicity": rng.choice(["A", "B", "C", None], n, p=[.5, .3, .15, .05]),
                         "length_of_stay": rng.gamma(2, 2, n).round(1), "severity": died * 10 + rng.normal(0, 0.5, n), "died": died})


def test_cli_drafts_a_spec_that_loads_and_flags_leakage(tmp_path, capsys):
    csv = tmp_path / "stays.csv"; admissions().to_csv(csv, index=False)
    out = tmp_path / "stays.json"
    assert main(["spec", str(csv), "--out", str(out)]) == 0
    text = out.read_text()
    assert "CONFIRM outcome_excludes['died'] holds 'length_of_stay'" in text and "'severity': predicts 'died'" in text
    spec = load_spec(out)
    assert spec.id_column == "mrn" and spec.outcomes == ("died",) and "admit_date" not in spec.columns
    assert spec.sensitive == {"ethnicity": "A"} and set(spec.outcome_excludes["died"]) == {"length_of_stay", "severity"}
    assert from_csv(csv, spec).frame.shape[0] == 300  # the draft is a working spec
    assert main(["spec", str(csv), "--out", str(out)]) == 2 and "exists" in capsys.readouterr().err  # an edited spec is never overwritten
    assert main(["spec", str(tmp_path / "missing.csv")]) == 2


def test_rhc_draft_names_what_to_fix(tmp_path, capsys):
    src = next(d / "rhc" / "rhc.csv.gz" for d in load_settings().data_dir if (d / "rhc" / "rhc.csv.gz").is_file())
    csv = tmp_path / "rhc.csv"
    with gzip.open(src, "rb") as f, open(csv, "wb") as g: shutil.copyfileobj(f, g)
    assert main(["spec", str(csv)]) == 0
    text = capsys.readouterr().out
    assert "recode them as 0/1" in text and "holds 'dthdte'" in text and '"id_column": "ptid"' in text
