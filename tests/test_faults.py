"""Faults: Ctrl-C during `fairsynth run` (one line, exit 130, cells kept), worker and temp-file clean-up, page locks."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from fairsynth.core import FairsynthError
from fairsynth.report import _TEMP_PREFIX, page_lock, remove_stale_temporaries

def default_sigint() -> None:
    """In the child: Ctrl-C raises KeyboardInterrupt again (a shell's background job, such as a CI run, starts with it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


SLOW_RUN = textwrap.dedent("""
    import dataclasses, sys, time
    import pandas as pd
    from fairsynth.cli import main
    from fairsynth.studies.framework import STUDIES, get_study

    def slow_cell(params, settings=None):  # a stand-in cell: 1 s, one row
        time.sleep(1.0)
        return pd.DataFrame({"metric": ["x"], "value": [1.0]})

    STUDIES["augmentation"] = dataclasses.replace(get_study("augmentation"), cell=slow_cell)
    sys.exit(main(sys.argv[1:]))
""")


def test_ctrl_c_during_a_run_exits_130_with_one_line_and_keeps_the_cells(tmp_path):
    store = tmp_path / "store"
    cmd = [sys.executable, "-c", SLOW_RUN, "run", "augmentation", "--n-majority", "300", "--repeats", "20",
           "--store", str(store), "--no-reports", "--reports-dir", str(tmp_path / "reports")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    try:
        deadline = time.monotonic() + 180
        while not len(list((store / "cells").glob("*.parquet"))) >= 2:  # two cells finished
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=180)  # generous: CI runs two test workers on two cores
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    last = err.strip().splitlines()[-1]
    kept = len(list((store / "cells").glob("*.parquet")))
    assert last.startswith("fairsynth: interrupted;") and f"{kept} of " in last and str(store) in last and "rerun resumes" in last
    assert kept >= 2 and not list((store / "cells").glob(".*.tmp"))  # finished cells kept, no partial file


def test_workers_of_a_killed_run_do_not_linger(tmp_path):
    store = tmp_path / "store"
    cmd = [sys.executable, "-c", SLOW_RUN, "run", "augmentation", "--n-majority", "300", "--repeats", "20", "--jobs", "2",
           "--store", str(store), "--no-reports", "--reports-dir", str(tmp_path / "reports")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not list((store / "cells").glob("*.parquet")):  # the loky workers are computing
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        group = [int(p) for p in subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()]
        workers = [p for p in group if p != proc.pid]
        assert len(workers) >= 2
    finally:
        proc.kill(); proc.wait()  # SIGKILL: nothing in the run can clean up
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline: time.sleep(0.1)
    assert not any(_alive(p) for p in workers)  # loky's default would keep them for minutes


SLOW_PAGE = textwrap.dedent("""
    import sys
    from pathlib import Path
    import nbformat
    import fairsynth.report as report
    folder = Path(sys.argv[1])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time; time.sleep(60)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "slow.ipynb")
    report.studies_dir = lambda: folder  # a study notebook that takes a minute
    try: report.execute_study("slow", {}, folder / "out" / "slow.html", "slow", progress=False)
    except KeyboardInterrupt as e: print(f"interrupted: {e}", file=sys.stderr); sys.exit(130)
""")


def test_ctrl_c_while_a_page_renders_leaves_no_page_lock_or_temporary_files(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SLOW_PAGE, str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, preexec_fn=default_sigint)
    pattern = f"{_TEMP_PREFIX}{proc.pid}-*"
    try:
        deadline = time.monotonic() + 180
        while not list(Path(tempfile.gettempdir()).glob(f"{pattern}/kernel-*.json")):  # the kernel runs
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        time.sleep(2)  # inside the cell
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
        out, err = proc.communicate(timeout=180)  # generous: CI runs two test workers on two cores
    finally:
        proc.kill()
    assert proc.returncode == 130 and "interrupted while rendering slow.html" in err, err
    assert "Traceback" not in err  # neither ours nor the kernel's
    assert not list(Path(tempfile.gettempdir()).glob(pattern))  # no partial notebook, no kernel connection file
    assert not (tmp_path / "out" / "slow.html").exists() and not list((tmp_path / "out").glob(".*.lock"))


def test_a_page_held_by_a_live_run_is_refused_and_a_dead_runs_lock_is_taken_over(tmp_path):
    page = tmp_path / "nhefs" / "synthesis" / "synthesis.html"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from fairsynth.report import page_lock
        with page_lock({str(page)!r}):
            print("held", flush=True); time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"  # the first writer holds the page
        with pytest.raises(FairsynthError, match="being written by another fairsynth run") as e:
            with page_lock(page): pass  # the second writer
        assert str(page) in str(e.value) and str(holder.pid) in str(e.value)
    finally:
        holder.kill(); holder.wait()
    with page_lock(page) as lock:  # the killed writer's lock is stale: taken over
        assert lock.read_text() == str(os.getpid())
    assert not lock.exists()


def test_an_interrupted_rendering_leaves_no_partial_files_and_a_killed_ones_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"]); dead.wait()
    stale = tmp_path / f"{_TEMP_PREFIX}{dead.pid}-x1"
    stale.mkdir(); (stale / "synthesis.ipynb").write_text("{}"); (stale / "kernel-1.json").write_text("{}")
    live = tmp_path / f"{_TEMP_PREFIX}{os.getpid()}-x2"; live.mkdir()
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert not stale.exists() and live.exists()  # this run's folder stays


def test_stop_workers_ends_the_loky_workers():
    from joblib import Parallel, delayed
    from fairsynth.studies.grid import stop_workers
    pids = set(Parallel(n_jobs=2, backend="loky")(delayed(os.getpid)() for _ in range(4))) - {os.getpid()}
    assert pids and stop_workers()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline: time.sleep(0.1)
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    """Whether a process runs (not a zombie)."""
    try: return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError: return False
