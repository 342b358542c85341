"""Question → plan: which papers answer it and in what shape. Metadata questions are answered from the
catalog (all matches, exact counts); topic questions from hybrid retrieval with a relevance cut-off;
follow-ups resolve "those", "it", "the second one" against the papers of the previous answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.catalog import Catalog, fold, sort_key
from rag.query_parser import ParsedQuery
from rag.retrieval import Index
from rag.text import Vocabulary, terms
from rag.types import Evidence, Filters, Paper, Turn

# Calibrated on eval/questions.jsonl (see eval/QUESTIONS.md, "Calibration"): every answerable question
# clears one of the two bars, no unanswerable one clears either.
ANSWERABLE_DENSE = 0.41  # best chunk cosine similarity (unanswerable max 0.403, answerable min 0.416)
ANSWERABLE_COVERAGE = 0.50  # share of the question's IDF mass in one paper (unanswerable max 0.374)
# Besides the best paper, a topic answer cites papers that contain most of the question's distinctive
# words, or that are nearly as close in meaning and share some of them.
KEEP_COVERAGE = 0.75
KEEP_DENSE_GAP = 0.08
KEEP_DENSE_COVERAGE = 0.35
KEEP_DENSE = 0.35  # dense floor when ranking catalog matches by topic


SINGULAR = re.compile(r"\b(it|its|this paper|that paper|this one|that one|this work|that work)\b", re.I)


@dataclass
class Plan:
    parsed: ParsedQuery
    kind: str  # abstain | topic | list | count | authors | detail | order | none
    papers: list[Evidence] = field(default_factory=list)  # to cite, in order
    ranked: list[Evidence] = field(default_factory=list)  # what retrieval returned, best first
    topic: str = ""
    filters: Filters = field(default_factory=Filters)
    scope_note: str = ""  # e.g. "the 3 papers of the previous answer"
    nearest: list[Paper] = field(default_factory=list)  # for abstentions


class Planner:
    def __init__(self, index: Index) -> None:
        self.index = index
        self.catalog: Catalog = index.catalog
        self.paper_terms = {p.paper_id: set(terms(_paper_text(p))) for p in self.catalog.papers}
        self.vocab = Vocabulary([_paper_text(p) for p in self.catalog.papers])

    def coverage(self, question_terms: list[str], paper_id: str) -> float:
        return self.vocab.coverage(question_terms, self.paper_terms.get(paper_id, set()))

    def plan(self, parsed: ParsedQuery, history: list[Turn], extra: Filters | None = None,
             mode: str = "hybrid", use_metadata: bool = True) -> Plan:
        f = _merge(parsed.filters if use_metadata else Filters(), extra)
        scope = self._scope(parsed, history)
        if scope is not None:
            f.paper_ids = [p.paper_id for p in scope]
        intent = parsed.intent if (use_metadata or parsed.intent == "topic") else "topic"
        if not use_metadata and intent != "topic":
            intent = "topic"
        qterms = terms(parsed.topic or parsed.question)

        if parsed.unknown_authors and use_metadata and not f.authors:
            return Plan(parsed, "none", filters=f, topic=", ".join(parsed.unknown_authors))

        metadata_filters = not Filters(**{**f.__dict__, "paper_ids": []}).is_empty()
        if scope is not None or (use_metadata and metadata_filters):
            candidates = self.catalog.filter(f)
            if scope is not None and not parsed.ordinal and SINGULAR.search(parsed.question) and intent != "order":
                parsed.ordinal = 1  # "tell me more about it": the paper the previous answer led with
            if parsed.ordinal and scope is not None:  # "the second one": a question about that paper
                candidates = _pick(candidates, parsed.ordinal)
                if intent in ("topic", "list"):
                    intent = "detail"
            if parsed.topic and intent in ("list", "count", "order", "topic") and candidates:
                any_term = bool(re.search(r"\bor\b", parsed.question))
                candidates = self._topical(parsed.topic, candidates, mode, strict=intent != "topic",
                                           any_term=any_term)
            if intent == "topic":
                intent = "list" if len(candidates) != 1 else "detail"
            if intent == "order":
                candidates = sorted(candidates, key=sort_key, reverse=parsed.order == "desc")
            ev = [self._evidence(p, parsed.topic) for p in candidates]
            return Plan(parsed, intent if ev else "none", papers=ev, ranked=ev, filters=f, topic=parsed.topic)

        ranked = self.index.search(parsed.topic or parsed.question, mode=mode)
        if not ranked or not self._answerable(ranked, qterms):
            return Plan(parsed, "abstain", ranked=ranked, topic=parsed.topic or parsed.question,
                        nearest=[e.paper for e in ranked[:3]])
        best_dense = max(e.dense for e in ranked[:5])
        keep = ranked[:1]
        for e in ranked[1: 2 * self.index.settings.top_k]:
            cov = self.coverage(qterms, e.paper.paper_id)
            if cov >= KEEP_COVERAGE or (e.dense >= best_dense - KEEP_DENSE_GAP and cov >= KEEP_DENSE_COVERAGE):
                keep.append(e)
        keep = self._with_companions(keep[: self.index.settings.top_k])
        if intent in ("authors", "detail"):
            keep = keep[:1]
        if intent == "order":
            keep = sorted(keep, key=sort_key, reverse=parsed.order == "desc")
        kind = intent if intent in ("authors", "detail", "order") else "topic"
        return Plan(parsed, kind, papers=keep, ranked=ranked, filters=f, topic=parsed.topic)

    def _with_companions(self, keep: list[Evidence]) -> list[Evidence]:
        """Add papers that name a kept paper by its full title (reproducibility companions, extensions):
        their own abstracts rarely repeat the topic, but they are about the same work."""
        out = list(keep)
        have = {e.paper.paper_id for e in keep}
        for e in keep:
            title = fold(e.paper.title)
            for p in self.catalog.papers:
                if p.paper_id not in have and title in fold(p.title + " " + p.abstract):
                    out.append(self._evidence(p, ""))
                    have.add(p.paper_id)
        return out

    def _answerable(self, ranked: list[Evidence], qterms: list[str]) -> bool:
        top = ranked[:5]
        return (max(e.dense for e in top) >= ANSWERABLE_DENSE
                or max(self.coverage(qterms, e.paper.paper_id) for e in top) >= ANSWERABLE_COVERAGE)

    def _topical(self, topic: str, candidates: list[Paper], mode: str, strict: bool,
                 any_term: bool = False) -> list[Paper]:
        """Candidates that are about the topic words left in a metadata question ("federated learning")."""
        qterms = terms(topic)
        if not qterms:
            return candidates
        # Words that most papers share ("learning", "models") say little: require the distinctive ones
        # (all of them, or any for "a survey or a benchmark"); a match in the title beats one in the abstract.
        distinctive = [t for t in qterms if self.vocab.df.get(t, 0) <= 0.5 * self.vocab.n] or qterms
        test = any if any_term else all
        in_title = [p for p in candidates if test(t in set(terms(p.title)) for t in distinctive)]
        if in_title and any_term:
            return in_title
        lexical = [p for p in candidates if test(t in self.paper_terms[p.paper_id] for t in distinctive)]
        if lexical or strict:
            return lexical
        hits = self.index.search(topic, mode=mode, paper_ids=[p.paper_id for p in candidates])
        return [e.paper for e in hits if e.dense >= KEEP_DENSE]

    def _scope(self, parsed: ParsedQuery, history: list[Turn]) -> list[Paper] | None:
        """The papers a follow-up refers to: those named in the last assistant answer."""
        if not parsed.refers_back or not history:
            return None
        # "the second one" means the latest answer that listed at least two papers.
        need = parsed.ordinal if parsed.ordinal and parsed.ordinal > 0 else 1
        for turn in reversed(history):
            if turn.role == "assistant":
                found = self.catalog.mentioned_in(turn.content)
                if len(found) >= need:
                    return found
        return None

    def _evidence(self, paper: Paper, topic: str) -> Evidence:
        return Evidence(paper=paper, score=1.0, passages=self.index.passages_of(paper.paper_id))


def _pick(papers: list[Paper], ordinal: int) -> list[Paper]:
    if ordinal == -1:
        return papers[-1:]
    return papers[ordinal - 1: ordinal] if 0 < ordinal <= len(papers) else []


def _merge(a: Filters, b: Filters | None) -> Filters:
    """Filters from the question plus filters chosen in the UI (both apply)."""
    out = Filters(**{k: (list(v) if isinstance(v, list) else v) for k, v in a.__dict__.items()})
    if b is None:
        return out
    out.year_from = max(filter(None, [out.year_from, b.year_from]), default=None)
    out.year_to = min(filter(None, [out.year_to, b.year_to]), default=None)
    out.authors += [x for x in b.authors if x not in out.authors]
    out.categories = b.categories if b.categories and not out.categories else out.categories
    if b.has_code is not None:
        out.has_code = b.has_code
    out.paper_ids += [x for x in b.paper_ids if x not in out.paper_ids]
    return out


def _paper_text(p: Paper) -> str:
    return " ".join([p.title, p.abstract, *p.other_abstracts])
