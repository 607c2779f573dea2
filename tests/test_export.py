"""`fairsynth synthesize` on a user's own CSV: the table and its data card, the privacy gate refusing copied free text,
the same seed giving the same file."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from fairsynth.cli import main


def own_table(tmp_path, n: int = 700):
    """A CSV and spec of a made-up cohort with a patient id and a free-text note per patient."""
    rng = np.random.default_rng(1)
    age = rng.normal(60, 12, n)
    words = np.array(["chest", "pain", "dyspnoea", "fever", "cough", "fatigue", "nausea", "dizziness"])
    notes = [f"pt {i} reports {' '.join(rng.choice(words, 4))} since {rng.integers(1, 30)} days, seen by team {i % 7}" for i in range(n)]
    df = pd.DataFrame({"pid": [f"PID{i:05d}" for i in range(n)], "note": notes, "sex": rng.choice(["f", "m"], n),
                       "age": age.round(1), "sbp": (120 + 0.5 * (age - 60) + rng.normal(0, 10, n)).round(0),
                       "event": (rng.random(n) < 1 / (1 + np.exp(-(age - 60) / 8))).astype(int)})
    csv = tmp_path / "own.csv"; df.to_csv(csv, index=False)
    spec = {"name": "own", "id_column": "pid", "columns": {"note": "categorical", "sex": "categorical", "age": "numerical",
                                                            "sbp": "numerical", "event": "categorical"},
            "sensitive": {"sex": "m"}, "outcomes": ["event"]}
    (tmp_path / "own.json").write_text(json.dumps(spec))
    return csv, tmp_path / "own.json"


def synthesize(tmp_path, csv, spec, out, *extra):
    return main(["--reports-dir", str(tmp_path / "reports"), "--seed", "3", "synthesize", "--csv", str(csv), "--spec", str(spec),
                 "--generator", "gaussian_copula", "--fit-on", "train", "--out", str(out), *extra])


def test_writes_the_table_and_its_card_drops_the_note_and_repeats_itself(tmp_path, capsys):
    csv, spec = own_table(tmp_path)
    assert synthesize(tmp_path, csv, spec, tmp_path / "out" / "own_gc.csv") == 0
    err = capsys.readouterr().err
    assert "left out column 'note' (free-text" in err
    table = pd.read_csv(tmp_path / "out" / "own_gc.csv")
    assert list(table.columns) == ["sex", "age", "sbp", "event"] and len(table) > 0  # no id, no note
    card = json.loads((tmp_path / "out" / "own_gc.card.json").read_text())
    assert card["status"] == "written" and card["privacy"]["passed"] and card["override"] is None
    assert [d["column"] for d in card["dataset"]["dropped_columns"]] == ["note"]
    assert card["table"]["rows"] == len(table) and card["generator"]["name"] == "gaussian_copula"
    assert {"healthy", "checks"} <= set(card["health"]) and card["fidelity"]["quality"] > 0.5
    assert card["utility"]["outcome"] == "event" and card["fidelity_by_group"]
    page = (tmp_path / "out" / "own_gc.card.html").read_text()
    page = re.sub(r"[A-Za-z0-9+/=]{200,}", "", page)
    assert "Privacy gate" in page and "PID0" not in page and str(tmp_path) not in page
    # same seed, same file
    assert synthesize(tmp_path, csv, spec, tmp_path / "again" / "own_gc.csv") == 0
    again = json.loads((tmp_path / "again" / "own_gc.card.json").read_text())
    assert again["table"]["sha256"] == card["table"]["sha256"]


def test_the_gate_refuses_a_table_that_copies_free_text_and_an_override_is_recorded(tmp_path, capsys):
    csv, spec = own_table(tmp_path)
    out = tmp_path / "out" / "own_gc.parquet"
    assert synthesize(tmp_path, csv, spec, out, "--identifiers", "keep") == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fairsynth:")]  # the rest: progress lines
    assert len(err) == 1 and "privacy gate refused" in err[0] and "rare_value_copies[note]" in err[0]
    assert not out.exists() and not (tmp_path / "out" / "own_gc.card.json").exists()
    refused = json.loads((tmp_path / "out" / "own_gc.refused.card.json").read_text())
    assert refused["status"] == "refused" and refused["table"] is None
    assert synthesize(tmp_path, csv, spec, out, "--identifiers", "keep", "--override-privacy-gate", "notes reviewed by the data steward") == 0
    card = json.loads((tmp_path / "out" / "own_gc.card.json").read_text())
    assert card["status"] == "written with override" and "rare_value_copies[note]" in card["override"]["failed_checks"]
    assert pd.read_parquet(out)["note"].isin(pd.read_csv(csv)["note"]).all()  # what the gate warned about: every note is a real one


def test_bad_parameters_are_one_line_errors(tmp_path, capsys):
    csv, spec = own_table(tmp_path, n=100)
    for extra, culprit in [(["--out", str(tmp_path / "x.xlsx")], "'out'"), (["--generator", "nope"], "nope"),
                           (["--fit-on", "everyone"], "fit-on"), (["--test-size", "1.5"], "'test_size'")]:
        try: code = main(["--reports-dir", str(tmp_path / "r"), "synthesize", "--csv", str(csv), "--spec", str(spec), *extra])
        except SystemExit as e: code = e.code  # argparse's own choices
        assert code == 2, extra
        assert culprit in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
