"""PAR (SDV's PARSynthesizer, fairsynth's `par`) against HALO (fairsynth's `halo`, λ = 0) on one patient split of a visit dataset.

Both fit the same training patients (capped with --patients) and sample as many patients as they were fitted on; the
table gives fit and sample seconds, their ratio HALO / PAR and, when `fairsynth.metrics.longitudinal` is importable,
code-prevalence and co-occurrence R² against the training patients, overall and per group of the first sensitive
attribute (groups with 200+ training patients). Without the diabetes130 visit loader or its data, a simulated
dataset is used, and the table says so. See bench/README.md.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="diabetes130", help="registered visit dataset (fairsynth.visits.load_visits)")
    p.add_argument("--patients", type=int, default=2000, help="training patients (the first of the training split); 0 = all")
    p.add_argument("--generators", nargs="+", default=["par", "halo"], choices=["par", "halo"])
    p.add_argument("--par-epochs", type=int, default=None, help="PAR epochs (default: the generator's)")
    p.add_argument("--halo-epochs", type=int, default=None, help="HALO epochs (default: the generator's)")
    p.add_argument("--top-k", type=int, default=None, help="PAR's codes kept per vocabulary (default: the generator's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the fits and the draws")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--out", default=None, help="CSV of the table (default: bench/results/longitudinal-<time>.csv)")
    return p.parse_args(argv)


def simulated(n_patients: int, seed: int):
    """A simulated visit dataset (2 vocabularies, a sensitive 'group'), used when no real visit data loads."""
    from fairsynth.visits import VisitDataset, VisitSpec
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n_patients) < 0.3, "B", "A")
    death = (rng.random(n_patients) < np.where(group == "A", 0.2, 0.35)).astype(int)
    patients = pd.DataFrame({"pid": np.arange(n_patients), "group": group, "death": death})
    p = 1 / np.arange(1, 41); p /= p.sum()
    rows = [(i, k + 1, tuple({f"D{j}" for j in rng.choice(40, int(rng.integers(1, 5)), p=p)} | ({"D0"} if death[i] else set())),
             tuple({f"M{j}" for j in rng.choice(10, int(rng.integers(0, 3)), replace=False)}))
            for i in range(n_patients) for k in range(int(rng.geometric(0.6)))]
    spec = VisitSpec("simulated", "pid", {"group": "categorical", "death": "categorical"}, "order",
                     {"diag": "diag", "med": "med"}, sensitive={"group": "A"}, labels=("death",))
    return VisitDataset(patients, pd.DataFrame(rows, columns=["pid", "order", "diag", "med"]), spec)


def load(args) -> tuple[object, str]:
    """(the training patients, a note on where they come from)."""
    from fairsynth.visits import visit_split
    data, note = None, ""
    try:
        from fairsynth.visits import load_visits
        data, note = load_visits(args.dataset), args.dataset
    except Exception as e:  # no loader or no data here: say so and simulate
        print(f"[bench] {args.dataset} did not load ({type(e).__name__}: {e}); using a SIMULATED dataset", file=sys.stderr)
    if data is None:
        data, note = simulated(max(2 * (args.patients or 2000), 200), args.seed), "simulated"
    train, _ = visit_split(data, seed=args.seed)
    if args.patients: train = train.subset(train.patients[train.spec.patient_id].to_numpy()[:args.patients])
    return train, note


def fidelity(train, synthetic) -> dict[str, float]:
    """Code-prevalence and co-occurrence R² overall and per group of the first sensitive attribute (200+ training patients)."""
    if importlib.util.find_spec("fairsynth.metrics.longitudinal") is None: return {}
    from fairsynth.metrics.longitudinal import cooccurrence_fidelity, prevalence_fidelity
    out = {"prevalence_r2": prevalence_fidelity(train, synthetic)["r2"], "cooccurrence_r2": cooccurrence_fidelity(train, synthetic)["r2"]}
    if train.spec.sensitive:
        attr = next(iter(train.spec.sensitive))
        sizes = train.patients[attr].value_counts()
        for value in sizes[sizes >= 200].index:
            out[f"prevalence_r2[{attr}={value}]"] = prevalence_fidelity(train, synthetic, group=(attr, value))["r2"]
            out[f"cooccurrence_r2[{attr}={value}]"] = cooccurrence_fidelity(train, synthetic, group=(attr, value))["r2"]
    return out


def main(argv: list[str] | None = None) -> pd.DataFrame:
    args = parse_args(argv)
    import torch
    from fairsynth.generators.sequence import get_sequence_generator, sequence_generator_class
    if args.threads: torch.set_num_threads(args.threads)
    train, note = load(args)
    print(f"[bench] {note}: {train}", file=sys.stderr)
    rows = []
    for name in args.generators:
        try: sequence_generator_class(name)
        except Exception as e:
            print(f"[bench] {name} is not importable ({e}); left out", file=sys.stderr); continue
        params = {"par": {"epochs": args.par_epochs, "top_k": args.top_k}, "halo": {"epochs": args.halo_epochs, "fairness_weight": 0.0}}[name]
        gen = get_sequence_generator(name, seed=args.seed, **{k: v for k, v in params.items() if v is not None})
        start = time.perf_counter(); gen.fit(train); fit_s = time.perf_counter() - start
        start = time.perf_counter(); synthetic = gen.sample(len(train.patients), seed=args.seed); sample_s = time.perf_counter() - start
        rows.append({"data": note, "patients": len(train.patients), "visits": len(train.visits), "generator": name,
                     "epochs": gen.epochs, "fit_s": round(fit_s, 1), "sample_s": round(sample_s, 1), **fidelity(train, synthetic)})
        print(f"[bench] {rows[-1]}", file=sys.stderr)
    table = pd.DataFrame(rows)
    if {"par", "halo"} <= set(table.get("generator", [])):
        t = table.set_index("generator")
        print(f"HALO / PAR: fit {t.fit_s['halo'] / t.fit_s['par']:.3f}, sample {t.sample_s['halo'] / t.sample_s['par']:.3f}")
    with pd.option_context("display.width", 200, "display.max_columns", 30): print(table.T.to_string() if len(table) else "no generator ran")
    out = Path(args.out) if args.out else RESULTS / f"longitudinal-{time.strftime('%Y%m%d-%H%M%S')}.csv"
    out.parent.mkdir(parents=True, exist_ok=True); table.to_csv(out, index=False)
    return table


if __name__ == "__main__":
    main()
