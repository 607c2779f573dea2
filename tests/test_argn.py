"""The `argn` generator (TabularARGN from the optional extra `mostlyai-engine`): the error naming the extra when it is
missing, parameter checks, and the wrapper's own work (workspace, seeds, conditions as seed data, values restored)
against a stand-in engine, so these tests run whether or not the extra is installed. The real engine's fit is checked
by tests/test_conformance.py where the extra is installed."""
from __future__ import annotations

import json
import os
import pickle
import re
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairsynth.core import FairsynthError
from fairsynth.generators.argn import (ARGNGenerator, argn_installed, argn_ready, encoding_types, import_engine,
                                       read_model_files, write_model_files)
from fairsynth.generators.base import generator_class, get_generator
from fairsynth.spec import DatasetSpec

SPEC = DatasetSpec("toy", {"sex": "categorical", "race": "categorical", "code": "categorical", "age": "numerical", "death": "numerical"},
                   sensitive={"race": "b"}, outcomes=("death",))


@pytest.fixture
def table() -> pd.DataFrame:
    """200 rows: text categories (one with missing values), an integer-coded category, a numerical column, a 0/1 outcome."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"sex": rng.choice(["female", "male"], 200), "race": rng.choice(["a", "b"], 200, p=[0.8, 0.2]),
                       "code": rng.choice([1, 2, 3], 200), "age": rng.integers(20, 80, 200).astype(float),
                       "death": rng.choice([0, 1], 200)})
    df.loc[:9, "sex"] = np.nan
    return df


def test_missing_extra_names_it(table, monkeypatch):
    monkeypatch.setitem(sys.modules, "mostlyai", None)  # an import of mostlyai fails now, installed or not
    assert not argn_installed() and not ARGNGenerator.extra_installed()
    with pytest.raises(FairsynthError, match=re.escape("generator 'argn' needs the optional extra: pip install 'fairsynth[argn]'")):
        import_engine()
    with pytest.raises(FairsynthError) as e: import_engine()
    assert "torchvision" not in str(e.value)  # missing, not broken: no hint about a mismatched torchvision
    gen = get_generator("argn", model="small")  # built and checked without the extra
    with pytest.raises(FairsynthError, match=re.escape("pip install 'fairsynth[argn]'")):
        gen.fit(table, SPEC)
    assert not hasattr(gen, "model_files_")


def test_broken_install_gets_a_hint(monkeypatch):
    class Broken(types.ModuleType):
        def __getattr__(self, name):  # what transformers raises when a torchvision built for another torch is installed
            raise ModuleNotFoundError("Could not import module 'PreTrainedModel'")
    monkeypatch.setitem(sys.modules, "mostlyai", Broken("mostlyai"))
    with pytest.raises(FairsynthError, match=r"pip install 'fairsynth\[argn\]'.*PreTrainedModel.*pip uninstall -y torchvision torchaudio"):
        import_engine()


def test_registered_without_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mostlyai", None)
    cls = generator_class("argn")
    assert cls is ARGNGenerator and cls.kind == "peer" and cls.requires_extra == "argn" and "TabularARGN" in cls.__doc__


@pytest.mark.parametrize("bad", [{"model": "huge"}, {"max_epochs": 0}, {"max_epochs": True}, {"max_training_time": -1.0},
                                 {"batch_size": 0}, {"value_protection": "yes"}, {"device": "gpu"}, {"progress": 1},
                                 {"seed": -1}])
def test_bad_parameters(bad):
    with pytest.raises(FairsynthError, match=f"'{next(iter(bad))}'"):
        get_generator("argn", **bad)


def test_ready_frame_and_encoding_types(table):
    ready = argn_ready(table[list(SPEC.columns)], SPEC)
    assert ready.code.tolist()[:3] == [str(v) for v in table.code[:3]] and ready.sex.isna().sum() == 10
    assert ready.age.dtype == float and ready.death.dtype == float
    assert encoding_types(SPEC) == {"sex": "TABULAR_CATEGORICAL", "race": "TABULAR_CATEGORICAL", "code": "TABULAR_CATEGORICAL",
                                    "age": "TABULAR_NUMERIC_AUTO", "death": "TABULAR_NUMERIC_AUTO"}


def test_model_files_leave_training_rows_behind(tmp_path):
    (tmp_path / "ModelStore/model-data").mkdir(parents=True); (tmp_path / "ModelStore/tgt-stats").mkdir()
    (tmp_path / "OriginalData/tgt-data").mkdir(parents=True)
    (tmp_path / "ModelStore/model-data/model-weights.pt").write_bytes(b"weights")
    (tmp_path / "ModelStore/model-data/optimizer.pt").write_bytes(b"adam")
    (tmp_path / "ModelStore/tgt-stats/stats.json").write_text("{}")
    (tmp_path / "OriginalData/tgt-data/part.parquet").write_bytes(b"rows")
    files = read_model_files(tmp_path)
    assert files == {"ModelStore/model-data/model-weights.pt": b"weights", "ModelStore/tgt-stats/stats.json": b"{}"}
    again = write_model_files(files, tmp_path / "copy")
    assert read_model_files(again) == files


class StandInEngine(types.ModuleType):
    """A stand-in for `mostlyai.engine` (not a model): 'trains' per-column value lists, 'generates' by drawing from them
    with numpy's global stream, honours seed data, and records every workspace it was given."""
    def __init__(self):
        super().__init__("mostlyai.engine")
        self.workspaces, self.calls = [], []

    def set_random_state(self, seed):
        os.environ["MOSTLYAI_ENGINE_SEED"] = str(seed)
        np.random.seed(seed)

    def split(self, *, tgt_data, tgt_encoding_types, model_type, workspace_dir):
        ws = Path(workspace_dir); self.workspaces.append(ws)
        (ws / "OriginalData").mkdir(parents=True)
        tgt_data.to_parquet(ws / "OriginalData/rows.parquet")
        self.calls.append(("split", model_type, dict(tgt_encoding_types), tgt_data.dtypes.astype(str).to_dict()))

    def analyze(self, *, value_protection, workspace_dir): self.calls.append(("analyze", value_protection))

    def encode(self, *, workspace_dir): self.calls.append(("encode",))

    def train(self, *, model, max_epochs, max_training_time, batch_size, device, workspace_dir, update_progress):
        ws = Path(workspace_dir)
        rows = pd.read_parquet(ws / "OriginalData/rows.parquet")
        (ws / "ModelStore/model-data").mkdir(parents=True)
        values = {c: [None if pd.isna(v) else v for v in rows[c]] for c in rows.columns}
        (ws / "ModelStore/model-data/model-weights.pt").write_text(json.dumps(values))
        (ws / "ModelStore/model-data/progress-messages.csv").write_text("epoch,val_loss\n1.0,2.5\n")
        self.calls.append(("train", model, max_epochs, max_training_time, batch_size, device))

    def generate(self, *, workspace_dir, seed_data, sample_size, device, rare_category_replacement_method):
        ws = Path(workspace_dir); self.workspaces.append(ws)
        assert not (ws / "OriginalData").exists()  # a draw never sees the training rows
        values = json.loads((ws / "ModelStore/model-data/model-weights.pt").read_text())
        n = len(seed_data) if seed_data is not None else sample_size
        out = pd.DataFrame({c: np.random.choice(np.array(v, dtype=object), n) for c, v in values.items()})
        if seed_data is not None:
            for c in seed_data.columns: out[c] = seed_data[c].to_numpy()
        for c in ("age", "death"): out[c] = out[c].astype("Float64")  # the engine returns pandas' nullable types
        (ws / "SyntheticData").mkdir()
        out.to_parquet(ws / "SyntheticData/part.000000.parquet")
        self.calls.append(("generate", sample_size, None if seed_data is None else seed_data.iloc[0].to_dict(), rare_category_replacement_method))


@pytest.fixture
def engine(monkeypatch) -> StandInEngine:
    fake = StandInEngine()
    monkeypatch.setitem(sys.modules, "mostlyai", types.SimpleNamespace(engine=fake))
    monkeypatch.setitem(sys.modules, "mostlyai.engine", fake)
    monkeypatch.delenv("MOSTLYAI_ENGINE_SEED", raising=False)
    return fake


def test_wrapper_against_stand_in_engine(engine, table):
    gen = get_generator("argn", model="small", max_epochs=3, seed=4).fit(table, SPEC)
    split, analyze, _, train = engine.calls[:4]
    assert split[1] == "TABULAR" and split[2] == encoding_types(SPEC) and split[3]["code"] == "object"  # codes handed over as text
    assert analyze == ("analyze", True) and train == ("train", "MOSTLY_AI/Small", 3.0, 14400.0, None, "cpu")
    assert set(gen.model_files_) == {"ModelStore/model-data/model-weights.pt"} and gen.training_log_.val_loss.tolist() == [2.5]
    assert "MOSTLYAI_ENGINE_SEED" not in os.environ  # the engine's seed variable is put back
    out = gen.sample(50)
    assert out.dtypes.to_dict() == table.dtypes.to_dict() and set(out.code) <= {1, 2, 3} and out.sex.isna().any()
    assert out.equals(gen.sample(50)) and not out.equals(gen.sample(50, seed=5))
    assert pickle.loads(pickle.dumps(gen)).sample(50).equals(out)
    black = gen.sample(30, conditions={"race": "b", "code": 2})
    assert (black.race == "b").all() and (black.code == 2).all() and len(black) == 30
    assert engine.calls[-1] == ("generate", None, {"race": "b", "code": "2"}, "SAMPLE")  # conditions as seed data, as text
    assert engine.workspaces and not any(ws.exists() for ws in engine.workspaces)  # every temporary workspace is removed


def test_unknown_value_is_an_error(engine, table):
    gen = get_generator("argn", model="small").fit(table, SPEC)
    raw = argn_ready(table[list(SPEC.columns)].head(3), SPEC)
    raw.loc[0, "race"] = "_RARE_"
    with pytest.raises(FairsynthError, match=r"'_RARE_'.*column 'race'"):
        gen._decode(raw)
