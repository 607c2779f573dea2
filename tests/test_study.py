"""The seed-003 synthesis study, its HTML report and the command line, end to end."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairsynth.cli import main
from fairsynth.core import FairsynthError
from fairsynth.data import load_dataset
from fairsynth.generators.base import Generator, register
from fairsynth.figures import REAL_COLOUR, colours
from fairsynth.studies.synthesis import (SynthesisConfig, SynthesisResult, generator_labels, run_synthesis_study,
                                         sensitive_groups, summary_line, verdict_table)


SEEN_BY_SPY: list[pd.Index] = []


def study(**params) -> SynthesisResult:
    """The synthesis study on NHEFS with these SynthesisConfig fields, quietly."""
    return run_synthesis_study(SynthesisConfig(**params), progress=False)


@register("spy_copy")
class SpyCopy(Generator):
    """Test generator that resamples the very rows it was fitted on, and records which rows those were."""
    test_double = True  # a deliberate misfit (copies rows, ignores conditions): left out of the conformance suite

    def fit(self, df, spec):
        SEEN_BY_SPY.append(df.index.copy())
        return super().fit(df, spec)

    def _fit(self, data, spec):
        self.frame_ = data.reset_index(drop=True)

    def _sample(self, n, conditions, seed):
        return self.frame_.sample(n, replace=True, random_state=seed).reset_index(drop=True)


@register("one_class")
class OneClass(SpyCopy):
    """Test generator whose rows all carry outcome 0, as a collapsed generator's might."""

    def _sample(self, n, conditions, seed):
        out = super()._sample(n, conditions, seed)
        out[self.spec_.outcome] = 0
        return out


def test_a_collapsed_outcome_is_reported_not_fatal():
    res = study(generator="gaussian_copula,one_class", rows=200, seed=0)
    assert set(res.utility.train_on) == {"real", "gaussian_copula"}
    assert len(res.warnings) == 1 and "one_class" in res.warnings[0] and "death" in res.warnings[0]
    assert "one_class n/a" in summary_line(res)
    assert set(res.privacy.generator) == {"gaussian_copula", "one_class"}  # the other families still measured
    verdict = verdict_table(res).set_index("generator")
    assert verdict.loc["one_class", "health"].startswith("⚠ failed") and "outcome_classes (death" in verdict.loc["one_class", "health"]
    assert np.isnan(verdict.loc["one_class", "auroc_random_forest"]) and "death" in verdict.loc["one_class", "withheld"]
    assert 0.5 < verdict.loc["gaussian_copula", "auroc_random_forest"] <= 1 and verdict.loc["gaussian_copula", "withheld"] == ""
    assert verdict.loc["one_class", "privacy"].startswith("collapse")  # its low distances are read as collapse, not memorisation
    assert generator_labels(res)["one_class"].startswith("one_class ⚠ failed") and "outcome_classes" in generator_labels(res)["one_class"]
    within = res.subgroups.query("generator == 'one_class' and metric == 'auroc_random_forest'")
    assert len(within) == len(sensitive_groups(res.train, res.spec)) and within.value.isna().all() and within.note.str.contains("death").all()
    assert res.subgroups.query("generator == 'one_class' and metric == 'outcome_rate'").value.eq(0).all()


CALLS: dict[str, int] = {}  # metric function -> calls during the nhefs_study fixture's run
COUNTED = {"quality_score": ["fairsynth.metrics.fidelity", "fairsynth.studies.synthesis"],
           "_detection_parts": ["fairsynth.metrics.fidelity"],  # the coarse and missingness detectors (detection_report)
           "detection_auc": ["fairsynth.metrics.fidelity"],
           "correlation_difference": ["fairsynth.metrics.fidelity", "fairsynth.metrics.health", "fairsynth.studies.synthesis"],
           "dcr": ["fairsynth.metrics.privacy", "fairsynth.studies.synthesis"]}


@pytest.fixture(scope="module")
def nhefs_study():
    import importlib
    def counted(name, fn):
        def wrapper(*args, **kwargs):
            CALLS[name] = CALLS.get(name, 0) + 1
            return fn(*args, **kwargs)
        return wrapper
    CALLS.clear()
    with pytest.MonkeyPatch.context() as mp:
        for name, modules in COUNTED.items():
            wrapper = counted(name, getattr(importlib.import_module(modules[0]), name))
            for m in modules: mp.setattr(f"{m}.{name}", wrapper)
        return study(generator="gaussian_copula,spy_copy", rows=400, seed=0)


def test_each_metric_is_computed_once_per_table(nhefs_study):
    assert CALLS == {name: len(nhefs_study.synthetic) for name in COUNTED}  # passed on, not computed again


def test_generators_see_only_training_patients(nhefs_study):
    res = nhefs_study
    ids = res.spec.id_column
    assert set(res.train[ids]).isdisjoint(res.test[ids])
    seen = SEEN_BY_SPY[-1]  # the rows the study handed to a generator: exactly the training split
    assert set(seen) == set(res.train.index) and set(seen).isdisjoint(res.test.index)


def test_study_measures_every_family(nhefs_study):
    res = nhefs_study
    assert set(res.synthetic) == {"gaussian_copula", "spy_copy"}
    assert all(len(s) == 400 and list(s.columns) == list(res.spec.columns) for s in res.synthetic.values())
    auroc = res.utility.query("metric == 'auroc' and model == 'random_forest'").set_index("train_on")["value"]
    assert auroc["real"] > 0.65  # NHEFS death is predictable from age and smoking history
    priv = res.privacy.pivot_table(index="metric", columns="generator", values="value")
    # a generator that copies training rows is caught: exact copies and near-zero distances
    assert priv.loc["exact_copy_rate_synthetic", "spy_copy"] == 1.0
    assert priv.loc["dcr_median_synthetic", "spy_copy"] == 0.0
    assert priv.loc["exact_copy_rate_synthetic", "gaussian_copula"] < 0.05
    assert priv.loc["dcr_median_synthetic", "gaussian_copula"] > 0
    fid = res.fidelity.pivot_table(index="metric", columns="generator", values="value")
    assert fid.loc["detection_auc", "gaussian_copula"] > fid.loc["detection_auc", "spy_copy"]
    assert set(res.timings.step) == {"fit", "sample"}
    tidy = res.tidy()
    assert {"fidelity", "quality", "privacy", "utility", "timing", "health", "subgroup", "detection_features"} == set(tidy.table)
    assert tidy.value.notna().all()
    assert set(res.health) == set(res.synthetic) and {"pass", "warn", "fail"} >= set(res.health["gaussian_copula"].status)


def test_every_sensitive_group_is_measured_within(nhefs_study):
    res = nhefs_study
    groups = {(a, str(g)) for a in res.spec.sensitive for g in res.train[a].astype(str).unique()}
    assert groups == set(sensitive_groups(res.train, res.spec)) and len(groups) >= 4  # sex and race, two groups each
    sub = res.subgroups
    for (a, g) in groups:
        for table in ("real", "gaussian_copula", "spy_copy"):
            here = sub[(sub.attribute == a) & (sub.group == g) & (sub.generator == table)].set_index("metric")
            expected = res.train if table == "real" else res.synthetic[table]
            in_group = expected[a].astype(str) == g
            assert here.loc["share", "value"] == pytest.approx(in_group.mean())
            assert here.loc["outcome_rate", "value"] == pytest.approx(expected.loc[in_group, res.outcome].mean())
            auc = here.loc["auroc_random_forest"]
            assert (0 <= auc.value <= 1) or (np.isnan(auc.value) and auc.note)  # a number, or the reason there is none
        fid = sub[(sub.attribute == a) & (sub.group == g) & (sub.metric == "fidelity")].set_index("generator").value
        assert fid["spy_copy"] > 0.85 and 0 < fid["gaussian_copula"] <= 1  # resampled real rows match the group's real rows


def test_a_generator_keeps_its_colour_whatever_the_others():
    runs = [["real", "gaussian_copula", "ctgan", "tvae"], ["tvae", "arf", "real"], ["causal_dag", "my_own", "tvae", "ctgan"],
            ["my_own", "tvae"], ["tvae"]]
    seen = {}
    for names in runs:
        palette = colours(names)
        assert palette["real"] == REAL_COLOUR and set(names) <= set(palette)
        assert len({palette[n] for n in names}) == len(set(names))  # distinct within a figure
        assert REAL_COLOUR not in {palette[n] for n in names if n != "real"}
        for n in names: assert seen.setdefault(n, palette[n]) == palette[n], f"{n} changed colour with {names}"


def test_same_seed_same_numbers():
    a = study(generator="gaussian_copula", rows=200, seed=3)
    b = study(generator="gaussian_copula", rows=200, seed=3)
    pd.testing.assert_frame_equal(a.synthetic["gaussian_copula"], b.synthetic["gaussian_copula"])
    pd.testing.assert_frame_equal(a.tidy().query("table != 'timing'"), b.tidy().query("table != 'timing'"))


@pytest.mark.parametrize("kwargs, culprit", [
    (dict(generator="no_such_generator"), "no_such_generator"),
    (dict(outcome="qsmk"), "qsmk"),
    (dict(rows=0), "rows"),
    (dict(epochs=-1), "epochs"),
    (dict(test_size=1.5), "test_size"),
    (dict(max_train_rows=-5), "max_train_rows"),
    (dict(seed=-1), "seed"),
])
def test_bad_study_parameters_name_the_culprit(kwargs, culprit):
    with pytest.raises(FairsynthError, match=culprit):
        study(**{"generator": "gaussian_copula", **kwargs})


@pytest.mark.slow
def test_cli_renders_report_and_index(reports_dir):
    assert main(["--reports-dir", str(reports_dir), "run", "synthesis", "--generator", "gaussian_copula",
                 "--rows", "300", "--seed", "1"]) == 0
    page = reports_dir / "nhefs" / "all" / "synthesis.html"
    html = page.read_text()
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(pngs) >= 5 and all(base64.b64decode(p[:64])[:4] == b"\x89PNG" for p in pngs)  # figures embedded
    for heading in ("Verdict", "Health checks", "Column distributions", "Correlations", "What gives synthetic rows away",
                    "Utility", "Subgroups: fidelity and utility within each group", "Privacy", "Provenance"):
        assert heading in html
    assert html.index("Verdict") < html.index("Health checks") < html.index("Column distributions")  # the verdict comes first
    subgroups = html.split("Subgroups: fidelity and utility within each group")[1].split("Privacy: distance")[0]
    assert all(g in subgroups for g in ("female", "male", "white", "black or other"))  # every sex and race group
    ds = load_dataset("nhefs")
    assert ds.sha256 in html and "git commit" in html and "package: sdv" in html
    assert "[fairsynth" not in html and "Traceback" not in html  # progress lines and errors stay out of the page
    index = (reports_dir / "index.html").read_text()
    assert 'href="nhefs/all/synthesis.html"' in index.replace("'", '"')
    meta = json.loads((reports_dir / "nhefs" / "all" / "synthesis.json").read_text())
    assert meta["provenance"]["parameters"]["seed"] == 1 and "RF AUROC" in meta["summary"]
    results = pd.read_csv(reports_dir / "nhefs" / "all" / "synthesis_results.csv")
    assert {"table", "generator", "name", "value"} <= set(results.columns)
    assert not [p.name for p in page.parent.iterdir() if p.name.endswith(".tmp")]


def own_table(tmp_path: Path, n: int = 300) -> tuple[Path, Path]:
    """A CSV of a user's own with a unique marker per patient, and its spec as JSON."""
    rng = np.random.default_rng(0)
    age = rng.normal(60, 12, n)
    df = pd.DataFrame({"pid": [f"PID{i:05d}" for i in range(n)], "marker": [f"ZQX{i:05d}" for i in range(n)],
                       "sex": rng.choice(["f", "m"], n), "age": age.round(1),
                       "sbp": (120 + 0.5 * (age - 60) + rng.normal(0, 10, n)).round(0),
                       "event": (rng.random(n) < 1 / (1 + np.exp(-(age - 60) / 8))).astype(int)})
    csv = tmp_path / "own.csv"; df.to_csv(csv, index=False)
    spec = {"name": "own", "id_column": "pid", "columns": {"marker": "categorical", "sex": "categorical", "age": "numerical",
                                                            "sbp": "numerical", "event": "categorical"},
            "sensitive": {"sex": "m"}, "outcomes": ["event"]}
    (tmp_path / "own.json").write_text(json.dumps(spec))
    return csv, tmp_path / "own.json"


@pytest.mark.slow
def test_cli_on_own_csv_never_prints_a_real_record(tmp_path, reports_dir):
    csv, spec = own_table(tmp_path)
    assert main(["--reports-dir", str(reports_dir), "run", "synthesis", "--csv", str(csv), "--spec", str(spec),
                 "--generator", "gaussian_copula", "--rows", "200"]) == 0
    html = (reports_dir / "own" / "all" / "synthesis.html").read_text()
    nb = (reports_dir / "own" / "all" / "synthesis.ipynb").read_text()
    for text in (html, nb):
        text = re.sub(r"[A-Za-z0-9+/=]{200,}", "", text)  # embedded images: base64 text can hold any 3 letters
        assert "ZQX" not in text and "PID0" not in text  # no identifier, no per-patient value, in page or notebook
    real = pd.read_csv(csv)
    assert not any(f"{a:.1f}, {s:.1f}" in html for a, s in zip(real.age, real.sbp))


def test_cli_bad_input_fails_cleanly_and_writes_nothing(tmp_path, reports_dir, capsys):
    csv, spec = own_table(tmp_path)
    pd.read_csv(csv).assign(event=0).to_csv(tmp_path / "one_class.csv", index=False)
    cases = [(["--csv", str(tmp_path / "one_class.csv"), "--spec", str(spec)], "event"),
             (["--dataset", "no_such_table"], "no_such_table"),
             (["--generator", "gaussian_copula,nope"], "nope"),
             (["--csv", str(csv)], "'spec'"),
             (["--epochs", "0"], "'epochs'"),
             (["--test-size", "1.5"], "'test_size'")]
    for extra, culprit in cases:
        assert main(["--reports-dir", str(reports_dir), "run", "synthesis", *extra]) == 2
        assert culprit in capsys.readouterr().err
    assert not reports_dir.exists() or not any(reports_dir.rglob("*.html"))


@pytest.mark.slow
def test_reports_name_a_csv_by_its_file_name_only(tmp_path, reports_dir):
    csv, spec = own_table(tmp_path)
    assert main(["--reports-dir", str(reports_dir), "run", "synthesis", "--csv", str(csv), "--spec", str(spec),
                 "--generator", "gaussian_copula", "--rows", "100"]) == 0
    meta = json.loads((reports_dir / "own" / "all" / "synthesis.json").read_text())
    assert meta["provenance"]["parameters"]["csv"] == "own.csv"
    for text in ((reports_dir / "own" / "all" / "synthesis.html").read_text(), json.dumps(meta)):
        assert str(tmp_path) not in text and "/tmp/" not in text  # neither the CSV's folder nor any absolute path


@register("always_fails")
class AlwaysFails(SpyCopy):
    """Test generator whose every fit fails."""

    def _fit(self, data, spec):
        raise RuntimeError("this generator cannot learn anything")


@pytest.mark.slow
def test_a_study_whose_cells_all_fail_exits_1_and_writes_no_report(reports_dir, capsys):
    code = main(["--reports-dir", str(reports_dir), "--repeats", "2", "run", "treatment", "--setup", "simulated",
                 "--n-simulated", "400", "--bases", "always_fails", "--learners", "T"])
    err = capsys.readouterr().err
    assert code == 1
    assert "no report was written" in err and "2 cell(s) failed" in err and "this generator cannot learn anything" in err
    assert not any(reports_dir.rglob("*.html"))  # neither a page nor the index
