"""Record the golden result tables of commands.json (run once, from the main before a refactor): python tests/golden/record.py [study ...]."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent


def run_command(study: str, workdir: Path) -> pd.DataFrame:
    """Run one golden command through the CLI in-process and return its result table."""
    from fairsynth.cli import main
    entry = json.loads((HERE / "commands.json").read_text())[study]
    fill = lambda s: s.format(reports=workdir / "reports", store=workdir / "store")
    argv = ["--reports-dir", str(workdir / "reports"), "--seed", "0", "--repeats", "2", *map(fill, entry["argv"])]
    code = main(argv)
    if code not in (0, None): raise RuntimeError(f"golden command {study} exited {code}")
    table = Path(fill(entry["table"]))
    return pd.read_csv(table) if table.suffix == ".csv" else pd.read_parquet(table)


if __name__ == "__main__":
    studies = sys.argv[1:] or [k for k in json.loads((HERE / "commands.json").read_text()) if not k.startswith("_")]
    for study in studies:
        with tempfile.TemporaryDirectory() as tmp:
            table = run_command(study, Path(tmp))
        table.to_csv(HERE / f"{study}.csv", index=False)
        print(f"{study}: {table.shape}")
