"""Training and sampling speed of the fair_transformer generator (λ = 0 and λ > 0) against SDV's TVAE.

For each dataset x repeat, three fits run in the same process on the same training rows with the same epochs and
batch size: fairsynth's `fair_transformer` with fairness_weight 0 (plain next-token training), the same with
fairness_weight > 0 (one extra stratified fairness batch per step), and SDV 2.0's TVAESynthesizer used directly
(metadata from Metadata.detect_from_dataframes with sdtypes from the spec, then fit). Their order rotates between
repeats, after an untimed warm-up of each on 500 rows. Epoch times come from inside each training loop (the
generator's `epoch_seconds_`; TVAE's epoch loop through a timed stand-in for its progress bar), so fixed costs
(tokenising, RDT and Gaussian-mixture preprocessing) are left out; whole fit times are reported beside them.
After each fit, the λ = 0 generator and TVAE each sample `--sample-rows` rows (default 100,000) from the model just
fitted: whole `sample` calls, decoding included.
See bench/README.md.
"""
from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from common import sdv_inputs, training_rows, write_results

RESULTS = Path(__file__).resolve().parent / "results"
PATHS = ("fair_transformer λ=0", "fair_transformer λ>0", "tvae (sdv)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["nhefs", "nhanes"], help="fairsynth dataset names")
    p.add_argument("--epochs", type=int, default=5, help="training epochs of every fit")
    p.add_argument("--batch-size", type=int, default=500, help="training rows per step of every fit")
    p.add_argument("--fairness-weight", type=float, default=1.0, help="λ of the fair_transformer λ>0 fit")
    p.add_argument("--sample-rows", type=int, default=100_000, help="rows drawn from the fitted λ=0 fair_transformer and TVAE (0: no draw)")
    p.add_argument("--rows", type=int, default=None,
                   help="training rows (subsample of the training split); default 20000 for diabetes130, all otherwise")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats of each fit")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the subsample and the fits")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:N or auto (TVAE gets enable_gpu on CUDA)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for the CSV files")
    return p.parse_args(argv)


@contextlib.contextmanager
def tvae_epoch_clock():
    """Timestamps at the start of each of TVAE's epochs and at the end of the last (via its tqdm progress bar)."""
    import ctgan.synthesizers.tvae as tvae_module
    stamps: list[float] = []

    class TimedEpochs:
        def __init__(self, iterable, **kwargs): self.iterable = iterable
        def set_description(self, *args, **kwargs): pass
        def __iter__(self):
            for item in self.iterable:
                stamps.append(time.perf_counter())
                yield item
            stamps.append(time.perf_counter())

    real = tvae_module.tqdm
    tvae_module.tqdm = TimedEpochs
    try: yield stamps
    finally: tvae_module.tqdm = real


def fit_fair_transformer(train, spec, weight: float, args, device: str) -> tuple[float, list[float], float]:
    """(whole fit seconds, seconds of each epoch, seconds to sample `args.sample_rows` rows) of get_generator('fair_transformer', ...)."""
    from fairsynth.generators.base import get_generator
    gen = get_generator("fair_transformer", fairness_weight=weight, epochs=args.epochs, batch_size=args.batch_size,
                        device=device, seed=args.seed)
    t0 = time.perf_counter()
    gen.fit(train, spec)
    fit_s = time.perf_counter() - t0
    return fit_s, list(gen.epoch_seconds_), timed_sample(lambda n: gen.sample(n, seed=args.seed), args.sample_rows if weight == 0 else 0)


def timed_sample(draw, n: int) -> float:
    """Seconds of one `draw(n)` (NaN when n is 0)."""
    if not n: return float("nan")
    t0 = time.perf_counter()
    out = draw(n)
    seconds = time.perf_counter() - t0
    if len(out) != n: raise RuntimeError(f"asked for {n} rows, got {len(out)}")
    return seconds


def fit_tvae(train, spec, args, device: str) -> tuple[float, list[float], float]:
    """(whole fit seconds, seconds of each epoch, seconds to sample `args.sample_rows` rows) of SDV 2.0's TVAESynthesizer, used directly."""
    import torch
    from sdv.single_table import TVAESynthesizer
    t0 = time.perf_counter()
    data, metadata = sdv_inputs(train, spec)
    with warnings.catch_warnings(), tvae_epoch_clock() as stamps, \
         (torch.cuda.device(int(device.split(":")[1])) if device.startswith("cuda:") else contextlib.nullcontext()):
        warnings.simplefilter("ignore")
        synth = TVAESynthesizer(metadata, epochs=args.epochs, batch_size=args.batch_size, enable_gpu=device.startswith("cuda"))
        random.seed(args.seed); np.random.seed(args.seed); torch.manual_seed(args.seed)
        synth.fit({"data": data})
        fit_s = time.perf_counter() - t0
        return fit_s, np.diff(stamps).tolist(), timed_sample(lambda n: synth.sample(n)["data"], args.sample_rows)


def run(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    import torch
    import fairsynth.generators.fair_transformer  # noqa: F401  (import torch and SDV before any timing)
    import sdv.single_table  # noqa: F401
    if args.threads: torch.set_num_threads(args.threads)
    from fairsynth.core import resolve_device
    device = resolve_device(args.device)
    fits = {PATHS[0]: lambda tr, sp, a: fit_fair_transformer(tr, sp, 0.0, a, device),
            PATHS[1]: lambda tr, sp, a: fit_fair_transformer(tr, sp, args.fairness_weight, a, device),
            PATHS[2]: lambda tr, sp, a: fit_tvae(tr, sp, a, device)}
    rows = []
    for dataset in args.datasets:
        train, spec = training_rows(dataset, args.rows, args.seed)
        warm = argparse.Namespace(**{**vars(args), "epochs": 1, "sample_rows": min(args.sample_rows, 1000)})  # untimed: first torch/SDV calls in a process are slow
        for fit in fits.values(): fit(train.head(500), spec, warm)
        for rep in range(args.repeats):
            order = list(PATHS[rep % 3:] + PATHS[:rep % 3])
            for path in order:
                fit_s, epochs, sample_s = fits[path](train, spec, args)
                for e, s in enumerate(epochs, start=1):
                    rows.append(dict(dataset=dataset, path=path, repeat=rep, epoch=e, epoch_s=s, fit_s=fit_s, sample_s=sample_s,
                                     train_rows=len(train), columns=len(spec.columns)))
                print(f"  {dataset} repeat {rep} {path:21s} fit {fit_s:7.2f}s  median epoch {np.median(epochs):6.3f}s  "
                      f"sample {args.sample_rows} rows {sample_s:7.2f}s", file=sys.stderr, flush=True)
    raw = pd.DataFrame(rows)
    return raw, summarise(raw, args)


def summarise(raw: pd.DataFrame, args: argparse.Namespace) -> pd.DataFrame:
    """One row per dataset: median seconds per epoch of each path, the ratios fair_transformer / TVAE, median fit seconds."""
    epoch = raw.pivot_table(index="dataset", columns="path", values="epoch_s", aggfunc="median", sort=False)
    fits = raw.drop_duplicates(["dataset", "path", "repeat"])
    fit = fits.pivot_table(index="dataset", columns="path", values="fit_s", aggfunc="median", sort=False)
    sample = fits.pivot_table(index="dataset", columns="path", values="sample_s", aggfunc="median", sort=False, dropna=False)
    sample = sample.reindex(columns=list(PATHS))
    first = raw.groupby("dataset", sort=False).agg(train_rows=("train_rows", "first"), columns=("columns", "first"),
                                                   repeats=("repeat", "nunique"))
    table = first.assign(epochs=args.epochs, batch_size=args.batch_size,
                         epoch_s_ft0=epoch[PATHS[0]], epoch_s_ft=epoch[PATHS[1]], epoch_s_tvae=epoch[PATHS[2]],
                         ratio_ft0_tvae=epoch[PATHS[0]] / epoch[PATHS[2]], ratio_ft_tvae=epoch[PATHS[1]] / epoch[PATHS[2]],
                         fit_s_ft0=fit[PATHS[0]], fit_s_ft=fit[PATHS[1]], fit_s_tvae=fit[PATHS[2]],
                         sample_rows=args.sample_rows, sample_s_ft0=sample[PATHS[0]], sample_s_tvae=sample[PATHS[2]],
                         ratio_sample_ft0_tvae=sample[PATHS[0]] / sample[PATHS[2]])
    return table.reset_index()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    raw, table = run(args)
    written, _ = write_results(raw, table, args.out, "fair_transformer", "epochs")
    import torch
    print(f"seconds per epoch: median over {args.epochs} epochs x {args.repeats} repeats; batch size {args.batch_size}; "
          f"λ>0 = {args.fairness_weight}; device={args.device}; torch {torch.__version__}, threads={torch.get_num_threads()}\n"
          "ft0 = fair_transformer λ=0, ft = fair_transformer λ>0, tvae = SDV TVAESynthesizer; "
          "ratio = fair_transformer / TVAE seconds per epoch; fit_s = whole fit (with preprocessing), median of repeats; "
          f"sample_s = seconds to sample {args.sample_rows} rows from the fitted λ=0 fair_transformer / TVAE, median of repeats")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"written: {written} (and -epochs.csv with every epoch)")


if __name__ == "__main__":
    main()
