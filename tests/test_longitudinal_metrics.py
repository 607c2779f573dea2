"""Longitudinal metrics on simulated visit data: fidelity near 1 for a fresh draw of the simulator and far lower for
corrupted patients, copies and membership inference for a copier, sequence classifiers that learn the label."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairsynth.core import FairsynthError
from fairsynth.metrics.longitudinal import (FIDELITY_COLUMNS, SEQUENCE_MODELS, codes_per_visit_fidelity, cooccurrence_fidelity,
                                            exact_sequence_copies, longitudinal_fidelity, nearest_patient_distance,
                                            prevalence_fidelity, sequence_group_scores, sequence_membership_inference_auc,
                                            sequence_predictions, sequence_privacy, sequence_utility, transition_fidelity,
                                            visit_count_fidelity)
from fairsynth.visits import VisitDataset, VisitSpec

SPEC = VisitSpec("sim", "patient", {"gender": "categorical", "group": "categorical", "age": "numerical", "event": "categorical"},
                 "visit", {"dx": "dx_codes", "rx": "rx_codes"}, sensitive={"group": "g0", "gender": "M"}, labels=("event",))


def simulate(n: int = 300, seed: int = 0, id_offset: int = 0) -> VisitDataset:
    """~300 patients, 1-6 visits each; 25 diagnoses that tend to persist, 8 drugs prescribed for the first 8 diagnoses;
    the label depends on diagnoses dx2 and dx4 (a group with fewer patients, g2, gets dx7 more often)."""
    rng = np.random.default_rng(seed)
    prev = 0.5 / (1 + np.arange(25)) ** 0.8
    gender, group = rng.choice(["F", "M"], n), rng.choice(["g0", "g1", "g2"], n, p=[0.55, 0.3, 0.15])
    visits, events = [], []
    for i in range(n):
        p = prev.copy()
        if group[i] == "g2": p[7] = 0.5
        dx = rng.random(25) < p
        ever = np.zeros(25, bool)
        for v in range(int(rng.integers(1, 7))):
            if v: dx = np.where(dx, rng.random(25) < 0.75, rng.random(25) < 0.4 * p)
            if not dx.any(): dx[int(rng.integers(25))] = True
            rx = np.where(dx[:8], rng.random(8) < 0.8, rng.random(8) < 0.03)
            ever |= dx
            visits.append({"patient": id_offset + i, "visit": v, "dx_codes": ";".join(f"dx{j}" for j in np.flatnonzero(dx)),
                           "rx_codes": [f"rx{j}" for j in np.flatnonzero(rx)]})
        events.append(int(rng.random() < 1 / (1 + np.exp(2.0 - 3.0 * ever[2] - 2.0 * ever[4]))))
    patients = pd.DataFrame({"patient": id_offset + np.arange(n), "gender": gender, "group": group,
                             "age": rng.normal(60, 12, n).round(), "event": events})
    return VisitDataset(patients, pd.DataFrame(visits), SPEC)


@pytest.fixture(scope="module")
def data() -> dict[str, VisitDataset]:
    train, fresh, holdout = simulate(seed=0), simulate(seed=1, id_offset=10_000), simulate(seed=2, id_offset=20_000)
    rng = np.random.default_rng(3)
    names = [f"dx{j}" for j in range(25)]
    swap = dict(zip(names, rng.permutation(names)))
    corrupted = VisitDataset(fresh.patients, fresh.visits.assign(dx_codes=[tuple(swap[c] for c in v) for v in fresh.visits.dx_codes]), SPEC)
    shuffled = VisitDataset(fresh.patients, fresh.visits.assign(patient=rng.permutation(fresh.visits.patient.to_numpy()),
                                                                visit=np.arange(len(fresh.visits))), SPEC)
    return {"train": train, "fresh": fresh, "holdout": holdout, "corrupted": corrupted, "shuffled": shuffled}


def test_prevalence_r2_near_one_for_a_fresh_draw(data):
    fresh = prevalence_fidelity(data["train"], data["fresh"])
    assert fresh["r2"] > 0.85 and fresh["correlation"] > 0.9  # sampling noise of 300 patients on each side
    assert prevalence_fidelity(data["train"], data["corrupted"], "dx")["r2"] < fresh["r2"] - 0.5
    assert prevalence_fidelity(data["train"], data["fresh"], "rx", level="patients")["r2"] > 0.8
    assert prevalence_fidelity(data["train"], data["train"])["r2"] == 1


def test_cooccurrence_and_transitions_separate_fresh_from_corrupted(data):
    train, fresh = data["train"], data["fresh"]
    assert cooccurrence_fidelity(train, fresh, top_k=20)["r2"] > 0.75
    assert cooccurrence_fidelity(train, data["corrupted"], top_k=20)["r2"] < 0.5
    good, shuffled = transition_fidelity(train, fresh, top_k=15)["r2"], transition_fidelity(train, data["shuffled"], top_k=15)["r2"]
    assert good > 0.6 and shuffled < good - 0.4  # visits dealt out to random patients: prevalence kept, transitions lost
    assert prevalence_fidelity(train, data["shuffled"])["r2"] > 0.85


def test_distributions(data):
    train, fresh = data["train"], data["fresh"]
    vc = visit_count_fidelity(train, fresh)
    assert vc["ks"] < 0.15 and abs(vc["real_mean"] - 3.5) < 0.4
    one = VisitDataset(fresh.patients, fresh.visits.groupby("patient").head(1), SPEC)
    assert visit_count_fidelity(train, one)["ks"] > 0.6 and visit_count_fidelity(train, one)["synthetic_mean"] == 1
    assert codes_per_visit_fidelity(fresh, data["shuffled"], "rx")["ks"] == 0


def test_fidelity_table_overall_and_per_group(data):
    table = longitudinal_fidelity(data["train"], data["fresh"], top_k=20, transition_k=15)
    assert list(table.columns) == FIDELITY_COLUMNS
    groups = set(zip(table.attribute, table.group))
    assert groups == {("", "overall"), ("group", "g0"), ("group", "g1"), ("group", "g2"), ("gender", "F"), ("gender", "M")}
    g2 = table[(table.group == "g2") & (table.metric == "prevalence_visits_r2") & (table.vocabulary == "dx")]
    assert len(g2) == 1 and g2.n_patients.iloc[0] == (data["train"].patients.group == "g2").sum()
    overall = table[(table.group == "overall") & (table.vocabulary == "all")].set_index("metric").value
    assert overall["prevalence_visits_r2"] > 0.85 and overall["visits_per_patient_ks"] < 0.15


def test_copies_and_membership_inference(data):
    train, fresh, holdout = data["train"], data["fresh"], data["holdout"]
    assert exact_sequence_copies(train, train) == 1.0 and exact_sequence_copies(train, fresh) < 0.05
    copier, honest = sequence_membership_inference_auc(train, train, holdout), sequence_membership_inference_auc(train, fresh, holdout)
    assert copier > 0.95 and abs(honest - 0.5) < 0.1
    d = nearest_patient_distance(train, train, holdout)
    assert (d[d.source == "synthetic"].distance == 0).all() and d[d.source == "holdout"].distance.median() > 0.2
    summary = sequence_privacy(train, fresh, holdout, max_patients=200).set_index("metric").value
    assert abs(summary["synthetic_closer_than_holdout"] - 0.5) < 0.1 and summary["exact_sequence_copies_holdout"] < 0.05


def test_sequence_utility_and_group_predictions(data):
    train, test, fresh = data["train"], data["holdout"], data["fresh"]
    pred = sequence_predictions(train, test, synthetic=fresh, epochs=5)
    table = sequence_utility(train, test, predictions=pred)
    assert set(table.train_on) == {"real", "synthetic", "real+synthetic"} and set(table.model) == set(SEQUENCE_MODELS)
    auroc = table[table.metric == "auroc"].set_index(["train_on", "model"]).value
    assert auroc["real", "bag_of_codes_lr"] > 0.6 and auroc["synthetic", "bag_of_codes_lr"] > 0.6 and auroc["real", "gru"] > 0.55
    assert {"auprc", "f1"} <= set(table.metric)
    groups = sequence_group_scores(pred, "group")
    assert set(groups.group) == {"g0", "g1", "g2"} and (groups.groupby(["train_on", "model"]).n.sum() == len(test.patients)).all()
    again = sequence_predictions(train, test, models=["gru"], epochs=5)
    assert np.allclose(again.p_hat, pred[(pred.train_on == "real") & (pred.model == "gru")].p_hat)  # seeded


def test_bad_input_names_the_culprit(data):
    train, fresh = data["train"], data["fresh"]
    for call, culprit in [(lambda: prevalence_fidelity(train, fresh, "lab"), "'lab'"),
                          (lambda: prevalence_fidelity(train, fresh, group=("race", "x")), "'race'"),
                          (lambda: sequence_predictions(train, fresh, models=["bert"]), "bert"),
                          (lambda: sequence_predictions(train, fresh, label="death"), "'death'"),
                          (lambda: cooccurrence_fidelity(train, fresh, top_k=1), "'top_k'")]:
        with pytest.raises(FairsynthError, match=culprit): call()
