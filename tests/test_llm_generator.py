"""The LLM generator against a local OpenAI-compatible server started in the test process (no real LLM is reached).

The real `openai` client talks HTTP to `fairsynth.llm.server.LocalLLMServer`; replies come from its echo responder
(perturbed copies of the prompt's examples) or from responders written here to return exactly what a test needs.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from fairsynth.cli import main
from fairsynth.core import FairsynthError
from fairsynth.data import load_dataset
from fairsynth.generators.base import get_generator
from fairsynth.audit import register_audit
from fairsynth.generators.llm import INSTRUCTIONS, ROLE, LLMGenerator, fidelity_audit
from fairsynth.llm.server import echo_rows_responder
from fairsynth.studies.grid import load_results

SECRET = "sk-test-SECRET-4f9a2c"  # the API key the tests set; it must reach the server and nothing else


@pytest.fixture(scope="module")
def nhefs():
    return load_dataset("nhefs")


@pytest.fixture
def server(llm_server):
    """The local stand-in server of conftest.py (its API key is SECRET)."""
    assert os.environ["FAIRSYNTH_LLM_API_KEY"] == SECRET
    return llm_server


def user_text(request: dict) -> str:
    return request["body"]["messages"][-1]["content"]


def prompt_examples(text: str) -> dict:
    return json.loads(text.split("Examples: ", 1)[1].split("\n\n", 1)[0])


def fast(**kw) -> LLMGenerator:
    return LLMGenerator(backoff_seconds=0.01, **kw)


def test_prompt_has_the_four_sections_and_group_examples_with_a_positive(server, nhefs):
    gen = fast(seed=1).fit(nhefs.frame, nhefs.spec)
    rows = gen.sample(30, conditions={"race": "black or other"})
    assert len(rows) == 30 and (rows.race == "black or other").all()
    first = server.requests[0]["body"]
    assert first["messages"][0] == {"role": "system", "content": ROLE} and first["model"] == "test-model"
    assert first["temperature"] == 0.9
    text = user_text(server.requests[0])
    assert [m.group(1) for m in re.finditer(r"(?m)^(\w+): ", text)][:3] == ["Context", "Examples", "Instructions"]
    assert "generate 10 realistic but diverse samples specifically for patients with race = black or other." in text
    assert f"Instructions: {INSTRUCTIONS}" in text
    for req in server.requests:
        ex = prompt_examples(user_text(req))
        assert set(ex) == set(nhefs.spec.columns) and len(ex["age"]) == 20
        assert set(ex["race"]) == {"black or other"} and 1 in ex["death"]  # from the group, with a positive outcome
    assert "seqn" not in prompt_examples(text)  # the patient id is never sent


def test_generic_prompt_draws_from_everyone_and_names_no_group(server, nhefs):
    gen = fast(seed=2).fit(nhefs.frame, nhefs.spec)
    gen.sample(20)
    text = user_text(server.requests[0])
    assert "specifically" not in text and len(set(prompt_examples(text)["race"])) == 2
    minority_only = nhefs.frame[nhefs.frame.race == "black or other"]
    fast(seed=2).fit(minority_only, nhefs.spec).sample(10)
    assert "specifically for patients with race = black or other" in user_text(server.requests[-1])


def crafted(body: dict) -> str:
    """A reply with one fresh valid row and one row per validation problem."""
    ex = prompt_examples(body["messages"][-1]["content"])
    base = {c: v[0] for c, v in ex.items()}
    fresh = dict(base, age=base["age"] + 1 if base["age"] < 70 else base["age"] - 1)
    rows = [fresh, dict(fresh, race="martian"), dict(fresh, age=400), dict(fresh, age=41.5), dict(fresh, wt71="heavy"),
            dict(fresh, sex=None), {k: v for k, v in fresh.items() if k != "smokeyrs"}, dict(base)]
    return "Here you go:\n```json\n" + json.dumps({"rows": rows}) + "\n```"


def test_validation_drops_and_counts_each_reason(server, nhefs):
    server.responder = crafted
    gen = fast(seed=3, max_calls=4, rows_per_call=8).fit(nhefs.frame, nhefs.spec)
    rows = gen.sample(4)
    st = gen.sample_stats_
    assert len(rows) == 4 and st["llm_calls"] == 4 and st["rows_returned"] == 32 and st["rows_valid"] == 4
    assert {k: st[f"dropped_{k}"] for k in ("unknown_level", "out_of_range", "not_integer", "not_a_number", "missing_value",
                                            "absent_column", "copy_of_example")} == dict.fromkeys(
        ["unknown_level", "out_of_range", "not_integer", "not_a_number", "missing_value", "absent_column", "copy_of_example"], 4.0)
    assert rows.age.dtype == nhefs.frame.age.dtype and set(rows.race) <= set(nhefs.frame.race)


def test_malformed_replies_are_counted_and_a_shortfall_names_the_reasons(server, nhefs):
    server.responder = lambda body: "I am sorry, I cannot produce patient data."
    gen = fast(seed=4, max_calls=3).fit(nhefs.frame, nhefs.spec)
    with pytest.raises(FairsynthError, match=r"0 valid rows of the 20 asked for after 3 calls.*unparseable replies: 3"):
        gen.sample(20)
    assert gen.sample_stats_["llm_unparseable_replies"] == 3 and len(gen.calls_log_) == 3


def test_a_ragged_reply_keeps_the_complete_rows(server, nhefs):
    def ragged(body):
        out = json.loads(echo_rows_responder(body))
        out["age"] = out["age"][:7]
        return json.dumps(out)
    server.responder = ragged
    gen = fast(seed=5, structured="json_object").fit(nhefs.frame, nhefs.spec)
    rows = gen.sample(14)
    assert len(rows) == 14 and gen.sample_stats_["rows_ragged"] >= 6


def test_retries_after_429_and_500_then_succeeds(server, nhefs):
    server.add_faults({"status": 429, "retry_after": 0}, {"status": 500}, {"status": 503})
    gen = fast(seed=6, max_concurrency=1).fit(nhefs.frame, nhefs.spec)
    rows = gen.sample(10)
    assert len(rows) == 10 and gen.sample_stats_["llm_retries"] == 3 and gen.sample_stats_["llm_failed_calls"] == 0
    assert [r["status"] for r in server.requests[:4]] == [429, 500, 503, 200]


def test_rerun_with_the_same_seed_is_served_from_the_cache(server, nhefs, tmp_path):
    rows = fast(seed=7).fit(nhefs.frame, nhefs.spec).sample(25)
    n_requests = len(server.requests)
    gen = fast(seed=7).fit(nhefs.frame, nhefs.spec)
    again = gen.sample(25)
    assert again.equals(rows) and len(server.requests) == n_requests
    assert gen.sample_stats_["llm_calls"] == 0 and gen.sample_stats_["llm_cached_calls"] >= 3
    other = fast(seed=8).fit(nhefs.frame, nhefs.spec).sample(25)
    assert len(server.requests) > n_requests and not other.equals(rows)
    cache = list((tmp_path / "llm-cache").rglob("*.json"))
    assert cache and not any(SECRET in p.read_text() for p in cache)
    assert all(r["authorization"] == f"Bearer {SECRET}" for r in server.requests)  # the key went where it belongs


def test_refine_loop_feeds_the_gaps_back_and_stops_within_tolerance(server, nhefs):
    def biased_until_told(body):
        text = body["messages"][-1]["content"]
        out = json.loads(echo_rows_responder(body))
        if "Feedback:" not in text: out["age"] = [min(a + 15, 74) for a in out["age"]]  # first batch: patients too old
        return json.dumps(out)
    @register_audit("age_only")
    def age_only(real, synthetic, spec):
        audit = fidelity_audit(real, synthetic, spec)
        return audit[audit.measure == "mean of age"]
    server.responder = biased_until_told
    gen = fast(seed=9, refine_rounds=3, tolerance=0.1, audit="age_only").fit(nhefs.frame, nhefs.spec)
    rows = gen.sample(40)
    log = gen.refine_log_
    age = log[log.measure == "mean of age"].set_index("round").deviation
    assert list(age.index) == [0, 1] and age[0] > 0.1 and age[1] < 0.1  # stopped after the round within tolerance
    assert gen.sample_stats_["refine_rounds"] == 2 and gen.sample_stats_["refine_best_round"] == 1
    told = [user_text(r) for r in server.requests if "Feedback:" in user_text(r)]
    assert told and "mean of age: real data" in told[0]
    assert abs(rows.age.mean() - nhefs.frame.age.mean()) / nhefs.frame.age.mean() < 0.1


def test_refine_loop_takes_a_registered_audit(server, nhefs):
    @register_audit("always_off")
    def always_off(real, synthetic, spec):
        return pd.DataFrame({"measure": ["a made-up gap"], "real": [1.0], "synthetic": [2.0], "deviation": [1.0]})
    gen = fast(seed=10, refine_rounds=1, audit="always_off").fit(nhefs.frame, nhefs.spec)
    gen.sample(10)
    assert sorted(gen.refine_log_["round"]) == [0, 1] and "a made-up gap: real data 1" in user_text(server.requests[-1])
    with pytest.raises(FairsynthError, match="unknown audit 'nope'"):
        fast(audit="nope").fit(nhefs.frame, nhefs.spec)


def test_budget_stops_before_spending_past_it(server, nhefs):
    gen = fast(seed=11, budget_usd=0.0001, price_per_million=[10.0, 30.0]).fit(nhefs.frame, nhefs.spec)
    with pytest.raises(FairsynthError, match=r"budget_usd=0.0001 reached"):
        gen.sample(50)
    assert len(server.requests) == 0


def test_bad_parameters_name_themselves(nhefs):
    for params, name in [({"temperature": 3}, "temperature"), ({"n_examples": 0}, "n_examples"),
                         ({"refine_rounds": -1}, "refine_rounds"), ({"group_specific": "yes"}, "group_specific"),
                         ({"budget_usd": -1}, "budget_usd")]:
        with pytest.raises(FairsynthError, match=f"parameter '{name}'"):
            LLMGenerator(**params).fit(nhefs.frame, nhefs.spec)
    with pytest.raises(TypeError):
        LLMGenerator(api_key="sk-nope")  # there is no key parameter


def test_curated_llm_rows(server, nhefs):
    gen = get_generator("llm", curate=True, backoff_seconds=0.01, seed=12).fit(nhefs.frame, nhefs.spec)
    rows = gen.sample(30)
    st = gen.sample_stats_
    assert len(rows) == 30 and st["curation_kept"] >= 30 and st["llm_calls"] >= 3
    assert st["curation_candidates"] == st["curation_kept"] + st["curation_dropped_ambiguous"] + st["curation_dropped_hard"]


@pytest.mark.slow
def test_augmentation_study_runs_end_to_end_and_never_writes_the_key(server, reports_dir, tmp_path):
    argv = ["--reports-dir", str(reports_dir), "--repeats", "2", "run", "augmentation", "--n-majority", "300",
            "--n-minority", "60", "--generator", "llm", "--generator-params", '{"llm": {"backoff_seconds": 0.01}}']
    assert main(argv) == 0
    page = (reports_dir / "nhefs" / "black_or_other" / "augmentation.html").read_text()
    for text in ("synthetic-group (llm)", "synthetic-generic (llm)", "What the generators report", "llm_calls",
                 "dropped_copy_of_example", "specifically for patients with race = black or other", "[20 values]"):
        assert text in page
    results = load_results(reports_dir / "nhefs" / "augmentation_store")
    llm = results[results.generator == "llm"]
    auroc = llm[(llm.metric == "auroc") & (llm.group == "minority")]
    assert len(auroc) == 2 * 2 and auroc.value.between(0, 1).all()  # 2 repeats x 2 synthetic methods
    assert llm[llm.metric == "gen_rows_used"].value.eq(240).all()
    calls = len(server.requests)
    assert main(argv) == 0 and len(server.requests) == calls  # rerun: cells stored, exploration served from the cache
    written = [p for p in [*reports_dir.rglob("*"), *(tmp_path / "llm-cache").rglob("*")] if p.is_file()]
    assert written and not [p for p in written if SECRET.encode() in p.read_bytes()]
