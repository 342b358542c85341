"""Question → plan: which papers answer it and in what shape. Metadata questions are answered from the
catalog (all matches, exact counts); topic questions from hybrid retrieval with a relevance cut-off;
follow-ups resolve "those", "it", "the second one" against the papers of the previous answer.

Everything the planner needs to know about a paper's text (its terms, the terms of its title and of the
sentences about its own work, its sentences with their roles) is computed once, when the Planner is built;
per question the work is retrieval plus set lookups on the few papers retrieval returned."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from rag.catalog import Catalog, newest_first, sort_key
from rag.query_parser import ParsedQuery
from rag.retrieval import Index
from rag.safety import INSTRUCTION
from rag.text import BACKGROUND, NAMED_CLAIM, OWN_WORK, PROPOSAL, WE, Acronyms, Vocabulary, sentences, terms
from rag.types import Evidence, Filters, Paper, Turn

# ---- Abstention ------------------------------------------------------------------------------------------
# A topic question is answered when one of the top-5 retrieved papers
#   (a) holds most of the question's words in one place: LOCAL coverage — the share of the question's IDF
#       mass found in the title or in one sentence — ≥ ANSWERABLE_COVERAGE; or
#   (b) is close in meaning: best chunk cosine ≥ ANSWERABLE_DENSE, unless half or more of the question's
#       distinctive IDF mass (words most papers use left out) is in words no paper ever uses — the subject is
#       then probably one the collection lacks ("reinforcement learning for robots", "machine translation") —
#       and the match is not strong (cosine < STRONG_DENSE); or
#   (c) a name-like word of the question (two capitals or a digit: "EISAM", "MultiPun", "U2A") that at most
#       NAME_DF papers use is in a top-5 paper — it identifies the paper even in "¿Qué es EISAM?".
# Calibrated on eval/questions.jsonl plus the probes in tests/test_answer_abstention.py (all-MiniLM-L6-v2,
# 200-token chunks). Lowest answerable vs highest unanswerable score, among questions decided by that route:
#   coverage   answerable ≥ 0.54 ("adapting CLIP-like models across clients in one round"; the eval set's own
#              ≥ 1.0); unanswerable ≤ 0.49 ("reinforcement learning for robots") → margin 0.05.
#   cosine     answerable ≥ 0.416 ("animating a single still picture into a video clip"); unanswerable with
#              few unknown words ≤ 0.400 ("code generation with large language models") → margin 0.016. Thin:
#              MiniLM puts paraphrases and near misses at the same distance; the unknown-words test and the
#              lexical routes carry most of the separation.
#   unknown    in the cosine band [0.41, 0.55): answerable ≤ 0.42 (the "animating" question); unanswerable ≥ 0.60
#              ("reinforcement learning for playing Atari games", cosine 0.494) → margin 0.18 around 0.50.
# Known miss: "turning a photo into a moving video" (cosine 0.513, unknown 0.60) abstains, naming MotionStone
# among the nearest papers.
ANSWERABLE_DENSE = 0.41
NAME_DF = 2
NAME_LIKE = re.compile(r"\b(?=[\w-]*[A-Z][\w-]*[A-Z0-9]|[\w-]*\d)[A-Za-z][\w-]*")
ANSWERABLE_COVERAGE = 0.50
UNKNOWN_SHARE = 0.50
STRONG_DENSE = 0.55

# ---- Which retrieved papers a topic answer cites ----------------------------------------------------------
# Besides the best paper: papers that hold most of the question's words (coverage over the words the
# collection knows, so a synonym no paper uses cannot sink every paper alike) and hold them in their title
# or in sentences about their own work (FOCUS) — a topic named only in a paper's background ("existing
# methods, such as attribute unlearning") is not that paper's topic; or the paper closest in meaning if it
# shares some of the words; or papers nearly as close in meaning that share some of the words — most of them
# (KEEP_DENSE_FULL) when another paper holds all of them.
KEEP_COVERAGE = 0.75
KEEP_FOCUS = 0.60
KEEP_DENSE_GAP = 0.08
KEEP_DENSE_COVERAGE = 0.35
KEEP_DENSE_FULL = 0.65
KEEP_DENSE = 0.35  # dense floor when ranking catalog matches by topic

SINGULAR = re.compile(r"\b(it|its|this paper|that paper|this one|that one|this work|that work)\b", re.I)
# A question about one thing ("Which paper …", "the neuro-inspired unlearning paper", "What is EISAM?",
# "How many …") is answered from the best paper alone (plus a companion that holds what it lacks).
ONE_PAPER = re.compile(
    r"^\s*(?:which|what) (?:single )?(?:paper|work|study|article|publication)\b|"
    r"\bthe (?:[\w'-]+ ){1,6}(?:paper|work|study|article)\b(?! and)|"
    r"^\s*what (?:is|are|does) (?:[A-Z0-9][\w-]*|the (?:name|acronym))\b|"
    r"\b(?:how (?:many|much|large|big|long)|by how much)\b", re.I)
PLURAL = re.compile(r"\b(papers|works|studies|publications|articles|which \w+s|any\b|anything|all)\b", re.I)


@dataclass(frozen=True)
class SentenceInfo:
    text: str
    terms: frozenset[str]
    position: int
    own: bool  # about the paper's own work ("we propose", "this framework", "specifically")
    proposal: bool  # states the contribution ("we propose …", "this survey offers …")
    named: bool  # names what is proposed ("we propose LEGO, …")
    background: bool  # about earlier or other work ("existing methods …")


@dataclass(frozen=True)
class PaperProfile:
    terms: frozenset[str]  # title and every abstract version
    title: frozenset[str]
    own: frozenset[str]  # title and sentences about the paper's own work
    windows: tuple[frozenset[str], ...]  # the title and each sentence (local coverage)
    sentences: tuple[SentenceInfo, ...]  # of the primary abstract, in order


def paper_terms(p: Paper, acronyms: Acronyms) -> frozenset[str]:
    """Every term of a paper's title and abstract versions (plus the acronyms they spell out)."""
    return frozenset(acronyms.document(terms(" . ".join([p.title, p.abstract, *p.other_abstracts]))))


def profile(p: Paper, acronyms: Acronyms, every: frozenset[str]) -> PaperProfile:
    def doc_terms(text: str) -> frozenset[str]:
        return frozenset(acronyms.document(terms(text)))

    title = doc_terms(p.title)
    sents: list[SentenceInfo] = []
    own = set(title)
    windows = [title]
    for version, text in enumerate([p.abstract, *p.other_abstracts]):
        for i, s in enumerate(sentences(text)):
            if INSTRUCTION.search(s):  # an order to an AI assistant planted in an abstract is never quoted
                continue
            st = doc_terms(s)
            is_bg = bool(BACKGROUND.search(s)) and not WE.search(s)
            is_own = bool(OWN_WORK.search(s)) and not is_bg
            if is_own:
                own |= st
            windows.append(st)
            if version == 0:
                sents.append(SentenceInfo(s, st, i, is_own, bool(PROPOSAL.search(s)), bool(NAMED_CLAIM.search(s)),
                                          is_bg))
    return PaperProfile(every, title, frozenset(own), tuple(windows), tuple(sents))


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
    scope: list[Paper] = field(default_factory=list)  # the previous answer's papers a follow-up refers to
    also: list[Paper] = field(default_factory=list)  # order answers: the other papers, in order, not cited


class Planner:
    def __init__(self, index: Index) -> None:
        self.index = index
        self.catalog: Catalog = index.catalog
        self.acronyms = Acronyms([t for p in self.catalog.papers for t in (p.abstract, *p.other_abstracts)])
        # Built once: each paper's terms (for IDF and coverage). Built on first use, then kept: the sentence-level
        # profile (roles, per-sentence terms), needed only for the few papers a question retrieves or lists.
        self.paper_terms = {p.paper_id: paper_terms(p, self.acronyms) for p in self.catalog.papers}
        self.vocab = Vocabulary.from_term_sets(list(self.paper_terms.values()))
        self._profiles: dict[str, PaperProfile] = {}

    def _title_terms(self, paper_id: str) -> frozenset[str]:
        pr = self.profile_of(paper_id)
        return pr.title if pr else frozenset()

    def profile_of(self, paper_id: str) -> PaperProfile | None:
        pr = self._profiles.get(paper_id)
        if pr is None:
            paper = self.catalog.get(paper_id)
            if paper is None:
                return None
            pr = self._profiles.setdefault(paper_id, profile(paper, self.acronyms, self.paper_terms[paper_id]))
        return pr

    def terms(self, text: str) -> list[str]:
        """The question's terms as concepts: a spelled-out acronym ("large language models") becomes one term
        ("llm"), a hyphenated word ("low-resource") one term without its parts — each concept weighs once."""
        words = self.acronyms.query(terms(text))
        out: list[str] = []
        skip: set[str] = set()
        for w in words:
            if "-" in w:
                skip = set(_parts(w))
                out.append(w)
            elif any(w.startswith(p) or p.startswith(w) for p in skip):  # the parts follow their compound
                skip = {p for p in skip if not (w.startswith(p) or p.startswith(w))}
            else:
                skip = set()
                out.append(w)
        return out

    # ---- term statistics over one paper (all precomputed sets; cost grows with the question only) ----
    def _spellings(self, term: str) -> list[tuple[str, ...]]:
        """Other ways a text can hold a question term: all the words of an acronym ("federated … learning" for
        FL) or of a hyphenated word ("low … resource"). The concept counts once, with its own weight."""
        exps = self.acronyms.expansions.get(term)
        return list(exps) if exps else ([p] if "-" in term and (p := _parts(term)) else [])

    def _cover(self, question_terms: list[str], doc: frozenset[str]) -> float:
        """Share of the question's IDF mass found in a set of terms (1.0 = every content word is there)."""
        weights, total = self._weights(tuple(question_terms))
        if not total:
            return 0.0
        got = 0.0
        for t, w, spellings in weights:
            if t in doc or any(all(x in doc for x in e) for e in spellings):
                got += w
        return got / total

    @lru_cache(maxsize=4096)  # noqa: B019 - one Planner per index; the cache dies with it
    def _weights(self, question_terms: tuple[str, ...]) -> tuple[list[tuple[str, float, list[tuple[str, ...]]]], float]:
        q = list(dict.fromkeys(question_terms))
        weights = [(t, self.vocab.idf(t), self._spellings(t)) for t in q]
        return weights, sum(w for _, w, _ in weights)

    def coverage(self, question_terms: list[str], paper_id: str) -> float:
        t = self.paper_terms.get(paper_id)
        return self._cover(question_terms, t) if t else 0.0

    def local_coverage(self, question_terms: list[str], paper_id: str) -> float:
        pr = self.profile_of(paper_id)
        return max((self._cover(question_terms, w) for w in pr.windows), default=0.0) if pr else 0.0

    def names(self, text: str) -> list[str]:
        """Terms of the question's name-like words (EISAM, MultiPun, U2A, CURE4Rec) that at most NAME_DF papers
        use: a method or dataset name identifies its paper whatever the other words (or their language)."""
        words = [w for w in NAME_LIKE.findall(text)]
        return [t for t in self.terms(" ".join(words)) if 0 < self.vocab.df.get(t, 0) <= NAME_DF]

    def known(self, question_terms: list[str]) -> list[str]:
        return [t for t in question_terms if self.vocab.df.get(t, 0)]

    def unknown_share(self, question_terms: list[str]) -> float:
        """Share of the question's distinctive IDF mass in words that no paper uses. Words most papers use
        ("learning", "training", "models") say nothing about the subject and are left out."""
        q = {t for t in question_terms if self.vocab.df.get(t, 0) <= 0.5 * self.vocab.n}
        total = sum(self.vocab.idf(t) for t in q)
        return sum(self.vocab.idf(t) for t in q if not self.vocab.df.get(t, 0)) / total if total else 0.0

    def _sides(self, parsed: ParsedQuery) -> list[list[str]]:
        """The question's terms, and for "X or Y" questions each side too: a paper on either side counts."""
        whole = self.terms(parsed.topic or parsed.question)
        return [whole] + [t for t in (self.terms(a) for a in parsed.alternatives) if t]

    def _best_over_sides(self, sides: list[list[str]], fn, paper_id: str) -> float:  # type: ignore[no-untyped-def]
        return max(fn(s, paper_id) for s in sides)

    def keep_coverage(self, qterms: list[str], paper_id: str) -> float:
        return self.coverage(self.known(qterms), paper_id)

    def focus(self, qterms: list[str], paper_id: str) -> float:
        pr = self.profile_of(paper_id)
        return self._cover(self.known(qterms), pr.own) if pr else 0.0

    # ---- planning -------------------------------------------------------------------------------------
    def plan(self, parsed: ParsedQuery, history: list[Turn], extra: Filters | None = None,
             mode: str = "hybrid", use_metadata: bool = True) -> Plan:
        f = _merge(parsed.filters if use_metadata else Filters(), extra)
        scope = self._scope(parsed, history)
        if scope is not None:
            f.paper_ids = [p.paper_id for p in scope]
        intent = parsed.intent if use_metadata else "topic"

        if parsed.unknown_authors and use_metadata and not f.authors:
            return Plan(parsed, "none", filters=f, topic=", ".join(parsed.unknown_authors))

        metadata_filters = not Filters(**{**f.__dict__, "paper_ids": []}).is_empty()
        # "How many papers are there?", "What is the oldest paper?": a question about the whole catalog
        whole_catalog = use_metadata and not parsed.topic and intent in ("count", "order", "list")
        if scope is not None or (use_metadata and metadata_filters) or whole_catalog:
            return self._catalog_plan(parsed, f, scope, intent, mode)
        return self._topic_plan(parsed, f, intent, mode)

    def _catalog_plan(self, parsed: ParsedQuery, f: Filters, scope: list[Paper] | None, intent: str,
                      mode: str) -> Plan:
        candidates = self.catalog.filter(f)
        if scope is None:
            candidates = newest_first(candidates)
        if scope is not None and not parsed.ordinal and SINGULAR.search(parsed.question) and intent != "order":
            parsed.ordinal = 1  # "tell me more about it": the paper the previous answer led with
        if parsed.ordinal and scope is not None:  # "the second one": a question about that paper
            candidates = _pick(candidates, parsed.ordinal)
            if intent in ("topic", "list"):
                intent = "detail"
        if parsed.topic and intent in ("list", "count", "order", "topic") and candidates:
            any_term = bool(re.search(r"\bor\b", parsed.question))
            candidates = self._topical(parsed.topic, candidates, mode, strict=intent != "topic", any_term=any_term)
        if intent == "topic":
            intent = "list" if len(candidates) != 1 else "detail"
        also: list[Paper] = []
        if intent == "order":
            candidates = sorted((p for p in candidates if p.year), key=sort_key, reverse=parsed.order == "desc") \
                + [p for p in candidates if not p.year]
            candidates, also = candidates[:1], candidates[1:]
        ev = [self._evidence(p) for p in candidates]
        return Plan(parsed, intent if ev else "none", papers=ev, ranked=ev, filters=f, topic=parsed.topic,
                    scope=scope or [], also=also)

    def _topic_plan(self, parsed: ParsedQuery, f: Filters, intent: str, mode: str) -> Plan:
        query = parsed.topic or parsed.question
        ranked = self.index.search(query, mode=mode)
        sides = self._sides(parsed)
        if not ranked or not self.answerable(ranked, sides, self.names(parsed.topic or parsed.question)):
            nearest = sorted(ranked[:10], key=lambda e: -e.dense)[:3]  # closest in meaning
            return Plan(parsed, "abstain", ranked=ranked, topic=query, nearest=[e.paper for e in nearest])
        top_k = self.index.settings.top_k
        pool = ranked[: 2 * top_k]
        best_dense = max(e.dense for e in ranked[:5])
        closest = max(pool, key=lambda e: e.dense)
        kcov = {e.paper.paper_id: self._best_over_sides(sides, self.keep_coverage, e.paper.paper_id) for e in pool}
        # when some paper holds every word of the question, closeness in meaning alone is weak evidence
        dense_bar = KEEP_DENSE_FULL if max(kcov.values()) >= 1.0 else KEEP_DENSE_COVERAGE
        keep = ranked[:1]
        for e in pool[1:]:
            pid = e.paper.paper_id
            cov = kcov[pid]
            shares = self._best_over_sides(sides, self.coverage, pid) >= KEEP_DENSE_COVERAGE
            if (cov >= KEEP_COVERAGE and self._best_over_sides(sides, self.focus, pid) >= KEEP_FOCUS) \
                    or (e is closest and shares) \
                    or (e.dense >= best_dense - KEEP_DENSE_GAP and shares and cov >= dense_bar):
                keep.append(e)
        keep = keep[:top_k]
        if intent in ("authors", "detail") or ONE_PAPER.search(parsed.question):
            keep = keep[:1]
        keep = self._with_companions(keep, sides[0], several=len(keep) > 1 or bool(PLURAL.search(parsed.question)))
        also: list[Paper] = []
        if intent == "order":
            keep = sorted(keep, key=lambda e: sort_key(e.paper), reverse=parsed.order == "desc")
            also, keep = [e.paper for e in keep[1:]], keep[:1]
        kind = intent if intent in ("authors", "detail", "order") else "topic"
        # The sources list leads with what the answer cites (the planner's re-ranking), then the rest.
        cited = {e.paper.paper_id for e in keep}
        ranked = keep + [e for e in ranked if e.paper.paper_id not in cited]
        return Plan(parsed, kind, papers=keep, ranked=ranked, filters=f, topic=parsed.topic, also=also)

    def answerable(self, ranked: list[Evidence], sides: list[list[str]], names: list[str] | None = None) -> bool:
        top = ranked[:5]
        if names and any(t in self.paper_terms[e.paper.paper_id] for t in names for e in top):
            return True
        dense = max(e.dense for e in top)
        local = max(self._best_over_sides(sides, self.local_coverage, e.paper.paper_id) for e in top)
        if local >= ANSWERABLE_COVERAGE:
            return True
        unknown = min(self.unknown_share(s) for s in sides)
        return dense >= ANSWERABLE_DENSE and (unknown < UNKNOWN_SHARE or dense >= STRONG_DENSE)

    def _with_companions(self, keep: list[Evidence], qterms: list[str], several: bool) -> list[Evidence]:
        """Add the companions of kept papers (a reproducibility paper that quotes its original's title): their
        own abstracts rarely repeat the topic, but they are about the same work. A question about one paper
        gets a companion only when the companion holds question words its original lacks (e.g. the venue)."""
        out = list(keep)
        have = {e.paper.paper_id for e in keep}
        known = self.known(qterms)
        for e in keep:
            for cid in self.catalog.companions.get(e.paper.paper_id, []):
                if cid in have:
                    continue
                adds = set(known) & self.paper_terms[cid] - self.paper_terms[e.paper.paper_id]
                if several or adds:
                    out.append(self._evidence(self.catalog.by_id[cid]))
                    have.add(cid)
        return out

    def _topical(self, topic: str, candidates: list[Paper], mode: str, strict: bool,
                 any_term: bool = False) -> list[Paper]:
        """Candidates that are about the topic words left in a metadata question ("federated learning")."""
        qterms = self.terms(topic)
        if not qterms:
            return candidates
        # Words that most papers share ("learning", "models") say little: require the distinctive ones
        # (all of them, or any for "a survey or a benchmark"); a match in the title beats one in the abstract.
        distinctive = [t for t in qterms if self.vocab.df.get(t, 0) <= 0.5 * self.vocab.n] or qterms
        test = any if any_term else all
        in_title = [p for p in candidates if test(t in self._title_terms(p.paper_id) for t in distinctive)]
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
        # "the second one" means the latest answer that listed at least two papers; so does "which came
        # out earlier?" (a comparison needs two).
        need = parsed.ordinal if parsed.ordinal and parsed.ordinal > 0 else 1
        if parsed.intent == "order" and not parsed.ordinal:
            need = 2
        for turn in reversed(history):
            if turn.role == "assistant":
                found = self.catalog.mentioned_in(turn.content)
                if len(found) >= need:
                    return found
        return None

    def _evidence(self, paper: Paper) -> Evidence:
        return Evidence(paper=paper, score=1.0, passages=self.index.passages_of(paper.paper_id))


def _parts(compound: str) -> tuple[str, ...]:
    """The stemmed parts of a hyphenated term: 'low-resourc' → ('low', 'resourc')."""
    return tuple(terms(compound.replace("-", " ")))


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
