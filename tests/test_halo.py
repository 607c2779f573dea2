"""HALO for visit sequences (seed 000's generator done right): a differentiable fairness term and what λ does, valid
sampled visits, conditions, same seed same patients, checkpoint and resume, parameters and the device check."""
import numpy as np
import pandas as pd
import pytest
import torch

from fairsynth.core import FairsynthError
from fairsynth.generators.halo import HALOGenerator, simulated_visits
from fairsynth.generators.sequence import get_sequence_generator, sequence_generator_class

SMALL = dict(d_model=32, n_heads=2, n_layers=1, batch_size=64, learning_rate=1e-2, device="cpu")  # fits 600 patients in about a second
EPOCHS = 12  # enough for the small model to learn the label's group effect


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: the torch models are tiny, one thread each


@pytest.fixture(scope="module")
def sim():
    """600 simulated patients: P(y=1) about 0.55 in group A (70%), 0.15 in group B."""
    return simulated_visits(600, seed=0)


@pytest.fixture(scope="module")
def plain(sim):
    """λ = 0 (the positive-rate gap measured, not trained on)."""
    return HALOGenerator(fairness_weight=0.0, fairness="positive_rate", attribute="group", label="y", epochs=EPOCHS, seed=0, **SMALL).fit(sim)


@pytest.fixture(scope="module")
def fair(sim):
    """λ = 5 on the soft positive-rate gap, same seed and epochs as `plain`."""
    return HALOGenerator(fairness_weight=5.0, fairness="positive_rate", attribute="group", label="y", epochs=EPOCHS, seed=0, **SMALL).fit(sim)


def rate_gap(patients: pd.DataFrame) -> float:
    rates = patients.groupby("group").y.mean()
    return float(rates["A"] - rates["B"])


def model_gap(gen: HALOGenerator, data) -> float:
    p = pd.Series(gen.label_probabilities(data), index=data.patients.index)
    rates = p.groupby(data.patients.group).mean()
    return float(rates["A"] - rates["B"])


# --- the fairness term has a gradient, and λ moves the generator ----------------------------------------------

def test_fairness_term_is_on_the_graph_and_its_gradient_reaches_the_model_weights(plain, sim):
    plain.model_.zero_grad()
    term = plain.fairness_loss(sim)
    assert term.requires_grad and term.grad_fn is not None and term.ndim == 0 and term.item() > 0.1
    term.backward()
    norms = {name: float(p.grad.norm()) for name, p in plain.model_.named_parameters() if p.grad is not None}
    assert norms["within"] > 0 and norms["head.weight"] > 0 and norms["position_embedding.weight"] > 0
    assert sum(v for k, v in norms.items() if k.startswith("blocks.0.")) > 0  # the transformer itself, through the start context


def test_an_item_built_term_changes_no_gradient_but_ours_does(plain, sim):
    from fairsynth.generators.halo import batch_tensors, encode_records, record_nll
    model = plain.model_
    records = encode_records(sim, plain.space_, plain.order_, plain.max_visits_)
    batch = batch_tensors(records, torch.arange(100))

    def gradient(with_term):
        model.zero_grad()
        loss = record_nll(model, plain.space_, *batch) / 100
        if with_term is not None: loss = loss + 5.0 * with_term()
        loss.backward()
        return torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None]).clone()

    bare = gradient(None)
    with_item = gradient(lambda: torch.tensor(plain.fairness_loss(sim).item()))  # seed 000's public code: a constant
    with_ours = gradient(lambda: plain.fairness_loss(sim))
    assert torch.equal(bare, with_item)
    assert (with_ours - bare).norm() > 1e-3


def test_lambda_reduces_the_group_gap_that_lambda_zero_keeps(plain, fair, sim):
    real = rate_gap(sim.patients)
    assert real > 0.3
    assert model_gap(plain, sim) > 0.6 * real  # λ = 0 learns the group effect of the label
    assert abs(model_gap(fair, sim)) < 0.5 * model_gap(plain, sim)
    assert fair.history_.gap.iloc[-1] < 0.5 * plain.history_.gap.iloc[-1]
    plain_syn, fair_syn = plain.sample(1500, seed=3), fair.sample(1500, seed=3)
    assert rate_gap(plain_syn.patients) > 0.6 * real  # synthetic patients keep the real gap at λ = 0 ...
    assert abs(rate_gap(fair_syn.patients)) < 0.5 * rate_gap(plain_syn.patients)  # ... and lose most of it at λ > 0


def test_tpr_term_is_trained_on_the_positives_only(sim):
    gen = HALOGenerator(fairness_weight=1.0, fairness="tpr", attribute="group", label="y", epochs=1, seed=0, **SMALL).fit(sim)
    assert (gen.cell_counts_["y=1"] > 0).all() and gen.rate_weights_.shape == (2, 4)
    assert gen.rate_weights_[:, 0::2].sum() == 0  # no weight on the y = 0 cells
    assert np.isfinite(gen.history_.fairness).all()


# --- sampling ---------------------------------------------------------------------------------------------------

def test_sampled_patients_are_a_valid_visit_dataset(plain, sim):
    syn = plain.sample(400, seed=1)
    spec = sim.spec
    assert len(syn.patients) == 400 and syn.patients[spec.patient_id].is_unique
    per_patient = syn.visits.groupby(spec.patient_id).size()
    assert set(per_patient.index) == set(syn.patients[spec.patient_id]) and per_patient.min() >= 1
    assert per_patient.max() <= plain.max_visits_ == sim.visits.groupby("pid").size().max()
    codes = syn.visits.diag.map(len) + syn.visits.med.map(len)
    assert (codes > 0).all() and syn.visits.diag.map(lambda t: isinstance(t, tuple)).all()
    assert set(syn.codes("diag")) <= set(sim.codes("diag")) and set(syn.codes("med")) <= set(sim.codes("med"))
    ranks = syn.visits.groupby(spec.patient_id).visit.apply(list)
    assert all(r == list(range(1, len(r) + 1)) for r in ranks)
    assert syn.visits.los.between(sim.visits.los.min(), sim.visits.los.max()).all()
    assert set(syn.patients.y) <= {0, 1} and syn.patients.y.dtype == sim.patients.y.dtype


def test_sampled_records_resemble_the_training_records(plain, sim):
    syn = plain.sample(1000, seed=2)
    real_visits = sim.visits.groupby("pid").size().mean()
    assert abs(syn.visits.groupby("pid").size().mean() - real_visits) < 0.5 * real_visits
    real_prev = sim.visits.diag.map(lambda t: "D01" in t).mean()  # the label's chronic code
    assert abs(syn.visits.diag.map(lambda t: "D01" in t).mean() - real_prev) < 0.15


def test_conditions_fix_group_label_and_a_binned_number(plain):
    syn = plain.sample(200, conditions={"group": "B", "y": 1}, seed=4)
    assert (syn.patients.group == "B").all() and (syn.patients.y == 1).all()
    aged = plain.sample(50, conditions={"age": 70}, seed=4)
    assert (aged.patients.age == 70).all()
    with pytest.raises(FairsynthError, match="group"):
        plain.sample(5, conditions={"group": "Z"})


def test_empty_visits_are_redrawn_then_the_first_takes_its_most_probable_code(sim):
    gen = HALOGenerator(epochs=1, seed=0, **SMALL).fit(sim)
    space = gen.space_
    with torch.no_grad():  # a model that never emits a code: each visit comes out empty
        gen.model_.head.bias[space.code_start:space.code_stop] = -50.0
        gen.model_.within.zero_()
    syn = gen.sample(100, seed=0)
    assert (syn.visits.groupby("pid").size() == 1).all()  # later empty visits end the record
    assert ((syn.visits.diag.map(len) + syn.visits.med.map(len)) == 1).all()


def test_max_visits_caps_the_records(sim):
    gen = HALOGenerator(epochs=2, max_visits=2, seed=0, **SMALL).fit(sim)
    assert gen.max_visits_ == 2
    assert gen.sample(300, seed=0).visits.groupby("pid").size().max() <= 2


# --- reproducibility, checkpoints, progress ------------------------------------------------------------------------

def test_same_seed_same_patients(sim):
    a = HALOGenerator(epochs=2, seed=5, **SMALL).fit(sim)
    b = HALOGenerator(epochs=2, seed=5, **SMALL).fit(sim)
    sa, sb = a.sample(150, seed=9), b.sample(150, seed=9)
    pd.testing.assert_frame_equal(sa.patients, sb.patients)
    pd.testing.assert_frame_equal(sa.visits, sb.visits)
    other = a.sample(150, seed=10)
    assert not other.visits.equals(sa.visits)


def test_checkpoint_each_epoch_and_resume_with_more_epochs_equals_an_uninterrupted_fit(sim, tmp_path):
    params = dict(fairness_weight=1.0, attribute="group", label="y", seed=2, **SMALL)
    short = HALOGenerator(epochs=2, checkpoint_dir=tmp_path, **params).fit(sim)
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".pt"  # one file, no temporary left behind
    assert torch.load(files[0], weights_only=True)["epoch"] == 2
    resumed = HALOGenerator(epochs=4, checkpoint_dir=tmp_path, **params).fit(sim)
    whole = HALOGenerator(epochs=4, **params).fit(sim)
    assert short.resumed_epochs_ == 0 and resumed.resumed_epochs_ == 2
    assert torch.load(files[0], weights_only=True)["epoch"] == 4
    for (name, p), q in zip(resumed.model_.state_dict().items(), whole.model_.state_dict().values()):
        assert torch.equal(p, q), name
    pd.testing.assert_frame_equal(resumed.history_.drop(columns="seconds"), whole.history_.drop(columns="seconds"))
    pd.testing.assert_frame_equal(resumed.sample(100, seed=1).visits, whole.sample(100, seed=1).visits)


def test_verbose_prints_loss_and_seconds_per_epoch(sim, capsys):
    HALOGenerator(epochs=2, verbose=True, seed=0, **SMALL).fit(sim)
    err = capsys.readouterr().err
    assert "halo epoch 1/2: loss" in err and "halo epoch 2/2: loss" in err and " s)" in err


# --- parameters, roles, device -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, value", [("epochs", 0), ("batch_size", -1), ("d_model", 2.5), ("n_layers", 0), ("n_heads", 0),
                                         ("learning_rate", 0), ("max_visits", 0), ("fairness_weight", -0.1), ("fairness", "tnr"),
                                         ("dropout", 1.0), ("device", "gpu"), ("seed", -1)])
def test_bad_parameters_are_named(name, value):
    with pytest.raises(FairsynthError, match=f"'{name}'"):
        get_sequence_generator("halo", **{name: value})


def test_lambda_needs_attribute_and_label():
    with pytest.raises(FairsynthError, match="'attribute'"):
        HALOGenerator(fairness_weight=1.0, label="y")._check_params()
    with pytest.raises(FairsynthError, match="'label'"):
        HALOGenerator(fairness_weight=1.0, attribute="group")._check_params()
    with pytest.raises(FairsynthError, match="'n_heads'"):
        HALOGenerator(d_model=30, n_heads=4)._check_params()


def test_unknown_attribute_or_label_is_named(sim):
    with pytest.raises(FairsynthError, match="'attribute'.*'ses'"):
        HALOGenerator(fairness_weight=1.0, attribute="ses", label="y", epochs=1, **SMALL).fit(sim)
    with pytest.raises(FairsynthError, match="'label'.*'group'"):
        HALOGenerator(fairness_weight=1.0, attribute="sex", label="group", epochs=1, **SMALL).fit(sim)


def test_registered_as_halo_and_unfitted_sample_errors():
    assert sequence_generator_class("halo") is HALOGenerator
    with pytest.raises(FairsynthError, match="HALOGenerator is not fitted"):
        HALOGenerator().sample(3)


def test_cpu_by_default_and_cuda_only_when_asked(sim):
    assert HALOGenerator().device == "cpu"
    if torch.cuda.is_available():  # on a GPU machine: the model and the draws live there
        gen = HALOGenerator(epochs=1, seed=0, **{**SMALL, "device": "cuda"}).fit(sim)
        assert gen.model_.head.weight.device.type == "cuda" and gen.device_.startswith("cuda")
        assert len(gen.sample(50, seed=0).patients) == 50
    else:
        with pytest.raises(FairsynthError, match="'device'"):
            HALOGenerator(epochs=1, **{**SMALL, "device": "cuda"}).fit(sim)
