"""Layers point one way: core/spec -> tabular/audit -> data -> models -> generators, metrics, llm, figures -> studies ->
report/runner/cli. Each fairsynth module is imported in a fresh interpreter and may pull in no module of a higher layer."""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import fairsynth

# the layer of each part of fairsynth; a module may import modules of its own layer or lower ones
LAYERS: dict[str, int] = {
    "fairsynth.core": 0, "fairsynth.spec": 0,
    "fairsynth.tabular": 1, "fairsynth.audit": 1,
    "fairsynth.data": 2, "fairsynth.userdata": 2, "fairsynth.visits": 2, "fairsynth.spec_draft": 2,  # with every fairsynth.data* module (datafiles, ...)
    "fairsynth.models": 3,
    "fairsynth.llm": 4, "fairsynth.generators": 4, "fairsynth.metrics": 4, "fairsynth.figures": 4,
    "fairsynth.studies": 5,
    "fairsynth.report": 6, "fairsynth.runner": 6, "fairsynth.cli": 6, "fairsynth.export": 6,
}
UNLAYERED = {"fairsynth", "fairsynth._modidx"}  # the package root (a docstring) and nbdev's index


def layer(module: str) -> int | None:
    """The layer of a fairsynth module (None: not in LAYERS)."""
    if module.startswith("fairsynth.data"): return LAYERS["fairsynth.data"]
    found = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    return LAYERS[max(found, key=len)] if found else None


def fairsynth_modules() -> list[str]:
    """Every module and package of fairsynth."""
    return sorted({"fairsynth", *(m.name for m in pkgutil.walk_packages(fairsynth.__path__, "fairsynth."))})


def third_party_imports(modules: list[str]) -> list[str]:
    """The non-fairsynth modules fairsynth imports at module level (preloaded once, so each probe is quick)."""
    found = set()
    for name in modules:
        tree = ast.parse(Path(importlib.util.find_spec(name).origin).read_text())
        for node in tree.body:
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            found |= {n for n in names if n.split(".")[0] not in ("fairsynth", "__future__")}
    return sorted(found)


# Imports the third-party libraries, then imports each fairsynth module in a child forked from that clean parent
# (no fairsynth module loaded) and reports which fairsynth modules the child then holds.
PROBE = r"""
import importlib, json, multiprocessing, sys
modules, preload = json.loads(sys.stdin.read())
for name in preload:
    try: importlib.import_module(name)
    except Exception: pass
held = [m for m in sys.modules if m.split(".")[0] == "fairsynth"]
assert not held, f"preloading the third-party libraries imported {held}"

def probe(name):
    error = None
    try: importlib.import_module(name)
    except BaseException as e: error = f"{type(e).__name__}: {e}"
    return name, sorted(m for m in sys.modules if m.split(".")[0] == "fairsynth"), error

if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(2, maxtasksperchild=1) as pool:
        print(json.dumps(pool.map(probe, modules, chunksize=1)))
"""


def run_python(code: str, stdin: str = "") -> str:
    """Stdout of `python -c code` in a fresh interpreter, run beside the package."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True, env=env,
                          cwd=Path(fairsynth.__file__).parent.parent, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def probes() -> dict[str, tuple[list[str], str | None]]:
    """Module -> (fairsynth modules loaded by importing it in a fresh interpreter, import error or None)."""
    modules = fairsynth_modules()
    out = run_python(PROBE, json.dumps([modules, third_party_imports(modules)]))
    return {name: (loaded, error) for name, loaded, error in json.loads(out.strip().splitlines()[-1])}


def test_every_module_has_a_layer():
    unplaced = [m for m in fairsynth_modules() if m not in UNLAYERED and layer(m) is None]
    assert not unplaced, f"fairsynth module(s) {unplaced} have no layer: add them to LAYERS in {__file__}"


def test_layers_point_one_way(probes):
    violations = [f"{m} (layer {layer(m)}) imports {n} (layer {layer(n)})"
                  for m, (loaded, _) in sorted(probes.items()) if layer(m) is not None
                  for n in loaded if layer(n) is not None and layer(n) > layer(m)]
    assert not violations, (f"{len(violations)} import(s) point up the layers "
                            f"(core/spec 0 < tabular/audit 1 < data 2 < models 3 < generators/metrics/llm/figures 4 "
                            f"< studies 5 < report/runner/cli 6):\n  " + "\n  ".join(violations))


def test_every_module_imports(probes):
    failed = [f"{m}: {error}" for m, (_, error) in sorted(probes.items()) if error]
    assert not failed, "module(s) fail to import in a fresh interpreter:\n  " + "\n  ".join(failed)


def test_causal_metrics_do_not_load_the_llm_client():
    out = run_python("import sys, fairsynth.metrics.causal_fairness; "
                     "print(sorted(m for m in sys.modules if m.split('.')[0] == 'openai' or m.startswith('fairsynth.llm')))")
    assert out.strip() == "[]", f"importing fairsynth.metrics.causal_fairness loads {out.strip()}"
