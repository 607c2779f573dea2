"""Behaviour kept across refactors: the small study runs of tests/golden/commands.json, recorded from main before the
study-framework refactor (issue 15), give the same numbers now. Timings and cell ids are left out of the comparison."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from record import run_command  # noqa: E402  (the recorder and this test run the same commands)

STUDIES = [k for k in json.loads((GOLDEN / "commands.json").read_text()) if not k.startswith("_")]
TIMING = ("seconds", "per_epoch")  # rows and columns holding wall times differ between runs


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """The table without timings and cell ids, as text keys and float values, sorted."""
    t = table.drop(columns=[c for c in table.columns if c == "cell_id" or any(s in c for s in TIMING)])
    text = [c for c in t.columns if not pd.api.types.is_float_dtype(t[c])]
    timing_row = t[text].astype(str).apply(lambda col: col.str.contains("|".join(TIMING))).any(axis=1)
    t = t[~timing_row].copy()
    for c in text: t[c] = t[c].map(lambda v: "" if pd.isna(v) else str(v))
    return t.sort_values(text).reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.parametrize("study", STUDIES)
def test_same_numbers_as_before_the_refactor(study: str, tmp_path: Path):
    old = comparable(pd.read_csv(GOLDEN / f"{study}.csv"))
    new = comparable(run_command(study, tmp_path).pipe(lambda t: pd.read_csv(pd.io.common.StringIO(t.to_csv(index=False)))))
    assert set(old.columns) <= set(new.columns), f"{study}: columns lost: {sorted(set(old.columns) - set(new.columns))}"
    text = [c for c in old.columns if old[c].dtype == object]
    # later issues may add measurements (new rows or columns); every recorded row must still be there, equal
    new = new[list(old.columns)]
    new = new[new[text].apply(tuple, axis=1).isin(set(old[text].apply(tuple, axis=1)))].sort_values(text).reset_index(drop=True)
    assert len(new) == len(old), f"{study}: {len(old)} rows recorded, {len(new)} of them found now"
    pd.testing.assert_frame_equal(new[text], old[text], obj=f"{study} keys")
    for c in old.columns.difference(text):
        assert np.allclose(new[c].astype(float), old[c].astype(float), rtol=1e-7, atol=1e-10, equal_nan=True), \
            f"{study}: column {c} differs; largest gap {np.nanmax(np.abs(new[c].astype(float) - old[c].astype(float)))}"
