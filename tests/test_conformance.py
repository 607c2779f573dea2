"""Conformance: every registered generator keeps the `Generator` contract of `generators.base`.

Parametrised over `known_generators()`, so a newly registered generator joins by registering (with its options,
if it needs any, in OPTIONS). Checks: n rows, the spec's columns in order with the training dtypes, same seed ->
same rows (two fits, two draws), another seed -> other rows, a condition on a sensitive column, `sample_stats_`,
errors naming an unknown parameter, a bad seed and a bad n, and a fit on a table with missing values and a rare
category. Each generator is fitted at most three times per module (clean, clean again, with missing values),
small and for 1-2 epochs, so the whole suite stays fast. A generator behind an optional extra (`requires_extra`, e.g.
argn) joins every check where the extra is installed; where it is not (CI), it runs the checks that need no fit and
`test_optional_extra` (its fit fails with an error naming the extra to install). The LLM generator talks to the local stand-in server
(`fairsynth.llm.server`, not a language model).
"""
from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest

from fairsynth.core import FairsynthError
from fairsynth.data import load_dataset
from fairsynth.generators.base import Generator, generator_class, get_generator, known_generators

GENERATORS = [n for n in known_generators()  # built-ins and anything registered when this module is collected,
              if not getattr(generator_class(n), "test_double", False)]  # but the other tests' deliberately odd doubles
WITH_EXTRA = [n for n in GENERATORS if getattr(generator_class(n), "requires_extra", None)]  # behind an optional extra (argn)
FITTED = [n for n in GENERATORS  # the generators that can fit here: all but those whose optional extra is not installed,
          if n not in WITH_EXTRA or generator_class(n).extra_installed()]  # which test_optional_extra checks instead
OPTIONS: dict[str, dict[str, Any]] = {  # what makes a generator applicable here, and fast (defaults: {})
    "ctgan": {"epochs": 1, "batch_size": 100, "device": "cpu"},
    "tvae": {"epochs": 1, "batch_size": 100, "device": "cpu"},
    "llm": {"backoff_seconds": 0.01},  # the local stand-in server of the llm_server_env fixture
    "curated": {"generator": "gaussian_copula", "n_estimators": 20},  # CLLM curation around a cheap generator
    "fair_transformer": {"epochs": 2, "d_model": 16, "n_heads": 2, "n_layers": 1, "batch_size": 128, "device": "cpu"},
    "steam": {"treatment": "qsmk", "outcomes": ["death"]},  # the spec's treatment, said out loud
    "argn": {"model": "small", "max_epochs": 2, "device": "cpu"},  # runs only where the 'argn' extra is installed
}
COLUMNS = ["sex", "race", "age", "education", "wt71", "qsmk", "death"]  # NHEFS: sensitive, numerical, treatment, outcome
CONDITIONS = [{"sex": "female"}, {"race": "black or other"}]  # conditions on sensitive (categorical) columns; the second holds 13% of rows
N, SEED = 40, 3  # rows per draw; the generators' seed
CHECKS = ("rows", "columns_dtypes", "same_seed", "other_seed", "condition", "sample_stats", "unknown_parameter",
          "bad_seed", "bad_n", "missing_and_rare", "optional_extra")  # the checks below, in order (test_<check>)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: the torch models are tiny, one thread each


@pytest.fixture(scope="module", autouse=True)
def llm_server_env(tmp_path_factory: pytest.TempPathFactory):
    """The local OpenAI-compatible stand-in server, with the settings, a test key and a fresh reply cache pointing at it."""
    from fairsynth.llm.server import LocalLLMServer
    srv = LocalLLMServer(seed=0).start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FAIRSYNTH_LLM_BASE_URL", srv.url)
        mp.setenv("FAIRSYNTH_LLM_MODEL", "test-model")
        mp.setenv("FAIRSYNTH_LLM_CACHE_DIR", str(tmp_path_factory.mktemp("llm-cache")))
        mp.setenv("FAIRSYNTH_LLM_API_KEY", "sk-test-conformance")
        yield srv
    srv.stop()


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, Any]:
    """300 NHEFS rows (with the id column) and the NHEFS spec narrowed to COLUMNS."""
    ds = load_dataset("nhefs")
    spec = ds.spec.replace(columns={c: ds.spec.columns[c] for c in COLUMNS}, mediators=(),
                           confounders=tuple(c for c in ds.spec.confounders if c in COLUMNS))
    return ds.frame.sample(300, random_state=0)[[spec.id_column, *COLUMNS]].reset_index(drop=True), spec


@pytest.fixture(scope="module")
def messy(table) -> tuple[pd.DataFrame, Any]:
    """The same rows with missing values in a numerical and a categorical column, and a level held by 2 rows."""
    df, spec = table
    df = df.copy()
    df.loc[0:14, "wt71"] = np.nan
    df.loc[15:29, "education"] = np.nan
    df.loc[30:31, "education"] = "doctorate"
    return df, spec


def build(name: str, seed: int = SEED) -> Generator:
    """Generator `name` with its OPTIONS."""
    return get_generator(name, seed=seed, **OPTIONS.get(name, {}))


@pytest.fixture(scope="module")
def fits(table, messy) -> Callable[..., Generator]:
    """fits(name, which) -> the generator fitted once per module on 'clean', 'again' (a second fit) or 'messy'.

    `fits.stats_after_fit[(name, which)]` keeps its `sample_stats_` as the fit left it (before any draw)."""
    done: dict[tuple[str, str], Any] = {}
    def get(name: str, which: str = "clean") -> Generator:
        if (name, which) not in done:
            df, spec = messy if which == "messy" else table
            try: done[(name, which)] = build(name).fit(df, spec)
            except Exception as e: done[(name, which)] = e  # a failed fit fails every check that needs it, once
            else: get.stats_after_fit[(name, which)] = getattr(done[(name, which)], "sample_stats_", "absent")
        if isinstance(done[(name, which)], Exception): raise done[(name, which)]
        return done[(name, which)]
    get.stats_after_fit = {}
    return get


def training_dtypes(df: pd.DataFrame, spec) -> dict:
    return df[list(spec.columns)].dtypes.to_dict()


@pytest.mark.parametrize("name", FITTED)
def test_rows(fits, name):
    assert len(fits(name).sample(N)) == N


@pytest.mark.parametrize("name", FITTED)
def test_columns_dtypes(fits, table, name):
    df, spec = table
    out = fits(name).sample(N)
    assert list(out.columns) == list(spec.columns)
    assert out.dtypes.to_dict() == training_dtypes(df, spec)


@pytest.mark.parametrize("name", FITTED)
def test_same_seed(fits, name):
    first = fits(name).sample(N, seed=5)
    pd.testing.assert_frame_equal(first, fits(name).sample(N, seed=5))  # the same draw twice
    pd.testing.assert_frame_equal(first, fits(name, "again").sample(N, seed=5))  # a second fit with the same seed


@pytest.mark.parametrize("name", FITTED)
def test_other_seed(fits, name):
    assert not fits(name).sample(N, seed=5).equals(fits(name).sample(N, seed=6))


@pytest.mark.parametrize("name", FITTED)
def test_condition(fits, name):
    for condition in CONDITIONS:
        out = fits(name).sample(N, conditions=condition, seed=1)
        assert len(out) == N and all((out[c] == v).all() for c, v in condition.items()), condition


@pytest.mark.parametrize("name", FITTED)
def test_sample_stats(fits, name):
    assert not hasattr(build(name), "sample_stats_")  # a fitted attribute: absent before fit
    gen = fits(name)
    assert fits.stats_after_fit[(name, "clean")] == {}  # fit sets it to {}
    gen.sample(N, seed=2)
    stats = gen.sample_stats_  # counters of that draw, or {} for a generator that keeps none
    assert isinstance(stats, dict) and all(isinstance(k, str) and isinstance(v, float) for k, v in stats.items())


@pytest.mark.parametrize("name", GENERATORS)
def test_unknown_parameter(name):
    with pytest.raises(FairsynthError, match="'no_such_parameter'"):
        get_generator(name, no_such_parameter=1, **OPTIONS.get(name, {}))


@pytest.mark.parametrize("name", GENERATORS)
def test_bad_seed(name):
    with pytest.raises(FairsynthError, match="'seed'"):  # _check_params runs when the generator is built
        build(name, seed=-1)


@pytest.mark.parametrize("name", FITTED)
def test_bad_n(fits, name):
    for n in (0, -1):
        with pytest.raises(FairsynthError, match="'n'"):
            fits(name).sample(n)


@pytest.mark.parametrize("name", FITTED)
def test_missing_and_rare(fits, messy, name):
    df, spec = messy
    out = fits(name, "messy").sample(N, seed=1)
    assert len(out) == N and list(out.columns) == list(spec.columns)
    assert out.dtypes.to_dict() == training_dtypes(df, spec)
    assert set(out.education.dropna()) <= set(df.education.dropna())


@pytest.mark.parametrize("name", WITH_EXTRA)
def test_optional_extra(fits, table, name):
    """Installed, the extra's generator fits (and joins every check above); missing, its fit names the extra to install."""
    cls = generator_class(name)
    if cls.extra_installed():
        assert isinstance(fits(name), cls)
    else:
        with pytest.raises(FairsynthError, match=re.escape(f"pip install 'fairsynth[{cls.requires_extra}]'")):
            build(name).fit(*table)
