"""What the answer layer knows about the words of the papers, computed once per catalog: each paper's terms
(title and every abstract version, with the acronyms they spell out), its sentences with their roles (own work,
proposal, background), document frequencies, and the coverage measures built on them — the share of a
question's IDF mass a paper holds, anywhere, in one sentence, or in what it says about its own work."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from rag.catalog import Catalog
from rag.linking import catalog_acronyms
from rag.safety import INSTRUCTION
from rag.text import BACKGROUND, NAMED_CLAIM, OWN_WORK, PROPOSAL, WE, Acronyms, Vocabulary, sentences, terms
from rag.types import Paper


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


class PaperTerms(Mapping[str, frozenset[str]]):
    """Each paper's terms (paper_terms), computed on first use and kept. A question needs those of the few papers
    it retrieves or lists; computing every paper's at start, or loading them from the persisted catalog, is what
    would cost (1.6 s and hundreds of MB at 100k papers). Pickled without what it computed."""

    def __init__(self, papers: dict[str, Paper], acronyms: Acronyms) -> None:
        self._papers, self._acronyms = papers, acronyms
        self._done: dict[str, frozenset[str]] = {}

    def __getitem__(self, paper_id: str) -> frozenset[str]:
        got = self._done.get(paper_id)
        if got is None:
            got = self._done[paper_id] = paper_terms(self._papers[paper_id], self._acronyms)
        return got

    def __iter__(self) -> Iterator[str]:
        return iter(self._papers)

    def __len__(self) -> int:
        return len(self._papers)

    def __reduce__(self) -> tuple[type, tuple[dict[str, Paper], Acronyms]]:
        return (PaperTerms, (self._papers, self._acronyms))


@dataclass(frozen=True)
class CatalogTerms:
    """What TermStats computes over the whole catalog: built once per catalog and kept with it (like its name
    linker), so a catalog persisted with it (rag.local_index) brings it along instead of recomputing it."""

    acronyms: Acronyms
    paper_terms: PaperTerms
    vocab: Vocabulary


def catalog_terms(catalog: Catalog, previous: CatalogTerms | None = None, removed: Iterable[Paper] = (),
                  added: Iterable[Paper] = ()) -> CatalogTerms:
    """Built once per catalog and kept with it: the acronyms, each paper's terms (computed when first needed)
    and the document frequencies. With `previous` (the terms of the catalog before `removed` went and `added`
    came; a changed paper is both) the frequencies are updated from the changed papers' terms alone; an
    acronym that only a new paper defines then counts in the others' frequencies from the next full build."""
    got = catalog.__dict__.get("_terms")
    if got is None:
        acronyms = catalog_acronyms(catalog)
        terms_of = PaperTerms(catalog.by_id, acronyms)
        if previous is None:
            vocab = Vocabulary.from_term_sets([paper_terms(p, acronyms) for p in catalog.papers])  # not kept
        else:
            vocab = previous.vocab.updated([previous.paper_terms[p.paper_id] for p in removed],
                                           [terms_of[p.paper_id] for p in added])
        got = catalog.__dict__.setdefault("_terms", CatalogTerms(acronyms, terms_of, vocab))
    return got


class TermStats:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        built = catalog_terms(catalog)
        self.acronyms, self.paper_terms, self.vocab = built.acronyms, built.paper_terms, built.vocab
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

    def passage_sentences(self, text: str) -> list[SentenceInfo]:
        """A retrieved passage of a PDF's body as sentences with their roles (built per question: body text is
        not profiled up front, only the passages retrieval brings)."""
        out = []
        for i, sent in enumerate(sentences(text)):
            if INSTRUCTION.search(sent):
                continue
            st = frozenset(self.acronyms.document(terms(sent)))
            is_bg = bool(BACKGROUND.search(sent)) and not WE.search(sent)
            out.append(SentenceInfo(sent, st, i, bool(OWN_WORK.search(sent)) and not is_bg, bool(PROPOSAL.search(sent)),
                                    bool(NAMED_CLAIM.search(sent)), is_bg))
        return out

    def local_in(self, question_terms: list[str], texts: list[str]) -> float:
        """Local coverage over the sentences of some passages (a PDF body's evidence is in one sentence too)."""
        return max((self._cover(question_terms, s.terms) for t in texts for s in self.passage_sentences(t)),
                   default=0.0)

    def known(self, question_terms: list[str]) -> list[str]:
        return [t for t in question_terms if self.vocab.df.get(t, 0)]

    def unknown_share(self, question_terms: list[str]) -> float:
        """Share of the question's distinctive IDF mass in words that no paper uses. Words most papers use
        ("learning", "training", "models") say nothing about the subject and are left out."""
        q = {t for t in question_terms if self.vocab.df.get(t, 0) <= 0.5 * self.vocab.n}
        total = sum(self.vocab.idf(t) for t in q)
        return sum(self.vocab.idf(t) for t in q if not self.vocab.df.get(t, 0)) / total if total else 0.0

    def keep_coverage(self, qterms: list[str], paper_id: str) -> float:
        """Coverage over the question words the collection knows (a synonym no paper uses sinks none)."""
        return self.coverage(self.known(qterms), paper_id)

    def title_coverage(self, qterms: list[str], paper_id: str) -> float:
        return self._cover(self.known(qterms), self._title_terms(paper_id))

    def focus(self, qterms: list[str], paper_id: str) -> float:
        pr = self.profile_of(paper_id)
        return self._cover(self.known(qterms), pr.own) if pr else 0.0



def _parts(compound: str) -> tuple[str, ...]:
    """The stemmed parts of a hyphenated term: 'low-resourc' → ('low', 'resourc')."""
    return tuple(terms(compound.replace("-", " ")))


