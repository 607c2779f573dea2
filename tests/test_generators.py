"""Generators: the registry, the SDV wrappers (gaussian_copula, ctgan, tvae) and the SMOTE baseline."""
import json
import random
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fairsynth.core import FairsynthError
from fairsynth.data import load_dataset
from fairsynth.generators.base import BUILTIN_GENERATORS, Generator, _REGISTRY, get_generator, list_generators, register

GROUP = {"race": "black or other"}  # the minority group of NHEFS (about 13% of rows)
SDV_PARAMS = {"gaussian_copula": {},
              "ctgan": {"epochs": 2, "batch_size": 100, "device": "cpu"},
              "tvae": {"epochs": 2, "batch_size": 100, "device": "cpu"}}


@pytest.fixture(scope="module")
def nhefs():
    """300 NHEFS rows (with the id column) and the dataset's spec."""
    ds = load_dataset("nhefs")
    return ds.frame.sample(300, random_state=0), ds.spec


@pytest.fixture(scope="module")
def fitted(nhefs):
    """Each SDV generator fitted once on the 300 rows (seed 3)."""
    df, spec = nhefs
    return {name: get_generator(name, seed=3, **params).fit(df, spec) for name, params in SDV_PARAMS.items()}


# --- registry -------------------------------------------------------------------------------------------

def test_list_generators_names_classes_descriptions_kinds():
    table = list_generators()
    assert list(table.columns) == ["name", "class", "description", "kind"]
    rows = table.set_index("name")
    assert {"gaussian_copula", "ctgan", "tvae", "smote"} <= set(rows.index)
    assert rows.loc["ctgan", "class"] == "fairsynth.generators.sdv.CTGANGenerator"
    assert rows.loc[["gaussian_copula", "ctgan", "tvae"], "kind"].eq("sdv").all() and rows.loc["smote", "kind"] == "baseline"
    assert rows.description.str.len().gt(10).all() and not rows.description.str.contains("\n").any()


def test_unknown_generator_lists_the_known_ones():
    with pytest.raises(FairsynthError) as e: get_generator("ctgann")
    assert "'ctgann'" in str(e.value) and all(name in str(e.value) for name in BUILTIN_GENERATORS)


def test_unknown_parameter_is_named_with_the_accepted_ones():
    with pytest.raises(FairsynthError) as e: get_generator("ctgan", epoch=3)
    assert "'epoch'" in str(e.value) and "'epochs'" in str(e.value) and "'batch_size'" in str(e.value)
    assert get_generator("tvae", epochs=7).get_params()["epochs"] == 7


def test_import_fairsynth_does_not_import_torch_or_sdv():
    code = ("import sys, fairsynth, fairsynth.generators.base as b; "
            "print(sorted(m for m in ('torch', 'sdv', 'imblearn', 'ctgan') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_register_adds_a_generator_and_refuses_a_taken_name(nhefs):
    @register("constant_test")
    class Constant(Generator):
        """Repeat the first training row (test only)."""
        def __init__(self, seed: int = 0): self.seed = seed
        def _fit(self, data, spec): self.row_ = data.iloc[:1]
        def _sample(self, n, conditions, seed): return pd.concat([self.row_] * n)
    try:
        df, spec = nhefs
        out = get_generator("constant_test").fit(df, spec).sample(4)
        assert out.shape == (4, len(spec.columns)) and "constant_test" in set(list_generators().name)
        with pytest.raises(FairsynthError, match="already taken"):
            register("constant_test")(type("Other", (Generator,), {}))
    finally:
        _REGISTRY.pop("constant_test")


# --- base contract --------------------------------------------------------------------------------------

def test_sample_before_fit_and_bad_n_are_clear_errors(fitted):
    with pytest.raises(FairsynthError, match="not fitted"): get_generator("gaussian_copula").sample(5)
    for bad in (0, -1, 2.5, "10"):
        with pytest.raises(FairsynthError, match="'n'"): fitted["gaussian_copula"].sample(bad)


def test_fit_drops_the_id_column_and_checks_columns(nhefs):
    df, spec = nhefs
    gen = get_generator("gaussian_copula").fit(df.drop(columns=spec.id_column), spec)
    assert gen.columns_ == list(spec.columns) and spec.id_column not in gen.sample(5).columns
    with pytest.raises(FairsynthError, match="wt71"): get_generator("gaussian_copula").fit(df.drop(columns="wt71"), spec)


# --- SDV wrappers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SDV_PARAMS))
def test_sdv_shape_columns_dtypes_and_levels(fitted, nhefs, name):
    df, spec = nhefs
    gen = fitted[name]
    out = gen.sample(250)
    assert out.shape == (250, len(spec.columns)) and list(out.columns) == list(spec.columns)
    assert out.dtypes.to_dict() == df[list(spec.columns)].dtypes.to_dict()
    for col in spec.categorical:
        assert set(out[col].dropna()) <= set(df[col].dropna()), col
    assert gen.fit_seconds_ > 0 and gen.n_train_rows_ == 300 and gen.synthesizer_._fitted


@pytest.mark.parametrize("name", list(SDV_PARAMS))
def test_sdv_seeds(fitted, nhefs, name):
    gen = fitted[name]
    first = gen.sample(100)
    assert first.equals(gen.sample(100)) and first.equals(gen.sample(100, seed=3))  # seed=None means the generator's seed
    assert not first.equals(gen.sample(100, seed=4))
    df, spec = nhefs
    again = get_generator(name, seed=3, **SDV_PARAMS[name]).fit(df, spec)  # same seed, same fitted model
    assert again.sample(100).equals(first)


def test_ctgan_tvae_same_seed_same_csv_on_1000_plus_rows(tmp_path):
    # in a fresh process, as a run fits: on 500+ rows ctgan's column transformer used to run on threads that
    # interleaved RDT's swaps of NumPy's global random state (same seed, different rows)
    script = Path(__file__).with_name("_seed_check.py")
    out = subprocess.run([sys.executable, str(script), str(tmp_path), "--quick"], capture_output=True, text=True, check=True)
    rows = pd.DataFrame([json.loads(line) for line in out.stdout.splitlines()])
    assert len(rows) == 6 and (rows.train_rows >= 1000).all() and (rows.rows == rows.train_rows).all()
    for name, g in rows.groupby("generator"):
        first, second, other = g.sort_values("run").sha256
        assert first == second, name  # seed 0 twice: byte-identical CSV
        assert first != other, name  # seed 1: another table
        pd.testing.assert_frame_equal(pd.read_csv(g.file.iloc[0]), pd.read_csv(g.file.iloc[1]))


@pytest.mark.parametrize("name", list(SDV_PARAMS))
def test_sdv_conditions_return_only_the_group(fitted, name):
    out = fitted[name].sample(40, conditions=GROUP)
    assert len(out) == 40 and (out.race == "black or other").all()
    both = fitted[name].sample(20, conditions={**GROUP, "sex": "female"})
    assert len(both) == 20 and (both.race == "black or other").all() and (both.sex == "female").all()
    assert both.equals(fitted[name].sample(20, conditions={**GROUP, "sex": "female"}))


@pytest.mark.parametrize("name", list(SDV_PARAMS))
def test_sdv_condition_on_unseen_value_or_column_is_named(fitted, name):
    with pytest.raises(FairsynthError) as e: fitted[name].sample(10, conditions={"race": "martian"})
    msg = str(e.value)
    assert "'race'" in msg and "'martian'" in msg and "'white'" in msg and "'black or other'" in msg
    with pytest.raises(FairsynthError, match="'ethnicity'"): fitted[name].sample(10, conditions={"ethnicity": "x"})


def test_ctgan_that_cannot_reach_n_rows_says_so(fitted):
    gen = fitted["ctgan"]
    gen.set_params(max_tries_per_batch=1)
    try:
        with pytest.raises(FairsynthError) as e:
            gen.sample(3000, conditions={**GROUP, "death": 1, "bronch": 1})
    finally:
        gen.set_params(max_tries_per_batch=100)
    msg = str(e.value)
    assert "race='black or other'" in msg and "of n=3000 rows" in msg and "max_tries_per_batch" in msg


def _direct_sdv(name, df, spec, seed, sample_seed, n, conditions=None):
    """The same model through SDV alone: metadata from the spec, seeded fit, seeded draw."""
    from sdv.metadata import Metadata
    from sdv.sampling import Condition
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer
    data = df[list(spec.columns)].reset_index(drop=True)
    metadata = Metadata.detect_from_dataframes({"data": data}, infer_keys=None)
    for col, kind in spec.columns.items(): metadata.update_column(col, table_name="data", sdtype=kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "gaussian_copula": synth = GaussianCopulaSynthesizer(metadata)
        else:
            cls = CTGANSynthesizer if name == "ctgan" else TVAESynthesizer
            synth = cls(metadata, epochs=2, batch_size=100, enable_gpu=False)
        random.seed(seed); np.random.seed(seed); torch.manual_seed(seed)
        synth.fit({"data": data})
        synth.reset_sampling(); synth._set_random_state(sample_seed)
        if conditions is None: return synth.sample(n)["data"]
        return synth.sample_from_conditions([Condition(conditions, num_rows=n)])["data"]


@pytest.mark.parametrize("name", list(SDV_PARAMS))
def test_sdv_wrapper_equals_a_direct_sdv_call(fitted, nhefs, name):
    df, spec = nhefs
    pd.testing.assert_frame_equal(fitted[name].sample(120, seed=11), _direct_sdv(name, df, spec, 3, 11, 120))
    if name == "gaussian_copula":
        pd.testing.assert_frame_equal(fitted[name].sample(30, GROUP, seed=5), _direct_sdv(name, df, spec, 3, 5, 30, GROUP))


def test_device_comes_from_the_settings(monkeypatch, nhefs):
    df, spec = nhefs
    monkeypatch.setenv("FAIRSYNTH_DEVICE", "cpu")
    gen = get_generator("tvae", epochs=1, batch_size=100).fit(df, spec)
    assert gen.device_ == "cpu" and gen.synthesizer_.enable_gpu is False and gen.synthesizer_._model._device.type == "cpu"
    if torch.cuda.is_available():
        gen = get_generator("tvae", epochs=1, batch_size=100, device="cuda").fit(df, spec)
        assert gen.synthesizer_._model._device.type == "cuda" and len(gen.sample(10)) == 10
    else:
        with pytest.raises(FairsynthError, match="device"): get_generator("tvae", device="cuda").fit(df, spec)


def test_size_aware_batch_and_epochs():
    from fairsynth.generators.sdv import MAX_EPOCHS, MIN_EPOCHS, size_aware_batch, size_aware_epochs
    assert [size_aware_batch(n, 0.1) for n in (120, 1096, 4321, 20_000)] == [50, 110, 430, 500]  # a tenth, within [50, 500]
    assert size_aware_batch(1096, 1.0) == 500 and size_aware_batch(260, 1.0, multiple=20) == 260 and size_aware_batch(255, 1.0, multiple=20) == 260
    assert size_aware_epochs(10, 3000) == 300 and size_aware_epochs(7, 3000) == 429  # ceil(3000 / 7)
    assert size_aware_epochs(1, 3000) == MAX_EPOCHS and size_aware_epochs(1000, 3000) == MIN_EPOCHS


@pytest.mark.parametrize("name, epochs, batch_size, expected", [
    ("tvae", None, None, (500, 50)),  # 300 rows: a batch of 50 (a tenth is 30), 6 steps an epoch, 3,000 steps
    ("tvae", 7, None, (7, 50)),  # an explicit epochs is used exactly
    ("tvae", None, 100, (1000, 100)),  # 3 steps an epoch
    ("ctgan", None, None, (1000, 300)),  # all 300 rows in one batch, 1 step an epoch, 1,000 steps
    ("ctgan", 3, 100, (3, 100)),
])
def test_size_aware_defaults_reach_sdv(monkeypatch, nhefs, name, epochs, batch_size, expected):
    from fairsynth.generators import sdv
    seen = {}
    monkeypatch.setattr(sdv.SDVGenerator, "_fit", lambda self, data, spec: seen.update(self._neural_params()))  # no training
    gen = get_generator(name, epochs=epochs, batch_size=batch_size, device="cpu").fit(*nhefs)
    assert (gen.epochs_, gen.batch_size_) == expected and (seen["epochs"], seen["batch_size"]) == expected
    assert gen.get_params()["epochs"] == epochs and seen["verbose"] is False  # quiet: stderr is not a terminal under pytest


@pytest.mark.parametrize("progress", [True, False])
def test_progress_shows_the_epochs(nhefs, capsys, progress):
    get_generator("tvae", epochs=2, batch_size=100, device="cpu", progress=progress).fit(*nhefs)
    err = capsys.readouterr().err
    assert ("Loss:" in err and "2/2" in err) if progress else err == ""


# --- SMOTE ----------------------------------------------------------------------------------------------

def test_smote_rows_are_new_rows_of_the_group_within_its_range(nhefs):
    df, spec = nhefs
    gen = get_generator("smote", seed=2).fit(df, spec)
    out = gen.sample(200, conditions=GROUP)
    group = df[df.race == "black or other"]
    assert gen.method_ == "SMOTENC" and out.shape == (200, len(spec.columns)) and (out.race == "black or other").all()
    assert out.dtypes.to_dict() == df[list(spec.columns)].dtypes.to_dict() and not out.isna().any().any()
    for col in spec.numerical:
        assert out[col].between(group[col].min(), group[col].max()).all(), col
    for col in spec.categorical:
        assert set(out[col]) <= set(group[col].dropna()), col
    assert out.equals(gen.sample(200, conditions=GROUP)) and not out.equals(gen.sample(200, conditions=GROUP, seed=3))


def test_smote_conjunction_proportional_outcomes_and_small_groups(nhefs):
    df, spec = nhefs
    gen = get_generator("smote").fit(df, spec)
    both = gen.sample(30, conditions={**GROUP, "sex": "female"})
    assert ((both.race == "black or other") & (both.sex == "female")).all()
    grown = gen.sample(1000)  # no conditions: the default outcome's classes in proportion
    assert abs(grown.death.mean() - df.death.mean()) < 0.002
    three = pd.concat([df[df.race == "white"], df[df.race == "black or other"].head(3)])
    with pytest.warns(UserWarning, match="k_neighbors lowered from 5 to 2"):
        assert len(get_generator("smote").fit(three, spec).sample(10, conditions=GROUP)) == 10
    with pytest.raises(FairsynthError) as e:
        get_generator("smote").fit(three.iloc[:-2], spec).sample(10, conditions=GROUP)
    assert "race='black or other'" in str(e.value) and "found 1" in str(e.value)
    with pytest.raises(FairsynthError, match="'martian'"): gen.sample(5, conditions={"race": "martian"})
