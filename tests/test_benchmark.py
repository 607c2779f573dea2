"""The benchmark study: every generator x table x seed through the shared runner, with health checks deciding
what is measured, per-group numbers, resumable cells, the per-table pages and the leaderboard."""
from __future__ import annotations

import pandas as pd
import pytest

from fairsynth.cli import main
from fairsynth.core import FairsynthError, load_settings
from fairsynth.generators.base import Generator, register
from fairsynth.metrics.health import health_checks, unusable_reason
from fairsynth.runner import run_study
from fairsynth.studies.benchmark import (GENERATOR_VARIANTS, BenchmarkConfig, benchmark_cell, benchmark_generator_params,
                                         benchmark_generators, benchmark_split, cell_summary, fit_and_sample, leaderboard,
                                         load_benchmark, split_seed)
from fairsynth.studies.framework import run_config
from fairsynth.studies.grid import load_results

TINY = dict(datasets="nhefs", generators="gaussian_copula,smote", max_train_rows=300, privacy_rows=300, detection_rows=300, seed=0)
CELL_METRICS = {"fit_seconds", "sample_seconds", "peak_memory_mb", "healthy", "quality", "detection_auc", "detection_auc_coarse",
                "missingness_detection_auc", "tstr_auroc_real", "tstr_auroc", "tstr_auroc_gap", "dcr_ratio", "dcr_median_synthetic",
                "dcr_median_holdout", "exact_copy_rate_synthetic", "membership_inference_auc"}
GROUP_METRICS = {"group_share_real", "group_share_ratio", "outcome_rate_real", "outcome_rate_gap", "tstr_auroc", "tstr_auroc_gap"}


@register("bench_constant_outcome")
class ConstantOutcome(Generator):
    """Test double: resamples its training rows but sets every outcome to 0 (a collapsed outcome)."""
    test_double = True  # a deliberate misfit: left out of the conformance suite

    def _fit(self, data, spec):
        self.frame_ = data.reset_index(drop=True)

    def _sample(self, n, conditions, seed):
        out = self.frame_.sample(n, replace=True, random_state=seed).reset_index(drop=True)
        for o in self.spec_.outcomes: out[o] = 0
        return out


@pytest.mark.slow
def test_a_tiny_run_measures_every_cell_and_group_writes_both_pages_and_resumes(reports_dir):
    settings = load_settings({"reports_dir": str(reports_dir)})
    pages = run_study("benchmark", BenchmarkConfig(**TINY, repeats=2), settings, progress=False)
    table_page, board_page = reports_dir / "nhefs" / "benchmark" / "benchmark.html", reports_dir / "benchmark" / "all" / "leaderboard.html"
    assert pages == [table_page, board_page]
    r = load_results(reports_dir / "benchmark" / "benchmark_store")
    assert r.groupby(["generator", "repeat"]).ngroups == 4 and set(r.generator) == {"gaussian_copula", "smote"}
    for (g, rep), cell in r.groupby(["generator", "repeat"]):
        overall = cell[cell.attribute == ""]
        assert CELL_METRICS <= set(overall.metric), (g, rep)
        assert overall.query("metric == 'tstr_auroc'").value.between(0.5, 1).all()
        for attribute, groups in {"sex": {"female", "male"}, "race": {"white", "black or other"}}.items():
            rows = cell[cell.attribute == attribute]
            for group in groups:
                assert GROUP_METRICS <= set(rows[rows.group == group].metric), (g, rep, attribute, group)
    assert r.groupby("repeat").split_seed.nunique().eq(1).all()  # a seed's generators share its split
    board = board_page.read_text()
    for g in ("gaussian_copula", "smote"): assert g in board
    assert "TSTR AUROC gap" in board and "Traceback" not in board and "data:image/png;base64" in board
    assert "Within each sensitive group" in table_page.read_text()
    index = (reports_dir / "index.html").read_text().replace("'", '"')
    assert 'href="nhefs/benchmark/benchmark.html"' in index and 'href="benchmark/all/leaderboard.html"' in index
    [again] = run_config(BenchmarkConfig(**TINY, repeats=2), settings, progress=False)
    assert again.computed == [] and len(again.skipped) == 4


def test_a_collapsed_outcome_gets_no_tstr_number_but_the_health_reason():
    params = dict(dataset="nhefs", spec_path=None, generator="bench_constant_outcome", generator_params="{}", repeat=0, seed=0,
                  test_size=0.3, max_train_rows=300, privacy_rows=300, detection_rows=300)
    out = benchmark_cell(params)
    ds = load_benchmark(BenchmarkConfig(datasets="nhefs")).tables["nhefs"]
    seed = split_seed(0, "nhefs", 0)
    train, _ = benchmark_split(ds, seed, 0.3, 300)
    synthetic, _, _ = fit_and_sample("bench_constant_outcome", {}, train, ds.spec, seed)
    reason = unusable_reason(health_checks(train[list(ds.spec.columns)], synthetic, ds.spec, outcomes=["death"]), "utility", outcome="death")
    assert reason
    assert out.query("metric == 'healthy'").value.item() == 0
    withheld = out[out.metric.isin(["tstr_auroc", "tstr_auroc_gap"])]
    assert withheld.value.isna().all() and (withheld.note == reason).all()  # overall and in every group
    assert out.query("metric == 'tstr_auroc_real' and group == 'all'").value.notna().all()  # the real yardstick stays


@pytest.mark.parametrize("flag,value", [("--datasets", "nhefs,no_such_table"), ("--generators", "gaussian_copula,no_such_generator")])
def test_bad_input_fails_before_anything_runs_naming_it(flag, value, reports_dir, capsys):
    with pytest.raises(FairsynthError, match=value.split(",")[1]):
        run_study("benchmark", BenchmarkConfig(**{**TINY, flag[2:]: value}), load_settings({"reports_dir": str(reports_dir)}), progress=False)
    assert main(["--reports-dir", str(reports_dir), "--repeats", "1", "run", "benchmark", flag, value]) == 2
    assert value.split(",")[1] in capsys.readouterr().err
    assert not reports_dir.exists()


def test_dp_variants_run_by_default_and_the_leaderboard_shows_their_epsilon():
    gens, _ = benchmark_generators(None)
    assert {"fair_transformer", "fair_transformer_dp1", "fair_transformer_dp3", "fair_transformer_dp10"} <= set(gens)
    assert {GENERATOR_VARIANTS[f"fair_transformer_dp{e}"][1]["dp_epsilon"] for e in (1, 3, 10)} == {1.0, 3.0, 10.0}
    with pytest.raises(FairsynthError, match="'fair_transformer_dp3' already fixes"):
        benchmark_generator_params(["fair_transformer_dp3"], None, {"fair_transformer_dp3": {"dp_epsilon": 5}})
    tiny = {"d_model": 16, "device": "cpu", "epochs": 1, "n_heads": 2, "n_layers": 1}
    ds = load_benchmark(BenchmarkConfig(datasets="nhefs")).tables["nhefs"]
    train, _ = benchmark_split(ds, split_seed(0, "nhefs", 0), 0.3, 300)
    synthetic, dp_costs, error = fit_and_sample("fair_transformer_dp3", tiny, train, ds.spec, 0)
    assert error is None and len(synthetic) == len(train) and list(synthetic.columns) == list(ds.spec.columns)
    assert 0 < dp_costs["dp_epsilon"] <= 3.0 * 1.01 and dp_costs["dp_noise_multiplier"] > 0 and dp_costs["dp_delta"] <= 1e-5
    _, costs, error = fit_and_sample("fair_transformer", tiny, train, ds.spec, 0)
    assert error is None and "dp_epsilon" not in costs  # a plain fit spends no budget
    def cell(generator: str, measured: dict) -> pd.DataFrame:  # a cell's tidy rows as benchmark_cell writes them
        rows = {**measured, "quality": 0.9, "healthy": 1.0, "tstr_auroc": 0.7, "tstr_auroc_gap": -0.05}
        return pd.DataFrame([dict(table="nhefs", generator=generator, repeat=0, attribute="", group="all", outcome="death" if "tstr" in k else "",
                                  metric=k, value=v, note="") for k, v in rows.items()])
    board = leaderboard(cell_summary(pd.concat([cell("fair_transformer", costs), cell("fair_transformer_dp3", dp_costs)])), ["quality"])
    board = board.set_index("generator")
    assert board.loc["fair_transformer", "DP epsilon"] == "–" and board.loc["fair_transformer_dp3", "DP epsilon"] == f"{dp_costs['dp_epsilon']:.2f}"
