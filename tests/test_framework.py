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


@pytest.mark.parametrize("name", ["augmentation", "fairness", "causal", "treatment"])
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
