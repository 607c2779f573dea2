"""Shared fixtures: settings pointing at the data folder, and reports written into a temporary folder."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture
def reports_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh reports folder, also set as FAIRSYNTH_REPORTS_DIR for code that reads the settings."""
    d = tmp_path / "reports"
    monkeypatch.setenv("FAIRSYNTH_REPORTS_DIR", str(d))
    return d


@pytest.fixture(scope="session")
def data_dirs() -> list[Path]:
    """The data folders the tests read, from the project's data-folder setting."""
    from fairsynth.core import load_settings
    return list(load_settings().data_dir)
