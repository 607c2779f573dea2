"""Pieces both benchmarks share: the training rows, SDV's own metadata for them, and writing the results."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

DEFAULT_ROWS = {"diabetes130": 20000}  # training rows per dataset (subsample of the training split); others: all


def training_rows(name: str, rows: int | None, seed: int):
    """The dataset's training split (by patient), subsampled to `rows`, and its spec."""
    from fairsynth.data import load_dataset, patient_split
    ds = load_dataset(name)
    train, _ = patient_split(ds.frame, ds.spec, seed=seed)
    rows = rows or DEFAULT_ROWS.get(name)
    if rows and len(train) > rows: train = train.sample(rows, random_state=seed)
    return train, ds.spec


def sdv_inputs(train: pd.DataFrame, spec):
    """(table, metadata) as a careful SDV 2.0 user writes them: 'category' columns as objects, sdtypes from the spec."""
    from sdv.metadata import Metadata
    data = train[list(spec.columns)].reset_index(drop=True)
    for col in data.columns:  # SDV's CTGAN/TVAE refuse pandas 'category' columns
        if isinstance(data[col].dtype, pd.CategoricalDtype): data[col] = data[col].astype(object)
    metadata = Metadata.detect_from_dataframes({"data": data}, infer_keys=None)
    for col, kind in spec.columns.items(): metadata.update_column(col, table_name="data", sdtype=kind)
    return data, metadata


def write_results(raw: pd.DataFrame, table: pd.DataFrame, out: Path, prefix: str, raw_suffix: str) -> tuple[Path, str]:
    """Write `<prefix>-<time>.csv` (the table) and `<prefix>-<time>-<raw_suffix>.csv` (every run) into `out`."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    raw.to_csv(out / f"{prefix}-{stamp}-{raw_suffix}.csv", index=False)
    table.to_csv(out / f"{prefix}-{stamp}.csv", index=False)
    return out / f"{prefix}-{stamp}.csv", stamp
