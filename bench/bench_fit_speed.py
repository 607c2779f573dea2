"""Fit and sample time of fairsynth's own generators (arf, causal_dag, ...) against SDV's GaussianCopula, as ratios.

For each dataset x repeat, every generator and `gaussian_copula` are made with `get_generator(name, seed=...)` and
fitted in the same process on the same training rows (the patient-level training split, subsampled with `--rows`),
then each draws as many rows as it was trained on. Their order rotates between repeats, after an untimed warm-up of
each (500 rows). The table shows, per dataset, the median fit and sample seconds of each generator and the ratios
`ratio_fit_<gen>_gc` = median fit seconds / GaussianCopula's median fit seconds (and the same of the fastest repeats).
See bench/README.md.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

from common import training_rows, write_results

RESULTS = Path(__file__).resolve().parent / "results"
BASELINE = "gaussian_copula"
FIT_ROWS = {"diabetes130": 10_000}  # default training rows per dataset (the size issue 16 measures); others: all


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["nhefs", "diabetes130"], help="fairsynth dataset names")
    p.add_argument("--generators", nargs="+", default=["arf", "causal_dag"],
                   help=f"registered generators timed against {BASELINE} (default parameters, seed=--seed)")
    p.add_argument("--rows", type=int, default=None,
                   help="training rows (subsample of the training split); default 10000 for diabetes130, all otherwise")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats of each fit")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the subsample, the fits and the draws")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (1 keeps timings stable when other work shares the cores; 0 = torch's default)")
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for the CSV files")
    return p.parse_args(argv)


def timed_fit_sample(name: str, train: pd.DataFrame, spec, n: int, seed: int) -> dict:
    """Wall and CPU seconds of `get_generator(name, seed=seed).fit(train, spec)` and of `.sample(n)`."""
    from fairsynth.generators.base import get_generator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0, c0 = time.perf_counter(), time.process_time()
        gen = get_generator(name, seed=seed).fit(train, spec)
        t1, c1 = time.perf_counter(), time.process_time()
        out = gen.sample(n)
        t2, c2 = time.perf_counter(), time.process_time()
    if len(out) != n: raise RuntimeError(f"{name} returned {len(out)} rows, asked for {n}")
    return dict(fit_s=t1 - t0, fit_cpu_s=c1 - c0, sample_s=t2 - t1, sample_cpu_s=c2 - c1)


def run(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    import torch
    from fairsynth.generators.base import generator_class
    if args.threads: torch.set_num_threads(args.threads)
    names = [BASELINE, *[g for g in args.generators if g != BASELINE]]
    for name in names: generator_class(name)  # imports each module (SDV, torch) before any timing; an unknown name fails now
    rows = []
    for dataset in args.datasets:
        train, spec = training_rows(dataset, args.rows or FIT_ROWS.get(dataset), args.seed)
        n = len(train)
        for name in names: timed_fit_sample(name, train.head(500), spec, 100, args.seed)  # untimed warm-up
        for rep in range(args.repeats):
            shift = rep % len(names)
            for name in names[shift:] + names[:shift]:
                r = timed_fit_sample(name, train, spec, n, args.seed)
                rows.append(dict(dataset=dataset, generator=name, repeat=rep, train_rows=n, columns=len(spec.columns), **r))
                print(f"  {dataset} repeat {rep} {name:16s} fit {r['fit_s']:7.2f}s (cpu {r['fit_cpu_s']:7.2f}s)  "
                      f"sample {r['sample_s']:6.2f}s", file=sys.stderr, flush=True)
    raw = pd.DataFrame(rows)
    return raw, summarise(raw, names)


def summarise(raw: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """One row per dataset: median fit/sample seconds per generator, and each generator's fit time / GaussianCopula's."""
    med = raw.groupby(["dataset", "generator"], sort=False)[["fit_s", "sample_s", "fit_cpu_s"]].median()
    low = raw.groupby(["dataset", "generator"], sort=False).fit_s.min()
    out = []
    for dataset, first in raw.groupby("dataset", sort=False).first().iterrows():
        row = dict(dataset=dataset, rows=first.train_rows, columns=first.columns, repeats=raw[raw.dataset == dataset].repeat.nunique())
        for name in names:
            row[f"fit_s_{name}"] = med.loc[(dataset, name), "fit_s"]
            row[f"sample_s_{name}"] = med.loc[(dataset, name), "sample_s"]
        for name in names[1:]:
            row[f"ratio_fit_{name}_gc"] = med.loc[(dataset, name), "fit_s"] / med.loc[(dataset, BASELINE), "fit_s"]
            row[f"ratio_min_fit_{name}_gc"] = low.loc[(dataset, name)] / low.loc[(dataset, BASELINE)]
            row[f"ratio_cpu_fit_{name}_gc"] = med.loc[(dataset, name), "fit_cpu_s"] / med.loc[(dataset, BASELINE), "fit_cpu_s"]
        out.append(row)
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    raw, table = run(args)
    written, _ = write_results(raw, table, args.out, "fit_speed", "runs")
    print(f"seconds: median of {args.repeats} repeats; default parameters, seed={args.seed}; torch threads={args.threads or 'default'}\n"
          f"ratio_fit_<gen>_gc = fit seconds / {BASELINE}'s (of the medians; ratio_min_: of the fastest repeats; "
          "ratio_cpu_: of the median CPU seconds of the process, less sensitive to other load on the machine)")
    print(table.T.to_string(header=False, float_format=lambda v: f"{v:.3f}"))
    print(f"written: {written} (and -runs.csv with every repeat)")


if __name__ == "__main__":
    main()
