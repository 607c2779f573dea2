"""The privacy gate and its column-level and anonymeter-style checks (fairsynth.metrics.privacy) on NHEFS and hand-made tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairsynth.core import FairsynthError
from fairsynth.data import load_dataset
from fairsynth.generators.base import get_generator
from fairsynth.metrics.privacy import (PrivacyGateThresholds, attack_risk, close_row_share, gate_passed, identifier_columns,
                                       inference_risk, linkability_risk, privacy_gate, privacy_summary, rare_value_columns,
                                       rare_value_copies, singling_out_risk)
from fairsynth.spec import DatasetSpec
from fairsynth.userdata import patient_split

WORDS = np.array("chest pain fever cough breath nausea smoker daily follow-up visit clinic denies reports mild severe since "
                 "weeks months left right knee back headache".split())


def notes(n: int, seed: int = 0) -> list[str]:
    """`n` distinct made-up clinical notes (seeded)."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, 7)) + f" (note {seed}-{i})" for i in range(n)]


@pytest.fixture(scope="module")
def nhefs():
    """NHEFS (train 2/3, hold-out 1/3 of patients), a GaussianCopula table fitted on train, and a copy of train."""
    nh = load_dataset("nhefs")
    train, holdout = patient_split(nh.frame, nh.spec, test_size=1 / 3, seed=0)
    gc = get_generator("gaussian_copula", seed=0).fit(train, nh.spec).sample(len(train), seed=0)
    return nh, train, holdout, gc, train.drop(columns=nh.spec.id_column)


def made_up_patients(n: int, seed: int) -> pd.DataFrame:
    """`n` rows drawn from a fixed made-up population (so fresh draws are an ideal generator's output)."""
    rng = np.random.default_rng(seed)
    age = rng.normal(55, 12, n).round(1)
    return pd.DataFrame({"sex": rng.choice(["f", "m"], n), "age": age, "bmi": rng.normal(27, 4, n).round(2),
                         "smoker": rng.choice(["yes", "no"], n, p=[0.3, 0.7]),
                         "death": (rng.random(n) < 1 / (1 + np.exp(-(age - 70) / 5))).astype(int)})


MADE_UP = DatasetSpec("made_up", {"sex": "categorical", "age": "numerical", "bmi": "numerical", "smoker": "categorical",
                                  "death": "categorical"}, sensitive={"sex": "m"}, outcomes=("death",))


def test_identifier_columns_flag_only_the_id_on_real_tables_and_added_names_notes_and_record_numbers(nhefs):
    nh = nhefs[0]
    assert identifier_columns(nh.frame, nh.spec)[["column", "kind"]].values.tolist() == [["seqn", "id"]]
    big = nh.frame.sample(5000, replace=True, random_state=0).reset_index(drop=True)
    big = big.assign(name=[f"Patient{i:05d} Smith" for i in range(5000)], note=notes(5000),
                     mrn=np.random.default_rng(0).permutation(5000) + 100000)
    flagged = identifier_columns(big, nh.spec).set_index("column")
    assert flagged.kind.to_dict() == {"seqn": "id", "name": "id-like", "note": "free-text", "mrn": "id-like"}
    assert (flagged.loc[["name", "note", "mrn"], "distinct_share"] == 1).all()
    assert "free text" in flagged.at["note", "reason"] and "distinct" in flagged.at["name", "reason"]


def test_identifier_columns_leave_continuous_measurements_and_codes_alone():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"lab": rng.normal(5, 1, 3000), "weight": rng.normal(80, 15, 3000).round(2),
                       "code": rng.integers(0, 30, 3000), "when": pd.date_range("2020-01-01", periods=3000, freq="h")})
    spec = DatasetSpec("x", {"lab": "numerical", "weight": "numerical", "code": "categorical"})
    assert df.lab.nunique() == 3000 and identifier_columns(df, spec).empty
    assert identifier_columns(pd.DataFrame({"mrn": np.r_[np.arange(400.0), np.nan]}), DatasetSpec("x", {"mrn": "numerical"})).kind.tolist() == ["id-like"]


def test_rare_value_copies_known_answer():
    real = pd.DataFrame({"note": ["x"] + ["y"] * 6, "g": [1] * 7, "v": [0.5] * 6 + [2.25]})
    syn = pd.DataFrame({"note": ["x", "x", "y", "z"], "g": ["1", "1", "1", "1"], "v": [2.25, 0.5, 0.5, 1.0]})
    out = rare_value_copies(real, syn, DatasetSpec("t", {"g": "categorical", "v": "numerical"}))
    assert list(out.columns) == ["column", "rare_real_values", "synthetic_share", "synthetic_rows"]
    assert out.values.tolist() == [["note", 1, 0.5, 2], ["v", 1, 0.25, 1], ["g", 0, 0.0, 0]]  # sorted by share
    assert rare_value_copies(real, syn, DatasetSpec("t", {"g": "categorical"}), max_count=6).set_index("column").at["note", "synthetic_rows"] == 3
    with pytest.raises(FairsynthError, match="max_count"):
        rare_value_copies(real, syn, DatasetSpec("t", {}), max_count=0)


def test_rare_value_columns_leave_out_measurements_but_not_ids(nhefs):
    nh, train, _, gc, _ = nhefs
    assert rare_value_columns(train, gc, nh.spec) == nh.spec.categorical
    assert rare_value_columns(train, train, nh.spec)[0] == "seqn"


def test_close_row_share(nhefs):
    nh, train, holdout, gc, copy = nhefs
    healthy = close_row_share(train, holdout, gc, nh.spec)
    assert close_row_share(train, holdout, copy, nh.spec)["share"] == 1 and healthy["share"] < 0.1
    assert healthy["share"] == privacy_summary(train, gc, holdout, nh.spec).set_index("metric").value["share_synthetic_closer_than_holdout_p5"]
    assert close_row_share(train, holdout, gc, nh.spec, quantile=0.5)["threshold_distance"] > healthy["threshold_distance"] > 0
    with pytest.raises(FairsynthError, match="quantile"):
        close_row_share(train, holdout, gc, nh.spec, quantile=1.0)


def test_attack_risk_is_anonymeters_residual_success():
    r = attack_risk(400, 100, 500)
    assert set(r) == {"risk", "risk_low", "risk_high", "attack_rate", "control_rate", "n_attacks"}
    assert r["risk"] == pytest.approx((r["attack_rate"] - r["control_rate"]) / (1 - r["control_rate"]))
    assert r["attack_rate"] == pytest.approx((400 + 1.96 ** 2 / 2) / (500 + 1.96 ** 2), abs=1e-4)
    assert r["risk_low"] < r["risk"] < r["risk_high"] and attack_risk(50, 100, 500)["risk"] == 0


def test_anonymeter_risks_low_for_gaussian_copula_and_high_for_a_copy(nhefs):
    nh, train, holdout, gc, copy = nhefs
    n = 300
    for risk in (lambda s: singling_out_risk(train, s, holdout, nh.spec, n_attacks=n), lambda s: linkability_risk(train, s, holdout, nh.spec, n_attacks=n),
                 lambda s: inference_risk(train, s, holdout, nh.spec, "death", n_attacks=n),
                 lambda s: inference_risk(train, s, holdout, nh.spec, "wt71", n_attacks=n)):
        healthy, copied = risk(gc), risk(copy)
        assert healthy["risk_low"] == 0 and copied["risk"] > 0.2 and copied["risk_low"] > healthy["risk_high"]
    assert singling_out_risk(train, gc, holdout, nh.spec, seed=3) == singling_out_risk(train, gc, holdout, nh.spec, seed=3)


def test_risk_parameters_are_checked_by_name(nhefs):
    nh, train, holdout, gc, _ = nhefs
    with pytest.raises(FairsynthError, match="secret"):
        inference_risk(train, gc, holdout, nh.spec, "seqn")
    with pytest.raises(FairsynthError, match="aux_columns"):
        inference_risk(train, gc, holdout, nh.spec, "death", aux_columns=["death"])
    with pytest.raises(FairsynthError, match="aux_columns"):
        linkability_risk(train, gc, holdout, nh.spec, aux_columns=(["sex"], ["nope"]))
    with pytest.raises(FairsynthError, match="n_attacks"):
        singling_out_risk(train, gc, holdout, nh.spec, n_attacks=0)
    with pytest.raises(FairsynthError, match="max_close_share"):
        PrivacyGateThresholds(max_close_share=2)


def test_gate_passes_gaussian_copula_and_fails_a_copy_of_the_training_rows(nhefs):
    nh, train, holdout, gc, copy = nhefs
    gate = privacy_gate(train, holdout, gc, nh.spec)
    assert list(gate.columns) == ["check", "column", "value", "threshold", "passed", "why"]
    assert gate_passed(gate), gate.loc[~gate.passed, ["check", "column", "value", "threshold"]].to_dict("records")
    copied = privacy_gate(train, holdout, copy, nh.spec, PrivacyGateThresholds(n_attacks=200), secrets=["death"], max_rows=300)
    assert not gate_passed(copied)
    assert set(copied.loc[~copied.passed, "check"]) == {"exact_copies", "close_rows", "membership_inference", "singling_out_risk",
                                                         "linkability_risk", "inference_risk"}
    with pytest.raises(FairsynthError, match="gate"):
        gate_passed(gate.drop(columns="passed"))


def test_gate_fails_a_free_text_column_copied_from_training_rows():
    """5,000 distinct training notes; the synthetic rows are fresh draws (an ideal generator) each carrying a real note."""
    train, holdout = made_up_patients(5000, 1).assign(note=notes(5000, 1)), made_up_patients(2500, 2).assign(note=notes(2500, 2))
    leaky = made_up_patients(5000, 3).assign(note=np.random.default_rng(0).choice(train.note.to_numpy(), 5000))
    gate = privacy_gate(train, holdout, leaky, MADE_UP, max_rows=1000)
    assert gate.loc[~gate.passed, ["check", "column"]].values.tolist() == [["rare_value_copies", "note"]]  # only the note fails
    assert gate.set_index("column").at["note", "value"] == 1 and gate.loc[gate.check == "exact_copies", "value"].item() < 0.01
