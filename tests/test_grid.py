"""The resumable grid runner: cell ids, stores, failures, joblib and Dask, and resuming after a SIGKILL."""
from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from fairsynth.core import FairsynthError
from fairsynth.studies.grid import cell_id, load_results, run_grid

sys.path.insert(0, str(Path(__file__).parent))  # so this process, loky and Dask workers import the same cell module
from _grid_cells import needs_file_cell, not_a_frame_cell, seeded_cell, slow_cell, threads_cell  # noqa: E402

HERE = Path(__file__).parent
# mixed-type parameter k (None, int, text) on purpose: the store must hold it
GRID = [{"seed": s, "n": n, "k": k} for s in range(3) for n, k in ((2, None), (3, 1), (5, "auto"))]


def expected_table(cells: list[dict]) -> pd.DataFrame:
    """What every grid run over `cells` with seeded_cell must return, apart from the cells' wall times."""
    parts = [seeded_cell(p).assign(cell_id=cell_id(p), **{k: [v] * len(seeded_cell(p)) for k, v in p.items()}) for p in cells]
    return pd.concat(parts, ignore_index=True)


def without_seconds(df: pd.DataFrame) -> pd.DataFrame:
    """A result table without its wall-time column (the only column that differs between runs)."""
    return df.drop(columns="seconds")


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The GRID run once in this process."""
    store = tmp_path_factory.mktemp("serial")
    return store, run_grid(seeded_cell, GRID, store, progress=False)


def test_cell_ids_are_stable_and_ignore_key_order():
    assert [cell_id(p) for p in GRID] == [cell_id(dict(p)) for p in GRID]
    assert cell_id({"a": 1, "b": "x"}) == cell_id({"b": "x", "a": 1})
    assert cell_id({"a": 1}) != cell_id({"a": 2}) and len({cell_id(p) for p in GRID}) == len(GRID)
    assert all(len(cell_id(p)) == 16 and int(cell_id(p), 16) >= 0 for p in GRID)


def test_bad_grids_and_parameters_are_rejected(tmp_path):
    with pytest.raises(FairsynthError, match="duplicates"):
        run_grid(seeded_cell, [{"seed": 1, "n": 2}, {"n": 2, "seed": 1}], tmp_path / "s")
    with pytest.raises(FairsynthError, match="reserved"):
        run_grid(seeded_cell, [{"seed": 1, "cell_id": "x"}], tmp_path / "s")
    with pytest.raises(FairsynthError, match="n_jobs"):
        run_grid(seeded_cell, GRID, tmp_path / "s", n_jobs=0)
    with pytest.raises(FairsynthError, match="'fn'"):
        run_grid("seeded_cell", GRID, tmp_path / "s")
    with pytest.raises(FairsynthError, match="'fn' cannot be sent"):
        run_grid(functools.partial(seeded_cell, lock=threading.Lock()), GRID, tmp_path / "s", n_jobs=2, progress=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FairsynthError, match="not a folder"):
        run_grid(seeded_cell, GRID, tmp_path / "file")


def test_serial_run_stores_every_cell_and_a_combined_table(serial):
    store, res = serial
    ids = [cell_id(p) for p in GRID]
    assert res.computed == ids and res.skipped == [] and res.failed == {} and res.seconds > 0
    assert sorted(p.stem for p in (store / "cells").glob("*.parquet")) == sorted(ids)
    # grid order, then row order; params as columns; mixed-type k stored as text
    exp = expected_table(GRID)
    got = without_seconds(res.results)
    assert list(got.columns) == ["seed", "n", "k", "cell_id", "row", "value", "label"]
    assert got.k.tolist() == [None if k is None else str(k) for k in exp.k]
    pd.testing.assert_frame_equal(got.drop(columns="k"), exp[got.columns.drop("k")], check_dtype=False)
    assert (res.results.seconds >= 0).all() and res.results.groupby("cell_id").seconds.nunique().eq(1).all()
    pd.testing.assert_frame_equal(pd.read_parquet(store / "results.parquet"), res.results)
    pd.testing.assert_frame_equal(load_results(store), res.results)
    one = pd.read_parquet(store / "cells" / f"{ids[0]}.parquet")  # each cell file describes itself
    assert one.seed.tolist() == [0, 0] and one.k.isna().all() and set(one.cell_id) == {ids[0]}


def test_rerun_skips_finished_cells(serial):
    store, res = serial
    again = run_grid(seeded_cell, GRID, store, progress=False)
    assert again.computed == [] and again.skipped == [cell_id(p) for p in GRID]
    pd.testing.assert_frame_equal(again.results, res.results)


def test_a_key_such_as_the_data_checksum_enters_every_cell_id(tmp_path):
    cells, store = [{"seed": s} for s in range(3)], tmp_path / "keyed"
    assert cell_id({"seed": 0}, key="v1") not in (cell_id({"seed": 0}), cell_id({"seed": 0}, key="v2"))
    old = run_grid(seeded_cell, cells, store, progress=False, key="sha-v1")
    assert len(old.computed) == 3
    new = run_grid(seeded_cell, cells, store, progress=False, key="sha-v2")  # the data changed: nothing reused
    assert len(new.computed) == 3 and not new.skipped and set(new.computed).isdisjoint(old.computed)
    same = run_grid(seeded_cell, cells, store, progress=False, key="sha-v2")  # unchanged data: everything reused
    assert not same.computed and same.skipped == new.computed
    table = pd.read_parquet(store / "results.parquet")
    assert set(table.cell_id) == set(new.computed)  # the table holds the current data's cells only


def test_two_processes_give_the_same_table(serial, tmp_path):
    two = run_grid(seeded_cell, GRID, tmp_path / "two", n_jobs=2, progress=False)
    assert sorted(two.computed) == sorted(cell_id(p) for p in GRID) and not two.failed
    pd.testing.assert_frame_equal(without_seconds(two.results), without_seconds(serial[1].results))
    pd.testing.assert_frame_equal(without_seconds(load_results(tmp_path / "two")), without_seconds(serial[1].results))


def test_a_failing_cell_is_reported_and_retried_alone(tmp_path, capsys):
    marker = tmp_path / "marker"
    cells = [{"seed": s} for s in range(4)] + [{"seed": 9, "needs": str(marker)}]
    bad = cell_id(cells[-1])
    res = run_grid(needs_file_cell, cells, tmp_path / "s")
    assert list(res.failed) == [bad] and "FileNotFoundError" in res.failed[bad] and "marker" in res.failed[bad]
    assert "FAILED" in capsys.readouterr().err
    assert sorted(res.computed) == sorted(cell_id(p) for p in cells[:4]) and res.results.cell_id.nunique() == 4
    assert not (tmp_path / "s" / "cells" / f"{bad}.parquet").exists()
    held = run_grid(needs_file_cell, cells, tmp_path / "s", progress=False, retry_failed=False)
    assert held.computed == [] and list(held.failed) == [bad] and "earlier run" in held.failed[bad]
    marker.write_text("fixed")
    fixed = run_grid(needs_file_cell, cells, tmp_path / "s", progress=False)
    assert fixed.computed == [bad] and fixed.failed == {} and fixed.skipped == [cell_id(p) for p in cells[:4]]
    assert fixed.results.cell_id.unique().tolist() == [cell_id(p) for p in cells]
    assert not list((tmp_path / "s" / "failed").glob("*.json"))


def test_a_cell_that_returns_no_dataframe_fails_by_name(tmp_path):
    res = run_grid(not_a_frame_cell, [{"seed": 1}], tmp_path / "s", progress=False)
    assert res.results.empty and res.computed == []
    assert "not a DataFrame" in res.failed[cell_id({"seed": 1})] and cell_id({"seed": 1}) in res.failed[cell_id({"seed": 1})]


def test_threads_per_worker_limits_blas_threads(tmp_path):
    res = run_grid(threads_cell, [{"seed": 0}], tmp_path / "s", threads_per_worker=1, progress=False)
    assert res.results.max_threads.tolist() == [1]
    res2 = run_grid(threads_cell, [{"seed": 0}, {"seed": 1}], tmp_path / "p", n_jobs=2, threads_per_worker=1, progress=False)
    assert res2.results.max_threads.tolist() == [1, 1]


def test_dask_cluster_gives_the_same_table(serial, tmp_path):
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        res = run_grid(seeded_cell, GRID, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
        assert sorted(res.computed) == sorted(cell_id(p) for p in GRID) and not res.failed
        pd.testing.assert_frame_equal(without_seconds(res.results), without_seconds(serial[1].results))
        marker = tmp_path / "never"
        with Client(cluster.scheduler_address, set_as_default=False) as client:  # a Client object works too, and stays open
            part = run_grid(needs_file_cell, [{"seed": 0}, {"seed": 1, "needs": str(marker)}], tmp_path / "client",
                            scheduler=client, progress=False)
            assert part.computed == [cell_id({"seed": 0})] and "FileNotFoundError" in part.failed[cell_id({"seed": 1, "needs": str(marker)})]
            assert client.status == "running"


def test_unreachable_scheduler_is_named(tmp_path, monkeypatch):
    import dask
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(FairsynthError, match="127.0.0.1:1"):
            run_grid(seeded_cell, [{"seed": 0}], tmp_path / "s", scheduler="tcp://127.0.0.1:1", progress=False)


def test_killed_run_resumes_without_redoing_finished_cells(tmp_path):
    store, cells_dir = tmp_path / "store", tmp_path / "store" / "cells"
    cells = [{"seed": s, "sleep": 0.5} for s in range(12)]
    ids = [cell_id(p) for p in cells]
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
            "from _grid_cells import slow_cell\nfrom fairsynth.studies.grid import run_grid\n"
            f"run_grid(slow_cell, {cells!r}, {str(store)!r}, n_jobs=1)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    try:
        while len(list(cells_dir.glob("*.parquet"))) < 3:
            assert proc.poll() is None, f"the grid process ended before it was killed: {proc.stderr.read().decode()}"
            assert time.monotonic() < deadline, "no 3 finished cells within 90 s"
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    finished = {p.stem: p.stat().st_mtime_ns for p in cells_dir.glob("*.parquet")}
    k = len(finished)
    assert 3 <= k < 12 and sorted(finished) == sorted(ids[:k])  # one process: cells finish in grid order
    assert not (store / "results.parquet").exists()  # the run never reached its end
    leftovers = [p.name for p in cells_dir.iterdir() if p.stem not in finished]
    assert all(n.startswith(".") and n.endswith(".tmp") for n in leftovers), leftovers  # nothing half-written under a cell's name
    for cid in finished:  # every cell file is complete
        assert without_seconds(pd.read_parquet(cells_dir / f"{cid}.parquet")).shape == (4, 6)
    assert sorted(load_results(store).cell_id.unique()) == sorted(finished)

    res = run_grid(slow_cell, cells, store, n_jobs=2, progress=False)
    assert res.skipped == ids[:k] and sorted(res.computed) == sorted(ids[k:]) and res.failed == {}
    assert {cid: (cells_dir / f"{cid}.parquet").stat().st_mtime_ns for cid in finished} == finished  # untouched
    assert not [p for p in cells_dir.iterdir() if p.name.endswith(".tmp")]  # stale temporaries cleared
    assert res.results.cell_id.unique().tolist() == ids and len(res.results) == 12 * 4
    exp = expected_table(cells)
    pd.testing.assert_frame_equal(without_seconds(res.results), exp[without_seconds(res.results).columns], check_dtype=False)
