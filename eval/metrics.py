"""Per-question metric functions and their aggregation. Which questions each metric is computed over is
defined once, in METRIC_HELP (shown in reports and eval/QUESTIONS.md); a metric that does not apply to a
question is None for it and is left out of the averages."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from rag.text import sentences

# Groundedness: an answer sentence is supported when its best cosine similarity (all-MiniLM-L6-v2) to a
# sentence of a paper it cites reaches this. Calibrated on this corpus with `python -m eval.calibrate`
# (see eval/QUESTIONS.md, "Groundedness threshold").
GROUNDED_THRESHOLD = 0.57
CITATION_MARKERS = re.compile(r"(?:\s*\[\d+(?:\s*(?:,|-|–)\s*\d+)*\])+")
LIST_KINDS = ("metadata", "count")
MIN_SENTENCE_WORDS = 4  # shorter pieces of a cited segment are fragments of the sentence before them  # catalog (list) questions: citation_recall_metadata_list


def metric_help(k: int) -> dict[str, str]:
    """Every metric name (with this k) → what it measures and over which questions."""
    return {
        f"hit@{k}": f"a gold paper is among the top {k} sources (Answer.sources ranking); answerable questions",
        f"recall@{k}": f"share of gold papers in the top {k} sources, out of min(#gold, {k}); answerable questions",
        "mrr": f"1/rank of the first gold paper in the top {k} sources (0 if none); answerable questions",
        f"ndcg@{k}": f"binary-relevance nDCG of the top {k} sources, ideal = min(#gold, {k}) golds first; "
                     "answerable questions",
        "citation_precision": "share of cited papers that are gold (0 when nothing is cited); answerable questions",
        "citation_recall": "share of gold papers the answer cites; answerable questions",
        "citation_recall_metadata_list": "citation_recall over metadata and count (list) questions only",
        "abstention_accuracy": "the answer abstains exactly when the question is unanswerable; all questions",
        "false_abstention_rate": "share of answerable questions where the answer abstained",
        "fact_accuracy": "every must_contain string is in the answer (case-insensitive); questions with must_contain",
        "answer_similarity": "cosine (all-MiniLM-L6-v2) of answer and reference_answer; answerable questions "
                             "with a reference_answer",
        "groundedness": f"share of cited answer sentences whose best similarity to a sentence of a paper they "
                        f"cite is ≥ {GROUNDED_THRESHOLD}; answers with at least one cited sentence",
        "llm_faithfulness": "LLM-judged (FaithfulnessEvaluator): answer supported by the cited abstracts; "
                            "non-abstained answers to answerable questions, full system only",
        "llm_relevancy": "LLM-judged (RelevancyEvaluator): answer and sources in line with the question; "
                         "non-abstained answers to answerable questions, full system only",
        "llm_correctness": "LLM-judged (CorrectnessEvaluator) score 1–5 mapped to 0–1 as (s-1)/4; "
                           "questions with reference_answer, full system only",
    }


def metric_names(k: int) -> list[str]:
    return list(metric_help(k))


# ---- retrieval -----------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _llama_classes() -> tuple[Any, Any, Any]:
    """llama-index classes, built on first use (importing llama_index costs ≈ 1.4 s)."""
    from llama_index.core.evaluation.retrieval.metrics_base import BaseRetrievalMetric, RetrievalMetricResult
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, TextNode

    class FixedRanking(BaseRetriever):
        """The Assistant already retrieved (Answer.sources): hand that ranking to RetrieverEvaluator
        instead of retrieving again."""

        def __init__(self, ranking: list[str]) -> None:
            super().__init__()
            self.ranking = ranking

        def _retrieve(self, query_bundle: Any) -> list[NodeWithScore]:
            return [NodeWithScore(node=TextNode(id_=pid, text=""), score=1.0 / (i + 1))
                    for i, pid in enumerate(self.ranking)]

    # llama-index's Recall and NDCG divide by / build the ideal from *all* gold papers: a metadata question
    # with 14 gold papers could never score above 5/14 at k=5. Capping at min(#gold, k) (BEIR's R_cap@k,
    # and the usual nDCG@k ideal) keeps 1.0 reachable; HitRate and MRR are used as they are.
    class CappedRecall(BaseRetrievalMetric):
        metric_name: ClassVar[str] = "recall"
        k: int

        def compute(self, query: str | None = None, expected_ids: list[str] | None = None,
                    retrieved_ids: list[str] | None = None, expected_texts: list[str] | None = None,
                    retrieved_texts: list[str] | None = None, **kwargs: Any) -> RetrievalMetricResult:
            expected, top = set(expected_ids or []), set((retrieved_ids or [])[: self.k])
            cap = min(len(expected), self.k)
            return RetrievalMetricResult(score=len(expected & top) / cap if cap else 0.0)

    class CappedNDCG(BaseRetrievalMetric):
        metric_name: ClassVar[str] = "ndcg"
        k: int

        def compute(self, query: str | None = None, expected_ids: list[str] | None = None,
                    retrieved_ids: list[str] | None = None, expected_texts: list[str] | None = None,
                    retrieved_texts: list[str] | None = None, **kwargs: Any) -> RetrievalMetricResult:
            return RetrievalMetricResult(score=ndcg(retrieved_ids or [], expected_ids or [], self.k))

    return FixedRanking, CappedRecall, CappedNDCG


def ndcg(ranking: Sequence[str], gold: Iterable[str], k: int) -> float:
    """Binary-relevance nDCG@k; the ideal ranking puts min(#gold, k) gold papers first."""
    gold_set = set(gold)
    dcg = sum(1.0 / math.log2(i + 2) for i, pid in enumerate(ranking[:k]) if pid in gold_set)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold_set), k)))
    return dcg / ideal if ideal else 0.0


def retrieval_metrics(ranking: Sequence[str], gold: Sequence[str], k: int) -> dict[str, float]:
    """hit@k, recall@k, mrr, ndcg@k of a ranking of paper ids against the gold ids."""
    top = list(dict.fromkeys(ranking))[:k]
    if not top:  # llama-index's metrics reject an empty ranking; nothing retrieved scores 0
        return {f"hit@{k}": 0.0, f"recall@{k}": 0.0, "mrr": 0.0, f"ndcg@{k}": 0.0}
    from llama_index.core.evaluation import RetrieverEvaluator
    from llama_index.core.evaluation.retrieval.metrics import MRR, HitRate

    fixed, recall, ndcg_metric = _llama_classes()
    evaluator = RetrieverEvaluator(metrics=[HitRate(), MRR(), recall(k=k), ndcg_metric(k=k)], retriever=fixed(top))
    result = evaluator.evaluate(query="-", expected_ids=list(gold))
    s = result.metric_vals_dict
    return {f"hit@{k}": s["hit_rate"], f"recall@{k}": s["recall"], "mrr": s["mrr"], f"ndcg@{k}": s["ndcg"]}


# ---- citations, abstention, facts ----------------------------------------------------------------------

def citation_precision(cited: Sequence[str], gold: Sequence[str]) -> float:
    cited_set = set(cited)
    return len(cited_set & set(gold)) / len(cited_set) if cited_set else 0.0


def citation_recall(cited: Sequence[str], gold: Sequence[str]) -> float:
    gold_set = set(gold)
    return len(gold_set & set(cited)) / len(gold_set) if gold_set else 0.0


def missing_facts(answer: str, must_contain: Sequence[str]) -> list[str]:
    """The must_contain strings the answer lacks (case-insensitive; markdown bold and spacing ignored)."""
    text = _plain(answer).casefold()
    return [s for s in must_contain if _plain(s).casefold() not in text]


def _plain(text: str) -> str:
    return " ".join(text.replace("**", "").split())


# ---- embeddings: answer similarity and groundedness ----------------------------------------------------

Embed = Callable[[list[str]], np.ndarray]  # texts → L2-normalised rows (rag.embedding.Embedder.embed)


class EmbeddingCache:
    """Embeds each distinct text once: the same answers and source sentences recur across variants."""

    def __init__(self, embed: Embed) -> None:
        self._embed = embed
        self._vectors: dict[str, np.ndarray] = {}

    def add(self, texts: Iterable[str]) -> None:
        new = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if new:
            for t, v in zip(new, self._embed(new), strict=True):
                self._vectors[t] = v

    def __getitem__(self, text: str) -> np.ndarray:
        if text not in self._vectors:
            self.add([text])
        return self._vectors[text]


def clean_answer(text: str) -> str:
    """Answer text as prose: citation markers, markdown bold and list bullets removed."""
    text = CITATION_MARKERS.sub("", text).replace("**", "")
    return " ".join(re.sub(r"^\s*[-*•]\s+", "", line) for line in text.splitlines() if line.strip())


def cited_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """(sentence, citation numbers) for each answer sentence that carries a citation. A marker covers the
    text before it back to the previous marker on the same line ("S1. S2. [1]" cites both sentences);
    text with no marker after it on its line (headings, caveats) is not a claim and is skipped."""
    out: list[tuple[str, list[int]]] = []
    for line in answer.splitlines():
        pos = 0
        for m in CITATION_MARKERS.finditer(line):
            numbers = [int(n) for n in re.findall(r"\d+", m.group()) if int(n) > 0]
            # ranges "[2-4]" are already expanded by rag.citations; a bare "2-4" here counts its ends only
            segment = line[pos:m.start()].replace("**", "")
            segment = re.sub(r"^\s*[-*•]\s+", "", segment).strip(" .;,")
            pos = m.end()
            parts: list[str] = []
            for s in sentences(segment):
                # a title ending in "?" splits "**Title?** (Dec 26, 2025)": a fragment joins its sentence
                if parts and len(s.split()) < MIN_SENTENCE_WORDS:
                    parts[-1] = f"{parts[-1]} {s}"
                else:
                    parts.append(s)
            out.extend((s.strip(), numbers) for s in parts if re.search(r"[A-Za-z]{3}", s))
    return out


def paper_units(paper: Any) -> list[str]:
    """What a cited paper (rag.types.Paper) can support: its title, its title with its byline (authors,
    date, category) and each sentence of every version of its abstract."""
    byline = ", ".join(x for x in [paper.authors_display, paper.date or "", str(paper.year or ""),
                                   paper.category or ""] if x)
    units = [paper.title, f"{paper.title}. {byline}"]
    for a in [paper.abstract, *paper.other_abstracts]:
        units.extend(sentences(a))
    return units


def best_support(sentence: str, units: Sequence[str], cache: EmbeddingCache) -> float:
    if not units:
        return 0.0
    v = cache[sentence]
    return float(max(float(v @ cache[u]) for u in units))


def groundedness(claims: list[tuple[str, list[int]]], units_by_number: dict[int, list[str]],
                 cache: EmbeddingCache, threshold: float = GROUNDED_THRESHOLD) -> float | None:
    """Share of cited sentences supported by one of the sources they cite; None when nothing is cited."""
    if not claims:
        return None
    cache.add([s for s, _ in claims])
    cache.add([u for units in units_by_number.values() for u in units])
    supported = 0
    for s, numbers in claims:
        best = max((best_support(s, units_by_number.get(n, []), cache) for n in numbers), default=0.0)
        supported += best >= threshold
    return supported / len(claims)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b) / (na * nb) if na and nb else 0.0


# ---- aggregation ---------------------------------------------------------------------------------------

def aggregate(per_question: Sequence[dict[str, float | None]], kinds: Sequence[str] | None = None
              ) -> dict[str, float]:
    """Mean of each metric over the questions it applies to (None = does not apply); with `kinds` (one per
    question), also citation_recall_metadata_list over the metadata and count questions."""
    sums: dict[str, list[float]] = {}
    for m in per_question:
        for name, v in m.items():
            if v is not None:
                sums.setdefault(name, []).append(float(v))
    out = {name: round(sum(vs) / len(vs), 4) for name, vs in sums.items()}
    if kinds is None:
        return out
    lists = [m["citation_recall"] for m, kind in zip(per_question, kinds, strict=True)
             if kind in LIST_KINDS and m.get("citation_recall") is not None]
    if lists:
        out["citation_recall_metadata_list"] = round(sum(lists) / len(lists), 4)  # type: ignore[arg-type]
    return out
