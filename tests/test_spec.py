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
