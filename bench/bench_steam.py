"""What STEAM costs on top of its base generator: STEAM(base) fit + sample through fairsynth vs the base synthesizer
made directly with SDV 2.0 on the whole table (covariates, treatment and outcome).

For each dataset x base generator x repeat, both paths run in the same process on the same training rows (the
patient-level training split) with the same SDV parameters and seeds; their order alternates between repeats, after
an untimed warm-up of both on 500 rows. STEAM's base generator models the covariates only and STEAM adds a
propensity model and one outcome model per treatment arm; the table shows where STEAM's fit time went
(base / propensity / outcomes) and the ratio STEAM / SDV of the total times. See bench/README.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from bench_generators import sdv_params, via_sdv
from common import training_rows, write_results

RESULTS = Path(__file__).resolve().parent / "results"
SETUPS = {"nhefs": ("qsmk", ["death"]), "rhc": ("swang1", ["dth30"])}  # dataset -> (treatment, outcomes)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["nhefs", "rhc"], choices=sorted(SETUPS), help="datasets with a treatment")
    p.add_argument("--bases", nargs="+", default=["gaussian_copula", "ctgan", "tvae"],
                   choices=["gaussian_copula", "ctgan", "tvae"], help="base generators")
    p.add_argument("--epochs", type=int, default=5, help="epochs of ctgan and tvae")
    p.add_argument("--batch-size", type=int, default=500, help="batch size of ctgan and tvae")
    p.add_argument("--outcome-model", default="boosting", help="STEAM's outcome model: boosting, linear, forest")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats of each path")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the fits and the draws")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for the CSV files")
    return p.parse_args(argv)


def via_steam(name, train, spec, n, args, treatment, outcomes):
    """(fit s, sample s, {part: fit s}, synthetic table) through get_generator('steam', base=name)."""
    from fairsynth.generators.base import get_generator
    t0 = time.perf_counter()
    gen = get_generator("steam", base=name, base_params=sdv_params(name, args), treatment=treatment, outcomes=outcomes,
                        outcome_model=args.outcome_model, seed=args.seed).fit(train, spec)
    t1 = time.perf_counter()
    out = gen.sample(n)
    return t1 - t0, time.perf_counter() - t1, gen.fit_parts_seconds_, out


def run(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    import torch
    import fairsynth.generators.sdv  # noqa: F401  (import SDV and torch before any timing)
    import fairsynth.generators.steam  # noqa: F401
    if args.threads: torch.set_num_threads(args.threads)
    rows = []
    for dataset in args.datasets:
        treatment, outcomes = SETUPS[dataset]
        train, spec = training_rows(dataset, None, args.seed)
        for name in args.bases:
            warm = argparse.Namespace(**{**vars(args), "epochs": 1})  # untimed: first torch/SDV calls in a process are slow
            via_steam(name, train.head(500), spec, 100, warm, treatment, outcomes); via_sdv(name, train.head(500), spec, 100, warm, "cpu")
            for rep in range(args.repeats):
                paths = [("steam", lambda: via_steam(name, train, spec, len(train), args, treatment, outcomes)),
                         ("sdv", lambda: via_sdv(name, train, spec, len(train), args, "cpu"))]
                for path, fn in (paths if rep % 2 == 0 else paths[::-1]):
                    fit_s, sample_s, parts, _ = fn()
                    parts = parts or {}
                    rows.append(dict(dataset=dataset, base=name, repeat=rep, path=path, train_rows=len(train),
                                     columns=len(spec.columns), fit_s=fit_s, sample_s=sample_s, total_s=fit_s + sample_s,
                                     base_fit_s=parts.get("base"), propensity_fit_s=parts.get("propensity"),
                                     outcomes_fit_s=parts.get("outcomes")))
                    print(f"  {dataset} {name} repeat {rep} {path:5s} fit {fit_s:7.2f}s  sample {sample_s:6.2f}s",
                          file=sys.stderr, flush=True)
    raw = pd.DataFrame(rows)
    return raw, summarise(raw)


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset x base: median seconds of each path, STEAM's fit split into its parts, and STEAM / SDV ratios."""
    keys = ["dataset", "base"]
    med = raw.pivot_table(index=keys, columns="path", values=["fit_s", "sample_s", "total_s"], aggfunc="median", sort=False)
    low = raw.pivot_table(index=keys, columns="path", values="total_s", aggfunc="min", sort=False)
    steam = raw[raw.path == "steam"].groupby(keys, sort=False)
    table = steam.agg(train_rows=("train_rows", "first"), repeats=("repeat", "nunique"), base_fit_s=("base_fit_s", "median"),
                      propensity_fit_s=("propensity_fit_s", "median"), outcomes_fit_s=("outcomes_fit_s", "median"))
    table = table.assign(total_steam_s=med[("total_s", "steam")], total_sdv_s=med[("total_s", "sdv")],
                         sample_steam_s=med[("sample_s", "steam")], sample_sdv_s=med[("sample_s", "sdv")],
                         ratio_median=med[("total_s", "steam")] / med[("total_s", "sdv")], ratio_min=low["steam"] / low["sdv"])
    return table.reset_index()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    raw, table = run(args)
    written, _ = write_results(raw, table, args.out, "steam", "runs")
    print(f"seconds: median of {args.repeats} repeats; epochs={args.epochs} (ctgan/tvae); outcome model {args.outcome_model}; "
          f"torch threads={args.threads or 'default'}\n"
          "ratio = STEAM(base) / the base synthesizer made with SDV on the whole table, total time (fit + sample), "
          "of the medians and of the fastest repeats")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"written: {written} (and -runs.csv with every repeat)")


if __name__ == "__main__":
    main()
