"""Settings resolution, seeding, atomic writes, checksums and provenance."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from fairsynth.core import (FairsynthError, atomic_path, atomic_write_text, load_settings, provenance, set_seed,
                            sha256_file)


@pytest.fixture
def clean_env(monkeypatch):
    """No FAIRSYNTH_* variable in the environment (CI sets FAIRSYNTH_DATA_DIR)."""
    import os
    for k in [k for k in os.environ if k.startswith("FAIRSYNTH_")]:
        monkeypatch.delenv(k)
    return monkeypatch


def write_ini(path: Path, body: str) -> Path:
    (path / "settings.ini").write_text("[fairsynth]\n" + body)
    return path / "settings.ini"


def test_settings_file_env_and_overrides_in_that_order(tmp_path, clean_env):
    monkeypatch = clean_env
    ini = write_ini(tmp_path, "data_dir = raw:more\nseed = 3\nrepeats = 5\ndevice = cpu\n")
    s = load_settings(path=ini)
    assert s.seed == 3 and s.repeats == 5 and s.device == "cpu"
    assert s.data_dir == (tmp_path / "raw", tmp_path / "more")  # relative to the ini's folder
    monkeypatch.setenv("FAIRSYNTH_SEED", "4")
    assert load_settings(path=ini).seed == 4
    assert load_settings({"seed": 5}, path=ini).seed == 5


def test_bad_settings_name_the_key(tmp_path, clean_env):
    with pytest.raises(FairsynthError, match="'seed'"):
        load_settings(path=write_ini(tmp_path, "seed = many\n"))
    with pytest.raises(FairsynthError, match="colour"):
        load_settings(path=write_ini(tmp_path, "colour = blue\n"))
    with pytest.raises(FairsynthError, match="allow_download"):
        load_settings({"allow_download": "perhaps"}, path=write_ini(tmp_path, ""))


def test_project_settings_ini_is_found_and_complete():
    s = load_settings()
    assert s.source is not None and s.source.name == "settings.ini"
    assert s.llm_base_url.startswith("http") and s.llm_model


def test_set_seed_reproduces_numpy_and_torch():
    import torch
    set_seed(1); a, ta = np.random.rand(3), torch.rand(3)
    set_seed(1); b, tb = np.random.rand(3), torch.rand(3)
    assert np.array_equal(a, b) and torch.equal(ta, tb)
    with pytest.raises(FairsynthError, match="seed"):
        set_seed("zero")


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = atomic_write_text(tmp_path / "r.html", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_sha256_reads_gzip_through(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"x\n1\n")
    with gzip.open(tmp_path / "a.csv.gz", "wb") as f:
        f.write(b"x\n1\n")
    assert sha256_file(tmp_path / "a.csv") == sha256_file(tmp_path / "a.csv.gz")
    assert sha256_file(tmp_path / "a.csv.gz", decompress=False) != sha256_file(tmp_path / "a.csv")


def test_provenance_records_versions_commit_and_checksum():
    p = provenance({"dataset": "nhefs", "seed": 0}, "f" * 64, load_settings())
    assert p["parameters"]["seed"] == 0 and p["data_sha256"] == "f" * 64
    assert p["packages"]["sdv"][0].isdigit() and p["packages"]["torch"].startswith("2.")
    assert p["git_commit"] == "unknown" or len(p["git_commit"]) >= 40
