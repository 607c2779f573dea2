"""The cost of differential privacy in fair_transformer: DP-SGD (opacus) at several epsilons against the plain fit.

Each dataset x seed runs the benchmark's own cell (`fairsynth.studies.benchmark.benchmark_cell`: the benchmark's
patient split, training split capped at `--max-train-rows`, fit, sample as many rows, health checks, fidelity,
utility, privacy) for `fair_transformer` and its DP variants `fair_transformer_dp<eps>` (`GENERATOR_VARIANTS`),
with the same epochs and every other parameter equal. Reported per dataset and generator: the epsilon spent
(opacus' RDP accountant) and the noise multiplier, the TSTR AUROC gap (random forest trained on the synthetic rows
minus one trained on the real training split, both scored on the real hold-out; mean over the table's outcomes),
SDMetrics' quality (Overall), the DCR ratio, the membership-inference AUC, and fit seconds with their ratio to the
plain fit's. Wall seconds on a shared machine swing with other load, so `--cpu-epochs N` adds a second table: the
process CPU seconds of fits alone (N epochs, one torch thread, no sampling, no metrics) and their ratio to the plain fit's.
See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from common import write_results

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["nhefs", "diabetes130"], help="fairsynth dataset names")
    p.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 3.0, 10.0], help="DP epsilons (each needs a fair_transformer_dp<eps> variant)")
    p.add_argument("--epochs", type=int, default=None, help="epochs of every fit (default: fair_transformer's own, 30)")
    p.add_argument("--max-train-rows", type=int, default=3000, help="training split capped at this many rows (the benchmark's cap is 10,000)")
    p.add_argument("--seeds", type=int, default=1, help="seeds (benchmark repeats) per dataset")
    p.add_argument("--seed", type=int, default=0, help="study seed")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    p.add_argument("--cpu-epochs", type=int, default=0, help="also time fits alone in CPU seconds with this many epochs (0: skip)")
    p.add_argument("--out", type=Path, default=RESULTS, help="folder of the CSV files")
    return p.parse_args(argv)


def cell_numbers(rows: pd.DataFrame) -> dict[str, float]:
    """The headline numbers of one benchmark cell's tidy rows."""
    overall = rows[rows.attribute == ""]
    one = lambda m: overall.loc[(overall.metric == m) & (overall.outcome == ""), "value"]
    pick = lambda m: float(one(m).iloc[0]) if len(one(m)) else float("nan")
    gaps = overall[overall.metric == "tstr_auroc_gap"]
    return {"dp_epsilon": pick("dp_epsilon"), "noise_multiplier": pick("dp_noise_multiplier"), "dp_delta": pick("dp_delta"),
            "tstr_auroc_gap": gaps.value.mean(skipna=False), "tstr_gaps": ", ".join(f"{o} {v:+.3f}" for o, v in zip(gaps.outcome, gaps.value)),
            "quality": pick("quality"), "dcr_ratio": pick("dcr_ratio"), "membership_inference_auc": pick("membership_inference_auc"),
            "healthy": pick("healthy"), "failed_checks": "; ".join(n for n in overall.loc[overall.metric == "healthy", "note"] if n), "fit_seconds": pick("fit_seconds"), "train_rows": pick("train_rows"),
            "error": "; ".join(n for n in rows.loc[rows.metric == "generator_error", "note"])}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    if args.threads: torch.set_num_threads(args.threads)
    from fairsynth.studies.benchmark import GENERATOR_VARIANTS, benchmark_cell, benchmark_generator_params
    names = ["fair_transformer"] + [f"fair_transformer_dp{e:g}" for e in args.epsilons]
    if missing := [n for n in names[1:] if n not in GENERATOR_VARIANTS]: sys.exit(f"no benchmark variant {missing}: add it to GENERATOR_VARIANTS")
    extra = {"epochs": args.epochs} if args.epochs else {}
    params = benchmark_generator_params(names, None, {n: extra for n in names})
    raw = []
    for dataset in args.datasets:
        for repeat in range(args.seeds):
            for name in names:
                cell = dict(dataset=dataset, spec_path=None, generator=name, generator_params=json.dumps(params[name], sort_keys=True),
                            repeat=repeat, seed=args.seed, test_size=0.3, max_train_rows=args.max_train_rows, privacy_rows=2000, detection_rows=2000)
                t0 = time.perf_counter()
                numbers = cell_numbers(benchmark_cell(cell))
                raw.append({"dataset": dataset, "repeat": repeat, "generator": name, **numbers, "cell_seconds": time.perf_counter() - t0})
                print(f"{dataset} seed {repeat} {name}: gap {numbers['tstr_auroc_gap']:+.3f} quality {numbers['quality']:.3f} "
                      f"eps {numbers['dp_epsilon']:.2f} fit {numbers['fit_seconds']:.1f} s", file=sys.stderr, flush=True)
    runs = pd.DataFrame(raw)
    plain = runs[runs.generator == "fair_transformer"].set_index(["dataset", "repeat"]).fit_seconds
    runs["fit_ratio"] = runs.fit_seconds / plain.reindex(pd.MultiIndex.from_frame(runs[["dataset", "repeat"]])).to_numpy()
    table = runs.groupby(["dataset", "generator"], sort=False).agg(
        seeds=("repeat", "nunique"), train_rows=("train_rows", "first"), epsilon_spent=("dp_epsilon", "mean"),
        noise_multiplier=("noise_multiplier", "mean"), tstr_auroc_gap=("tstr_auroc_gap", "mean"), quality=("quality", "mean"),
        dcr_ratio=("dcr_ratio", "mean"), membership_auc=("membership_inference_auc", "mean"), healthy=("healthy", "mean"),
        fit_seconds=("fit_seconds", "mean"), fit_ratio=("fit_ratio", "mean")).reset_index()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))
    path, _ = write_results(runs, table, args.out, "dp", "runs")
    print(f"wrote {path}", file=sys.stderr)
    if args.cpu_epochs: cpu_timing(args, names, params)
    return 0


def cpu_timing(args: argparse.Namespace, names: list[str], params: dict) -> None:
    """Process CPU seconds of each fit alone (the benchmark's split of seed 0, `--cpu-epochs` epochs), and the ratio to the plain fit."""
    from fairsynth.generators.base import get_generator
    from fairsynth.studies.benchmark import BenchmarkConfig, benchmark_split, load_benchmark, split_seed, variant_of
    rows = []
    for dataset in args.datasets:
        ds = load_benchmark(BenchmarkConfig(datasets=dataset)).tables[dataset]
        seed = split_seed(args.seed, ds.spec.name, 0)
        train, _ = benchmark_split(ds, seed, 0.3, args.max_train_rows)
        fit = lambda name, epochs, rows: get_generator(variant_of(name)[0], **{**variant_of(name)[1], **params[name], "epochs": epochs}, seed=seed).fit(rows, ds.spec)
        fit(names[-1], 1, train.head(200))  # warm-up: imports (opacus) untimed
        for name in names:
            c0, w0 = time.process_time(), time.perf_counter()
            fit(name, args.cpu_epochs, train)
            rows.append({"dataset": dataset, "generator": name, "epochs": args.cpu_epochs, "fit_cpu_seconds": time.process_time() - c0,
                         "fit_wall_seconds": time.perf_counter() - w0})
    cpu = pd.DataFrame(rows)
    cpu["cpu_ratio"] = cpu.fit_cpu_seconds / cpu.groupby("dataset").fit_cpu_seconds.transform("first")
    print(cpu.round(2).to_string(index=False))
    path, _ = write_results(cpu, cpu, args.out, "dp-cpu", "runs")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
