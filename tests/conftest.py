"""Shared fixtures: settings pointing at the data folder, and reports written into a temporary folder."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("FAIRSYNTH_STRICT_PAGES", "1")  # every page a test renders is checked (report.page_problems): a defect fails the test


@pytest.fixture
def reports_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh reports folder, also set as FAIRSYNTH_REPORTS_DIR for code that reads the settings."""
    d = tmp_path / "reports"
    monkeypatch.setenv("FAIRSYNTH_REPORTS_DIR", str(d))
    return d


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module of tiny models: as fast, and no stall when other work shares the cores."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def data_dirs() -> list[Path]:
    """The data folders the tests read, from the project's data-folder setting."""
    from fairsynth.core import load_settings
    return list(load_settings().data_dir)


LLM_TEST_KEY = "sk-test-SECRET-4f9a2c"  # the API key tests set; it must reach the local server and nothing else


@pytest.fixture
def llm_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A local OpenAI-compatible stand-in server (not an LLM), with the settings and key pointing at it and a fresh reply cache."""
    from fairsynth.llm.server import LocalLLMServer
    srv = LocalLLMServer(seed=0).start()
    monkeypatch.setenv("FAIRSYNTH_LLM_BASE_URL", srv.url)
    monkeypatch.setenv("FAIRSYNTH_LLM_MODEL", "test-model")
    monkeypatch.setenv("FAIRSYNTH_LLM_CACHE_DIR", str(tmp_path / "llm-cache"))
    monkeypatch.setenv("FAIRSYNTH_LLM_API_KEY", LLM_TEST_KEY)
    yield srv
    srv.stop()
