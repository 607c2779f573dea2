"""fair_transformer (seed 000 done right): a differentiable fairness term, what λ does, tokenizer, sampling,
checkpoints, differential privacy (DP-SGD through opacus), errors and the device check."""
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from fairsynth.core import FairsynthError
from fairsynth.data import load_dataset, patient_split
from fairsynth.generators.base import get_generator, list_generators
from fairsynth.generators.fair_transformer import (FairTransformerGenerator, RecordTokenizer, draw_tokens, rate_weights,
                                                   simulated_biased_table, soft_group_gap, token_order)

SMALL = dict(d_model=32, n_heads=2, n_layers=1, batch_size=128, device="cpu")  # a small model: a fit on 3,000 rows takes seconds
EPOCHS = 6  # enough for the small model to learn the simulated table's group effect


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: the torch models are tiny, one thread each


@pytest.fixture(scope="module")
def sim():
    """3,000 simulated rows: P(y=1) about 0.55 in group A (70%), 0.15 in group B (30%)."""
    return simulated_biased_table(3000, seed=0)


@pytest.fixture(scope="module")
def plain(sim):
    """λ = 0 ('positive_rate' term measured, not trained on), fitted once."""
    df, spec = sim
    return FairTransformerGenerator(fairness_weight=0.0, fairness="positive_rate", epochs=EPOCHS, seed=0, **SMALL).fit(df, spec)


@pytest.fixture(scope="module")
def fair(sim):
    """λ = 5 on the soft positive-rate gap, same seed and epochs as `plain`."""
    df, spec = sim
    return FairTransformerGenerator(fairness_weight=5.0, fairness="positive_rate", epochs=EPOCHS, seed=0, **SMALL).fit(df, spec)


def positive_rate_gap(frame: pd.DataFrame) -> float:
    rates = frame.groupby("group").y.mean()
    return float(rates["A"] - rates["B"])


# --- the fairness term has a gradient ---------------------------------------------------------------------

def test_fairness_loss_is_on_the_graph_and_its_gradient_reaches_the_transformer(plain, sim):
    df, _ = sim
    plain.model_.zero_grad()
    term = plain.fairness_loss(df)
    assert term.requires_grad and term.grad_fn is not None and term.ndim == 0
    term.backward()
    norms = {name: float(p.grad.norm()) for name, p in plain.model_.named_parameters() if p.grad is not None}
    assert sum(v for k, v in norms.items() if k.startswith("blocks.0.qkv")) > 0
    assert sum(v for k, v in norms.items() if k.startswith("blocks.0.mlp")) > 0
    assert norms["token_embedding.weight"] > 0 and norms["column_embedding.weight"] > 0 and norms["head.weight"] > 0


def test_an_item_built_term_changes_no_gradient_but_ours_does(plain, sim):
    df, _ = sim
    model = plain.model_
    tokens = torch.as_tensor(plain.tokenizer_.encode(df[plain.order_]))

    def nll():
        logits = model(model.inputs(tokens))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1), reduction="sum") / len(tokens)

    def gradient(loss_fn):
        model.zero_grad()
        loss_fn().backward()
        return torch.cat([p.grad.flatten() for p in model.parameters()])

    item_term = plain.fairness_loss(df).item()  # seed 000's way: a float
    base = gradient(nll)
    assert torch.equal(gradient(lambda: nll() + 5.0 * item_term), base)
    assert float((gradient(lambda: nll() + 5.0 * plain.fairness_loss(df)) - base).norm()) > 1e-3


def test_nll_only_training_still_learns(plain):
    h = plain.history_
    assert list(h.columns) == ["epoch", "nll", "fairness", "loss", "gap", "seconds"] and h.epoch.tolist() == list(range(1, EPOCHS + 1))
    assert h.nll.iloc[-1] < h.nll.iloc[0] - 0.2 and h.fairness.isna().all() and (h.loss == h.nll).all()
    assert h.gap.iloc[-1] > 0.25  # it learnt the real group effect (real gap about 0.39)
    assert len(plain.epoch_seconds_) == EPOCHS and all(s > 0 for s in plain.epoch_seconds_)


def test_soft_group_gap_gradient_by_hand():
    p = torch.tensor([0.9, 0.7, 0.2, 0.4, 0.1, 0.3], requires_grad=True)
    cell = torch.tensor([1, 1, 0, 3, 2, 2])  # 2 * group + y
    gap = soft_group_gap(p, cell, torch.as_tensor(rate_weights(np.array([[1, 2], [2, 1]]), "tpr")))
    gap.backward()
    assert abs(gap.item() - 0.4) < 1e-6 and p.grad.tolist() == [0.5, 0.5, 0.0, -1.0, 0.0, 0.0]
    w = rate_weights(np.array([[1, 2], [2, 1]]), "positive_rate")
    assert np.allclose(w, [[1 / 3, 2 / 3, 0, 0], [0, 0, 2 / 3, 1 / 3]])


# --- λ shrinks the gap ------------------------------------------------------------------------------------

def test_lambda_shrinks_the_synthetic_positive_rate_gap(plain, fair, sim):
    df, _ = sim
    real = positive_rate_gap(df)
    gap0, gap5 = positive_rate_gap(plain.sample(4000, seed=11)), positive_rate_gap(fair.sample(4000, seed=11))
    print(f"positive-rate gap: real {real:.3f}, synthetic λ=0 {gap0:.3f}, λ=5 {gap5:.3f}")
    assert real > 0.3 and gap0 > 0.25 and abs(gap0 - real) < 0.1
    assert abs(gap5) < gap0 / 2
    soft0, soft5 = plain.fairness_loss(df).item(), fair.fairness_loss(df).item()
    print(f"soft positive-rate gap on real rows: λ=0 {soft0:.3f}, λ=5 {soft5:.3f}")
    assert soft0 > 0.25 and soft5 < soft0 / 2
    assert fair.history_.fairness.notna().all() and fair.history_.gap.iloc[-1] < plain.history_.gap.iloc[-1] / 2


def test_lambda_shrinks_the_soft_tpr_gap(sim):
    df, spec = sim
    fits = {lam: FairTransformerGenerator(fairness_weight=lam, fairness="tpr", epochs=EPOCHS, seed=0, **SMALL).fit(df, spec)
            for lam in (0.0, 5.0)}
    positives = df[df.y == 1]
    tpr = {lam: pd.Series(g.outcome_probabilities(positives), index=positives.group.to_numpy()).groupby(level=0).mean()
           for lam, g in fits.items()}
    gap = {lam: float(t["A"] - t["B"]) for lam, t in tpr.items()}
    print(f"soft TPR gap on real rows: λ=0 {gap[0.0]:.3f}, λ=5 {gap[5.0]:.3f}")
    assert gap[0.0] > 0.25 and abs(gap[5.0]) < gap[0.0] / 2
    assert abs(fits[5.0].fairness_loss(df).item() - abs(gap[5.0])) < 1e-5  # fairness_loss is that same gap


# --- sampling ---------------------------------------------------------------------------------------------

def test_same_seed_same_rows_and_fit_is_reproducible(plain, sim):
    df, spec = sim
    a = plain.sample(300, seed=4)
    assert a.equals(plain.sample(300, seed=4)) and not a.equals(plain.sample(300, seed=5))
    again = FairTransformerGenerator(fairness_weight=0.0, fairness="positive_rate", epochs=EPOCHS, seed=0, **SMALL).fit(df, spec)
    assert again.history_.drop(columns="seconds").equals(plain.history_.drop(columns="seconds"))
    assert again.sample(300, seed=4).equals(a)
    other = FairTransformerGenerator(epochs=1, seed=1, **SMALL).fit(df, spec)
    assert not other.sample(300, seed=4).equals(FairTransformerGenerator(epochs=1, seed=2, **SMALL).fit(df, spec).sample(300, seed=4))


def test_cached_step_logits_equal_a_full_pass(plain, sim):
    """Teacher forcing through the key-value cache, one position at a time, gives a full pass's logits (within 1e-5)."""
    df, _ = sim
    model = plain.model_.eval()
    tokens = torch.as_tensor(plain.tokenizer_.encode(df[plain.order_].head(500)))
    with torch.no_grad():
        full = model.local_logits(model.hidden(model.inputs(tokens)))
        cache, steps = model.new_cache(len(tokens)), []
        for j in range(model.n_columns): steps.append(model.local_logits(model.hidden(model.inputs(tokens)[:, j:j + 1], cache), j))
    cached = torch.cat(steps, dim=1)
    assert torch.equal(torch.isinf(cached), torch.isinf(full)) and torch.isinf(full).any()  # the same padding
    finite = torch.isfinite(full)
    assert float((cached[finite] - full[finite]).abs().max()) < 1e-5
    fresh = model.new_cache(len(tokens))
    with torch.no_grad():
        model.hidden(model.inputs(tokens)[:, :1], fresh)
        with pytest.raises(FairsynthError, match="one new position"): model.hidden(model.inputs(tokens)[:, 1:3], fresh)
        with pytest.raises(FairsynthError, match="has 5 positions"): model.hidden(model.inputs(tokens)[:, :1], cache)


def test_cached_sampling_draws_the_rows_of_rerunning_the_prefix(plain):
    """Same seed: the cached sampler and the seed-000 way (rerun the whole prefix each column) draw the same rows."""
    model, smoker = plain.model_.eval(), plain.order_.index("smoker")
    forced = {smoker: plain.tokenizer_.token("smoker", "yes")}
    with torch.no_grad():
        for conditions in ({}, forced):
            cached = draw_tokens(model, 3000, conditions, torch.Generator().manual_seed(5))
            rerun = draw_tokens(model, 3000, conditions, torch.Generator().manual_seed(5), use_cache=False)
            assert torch.equal(cached, rerun)
        assert (cached[:, smoker] == forced[smoker]).all()
    # the public sampler is that draw, decoded
    with torch.no_grad(): tokens = draw_tokens(model, 700, {}, torch.Generator().manual_seed(9), use_cache=False)
    public = plain.sample(700, seed=9)
    assert public.equals(plain.tokenizer_.decode(tokens.numpy(), 9)[list(plain.columns_)].astype(public.dtypes.to_dict()))


def test_local_logits_give_the_full_vocabulary_loss(plain, sim):
    """Training's cross-entropy over each column's own tokens equals the one over the whole vocabulary (-inf outside)."""
    df, _ = sim
    model = plain.model_.eval()
    tokens = torch.as_tensor(plain.tokenizer_.encode(df[plain.order_]))
    with torch.no_grad():
        hidden = model.hidden(model.inputs(tokens))
        full, local = model.logits(hidden), model.local_logits(hidden)
    assert local.shape[-1] == int(plain.tokenizer_.sizes_.max()) < full.shape[-1]
    a = F.cross_entropy(full.reshape(-1, full.shape[-1]), tokens.reshape(-1))
    b = F.cross_entropy(local.reshape(-1, local.shape[-1]), (tokens - model.offsets).reshape(-1))
    assert abs(a.item() - b.item()) < 1e-5 and abs(a.item() * tokens.shape[1] - plain.history_.nll.iloc[-1]) < 1.0


def test_rows_have_training_columns_dtypes_ranges_levels_and_missingness(plain, sim):
    df, spec = sim
    syn = plain.sample(3000, seed=2)
    assert list(syn.columns) == list(spec.columns) and (syn.dtypes == df.dtypes).all() and len(syn) == 3000
    assert syn.age.between(df.age.min(), df.age.max()).all() and syn.bmi.dropna().between(df.bmi.min(), df.bmi.max()).all()
    assert set(syn.group) <= {"A", "B"} and set(syn.smoker) <= {"yes", "no"} and set(syn.y) <= {0, 1}
    assert syn.drop(columns="bmi").notna().all().all()  # missing values only where training had them
    assert 0.01 < syn.bmi.isna().mean() < 0.12  # training: about 5% missing BMI
    assert not syn.bmi.dropna().isin(set(df.bmi.dropna())).any()  # continuous values are drawn inside bins, not copied


def test_conditions_on_the_attribute_and_on_later_columns(plain, sim):
    df, _ = sim
    b = plain.sample(500, conditions={"group": "B"}, seed=3)
    assert len(b) == 500 and (b.group == "B").all()
    assert abs(b.y.mean() - df[df.group == "B"].y.mean()) < 0.1  # exact conditioning on the first column
    smokers = plain.sample(200, conditions={"smoker": "yes", "y": 1}, seed=3)
    assert len(smokers) == 200 and (smokers.smoker == "yes").all() and (smokers.y == 1).all()
    with pytest.raises(FairsynthError, match="'group'"): plain.sample(10, conditions={"group": "C"})


def test_condition_on_a_few_valued_numerical_column(sim):
    df, spec = sim
    df = df.assign(visits=np.random.default_rng(0).integers(0, 4, len(df)))
    spec = spec.replace(columns={**spec.columns, "visits": "numerical"})
    gen = FairTransformerGenerator(epochs=1, seed=0, **SMALL).fit(df, spec)
    assert "visits" in gen.tokenizer_.levels_ and "age" in gen.tokenizer_.edges_
    out = gen.sample(100, conditions={"visits": 2}, seed=0)
    assert (out.visits == 2).all() and out.visits.dtype == df.visits.dtype


def test_tokenizer_round_trip(sim):
    df, spec = sim
    tok = RecordTokenizer(n_bins=8).fit(df[["group", "age", "bmi", "smoker", "y"]], spec.columns)
    codes = tok.encode(df)
    ranges = [tok.column_range(c) for c in tok.columns_]
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:])) and ranges[-1][1] == tok.vocab_size_
    assert all(((codes[:, j] >= lo) & (codes[:, j] < hi)).all() for j, (lo, hi) in enumerate(ranges))
    back = tok.decode(codes, seed=0)
    assert (tok.encode(back) == codes).all() and back.group.equals(df.group) and back.bmi.isna().equals(df.bmi.isna())
    assert (back.age == back.age.round()).all() and tok.decode(codes, seed=0).equals(back) and not tok.decode(codes, seed=1).equals(back)
    with pytest.raises(FairsynthError, match="'smoker'"): tok.encode(df.assign(smoker="sometimes"))
    with pytest.raises(FairsynthError, match="'age'"): tok.encode(df.assign(age=np.nan))


def test_token_order_puts_the_attribute_first_and_the_outcome_last():
    spec = load_dataset("nhanes").spec
    order = token_order(spec, "Race1", "diabetes")
    assert order[:2] == ["Race1", "Gender"] and order[-2:] == ["health_fair_poor", "diabetes"] and sorted(order) == sorted(spec.columns)
    assert token_order(spec, "Gender", "health_fair_poor")[0] == "Gender"


def test_nhanes_missing_values_and_nullable_outcome():
    ds = load_dataset("nhanes")
    train, test = patient_split(ds.frame, ds.spec, seed=0)
    gen = FairTransformerGenerator(fairness_weight=1.0, attribute="Race1", outcome="diabetes", epochs=1, seed=0, **SMALL)
    gen.fit(train, ds.spec)
    out = gen.sample(300, conditions={"Race1": "Mexican"}, seed=0)
    assert (out.Race1 == "Mexican").all() and (out.dtypes == train[list(ds.spec.columns)].dtypes).all()
    assert set(out.diabetes.dropna().astype(int)) <= {0, 1} and str(out.diabetes.dtype) == "Int64"
    p = gen.outcome_probabilities(train.drop(columns="diabetes"))
    assert p.shape == (len(train),) and ((p > 0) & (p < 1)).all()
    assert gen.fairness_loss(train).item() >= 0 and len(gen.history_) == 1


# --- checkpoints ------------------------------------------------------------------------------------------

def test_checkpoint_resume_equals_an_uninterrupted_run(sim, tmp_path):
    df, spec = sim
    params = dict(fairness_weight=2.0, epochs=2, seed=7, checkpoint_dir=str(tmp_path), **SMALL)
    first = FairTransformerGenerator(**params).fit(df, spec)
    files = list(tmp_path.glob("fair_transformer-*.pt"))
    assert len(files) == 1 and first.checkpoint_path_ == files[0] and first.resumed_epochs_ == 0
    resumed = FairTransformerGenerator(**{**params, "epochs": 4}).fit(df, spec)
    assert resumed.resumed_epochs_ == 2 and resumed.history_.epoch.tolist() == [1, 2, 3, 4]
    straight = FairTransformerGenerator(**{**params, "epochs": 4, "checkpoint_dir": None}).fit(df, spec)
    for (name, a), b in zip(resumed.model_.state_dict().items(), straight.model_.state_dict().values()):
        assert torch.equal(a, b), name
    assert resumed.history_.drop(columns="seconds").equals(straight.history_.drop(columns="seconds"))
    assert resumed.sample(200, seed=1).equals(straight.sample(200, seed=1))
    # a checkpoint further along than `epochs` is left alone and the fit starts afresh
    before = files[0].read_bytes()
    with pytest.warns(UserWarning, match="more than epochs=1"):
        short = FairTransformerGenerator(**{**params, "epochs": 1}).fit(df, spec)
    assert short.resumed_epochs_ == 0 and len(short.history_) == 1 and files[0].read_bytes() == before
    # other data or parameters: another file
    FairTransformerGenerator(**{**params, "epochs": 1, "seed": 8}).fit(df, spec)
    assert len(list(tmp_path.glob("fair_transformer-*.pt"))) == 2


# --- differential privacy (DP-SGD) ---------------------------------------------------------------------------

DP = dict(d_model=16, n_heads=2, n_layers=1, batch_size=100, device="cpu", epochs=2)  # a tiny private fit: seconds


@pytest.fixture(scope="module")
def dp_table(sim):
    """The first 800 simulated rows."""
    df, spec = sim
    return df.head(800), spec


def test_a_private_fit_samples_valid_rows_and_records_its_budget(dp_table):
    df, spec = dp_table
    gen = FairTransformerGenerator(dp_epsilon=3.0, seed=0, **DP).fit(df, spec)
    b = gen.privacy_budget
    assert b["target_epsilon"] == 3.0 and 0 < b["epsilon"] <= 3.0 * 1.01  # the accountant's epsilon of the steps taken, within its search tolerance
    assert b["delta"] == min(1e-5, 1 / (10 * len(df))) and b["noise_multiplier"] > 0 and b["max_grad_norm"] == 1.0
    assert b["sample_rate"] == pytest.approx(100 / 800) and b["steps"] == 2 * 8 and b["accountant"] in ("rdp", "prv")
    assert "not the column categories" in b["covers"]
    syn = gen.sample(300)
    assert list(syn.columns) == list(spec.columns) and (syn.dtypes == df.dtypes).all()
    assert set(syn.group) <= {"A", "B"} and set(syn.y) <= {0, 1} and syn.age.between(df.age.min(), df.age.max()).all()
    assert not any(hasattr(p, "grad_sample") for p in gen.model_.parameters())  # opacus' hooks and per-row gradients are gone
    assert FairTransformerGenerator(seed=0, **DP).fit(df, spec).privacy_budget is None  # a plain fit spends none


def test_a_smaller_epsilon_needs_more_noise_and_dp_delta_is_used(dp_table):
    df, spec = dp_table
    budgets = {e: FairTransformerGenerator(dp_epsilon=e, seed=0, **DP).fit(df, spec).privacy_budget for e in (1.0, 10.0)}
    assert budgets[1.0]["noise_multiplier"] > 2 * budgets[10.0]["noise_multiplier"]
    assert budgets[1.0]["epsilon"] < budgets[10.0]["epsilon"]
    assert FairTransformerGenerator(dp_epsilon=10.0, dp_delta=1e-3, seed=0, **DP).fit(df, spec).privacy_budget["delta"] == 1e-3


def test_same_seed_same_rows_under_dp(dp_table):
    df, spec = dp_table
    a, b = (FairTransformerGenerator(dp_epsilon=3.0, seed=5, **DP).fit(df, spec) for _ in range(2))
    assert a.sample(200, seed=1).equals(b.sample(200, seed=1)) and a.privacy_budget == b.privacy_budget
    c = FairTransformerGenerator(dp_epsilon=3.0, seed=6, **DP).fit(df, spec)
    assert not a.sample(200, seed=1).equals(c.sample(200, seed=1))


@pytest.mark.parametrize("params, named", [
    ({"dp_epsilon": 0}, "'dp_epsilon'"), ({"dp_epsilon": float("inf")}, "'dp_epsilon'"), ({"dp_epsilon": "3"}, "'dp_epsilon'"),
    ({"dp_epsilon": 3, "dp_delta": 0}, "'dp_delta'"), ({"dp_epsilon": 3, "dp_delta": 1.0}, "'dp_delta'"),
    ({"dp_delta": 1e-5}, "'dp_delta'"), ({"dp_epsilon": 3, "dp_max_grad_norm": 0}, "'dp_max_grad_norm'"),
    ({"dp_epsilon": 3, "fairness_weight": 1.0}, "'dp_epsilon' and 'fairness_weight'"),
    ({"dp_epsilon": 3, "checkpoint_dir": "ckpt"}, "'dp_epsilon' and 'checkpoint_dir'"),
])
def test_bad_dp_parameters_are_named_before_any_fit(params, named):
    with pytest.raises(FairsynthError, match=named):
        get_generator("fair_transformer", **{**DP, **params})


# --- errors, device, registry -----------------------------------------------------------------------------

@pytest.mark.parametrize("params, named", [
    ({"fairness_weight": -1.0}, "fairness_weight"), ({"fairness_weight": float("nan")}, "fairness_weight"),
    ({"fairness": "dp"}, "fairness"), ({"attribute": "smoker"}, "attribute"), ({"attribute": "nope"}, "attribute"),
    ({"outcome": "smoker"}, "outcome"), ({"epochs": 0}, "epochs"), ({"batch_size": 1.5}, "batch_size"),
    ({"learning_rate": 0}, "learning_rate"), ({"d_model": 30, "n_heads": 4}, "n_heads"), ({"n_layers": 0}, "n_layers"),
    ({"dropout": 1.0}, "dropout"), ({"n_bins": 0}, "n_bins"), ({"fairness_rows_per_group": 0}, "fairness_rows_per_group"),
    ({"checkpoint_every": 0}, "checkpoint_every"), ({"device": "gpu"}, "device"), ({"verbose": "yes"}, "verbose"),
    ({"checkpoint_dir": 3}, "checkpoint_dir"), ({"seed": -1}, "seed"),
])
def test_bad_parameters_are_named(sim, params, named):
    df, spec = sim
    with pytest.raises(FairsynthError, match=f"'{named}'"):
        FairTransformerGenerator(**{**SMALL, "epochs": 1, **params}).fit(df, spec)


def test_bad_roles_are_named(sim):
    df, spec = sim
    with pytest.raises(FairsynthError, match="'attribute'.*categorical"):  # a numerical sensitive column
        FairTransformerGenerator(attribute="age", epochs=1, **SMALL).fit(df, spec.replace(sensitive={"age": 50}))
    with pytest.raises(FairsynthError, match="'attribute'"):  # no sensitive attribute at all
        FairTransformerGenerator(epochs=1, **SMALL).fit(df, spec.replace(sensitive={}))
    with pytest.raises(FairsynthError, match="'outcome'"):  # no outcome at all
        FairTransformerGenerator(epochs=1, **SMALL).fit(df, spec.replace(outcomes=()))
    with pytest.raises(FairsynthError, match="outcome 'y'.*0/1"):  # not binary
        FairTransformerGenerator(epochs=1, **SMALL).fit(df.assign(y=df.y * 2), spec)
    with pytest.raises(FairsynthError, match="'attribute'.*2 groups"):  # 'tpr' needs positives in two groups
        FairTransformerGenerator(epochs=1, **SMALL).fit(df.assign(y=np.where(df.group == "B", 0, df.y)), spec)
    with pytest.raises(FairsynthError, match="not fitted"): FairTransformerGenerator().fairness_loss(df)
    gen = FairTransformerGenerator(epochs=1, **SMALL).fit(df, spec)
    with pytest.raises(FairsynthError, match="'frame'"): gen.fairness_loss(df[df.group == "A"])


def test_cuda_device(sim):
    df, spec = sim
    if not torch.cuda.is_available():  # this machine: asking for CUDA is an error naming the parameter
        for device in ("cuda", "cuda:0"):
            with pytest.raises(FairsynthError, match="'device'"):
                FairTransformerGenerator(device=device, epochs=1).fit(df, spec)
    else:  # a GPU machine: the CUDA path trains and samples
        gen = FairTransformerGenerator(fairness_weight=1.0, epochs=1, d_model=32, n_heads=2, n_layers=1, device="cuda").fit(df, spec)
        assert gen.device_ == "cuda" and next(gen.model_.parameters()).is_cuda
        out = gen.sample(100, conditions={"group": "B"}, seed=0)
        assert (out.group == "B").all() and gen.fairness_loss(df).requires_grad
    with pytest.raises(FairsynthError, match="'device'"):
        FairTransformerGenerator(device="cuda:99", epochs=1).fit(df, spec)


def test_device_none_follows_the_run_settings(sim, monkeypatch):
    df, spec = sim
    monkeypatch.setenv("FAIRSYNTH_DEVICE", "cpu")
    assert FairTransformerGenerator(epochs=1, d_model=16, n_heads=2, n_layers=1).fit(df, spec).device_ == "cpu"


def test_registry_and_verbose(sim, capsys):
    df, spec = sim
    gen = get_generator("fair_transformer", fairness_weight=1.0, epochs=1, verbose=True, **SMALL)
    assert isinstance(gen, FairTransformerGenerator)
    assert list_generators().set_index("name").loc["fair_transformer", "kind"] == "fair"
    gen.fit(df, spec)
    printed = capsys.readouterr()
    assert "fair_transformer epoch 1/1: loss" in printed.err and printed.out == ""  # progress goes to stderr, through tqdm
    FairTransformerGenerator(epochs=1, **SMALL).fit(df, spec)
    assert capsys.readouterr().err == ""  # verbose=False: silent
    with pytest.raises(FairsynthError, match="'fairness_weights'"): get_generator("fair_transformer", fairness_weights=1.0)
