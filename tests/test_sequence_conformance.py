"""Every registered sequence generator that imports keeps the SequenceGenerator contract: it fits a small VisitDataset,
samples valid patients with their visits, repeats itself under one seed, respects conditions, and names itself when
sampled unfitted."""
import inspect

import numpy as np
import pandas as pd
import pytest

from fairsynth.core import FairsynthError
from fairsynth.generators.sequence import BUILTIN_SEQUENCE_GENERATORS, get_sequence_generator, sequence_generator_class
from fairsynth.visits import VisitDataset, VisitSpec


def importable(name: str) -> bool:
    """Whether the built-in sequence generator `name` imports (another one may not be written yet)."""
    try: sequence_generator_class(name)
    except (ImportError, FairsynthError): return False
    return True


NAMES = [name for name in BUILTIN_SEQUENCE_GENERATORS if importable(name)]  # built from what imports: nothing is skipped
FAST = dict(epochs=2, d_model=16, n_heads=2, n_layers=1, batch_size=64, device="cpu")  # passed where the generator accepts them


def small_visits(n_patients: int = 200, seed: int = 0) -> VisitDataset:
    """~200 simulated patients (group, sex, age, label) with 1-4 visits of 'dx' and 'rx' codes."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n_patients) < 0.35, "B", "A")
    y = (rng.random(n_patients) < np.where(group == "A", 0.5, 0.2)).astype(int)
    patients = pd.DataFrame({"id": np.arange(n_patients), "group": group, "sex": rng.choice(["f", "m"], n_patients),
                             "age": rng.integers(30, 90, n_patients), "dead": y})
    rows = []
    for i in range(n_patients):
        for k in range(int(rng.integers(1, 5))):
            dx = tuple(sorted({f"dx{j}" for j in rng.choice(8, rng.integers(1, 3), replace=False)} | ({"dx9"} if y[i] else set())))
            rx = tuple(sorted({f"rx{j}" for j in rng.choice(5, rng.integers(0, 2), replace=False)}))
            rows.append((i, k + 1, dx, rx))
    visits = pd.DataFrame(rows, columns=["id", "rank", "dx", "rx"])
    spec = VisitSpec("small_visits", "id", {"group": "categorical", "sex": "categorical", "age": "numerical", "dead": "categorical"},
                     "rank", {"dx": "dx", "rx": "rx"}, sensitive={"group": "A"}, labels=("dead",))
    return VisitDataset(patients, visits, spec)


def make(name: str, seed: int = 0):
    accepted = inspect.signature(sequence_generator_class(name).__init__).parameters
    return get_sequence_generator(name, seed=seed, **{k: v for k, v in FAST.items() if k in accepted})


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: the torch models are tiny, one thread each


@pytest.fixture(scope="module")
def data():
    return small_visits()


@pytest.fixture(scope="module", params=NAMES)
def fitted(request, data):
    return make(request.param).fit(data)


def test_halo_is_among_the_tested_generators():
    assert "halo" in NAMES


def test_fit_then_sample_gives_a_valid_visit_dataset(fitted, data):
    syn = fitted.sample(37, seed=1)
    spec = data.spec
    assert isinstance(syn, VisitDataset) and syn.spec == spec and len(syn.patients) == 37
    assert syn.patients[spec.patient_id].is_unique and list(syn.patients.columns[:1]) == [spec.patient_id]
    per_patient = syn.visits.groupby(spec.patient_id).size()
    assert set(per_patient.index) == set(syn.patients[spec.patient_id]) and per_patient.min() >= 1
    assert ((syn.visits.dx.map(len) + syn.visits.rx.map(len)) > 0).all()
    assert set(syn.codes("dx")) <= set(data.codes("dx")) and set(syn.codes("rx")) <= set(data.codes("rx"))
    assert set(syn.patients.group.astype(str)) <= {"A", "B"} and set(syn.patients.dead) <= {0, 1}
    assert fitted.fit_seconds_ > 0 and fitted.sample_seconds_ > 0


def test_same_seed_same_output(fitted):
    a, b = fitted.sample(30, seed=7), fitted.sample(30, seed=7)
    pd.testing.assert_frame_equal(a.patients, b.patients)
    pd.testing.assert_frame_equal(a.visits, b.visits)
    c = fitted.sample(30, seed=8)
    assert not (c.patients.equals(a.patients) and c.visits.equals(a.visits))


def test_conditions_are_respected(fitted):
    syn = fitted.sample(25, conditions={"group": "B", "dead": 1}, seed=3)
    assert (syn.patients.group.astype(str) == "B").all() and (syn.patients.dead == 1).all()
    with pytest.raises(FairsynthError, match="group='Z'"):
        fitted.sample(5, conditions={"group": "Z"})


@pytest.mark.parametrize("name", NAMES)
def test_unfitted_sample_names_the_generator(name):
    gen = make(name)
    assert gen.name == name
    with pytest.raises(FairsynthError, match=f"{type(gen).__name__} is not fitted"):
        gen.sample(3)
