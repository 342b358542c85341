"""eval.metrics on hand-computed examples (no index, no model: embeddings are stubbed with fixed vectors)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eval import metrics as M
from eval.judge import parse_score


def test_retrieval_metrics_hand_computed() -> None:
    # gold c is at rank 3, gold x is not retrieved; k=5
    got = M.retrieval_metrics(["a", "b", "c", "d", "e", "f"], ["c", "x"], k=5)
    assert got["hit@5"] == 1.0
    assert got["recall@5"] == 0.5
    assert got["mrr"] == pytest.approx(1 / 3)
    assert got["ndcg@5"] == pytest.approx((1 / math.log2(4)) / (1 + 1 / math.log2(3)))


def test_retrieval_metrics_cut_at_k() -> None:
    got = M.retrieval_metrics(["a", "b", "c", "d", "e", "gold"], ["gold"], k=5)  # gold at rank 6
    assert got == {"hit@5": 0.0, "recall@5": 0.0, "mrr": 0.0, "ndcg@5": 0.0}
    assert M.retrieval_metrics(["gold", "a"], ["gold"], k=1) == {"hit@1": 1.0, "recall@1": 1.0, "mrr": 1.0,
                                                                   "ndcg@1": 1.0}


def test_recall_and_ndcg_are_capped_at_k_for_long_gold_lists() -> None:
    gold = [f"g{i}" for i in range(8)]
    perfect = M.retrieval_metrics(gold[:5], gold, k=5)
    assert perfect["recall@5"] == 1.0 and perfect["ndcg@5"] == pytest.approx(1.0)
    # llama-index's own Recall divides by all 8 gold papers: the reason for the capped version
    from llama_index.core.evaluation.retrieval.metrics import Recall

    assert Recall().compute(expected_ids=gold, retrieved_ids=gold[:5]).score == 5 / 8
    # two of five retrieved are gold, at ranks 2 and 5
    got = M.retrieval_metrics(["x", "g0", "y", "z", "g1"], gold, k=5)
    assert got["recall@5"] == pytest.approx(2 / 5)
    ideal = sum(1 / math.log2(i + 2) for i in range(5))
    assert got["ndcg@5"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(6)) / ideal)
    assert got["mrr"] == 0.5


def test_nothing_retrieved_scores_zero() -> None:
    assert M.retrieval_metrics([], ["g"], k=5) == {"hit@5": 0.0, "recall@5": 0.0, "mrr": 0.0, "ndcg@5": 0.0}


def test_citation_precision_and_recall() -> None:
    assert M.citation_precision(["a", "b", "c"], ["a", "d"]) == pytest.approx(1 / 3)
    assert M.citation_recall(["a", "b", "c"], ["a", "d"]) == 0.5
    assert M.citation_precision([], ["a"]) == 0.0 and M.citation_recall([], ["a"]) == 0.0
    assert M.citation_precision(["a", "a"], ["a"]) == 1.0


def test_missing_facts_is_case_insensitive_and_ignores_bold() -> None:
    answer = "**10** papers match. It uses sharpness-aware  minimization and reaches 0.1% parameters."
    assert M.missing_facts(answer, ["10", "Sharpness-Aware Minimization", "0.1%"]) == []
    assert M.missing_facts(answer, ["SeqTrain", "10"]) == ["SeqTrain"]


def test_cited_sentences_attach_each_marker_to_the_text_before_it() -> None:
    answer = ("3 papers bear on this:\n"
              "- **EISAM** (Mar 13, 2026): We propose EISAM. It regularizes the loss. [1]\n"
              "VoP tunes prompts [2][3]. Unmarked closing sentence.\n"
              "- **Can Models Understand Puns?** (Dec 26, 2025) [4]\n"
              "Note: only the first three authors are known.")
    assert M.cited_sentences(answer) == [
        ("EISAM (Mar 13, 2026): We propose EISAM.", [1]),
        ("It regularizes the loss", [1]),
        ("VoP tunes prompts", [2, 3]),
        ("Can Models Understand Puns? (Dec 26, 2025)", [4]),  # not split after the title's "?"
    ]
    assert M.clean_answer(answer).startswith("3 papers bear on this: EISAM (Mar 13, 2026): We propose EISAM.")


class _OneHot:
    """A stand-in embedder: each distinct text → its own axis, except texts mapped to a shared one."""

    def __init__(self, same: dict[str, str]) -> None:
        self.same, self.axes = same, {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 32), dtype=np.float32)
        for i, t in enumerate(texts):
            key = self.same.get(t, t)
            out[i, self.axes.setdefault(key, len(self.axes))] = 1.0
        return out


def test_groundedness_is_the_share_of_cited_sentences_supported_by_their_own_source() -> None:
    # "claim A" is a paraphrase of a sentence of source 1; "claim B" matches source 2's text, but cites 1.
    embed = _OneHot({"claim A": "a", "sentence a": "a", "claim B": "b", "sentence b": "b"})
    cache = M.EmbeddingCache(embed)
    units = {1: ["sentence a", "title 1"], 2: ["sentence b"]}
    claims = [("claim A", [1]), ("claim B", [1]), ("claim B", [1, 2])]
    assert M.groundedness(claims, units, cache) == pytest.approx(2 / 3)
    assert M.groundedness([], units, cache) is None
    assert M.groundedness([("claim A", [7])], units, cache) == 0.0  # a number with no source


def test_embedding_cache_embeds_each_text_once() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.ones((len(texts), 4), dtype=np.float32) / 2

    cache = M.EmbeddingCache(embed)
    cache.add(["a", "b", "a"])
    cache.add(["b", "c"])
    assert cache["a"] @ cache["c"] == pytest.approx(1.0)
    assert calls == [["a", "b"], ["c"]]
    assert M.cosine(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == pytest.approx(1 / math.sqrt(2))


def test_aggregate_skips_questions_a_metric_does_not_apply_to() -> None:
    rows = [
        {"mrr": 1.0, "citation_recall": 1.0, "fact_accuracy": None},
        {"mrr": 0.5, "citation_recall": 0.5, "fact_accuracy": 1.0},
        {"mrr": None, "citation_recall": None, "fact_accuracy": 0.0},  # unanswerable
        {"mrr": 0.0, "citation_recall": 0.0, "fact_accuracy": None},
    ]
    got = M.aggregate(rows, ["metadata", "count", "unanswerable", "topic"])
    assert got == {"mrr": 0.5, "citation_recall": 0.5, "fact_accuracy": 0.5, "citation_recall_metadata_list": 0.75}
    assert "citation_recall_metadata_list" not in M.aggregate(rows)


def test_every_metric_has_a_definition() -> None:
    names = M.metric_names(3)
    assert names[:4] == ["hit@3", "recall@3", "mrr", "ndcg@3"]
    assert {"citation_recall_metadata_list", "groundedness", "llm_faithfulness"} <= set(names)


@pytest.mark.parametrize("reply, score", [
    ("4.5\nClose to the reference.", 4.5), ("Score: 4\nGood", 4.0), ("3", 3.0), ("", None), ("9\nout of range", None),
    ("no number\nat all", None),
])
def test_correctness_reply_parser(reply: str, score: float | None) -> None:
    assert parse_score(reply)[0] == score
