"""Overhead of fairsynth's SDV wrappers: fit + sample through fairsynth vs the same SDV calls made directly.

For each dataset x generator x repeat, both paths run in the same process on the same training rows, with the
same metadata (detected by SDV, sdtypes from the spec), the same parameters and the same seeds; their order
alternates between repeats, after an untimed warm-up of both on 500 rows. The table shows median seconds, the ratio fairsynth / SDV (goal: < 1.10) and whether
the two synthetic tables are identical. See bench/README.md.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import random
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from common import sdv_inputs, training_rows, write_results

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["nhefs", "diabetes130"], help="fairsynth dataset names")
    p.add_argument("--generators", nargs="+", default=["gaussian_copula", "ctgan", "tvae"],
                   choices=["gaussian_copula", "ctgan", "tvae"], help="SDV-backed generators to time")
    p.add_argument("--epochs", type=int, default=5, help="epochs of ctgan and tvae")
    p.add_argument("--batch-size", type=int, default=500, help="batch size of ctgan and tvae")
    p.add_argument("--rows", type=int, default=None,
                   help="training rows (subsample of the training split); default 20000 for diabetes130, all otherwise")
    p.add_argument("--sample-rows", type=int, default=None, help="rows sampled after fitting (default: as many as training rows)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats of each path")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the subsample, the fits and the draws")
    p.add_argument("--device", default="cpu", help="torch device of ctgan/tvae: cpu, cuda or auto")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (1 keeps timings stable when other work shares the cores; 0 = torch's default)")
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for the CSV files")
    return p.parse_args(argv)


def sdv_params(name: str, args: argparse.Namespace) -> dict:
    return {} if name == "gaussian_copula" else {"epochs": args.epochs, "batch_size": args.batch_size}


@contextlib.contextmanager
def sdv_clock():
    """Time spent inside SDV's entry points (metadata, constructors, fit, sample), outermost calls only."""
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer
    from sdv.single_table.base import BaseSingleTableSynthesizer, BaseSynthesizer
    clock = {"s": 0.0, "depth": 0}

    def timed(fn):
        @functools.wraps(fn)
        def wrapper(*a, **kw):
            clock["depth"] += 1
            t0 = time.perf_counter()
            try: return fn(*a, **kw)
            finally:
                clock["depth"] -= 1
                if clock["depth"] == 0: clock["s"] += time.perf_counter() - t0
        return wrapper

    targets = [(Metadata, "detect_from_dataframes"), (Metadata, "update_column"), (BaseSynthesizer, "fit"),
               (BaseSingleTableSynthesizer, "sample"), (BaseSingleTableSynthesizer, "sample_from_conditions"),
               (BaseSingleTableSynthesizer, "reset_sampling"), (BaseSingleTableSynthesizer, "_set_random_state"),
               (GaussianCopulaSynthesizer, "__init__"), (CTGANSynthesizer, "__init__"), (TVAESynthesizer, "__init__")]
    saved = [(cls, attr, cls.__dict__[attr]) for cls, attr in targets]
    for cls, attr, raw in saved:
        setattr(cls, attr, classmethod(timed(raw.__func__)) if isinstance(raw, classmethod) else timed(raw))
    try: yield clock
    finally:
        for cls, attr, raw in saved: setattr(cls, attr, raw)


def via_fairsynth(name, train, spec, n, args, device):
    """(fit s, sample s, s spent inside SDV, synthetic table) through get_generator(...).fit(...).sample(...)."""
    from fairsynth.generators.base import get_generator
    params = sdv_params(name, args) | ({} if name == "gaussian_copula" else {"device": device})
    with sdv_clock() as clock:
        t0 = time.perf_counter()
        gen = get_generator(name, seed=args.seed, **params).fit(train, spec)
        t1 = time.perf_counter()
        out = gen.sample(n)
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, clock["s"], out


def via_sdv(name, train, spec, n, args, device):
    """(fit s, sample s, None, synthetic table) with SDV 2.0 alone, as a careful user would write it."""
    import torch
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer
    classes = {"gaussian_copula": GaussianCopulaSynthesizer, "ctgan": CTGANSynthesizer, "tvae": TVAESynthesizer}
    params = sdv_params(name, args) | ({} if name == "gaussian_copula" else {"enable_gpu": device.startswith("cuda")})
    t0 = time.perf_counter()
    data, metadata = sdv_inputs(train, spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synth = classes[name](metadata, **params)
        random.seed(args.seed); np.random.seed(args.seed); torch.manual_seed(args.seed)
        synth.fit({"data": data})
        t1 = time.perf_counter()
        synth.reset_sampling(); synth._set_random_state(args.seed)
        out = synth.sample(n)["data"]
    return t1 - t0, time.perf_counter() - t1, None, out


def run(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    import torch
    import fairsynth.generators.sdv  # noqa: F401  (import SDV and torch before any timing)
    if args.threads: torch.set_num_threads(args.threads)
    from fairsynth.core import resolve_device
    device = resolve_device(args.device)
    rows = []
    for dataset in args.datasets:
        train, spec = training_rows(dataset, args.rows, args.seed)
        n = args.sample_rows or len(train)
        for name in args.generators:
            warm = argparse.Namespace(**{**vars(args), "epochs": 1})  # untimed: first torch/SDV calls in a process are slow
            for fn in (via_fairsynth, via_sdv): fn(name, train.head(500), spec, 100, warm, device)
            for rep in range(args.repeats):
                order = [("fairsynth", via_fairsynth), ("sdv", via_sdv)]
                outs = {}
                for path, fn in (order if rep % 2 == 0 else order[::-1]):
                    fit_s, sample_s, inside_sdv_s, outs[path] = fn(name, train, spec, n, args, device)
                    rows.append(dict(dataset=dataset, generator=name, repeat=rep, path=path, train_rows=len(train),
                                     columns=len(spec.columns), sample_rows=n, fit_s=fit_s, sample_s=sample_s,
                                     total_s=fit_s + sample_s, inside_sdv_s=inside_sdv_s,
                                     wrapper_s=None if inside_sdv_s is None else fit_s + sample_s - inside_sdv_s))
                    print(f"  {dataset} {name} repeat {rep} {path:9s} fit {fit_s:7.2f}s  sample {sample_s:6.2f}s",
                          file=sys.stderr, flush=True)
                same = outs["fairsynth"].reset_index(drop=True).equals(outs["sdv"].reset_index(drop=True))
                for r in rows[-2:]: r["identical"] = same
    raw = pd.DataFrame(rows)
    return raw, summarise(raw)


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset x generator: median seconds of each path, and fairsynth/SDV ratios of the median and min totals."""
    keys = ["dataset", "generator"]
    wide = raw.pivot_table(index=keys, columns="path", values=["fit_s", "sample_s", "total_s"], aggfunc="median", sort=False)
    low = raw.pivot_table(index=keys, columns="path", values="total_s", aggfunc="min", sort=False)
    first = raw.groupby(keys, sort=False).agg(train_rows=("train_rows", "first"), sample_rows=("sample_rows", "first"),
                                              repeats=("repeat", "nunique"), identical=("identical", "all"))
    ours = raw[raw.path == "fairsynth"].groupby(keys, sort=False)
    first["wrapper_s"] = ours.wrapper_s.median()
    first["wrapper_pct"] = 100 * ours.apply(lambda g: (g.wrapper_s / g.inside_sdv_s).median(), include_groups=False)
    table = first.assign(fit_fairsynth_s=wide[("fit_s", "fairsynth")], fit_sdv_s=wide[("fit_s", "sdv")],
                         sample_fairsynth_s=wide[("sample_s", "fairsynth")], sample_sdv_s=wide[("sample_s", "sdv")],
                         total_fairsynth_s=wide[("total_s", "fairsynth")], total_sdv_s=wide[("total_s", "sdv")],
                         ratio_median=wide[("total_s", "fairsynth")] / wide[("total_s", "sdv")],
                         ratio_min=low["fairsynth"] / low["sdv"])
    cols = ["train_rows", "sample_rows", "repeats", "fit_fairsynth_s", "fit_sdv_s", "sample_fairsynth_s", "sample_sdv_s",
            "total_fairsynth_s", "total_sdv_s", "ratio_median", "ratio_min", "wrapper_s", "wrapper_pct", "identical"]
    return table[cols].reset_index()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    raw, table = run(args)
    written, _ = write_results(raw, table, args.out, "generators", "runs")
    print(f"seconds: median of {args.repeats} repeats; epochs={args.epochs} (ctgan/tvae); device={args.device}; "
          f"torch threads={args.threads or 'default'}\n"
          "ratio = fairsynth / SDV total time (fit + sample), of the medians and of the fastest repeats (goal < 1.10); "
          "wrapper_s = time of the fairsynth path spent outside SDV's calls (wrapper_pct: as % of the time inside them)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"written: {written} (and -runs.csv with every repeat)")


if __name__ == "__main__":
    main()
