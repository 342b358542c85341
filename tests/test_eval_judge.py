"""The LLM-judged metrics, end to end against the local fake OpenAI server (never the internet): the
Assistant answers through it, then llama-index's Faithfulness/Relevancy/Correctness evaluators judge
through it, with replies computed from the judge prompts the server receives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer, _prompt_text

from eval.dataset import load_dataset
from eval.runner import run_eval

EISAM = "Taming the Long Tail: Efficient Item-wise Sharpness-Aware Minimization for LLM-based Recommender Systems"
FEDREC = "Sharpness-Aware Minimization for Generalized Embedding Learning in Federated Recommendation"
QUESTIONS = [
    {"id": "sam", "question": "Which papers rely on sharpness-aware minimization?", "kind": "topic",
     "gold_titles": [EISAM, FEDREC], "reference_answer": "EISAM and FedRecGEL use sharpness-aware minimization."},
    {"id": "eisam", "question": "What is EISAM?", "kind": "fact", "gold_titles": [EISAM],
     "reference_answer": "EISAM is Efficient Item-wise Sharpness-Aware Minimization for long-tail items."},
    {"id": "protein", "question": "What has the group published on protein structure prediction?",
     "kind": "unanswerable"},
]


def _reply(body: dict[str, Any]) -> str:
    """Answers LabQA's own prompt and the three judge prompts (llama-index 0.14 templates)."""
    prompt = _prompt_text(body)
    if "given piece of information" in prompt or "We want to understand if the following information" in prompt:
        claim = prompt.split("Information:")[-1].split("Context:")[0]  # the last one; the first are few-shot
        return "NO" if "invented" in claim.lower() else "YES"
    if "in line with the context information" in prompt:
        return "YES"
    if "expert evaluation system" in prompt:
        answer = prompt.split("## Generated Answer")[-1]
        return "2.0\nIt invents things." if "invented" in answer.lower() else "5.0\nMatches the reference."
    question = prompt.split("Question:")[-1]
    if "EISAM" in question:
        return "EISAM was invented by aliens in 1850 [1]."
    return "EISAM [1] and FedRecGEL [2] both use sharpness-aware minimization."


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply=_reply, api_key="sk-test") as srv:
        yield srv


@pytest.fixture(scope="module")
def llm_assistant(server: FakeOpenAIServer, built_home: Path, model_cache: Path):  # type: ignore[no-untyped-def]
    from rag.assistant import Assistant
    from rag.settings import Settings

    settings = Settings(home=built_home, model_cache=model_cache, llm_model="fake-model",
                        openai_base_url=server.base_url, openai_api_key="sk-test", llm_timeout=10)
    return Assistant(settings)


def _questions(tmp_path: Path, catalog: Any) -> list[Any]:
    path = tmp_path / "llm.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    return load_dataset(path, catalog)


@pytest.mark.server
def test_llm_judged_metrics_come_from_the_llama_index_evaluators(llm_assistant: Any, server: FakeOpenAIServer,
                                                                  tmp_path: Path) -> None:
    server.requests.clear()
    result = run_eval(llm_assistant, _questions(tmp_path, llm_assistant.catalog), variants=("hybrid", "hybrid+metadata"))

    assert result.llm_judged and result.judge == f"fake-model @ {server.base_url}" and not result.notes
    rows = {(r.variant, r.id): r for r in result.rows}
    sam, eisam, protein = (rows[("hybrid+metadata", q)] for q in ("sam", "eisam", "protein"))
    assert sam.answerer.startswith("fake-model") and eisam.answerer.startswith("fake-model")
    assert sam.metrics["llm_faithfulness"] == 1.0 and sam.metrics["llm_relevancy"] == 1.0
    assert sam.metrics["llm_correctness"] == 1.0  # judge score 5 → (5-1)/4
    assert eisam.metrics["llm_faithfulness"] == 0.0  # the judge rejected the invented claim
    assert eisam.metrics["llm_correctness"] == 0.25  # judge score 2
    assert protein.abstained and protein.metrics.get("llm_faithfulness") is None  # nothing to judge
    assert result.overall["llm_faithfulness"] == 0.5 and result.overall["llm_correctness"] == 0.625
    assert "llm_faithfulness" in result.by_kind["topic"]
    # judged once, on the full system only: the ablation variant has no LLM-judged numbers
    assert "llm_faithfulness" not in result.variants["hybrid"]
    # offline groundedness also sees the invented sentence: nothing in EISAM's abstract supports it
    assert eisam.metrics["groundedness"] == 0.0

    prompts = [_prompt_text(b) for b in server.requests]
    assert sum("given piece of information" in p for p in prompts) == 2
    assert sum("expert evaluation system" in p for p in prompts) == 2
    assert all(b["model"] == "fake-model" for b in server.requests)
    assert server.last_headers["authorization"] == "Bearer sk-test"
    assert not server.errors


@pytest.mark.server
def test_a_failing_judge_stops_judging_with_a_note(llm_assistant: Any, server: FakeOpenAIServer,
                                                   tmp_path: Path) -> None:
    server.mode = "server_error"
    try:  # offline answers, LLM judge: the only calls are the judge's
        result = run_eval(llm_assistant, _questions(tmp_path, llm_assistant.catalog), variants=("hybrid+metadata",),
                          offline=True, judge=True)
    finally:
        server.mode = "ok"
    assert len(result.notes) == 1 and "LLM judging stopped at sam" in result.notes[0]
    assert "HTTP 500" in result.notes[0]
    assert all(r.answerer == "offline" for r in result.rows)
    assert "llm_faithfulness" not in result.overall and result.overall["abstention_accuracy"] == 1.0


def test_judging_without_an_llm_is_a_clear_error(assistant: Any, tmp_path: Path) -> None:
    from rag.errors import LabQAError

    with pytest.raises(LabQAError, match="LABQA_LLM_MODEL"):
        run_eval(assistant, _questions(tmp_path, assistant.catalog), judge=True)
