"""The study framework: every study's parameters said once (config -> flags, papermill, provenance), the shipped
report notebooks, and the command line built from the registry."""
from __future__ import annotations

import dataclasses
import importlib
import json

import pytest

from fairsynth.cli import build_parser
from fairsynth.core import FairsynthError, package_dir
from fairsynth.studies.framework import STUDY_MODULES, GridConfig, field_help, get_study

STUDIES = list(STUDY_MODULES)


@pytest.mark.parametrize("name", STUDIES)
def test_every_parameter_has_a_type_a_default_and_help(name):
    cls = get_study(name).config
    helps = field_help(cls)
    for f in dataclasses.fields(cls):
        assert f.default is not dataclasses.MISSING, f"{name}.{f.name} has no default"
        assert helps.get(f.name), f"{name}.{f.name} has no trailing comment (its help)"
    cls()  # the defaults make a valid config


@pytest.mark.parametrize("name", STUDIES)
def test_flags_are_generated_from_the_config(name):
    cls = get_study(name).config
    sub = build_parser()._subparsers._group_actions[0].choices["run"]._subparsers._group_actions[0].choices[name]
    dests = {a.dest for a in sub._actions}
    cli_fields = {f.name for f in dataclasses.fields(cls) if f.metadata.get("cli", True)}
    assert cli_fields <= dests
    help_text = sub.format_help()
    for f in list(cli_fields)[:5]:
        assert field_help(cls)[f].split()[0] in help_text


@pytest.mark.parametrize("name", STUDIES)
def test_unknown_and_bad_parameters_are_named(name):
    cls = get_study(name).config
    with pytest.raises(FairsynthError, match="no_such_parameter"):
        cls.from_dict({"no_such_parameter": 1})
    with pytest.raises(FairsynthError, match="'seed'"):
        cls(seed=-1)


HEALTH_HELPERS = ("health_rows", "withheld_reasons", "withhold", "table_health", "health_overview", "health_headline", "mark_unhealthy")


@pytest.mark.parametrize("name", ["augmentation", "fairness", "causal", "treatment", "longitudinal"])
def test_the_health_of_synthetic_tables_is_said_once(name):
    """A study names where its rows keep the health of its tables (a HealthLayout); the helpers live in studies.common."""
    from fairsynth.studies import common
    module = importlib.import_module(STUDY_MODULES[name])
    assert isinstance(module.HEALTH, common.HealthLayout)
    own = [h for h in HEALTH_HELPERS if getattr(module, h, None) not in (None, getattr(common, h))]
    assert not own, f"{name} defines its own {own}: use studies.common's"


def test_run_controls_stay_out_of_the_parameters():
    cfg = GridConfig(jobs=2, store="/somewhere/store", reports=False)
    assert {"jobs", "store", "reports", "scheduler"}.isdisjoint(cfg.parameters())
    assert GridConfig(csv="/home/x/private/cohort.csv", spec="/home/x/private/spec.json").parameters()["csv"] == "cohort.csv"


def test_report_notebooks_ship_inside_the_package_without_outputs():
    folder = package_dir() / "notebooks"
    pages = sorted(p.stem for p in folder.glob("*.ipynb"))
    assert {"synthesis", "augmentation", "augmentation_dataset", "fairness", "causal_fairness", "treatment"} <= set(pages)
    for path in folder.glob("*.ipynb"):
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert not any(c.get("outputs") for c in code), f"{path.name} holds outputs"
        params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(params) == 1, f"{path.name} needs one parameters cell"
        source = "".join(params[0]["source"])
        assert source.startswith("config = {") and "results_dir = None" in source, path.name


# --- grid cells keyed by the data -------------------------------------------------------------------------

def _cheap_cell(params, settings=None):
    """A stand-in for a study's cell (no fitting): one row per cell."""
    import pandas as pd
    return pd.DataFrame({"metric": ["rows"], "value": [1.0]})


def _user_table(tmp_path):
    """NHEFS written as a user's CSV + JSON spec (the spec's file is a user's, the rows are NHEFS's)."""
    from fairsynth.data import load_dataset
    ds = load_dataset("nhefs")
    csv, spec = tmp_path / "mine.csv", tmp_path / "mine.json"
    ds.frame.to_csv(csv, index=False)
    spec.write_text(json.dumps({**ds.spec.to_dict(), "name": "mine"}))
    return csv, spec


GRID_STUDIES = {"augmentation": {"n_majority": 300}, "fairness": {}, "causal": {}, "treatment": {}, "benchmark": {}}  # small enough for NHEFS


@pytest.mark.parametrize("name", list(GRID_STUDIES))
def test_grid_cells_are_keyed_by_the_data_checksum(name, tmp_path):
    from fairsynth.core import load_settings
    from fairsynth.studies.framework import data_checksum, run_study_grid, study_data
    csv, spec = _user_table(tmp_path)
    study = dataclasses.replace(get_study(name), cell=_cheap_cell)
    fields = {f.name for f in dataclasses.fields(study.config)}
    source = {"datasets": f"{csv}={spec}"} if "datasets" in fields and "csv" not in fields else {"csv": str(csv), "spec": str(spec)}
    config = study.config(**source, **GRID_STUDIES[name], repeats=1, store=str(tmp_path / "store"))
    settings = load_settings()

    def run():
        data = study_data(study, config, settings)
        return [run_study_grid(study, config, data, d, settings, progress=False) for d in study.designs(config, data)][0], data

    first, data = run()
    assert first.computed and not first.skipped and data_checksum(data) is not None
    again, _ = run()  # unchanged data: every cell reused
    assert not again.computed and again.skipped == first.computed
    csv.write_text(csv.read_text().replace("\n1,", "\n2,", 3) + "\n")  # the user edits the CSV
    if name == "treatment":  # its per-process table cache does not look at the file; a rerun is a new process
        importlib.import_module("fairsynth.studies.treatment")._cached_data.cache_clear()
    edited, data2 = run()
    assert data_checksum(data2) != data_checksum(data)
    assert not edited.skipped and len(edited.computed) == len(first.computed)  # recomputed, none reused
