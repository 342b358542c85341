"""Is a retrieved paper about the question? One measured judgement, used for both abstention and citation.

Each (question, retrieved paper) pair is described by a few scores the retrievers and the term statistics
already give — closeness in meaning, BM25, how much of the question's IDF mass the paper holds (anywhere, in
one sentence, in its title, in what it says about its own work), how much of the question is in words no
paper uses, and how much of the question's meaning the paper misses (each word weighed by its share of the
meaning, rag.salience, and met by the paper's nearest word, rag.word_support) — and a logistic model turns them into a probability that the paper answers the question.
The weights are fitted, and the two thresholds chosen, on the dev question split only
(`python -m eval.fit_relevance`, which writes rag/relevance_model.json and prints the precision/recall
curve); the frozen test split checks them. A question is answered when its best paper clears
`relevance.answer_at`; the answer cites every paper that clears `relevance.cite_at`."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rag.term_stats import TermStats
from rag.text_vectors import TextVectors
from rag.types import Evidence
from rag.word_support import WordSupport

if TYPE_CHECKING:
    from rag.query_parser import ParsedQuery
    from rag.retrieval import Index
    from rag.settings import RelevanceSettings

MODEL_FILE = Path(__file__).with_name("relevance_model.json")
# Few and not collinear, so each weight keeps its sign and meaning on questions the fit never saw.
# Six scores, chosen by repeated 5-fold cross-validation by question on dev + regression (`python -m
# eval.fit_relevance --cv 5`): closeness in meaning, how far behind the best paper it is, BM25 against the best,
# how much of the question the paper's own-work sentences hold, the most meaningful part of the question the
# paper misses, and how far the paper's closest sentence is behind the best paper's (held-out abstention errors
# 26.3 → 24.0 of 226, citation F1 0.845 → 0.861). More scores (IDF coverage anywhere or in one sentence,
# unknown-word shares, the closeness of the single most telling unknown word, the closest sentence's own
# cosine, pairs of question words standing together in the paper) did not lower the held-out errors.
FEATURES = ("dense", "dense_gap", "lexical_rel", "focus", "missing_max", "sentence_gap")
# every score judged() computes, for `fit_relevance --features` to try
CANDIDATES = (*FEATURES, "sentence", "coverage", "coverage_all", "local", "title", "rank", "unknown", "has_unknown")


@dataclass(frozen=True)
class RelevanceModel:
    weights: dict[str, float]
    bias: float
    means: dict[str, float]  # standardisation fitted with the weights
    scales: dict[str, float]
    fitted_on: str = ""

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> RelevanceModel:
        d = json.loads(path.read_text(encoding="utf-8"))
        return cls(weights=d["weights"], bias=d["bias"], means=d["means"], scales=d["scales"],
                   fitted_on=d.get("fitted_on", ""))

    def probability(self, x: dict[str, float]) -> float:
        z = self.bias + sum(w * (x[k] - self.means[k]) / self.scales[k] for k, w in self.weights.items() if k in x)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@lru_cache(maxsize=1)
def default_model() -> RelevanceModel:
    return RelevanceModel.load()


@dataclass
class Judged:
    evidence: Evidence
    p: float
    features: dict[str, float]


def features(stats: TermStats, sides: list[list[str]], pool: list[Evidence],
             per_paper: Callable[[Evidence], dict[str, float]] | None = None) -> list[dict[str, float]]:
    """The scores of each pooled paper for the question (terms per side of an "X or Y" question: a paper on
    either side counts, so each term score takes the best side), plus the scores `per_paper` gives (what the
    paper misses of the question, rag.planning)."""
    if not pool:
        return []
    best_dense = max(e.dense for e in pool)
    best_lex = max((e.lexical for e in pool), default=0.0) or 1.0
    unknown = min(stats.unknown_share(s) for s in sides) if sides else 1.0
    has_unknown = float(min(len(s) - len(stats.known(s)) for s in sides) > 0) if sides else 1.0
    out = []
    for rank, e in enumerate(pool):
        pid = e.paper.paper_id

        def best(fn, pid=pid):  # type: ignore[no-untyped-def]
            return max((fn(s, pid) for s in sides if s), default=0.0)

        out.append({
            "dense": e.dense,
            "dense_gap": best_dense - e.dense,
            "lexical_rel": e.lexical / best_lex,
            "coverage": best(stats.keep_coverage),
            "coverage_all": best(stats.coverage),
            # evidence in one sentence, of the abstract or of a retrieved page of the paper's PDF
            "local": max(best(stats.local_coverage),
                         max((stats.local_in(q, body) for q in sides if q), default=0.0) if (body := [
                             p.text for p in e.passages if p.page is not None]) else 0.0),
            "focus": best(stats.focus),
            "title": best(stats.title_coverage),
            "rank": 1.0 / (rank + 1),
            "unknown": unknown,
            "has_unknown": has_unknown,
            **(per_paper(e) if per_paper else {}),
        })
    return out


def judge(stats: TermStats, sides: list[list[str]], pool: list[Evidence],
          per_paper: Callable[[Evidence], dict[str, float]] | None = None,
          model: RelevanceModel | None = None) -> list[Judged]:
    model = model or default_model()
    xs = features(stats, sides, pool, per_paper)
    return [Judged(e, model.probability(x), x) for e, x in zip(pool, xs, strict=True)]


class Relevance:
    """The judgement as the planner uses it: the retrieved pool scored and weighed (judged), and the closeness
    of a question to sentences (the offline answerer's choice of sentences)."""

    def __init__(self, index: Index, stats: TermStats, settings: RelevanceSettings) -> None:
        self.index = index
        self.stats = stats
        self.settings = settings
        self.texts = TextVectors(index.settings.models_dir, index.embedder)
        self.word_support = WordSupport(index.catalog, index.embedder, self.texts)

    def judged(self, parsed: ParsedQuery, mode: str = "hybrid", paper_ids: list[str] | None = None) -> list[Judged]:
        """The retrieved pool for the question's topic, each paper with its relevance scores and probability
        (also what `python -m eval.fit_relevance` fits on)."""
        query = parsed.topic or parsed.question
        ranked = self.index.search(query, mode=mode, paper_ids=paper_ids)
        pool = ranked[: max(self.settings.pool, len(paper_ids or []))]

        def missing(e: Evidence) -> dict[str, float]:
            """What the paper misses of the question: each word it does not use, weighed by the word's share of
            the question's meaning (rag.salience) and by how far the paper's nearest word is (rag.word_support)."""
            pid = e.paper.paper_id
            if not any(sal for _, sal, _ in parsed.salience):
                return {"missing_max": 0.0}
            # the paper's words: its title and abstracts, and the retrieved pages of its PDF
            body = frozenset(t for p in e.passages if p.page is not None for s in self.stats.passage_sentences(p.text)
                             for t in s.terms)
            # per side of an "X or Y" question, each weighed against its own most meaningful word: a paper on
            # either side counts
            tops: dict[int, float] = {}
            for _, sal, side in parsed.salience:
                tops[side] = max(tops.get(side, 0.0), sal)
            gaps: dict[int, float] = {}
            for w, sal, side in parsed.salience:
                terms = self.stats.terms(w)
                inside = self.stats.coverage(terms, pid) >= 1.0 or (body and set(terms) <= body)
                gap = 0.0 if inside else 1.0 - self.word_support.support(w, pid)
                gaps[side] = max(gaps.get(side, 0.0), sal / tops[side] * gap if tops[side] else 0.0)
            return {"missing_max": min(gaps.values())}

        self.word_support.prepare([w for w, _, _ in parsed.salience])
        close = self._sentence_closeness(query, pool)
        best_close = max(close.values(), default=0.0)

        def per_paper(e: Evidence) -> dict[str, float]:
            c = close.get(e.paper.paper_id, 0.0)
            return {**missing(e), "sentence": c, "sentence_gap": best_close - c}

        return judge(self.stats, self.sides(parsed), pool, per_paper=per_paper)

    def _sentence_closeness(self, query: str, pool: list[Evidence]) -> dict[str, float]:
        """Each pooled paper's closest sentence to the question in meaning (cosine): a paraphrase meets one
        sentence of a paper even when the paper's whole chunk is about more than the question asks."""
        texts: dict[str, list[str]] = {}
        for e in pool:
            pr = self.stats.profile_of(e.paper.paper_id)
            texts[e.paper.paper_id] = [s.text for s in pr.sentences] if pr else []
        flat = [t for ts in texts.values() for t in ts]
        if not flat:
            return {}
        q = self.index.embedder.embed_cached([query])[0]
        sims = self.texts.get(flat) @ q
        out, i = {}, 0
        for pid, ts in texts.items():
            out[pid] = float(sims[i:i + len(ts)].max()) if ts else 0.0
            i += len(ts)
        return out


    def sides(self, parsed: ParsedQuery) -> list[list[str]]:
        """The question's terms, and for "X or Y" questions each side too: a paper on either side counts."""
        whole = self.stats.terms(parsed.topic or parsed.question)
        return [whole] + [t for t in (self.stats.terms(a) for a in parsed.alternatives) if t]


    def sentence_scores(self, question: str, sentences: list[str]) -> list[float]:
        """How close each sentence is to the question in meaning (cosine, sentence vectors kept by
        rag.text_vectors) times `meaning_weight`: the offline answerer adds it to each sentence's word score."""
        if not sentences:
            return []
        q = self.index.embedder.embed_cached([question])[0]
        return [self.settings.meaning_weight * float(x) for x in self.texts.get(sentences) @ q]

    def warm(self, limit: int) -> None:
        """The vectors of every paper's words and sentences now, when the catalog has at most `limit` papers
        (computed once per machine, then read from disk)."""
        if len(self.index.catalog) > limit:
            return
        self.word_support.warm(limit)
        self.texts.get([s.text for p in self.index.catalog.papers if (pr := self.stats.profile_of(p.paper_id))
                        for s in pr.sentences])
        self.texts.save()
