"""Health checks of synthetic tables (fairsynth.metrics.health) and detection that does not saturate
(fairsynth.metrics.fidelity.detection_report): each check fails on a table broken in its way and passes on a fresh
draw of the same population."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from fairsynth.core import FairsynthError
from fairsynth.metrics.fidelity import correlation_difference, detection_auc, detection_report
from fairsynth.metrics.health import (CHECKS, HealthThresholds, distinct_row_share, group_key, health_checks,
                                      health_summary, health_verdict, privacy_reading, unusable_reason)
from fairsynth.metrics.privacy import privacy_summary
from fairsynth.spec import DatasetSpec

SPEC = DatasetSpec("health_test", {"sex": "categorical", "race": "categorical", "age": "numerical",
                                   "sbp": "numerical", "lab": "numerical", "smoker": "categorical",
                                   "death": "categorical"},
                   sensitive={"sex": "m", "race": "a"}, outcomes=("death",))


def population(n: int, seed: int) -> pd.DataFrame:
    """A seeded draw of a small made-up population: a 10% race group, correlated age and sbp, a lab value
    missing in about 20% of rows, death depending on age and smoking."""
    rng = np.random.default_rng(seed)
    age = 5.0 * rng.integers(6, 16, n)  # ages and blood pressures on a coarse grid, as in many clinical tables
    smoker = rng.choice(["never", "former", "current"], n, p=[0.5, 0.3, 0.2])
    risk = 1 / (1 + np.exp(-(-4 + 0.05 * age + 0.8 * (smoker == "current"))))
    return pd.DataFrame({"sex": rng.choice(["m", "f"], n), "race": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
                         "age": age, "sbp": 5 * np.round((90 + 0.8 * age + rng.normal(0, 8, n)) / 5),
                         "lab": np.where(rng.random(n) < 0.2, np.nan, np.round(rng.normal(5, 1, n), 1)),
                         "smoker": smoker, "death": (rng.random(n) < risk).astype(int)})


REAL, HEALTHY = population(600, 0), population(600, 1)


def filled_lab(df: pd.DataFrame) -> pd.DataFrame:
    """The table with every missing lab value drawn from the lab value's distribution (no missing cell left)."""
    draws = pd.Series(np.round(np.random.default_rng(3).normal(5, 1, len(df)), 1), index=df.index)
    return df.assign(lab=df.lab.fillna(draws))


@pytest.fixture(scope="module")
def healthy_checks() -> pd.DataFrame:
    return health_checks(REAL, HEALTHY, SPEC)


ANY = object()  # `status` of the rows of every column


def status(checks: pd.DataFrame, check: str, column: str | None | object = ANY, group: str | None = None) -> set[str]:
    """Statuses of the rows of one check, of one column (None: the table-wide row) and one group (None: overall)."""
    rows = checks[checks.check == check]
    if column is not ANY: rows = rows[rows.column.isna()] if column is None else rows[rows.column == column]
    rows = rows[rows.group.isna()] if group is None else rows[rows.group == group]
    assert len(rows), f"no {check} row for column {column} group {group}"
    return set(rows.status)


def test_healthy_table_passes_every_check(healthy_checks):
    assert list(healthy_checks.columns) == ["check", "column", "group", "status", "value", "threshold", "message", "why"]
    assert set(healthy_checks.check) == set(CHECKS)
    assert (healthy_checks.status != "fail").all(), health_summary(healthy_checks).message.tolist()
    assert set(healthy_checks.group.dropna()) == {"sex=m", "sex=f", "race=a", "race=b", "race=c"}
    assert health_checks(REAL, HEALTHY, SPEC).equals(healthy_checks)  # deterministic


def test_levels_lost_overall_and_within_group(healthy_checks):
    no_current = HEALTHY.assign(smoker=HEALTHY.smoker.replace("current", "former"))
    assert status(health_checks(REAL, no_current, SPEC), "levels_lost", "smoker") == {"fail"}
    in_group = HEALTHY.assign(smoker=HEALTHY.smoker.where(HEALTHY.race != "b", "never"))
    checks = health_checks(REAL, in_group, SPEC)
    assert status(checks, "levels_lost", "smoker") == {"pass"}  # every level still present overall
    assert status(checks, "levels_lost", "smoker", "race=b") == {"fail"}
    assert status(healthy_checks, "levels_lost", "smoker", "race=b") == {"pass"}


def test_levels_lost_only_warns_when_chance_explains_it():
    few = HEALTHY[HEALTHY.race != "c"].head(10)  # 10 rows miss a 10% group with chance 0.9^10 = 35%
    checks = health_checks(REAL, few, SPEC)
    assert status(checks, "group_share", "race", "race=c") == {"warn"}
    assert status(health_checks(REAL, HEALTHY[HEALTHY.race != "c"], SPEC), "group_share", "race", "race=c") == {"fail"}


def test_levels_lost_only_warns_for_a_level_too_rare_to_matter():
    big_real, big_syn = population(3000, 0), population(3000, 1)
    real = big_real.assign(smoker=big_real.smoker.where(big_real.index >= 15, "pipe"))  # 15 of 3,000 real rows (0.5%)
    checks = health_checks(real, big_syn, SPEC)  # an ideal sample of 3,000 would keep it (chance of loss 0.06%)...
    row = checks[(checks.check == "levels_lost") & (checks.column == "smoker") & checks.group.isna()].iloc[0]
    assert row.status == "warn" and "too rare to fail the table" in row.message  # ...but 0.5% of rows does not fail a table
    strict = health_checks(real, big_syn, SPEC, thresholds=HealthThresholds(min_lost_level_share=0.0))
    assert status(strict, "levels_lost", "smoker") >= {"fail"}


def test_group_share_fails_for_a_missing_or_thin_group(healthy_checks):
    thin = pd.concat([HEALTHY[HEALTHY.race != "c"], HEALTHY[HEALTHY.race == "c"].head(5)])
    assert status(health_checks(REAL, thin, SPEC), "group_share", "race", "race=c") == {"fail"}
    dropped = health_checks(REAL, HEALTHY[HEALTHY.race != "c"], SPEC)
    row = dropped[(dropped.check == "group_share") & (dropped.group == "race=c")].iloc[0]
    assert row.value == 0 and "missing" in row.message
    assert status(healthy_checks, "group_share", "race", "race=c") == {"pass"}


def test_outcome_classes_fail_with_one_class(healthy_checks):
    checks = health_checks(REAL, HEALTHY.assign(death=1), SPEC)
    assert status(checks, "outcome_classes", "death") == {"fail"}
    assert "one class (all 1): no classifier can be trained or evaluated" in health_verdict(checks)["failed"][0]
    one_in_group = HEALTHY.assign(death=HEALTHY.death.where(HEALTHY.sex != "f", 0))
    checks = health_checks(REAL, one_in_group, SPEC)
    assert status(checks, "outcome_classes", "death", "sex=f") == {"fail"}
    assert status(checks, "outcome_classes", "death") == {"pass"}
    assert status(healthy_checks, "outcome_classes", "death") == {"pass"}


def test_outcome_rate_gap_fails_overall_and_per_group(healthy_checks):
    rng = np.random.default_rng(0)
    shifted = HEALTHY.assign(death=np.where(rng.random(len(HEALTHY)) < 0.3, 1, HEALTHY.death))
    assert status(health_checks(REAL, shifted, SPEC), "outcome_rate", "death") == {"fail"}
    in_group = HEALTHY.assign(death=np.where((HEALTHY.sex == "m") & (rng.random(len(HEALTHY)) < 0.4), 1, HEALTHY.death))
    assert status(health_checks(REAL, in_group, SPEC), "outcome_rate", "death", "sex=m") == {"fail"}
    assert status(healthy_checks, "outcome_rate", "death") == {"pass"}


def test_constant_column(healthy_checks):
    checks = health_checks(REAL, HEALTHY.assign(smoker="never", sbp=120.0), SPEC)
    assert status(checks, "constant_column", "smoker") == status(checks, "constant_column", "sbp") == {"fail"}
    assert status(checks, "constant_column", "age") == {"pass"}
    assert status(health_checks(REAL, HEALTHY.assign(lab=np.nan), SPEC), "constant_column", "lab") == {"fail"}
    assert (healthy_checks[healthy_checks.check == "constant_column"].status == "pass").all()


def test_out_of_range(healthy_checks):
    checks = health_checks(REAL, HEALTHY.assign(age=HEALTHY.age + 20), SPEC)
    assert status(checks, "out_of_range", "age") == {"fail"} and status(checks, "out_of_range", "sbp") == {"pass"}
    assert (healthy_checks[healthy_checks.check == "out_of_range"].status == "pass").all()


def test_correlations_lost_when_columns_are_shuffled(healthy_checks):
    rng = np.random.default_rng(0)
    shuffled = HEALTHY.apply(lambda c: c.sample(frac=1, random_state=int(rng.integers(1e9))).to_numpy())
    checks = health_checks(REAL, shuffled, SPEC)
    assert status(checks, "correlations_kept") == {"fail"} and "age-sbp" in checks.message[checks.check == "correlations_kept"].item()
    assert status(healthy_checks, "correlations_kept") == {"pass"}
    assert status(checks, "levels_lost", "smoker") == {"pass"}  # the shuffle keeps every column's distribution


def test_missingness_kept(healthy_checks):
    complete = filled_lab(HEALTHY)
    checks = health_checks(REAL, complete, SPEC)
    assert status(checks, "missingness_kept", "lab") == {"fail"}
    assert status(checks, "missingness_kept", None) == {"warn"}  # the row pattern distance only warns
    assert status(healthy_checks, "missingness_kept", "lab") == {"pass"}
    no_gaps = health_checks(REAL.assign(lab=5.0), HEALTHY.assign(lab=5.0), SPEC)
    assert (no_gaps[no_gaps.check == "missingness_kept"].status == "pass").all()


def test_distinct_rows_fail_on_collapse(healthy_checks):
    collapsed = HEALTHY.iloc[np.arange(len(HEALTHY)) % 4]  # four rows repeated
    checks = health_checks(REAL, collapsed, SPEC)
    assert status(checks, "distinct_rows") == {"fail"}
    assert distinct_row_share(collapsed, SPEC) == 4 / len(collapsed) and distinct_row_share(HEALTHY, SPEC) == len(HEALTHY.drop_duplicates()) / len(HEALTHY)
    assert status(healthy_checks, "distinct_rows") == {"pass"}


def test_messages_never_quote_a_patient():
    """A report shows the messages as they are: no identifier-like level, no real extreme, no tiny group's real rate."""
    spec = DatasetSpec("marked", {**SPEC.columns, "marker": "categorical"}, sensitive={**SPEC.sensitive}, outcomes=SPEC.outcomes)
    real = REAL.assign(marker=[f"ZQX{i:05d}" for i in range(len(REAL))],  # one unique identifier-like level per patient
                       lab=REAL.lab.where(REAL.index != 7, 987.654).where(REAL.index != 8, -123.456),  # a patient at each end
                       race=REAL.race.where(REAL.index >= 3, "d"))  # a group of three patients
    lo, hi = real.lab.min(), real.lab.max()
    synthetic = HEALTHY.assign(marker=[f"SYN{i:05d}" for i in range(len(HEALTHY))], lab=HEALTHY.lab * 400,
                               age=HEALTHY.age + 20, race=HEALTHY.race.where(HEALTHY.index >= 3, "d"))
    checks = health_checks(real, synthetic, spec)
    text = " ".join(checks.message)
    assert not any(m in text for m in real.marker)  # the identifiers are lost, and counted, never named
    lost = checks.query("check == 'levels_lost' and column == 'marker' and group.isna()")
    assert lost.status.item() == "fail" and f"{len(real)} rare levels, each held by fewer than 10 real rows" in lost.message.item()
    out = checks.query("check == 'out_of_range' and column in ['lab', 'age']")
    assert set(out.status) == {"fail"} and out.message.str.contains("of synthetic values fall outside the training range").all()
    shown = {float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", " ".join(out.message))}
    assert not shown & {lo, hi, round(lo, 1), round(hi, 1), round(lo), round(hi), real.age.min(), real.age.max()}
    assert "987" not in text and "123.4" not in text and f"{real.age.max():g}" not in " ".join(out.message)
    assert out.set_index("column").value["age"] == (synthetic.age > real.age.max()).mean()  # the value is still the share
    tiny = checks.query("check == 'outcome_rate' and group == 'race=d'").message.item()
    assert "a real rate not shown (fewer than 10 real rows)" in tiny
    named = health_checks(REAL, HEALTHY.assign(smoker=HEALTHY.smoker.replace("current", "never")), SPEC)
    assert "'current'" in named.query("check == 'levels_lost' and column == 'smoker' and group.isna()").message.item()  # a common level is named
    strict = health_checks(REAL, HEALTHY.assign(smoker=HEALTHY.smoker.replace("current", "never")), SPEC,
                           thresholds=HealthThresholds(min_quoted_rows=10_000))
    assert "'current'" not in " ".join(strict.message) and "1 rare level, each held by fewer than 10000 real rows" in " ".join(strict.message)
    constant = health_checks(real, synthetic.assign(marker="ZQX00004"), spec)  # a generator writing one patient's identifier
    assert "ZQX" not in " ".join(constant.message) and status(constant, "constant_column", "marker") == {"fail"}


def test_correlations_passed_in_give_the_same_checks(healthy_checks):
    given = health_checks(REAL, HEALTHY, SPEC, correlations=correlation_difference(REAL, HEALTHY, SPEC))
    pd.testing.assert_frame_equal(given, healthy_checks)
    shuffled = HEALTHY.apply(lambda c: c.sample(frac=1, random_state=1).to_numpy())
    pd.testing.assert_frame_equal(health_checks(REAL, shuffled, SPEC, correlations=correlation_difference(REAL, shuffled, SPEC)),
                                  health_checks(REAL, shuffled, SPEC))


def test_thresholds_change_the_verdict():
    rng = np.random.default_rng(0)
    shifted = HEALTHY.assign(death=np.where(rng.random(len(HEALTHY)) < 0.3, 1, HEALTHY.death))
    loose = health_checks(REAL, shifted, SPEC, thresholds=HealthThresholds(max_outcome_rate_gap=0.5))
    assert status(loose, "outcome_rate", "death") == {"pass"}
    with pytest.raises(FairsynthError, match="non-negative"): HealthThresholds(max_outcome_rate_gap=-1)
    with pytest.raises(FairsynthError, match="outcomes"): health_checks(REAL, HEALTHY, SPEC, outcomes=["nope"])
    with pytest.raises(FairsynthError, match="no rows"): health_checks(REAL, HEALTHY.head(0), SPEC)


def test_health_verdict_and_summary(healthy_checks):
    ok = health_verdict(healthy_checks)
    assert ok["healthy"] and ok["failed"] == []
    broken = health_checks(REAL, HEALTHY.assign(death=0, smoker="never"), SPEC)
    verdict = health_verdict(broken)
    assert not verdict["healthy"] and len(verdict["failed"]) == (broken.status == "fail").sum()
    summary = health_summary(broken)
    assert list(summary.columns) == ["status", "check", "column", "group", "message", "why"]
    assert len(summary) == broken.status.isin(["fail", "warn"]).sum() and summary.status.iloc[0] == "fail"
    assert summary.status.is_monotonic_increasing  # 'fail' sorts before 'warn'


def test_unusable_reason(healthy_checks):
    one_class = health_checks(REAL, HEALTHY.assign(death=0), SPEC)
    assert "one class" in unusable_reason(one_class, "utility", outcome="death")
    assert "one class" in unusable_reason(one_class, "utility")  # any outcome
    assert unusable_reason(one_class, "fidelity") is None and unusable_reason(one_class, "privacy") is None
    dropped = health_checks(REAL, HEALTHY[HEALTHY.race != "c"], SPEC)
    assert "race=c is missing" in unusable_reason(dropped, "group", group=("race", "c"))
    assert unusable_reason(dropped, "group", group=("race", "b")) is None
    assert unusable_reason(dropped, "utility", outcome="death") is None
    f_one = health_checks(REAL, HEALTHY.assign(death=HEALTHY.death.where(HEALTHY.sex != "f", 0)), SPEC)
    assert "one class in group sex=f" in unusable_reason(f_one, "group", outcome="death", group=("sex", "f"))
    assert unusable_reason(f_one, "group", group=("sex", "f")) is None  # the group's other numbers stand
    assert all(unusable_reason(healthy_checks, u, outcome="death", group=("sex", "m")) is None
               for u in ["utility", "group", "fidelity", "privacy"])
    assert group_key("race", "c") == "race=c" and group_key("death", 1.0) == "death=1"
    with pytest.raises(FairsynthError, match="use"): unusable_reason(healthy_checks, "fairness")


def test_privacy_reading_tells_memorisation_from_collapse(healthy_checks):
    train, holdout = REAL, population(300, 2)
    read = lambda table: privacy_reading(health_checks(train, table, SPEC), privacy_summary(train, table, holdout, SPEC))
    assert read(HEALTHY.head(300)).startswith("no memorisation")
    assert read(train.sample(300, random_state=0)).startswith("memorisation")  # exact copies of training rows
    collapsed = read(train.iloc[[0] * 300])  # one training row repeated: exact copies, but a collapse
    assert collapsed.startswith("collapse: low distances") and "distinct_rows" in collapsed


def test_detection_report_coarse_does_not_saturate_on_a_value_grid():
    rng = np.random.default_rng(0)
    finer = HEALTHY.assign(age=HEALTHY.age + rng.uniform(-0.4, 0.4, len(HEALTHY)).round(2),
                           sbp=HEALTHY.sbp + rng.uniform(-0.4, 0.4, len(HEALTHY)).round(2))
    plain = detection_auc(REAL, finer, SPEC, folds=3)
    numbers, away = detection_report(REAL, finer, SPEC, folds=3, top=3)
    assert set(numbers) == {"detection_auc_coarse", "missingness_detection_auc"}
    assert plain > 0.9 and numbers["detection_auc_coarse"] < 0.6 and numbers["detection_auc_coarse"] < plain - 0.3
    assert set(away.feature[:2]) == {"age", "sbp"} and (away.gives_away[:2] == "resolution").all() and len(away) == 3
    more_gaps = HEALTHY.assign(lab=HEALTHY.lab.mask(rng.random(len(HEALTHY)) < 0.5))  # about 60% missing, real 20%
    gaps = detection_report(REAL, more_gaps, SPEC, folds=3)[0]
    assert gaps["missingness_detection_auc"] > 0.62 and gaps["detection_auc_coarse"] < 0.6
    assert detection_report(REAL.assign(lab=1.0), HEALTHY.assign(lab=1.0), SPEC, folds=3)[0]["missingness_detection_auc"] == 0.5
