"""Module-level cell functions for tests/test_grid.py, importable by worker processes (loky, Dask, a subprocess)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def seeded_cell(params: dict[str, Any]) -> pd.DataFrame:
    """Deterministic rows from the cell's seed: `n` (default 4) draws, a label and a row number."""
    rng = np.random.default_rng(params["seed"])
    n = int(params.get("n", 4))
    return pd.DataFrame({"row": np.arange(n), "value": rng.normal(size=n), "label": rng.choice(["a", "b"], size=n)})


def slow_cell(params: dict[str, Any]) -> pd.DataFrame:
    """A seeded cell that first sleeps `params['sleep']` seconds."""
    time.sleep(params["sleep"])
    return seeded_cell(params)


def needs_file_cell(params: dict[str, Any]) -> pd.DataFrame:
    """A seeded cell that fails while the file named by `params['needs']` (when given) does not exist."""
    if params.get("needs") and not Path(params["needs"]).exists():
        raise FileNotFoundError(f"marker {params['needs']} is missing")
    return seeded_cell(params)


def not_a_frame_cell(params: dict[str, Any]) -> list[int]:
    """A broken cell function: returns a list instead of a DataFrame."""
    return [params["seed"]]


def threads_cell(params: dict[str, Any]) -> pd.DataFrame:
    """The largest BLAS / OpenMP thread count the cell sees (threadpoolctl)."""
    from threadpoolctl import threadpool_info
    return pd.DataFrame({"max_threads": [max((p["num_threads"] for p in threadpool_info()), default=1)]})
