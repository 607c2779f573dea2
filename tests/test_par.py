"""The `par` sequence generator (SDV's PARSynthesizer on visits): it fits a small simulated VisitDataset, samples
valid patients whose codes come from the kept top-K, repeats itself under one seed, and respects conditions."""
import numpy as np
import pandas as pd
import pytest

from fairsynth.core import FairsynthError
from fairsynth.generators.par import PARGenerator
from fairsynth.generators.sequence import get_sequence_generator
from fairsynth.visits import VisitDataset, VisitSpec


def simulate_visits(n_patients: int = 150, seed: int = 0) -> VisitDataset:
    """Patients (sex, age, death) with 1-5 visits of diagnosis codes (D11 with death) and medication codes (by sex)."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["f", "m"], n_patients, p=[0.6, 0.4])
    death = (rng.random(n_patients) < np.where(sex == "m", 0.35, 0.2)).astype(int)
    patients = pd.DataFrame({"pid": np.arange(n_patients), "sex": sex, "age": rng.integers(20, 90, n_patients), "death": death})
    diag, p_diag = [f"D{i:02d}" for i in range(12)], np.linspace(3, 1, 12) / np.linspace(3, 1, 12).sum()
    rows = []
    for p in range(n_patients):
        for k in range(int(rng.integers(1, 6))):
            d = set(rng.choice(diag, int(rng.integers(1, 4)), replace=False, p=p_diag)) | ({"D11"} if death[p] else set())
            m = {f"M{int(rng.integers(0, 3)) + (3 if sex[p] == 'm' else 0)}"} if rng.random() < 0.7 else set()
            rows.append({"pid": p, "order": k + 1, "diag": tuple(d), "med": tuple(m), "los": float(rng.gamma(2, 2))})
    spec = VisitSpec("sim", "pid", {"sex": "categorical", "age": "numerical", "death": "categorical"}, "order",
                     {"diag": "diag", "med": "med"}, sensitive={"sex": "m"}, labels=("death",), visit_numbers=("los",))
    return VisitDataset(patients, pd.DataFrame(rows), spec)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: the torch models are tiny, one thread each


@pytest.fixture(scope="module")
def data() -> VisitDataset:
    return simulate_visits()


@pytest.fixture(scope="module")
def fitted(data) -> PARGenerator:
    return PARGenerator(epochs=3, top_k=8, seed=0).fit(data)


def test_samples_valid_visit_datasets(fitted, data):
    out = fitted.sample(len(data.patients), seed=1)
    assert isinstance(out, VisitDataset) and len(out.patients) == len(data.patients)
    assert set(out.visits.pid) == set(out.patients.pid)  # every patient has visits, every visit a patient
    kept = {v: set(c) for v, c in fitted.codes_.items()}
    assert 8 < len(data.codes("diag")) and {c for s in out.visits.diag for c in s} <= kept["diag"]  # only the top K come back
    assert {c for s in out.visits.med for c in s} <= kept["med"]
    assert (out.visits.groupby("pid")["order"].apply(lambda o: list(o) == list(range(1, len(o) + 1)))).all()
    assert ((out.visits.diag.map(len) + out.visits.med.map(len)) > 0).all()
    assert set(out.patients.sex) <= {"f", "m"} and set(out.patients.death) <= {0, 1}
    assert 0 < fitted.code_coverage_ < 1


def test_same_seed_same_output(fitted, data):
    a, b = fitted.sample(60, seed=7), fitted.sample(60, seed=7)
    assert a.visits.equals(b.visits) and a.patients.equals(b.patients)
    refit = PARGenerator(epochs=3, top_k=8, seed=0).fit(data).sample(60, seed=7)
    assert refit.visits.equals(a.visits) and refit.patients.equals(a.patients)
    assert not fitted.sample(60, seed=8).visits.equals(a.visits)


def test_conditions_respected(fitted):
    out = fitted.sample(30, conditions={"sex": "m", "death": 1, "age": 44}, seed=2)
    assert (out.patients.sex == "m").all() and (out.patients.death == 1).all() and (out.patients.age == 44).all()
    with pytest.raises(FairsynthError, match="sex"):
        fitted.sample(5, conditions={"sex": "x"})


def test_registry_and_parameters():
    assert isinstance(get_sequence_generator("par", epochs=2), PARGenerator)
    for bad in [dict(epochs=0), dict(top_k=-1), dict(encoding="sets"), dict(sample_size=0), dict(device="gpu")]:
        with pytest.raises(FairsynthError, match=next(iter(bad))):
            get_sequence_generator("par", **bad)


def test_multihot_encoding(data):
    gen = PARGenerator(epochs=2, top_k=4, encoding="multihot", seed=0).fit(data.subset(range(60)))
    out = gen.sample(20)
    assert len(out.patients) == 20 and {c for s in out.visits.diag for c in s} <= set(gen.codes_["diag"])
