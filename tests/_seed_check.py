"""Fit CTGAN and TVAE twice with seed 0 (and once with seed 1) on all NHEFS rows; write each sample as CSV; print sha256s.

Run as `python tests/_seed_check.py OUT_DIR [--quick]` (tests/test_generators.py runs it --quick, in a fresh process,
the way a `fairsynth run` would fit). One JSON line per CSV: generator, seed, run, rows, columns, sha256, file."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from fairsynth.data import load_dataset
from fairsynth.generators.base import get_generator

SMALL = {"ctgan": {"generator_dim": (32, 32), "discriminator_dim": (32, 32)},
         "tvae": {"compress_dims": (32, 32), "decompress_dims": (32, 32)}}  # small networks for --quick


def main(out: Path, quick: bool) -> None:
    """Write ctgan/tvae samples for seeds 0, 0, 1 under `out` and print one JSON line per file."""
    ds = load_dataset("nhefs")
    cols = list(ds.spec.columns)[:9] if quick else list(ds.spec.columns)  # 9 columns: enough for the old threads to interleave
    spec = ds.spec.replace(columns={c: ds.spec.columns[c] for c in cols}, sensitive={"race": "white"}, treatment=None,
                           outcomes=(), confounders=(), mediators=()) if quick else ds.spec
    df = ds.frame[cols]
    out.mkdir(parents=True, exist_ok=True)
    for name in ("ctgan", "tvae"):
        params = dict(epochs=1, batch_size=500, device="cpu", sdv_params=SMALL[name]) if quick else dict(epochs=5, device="cpu")
        for run, seed in enumerate((0, 0, 1)):
            syn = get_generator(name, seed=seed, **params).fit(df.copy(), spec).sample(len(df))
            path = out / f"{name}_seed{seed}_run{run}.csv"
            syn.to_csv(path, index=False)
            print(json.dumps({"generator": name, "seed": seed, "run": run, "train_rows": len(df), "rows": len(syn),
                              "columns": syn.shape[1], "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                              "file": str(path)}), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), "--quick" in sys.argv[2:])
