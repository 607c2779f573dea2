"""The dataset spec and the checks every table passes before anything is fitted."""
from __future__ import annotations

import pandas as pd
import pytest

from fairsynth.core import FairsynthError
from fairsynth.spec import DatasetSpec, check_binary_outcome, validate_frame

SPEC = DatasetSpec("toy", {"race": "categorical", "age": "numerical", "died": "categorical"}, id_column="pid",
                   sensitive={"race": "white"}, outcomes=("died",), confounders=("age",))


def toy() -> pd.DataFrame:
    return pd.DataFrame({"pid": [1, 2, 3, 4], "race": ["white", "black", "white", "asian"],
                         "age": [50.0, 61.0, 72.0, 45.0], "died": [0, 1, 0, 1]})


def test_roles_and_types():
    assert SPEC.categorical == ["race", "died"] and SPEC.numerical == ["age"]
    assert SPEC.outcome == "died" and SPEC.features() == ["race", "age"]
    assert SPEC.to_dict()["sensitive"] == {"race": "white"}


@pytest.mark.parametrize("kwargs, culprit", [
    (dict(columns={"a": "numerical"}, outcomes=("y",)), "'y'"),
    (dict(columns={"a": "text"}), "text"),
    (dict(columns={"a": "numerical"}, id_column="a"), "'a'"),
])
def test_inconsistent_specs_are_refused(kwargs, culprit):
    with pytest.raises(FairsynthError, match=culprit):
        DatasetSpec("bad", **kwargs)


@pytest.mark.parametrize("change, culprit", [
    (lambda d: d.drop(columns="age"), "age"),
    (lambda d: d.drop(columns="pid"), "pid"),
    (lambda d: d.assign(age=None), "age"),
    (lambda d: d.assign(died=1), "died"),
    (lambda d: d.assign(died=[0, 2, 0, 1]), "died"),
    (lambda d: d.assign(age=["x"] * 4), "age"),
    (lambda d: d.assign(race="black"), "white"),
])
def test_bad_tables_name_the_culprit(change, culprit):
    with pytest.raises(FairsynthError, match=culprit):
        validate_frame(change(toy()), SPEC, where="toy.csv")


def test_valid_table_passes_and_missing_outcomes_are_allowed():
    assert validate_frame(toy(), SPEC) is not None
    check_binary_outcome(pd.Series([0, 1, None]), "y")
    with pytest.raises(FairsynthError, match="single class"):
        check_binary_outcome(pd.Series([1, 1, None]), "y", "synthetic 'tvae'")


@pytest.mark.parametrize("field, value", [
    ("sensitive", ["race"]), ("columns", ["race", "age", "died"]), ("id_column", ["pid"]), ("treatment", ["age"]),
    ("outcomes", "died"), ("confounders", "age"), ("mediators", 3), ("outcome_excludes", ["died"]), ("description", 1.5),
])
def test_spec_fields_of_the_wrong_type_are_named(field, value):
    from fairsynth.spec import spec_from_dict
    with pytest.raises(FairsynthError, match=f"field '{field}' must be") as e:
        spec_from_dict({**SPEC.to_dict(), field: value})
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("roles, culprit", [
    (dict(mediators=("died",)), "'outcomes' and 'mediators'"), (dict(confounders=("died",)), "'outcomes' and 'confounders'"),
    (dict(treatment="died"), "'outcomes' and 'treatment'"), (dict(mediators=("race",)), "'sensitive' and 'mediators'"),
])
def test_a_column_has_one_role(roles, culprit):
    """Specs read from JSON (and every table read by from_csv) give each column one role; code may narrow overlapping ones."""
    from fairsynth.spec import check_roles, spec_from_dict
    with pytest.raises(FairsynthError, match=culprit):
        spec_from_dict({**SPEC.to_dict(), **roles})
    with pytest.raises(FairsynthError, match=culprit):
        check_roles(SPEC.replace(**roles))


def test_sensitive_columns_may_stay_confounders():
    """The registered specs list sensitive attributes among the confounders (causal code drops X from Z): allowed."""
    assert SPEC.replace(confounders=("age", "race")).confounders == ("age", "race")


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), 1e308, -1e200])
def test_non_finite_and_huge_values_are_counted(bad):
    with pytest.raises(FairsynthError, match=r"column 'age' of toy.csv has 2 row\(s\)"):
        validate_frame(toy().assign(age=[50.0, bad, bad, 45.0]), SPEC, where="toy.csv")
    assert validate_frame(toy().assign(age=[50.0, None, 1e149, 45.0]), SPEC) is not None  # missing and large-but-finite pass
