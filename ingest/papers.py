"""Raw records → Paper records: split titles from authors, merge other versions of an abstract, derive
titles for abstracts that have no listing entry, and give every paper a stable id."""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable

from ingest.merge import merge_sources
from ingest.meta_records import MetaRecord, PdfRecord
from ingest.sources import AbstractRecord, ListingRecord, Record
from rag.catalog import fold as normalize
from rag.errors import SourceError
from rag.safety import INSTRUCTION
from rag.types import Paper, SourceRef

# A personal name as listed: "Siteng Huang", "XiaoHua Feng", "Jean-Luc Li", accents allowed.
_GIVEN = r"[A-ZÀ-Þ][a-zß-ÿ]+(?:[A-ZÀ-Þ-][a-zß-ÿ]+)*"
_FAMILY = r"[A-ZÀ-Þ][a-zß-ÿ'’]+(?:-[A-ZÀ-Þ][a-zß-ÿ]+)*"
NAME_RE = re.compile(rf"^{_GIVEN} {_FAMILY}$")
GIVEN_RE = re.compile(rf"^{_GIVEN}$")
URL_RE = re.compile(r"https?://[^\s\"'<>]+")
QUOTED_TITLE_RE = re.compile(r"titled\s+[\"“](.+?)[,.]?[\"”]")
AUTHOR_EXPECTED = "the title followed directly by up to three authors and 'et al.'"

# Two abstracts are versions of one paper when their TF-IDF cosine is at least this. Measured on the seed
# corpus: reworded versions score 0.947 and 0.95; the closest different papers — the two reproducibility
# companions, written from one template — 0.70, and every other pair ≤ 0.41. The quoted-title check in
# same_paper() separates the companions even if a rewording pushes them closer.
VERSION_SIMILARITY = 0.8


def split_title_authors(line: str, known_names: set[str]) -> tuple[str, list[str], bool]:
    """'VoP: ... RetrievalSiteng Huang, Biao Gong, Yulin Pan et al.' → (title, authors, truncated).

    The title runs straight into the first author's given name. The family name is the last word before the
    first author comma; the given name is the end of the glued word. A name already seen un-glued elsewhere
    (as a second or third author) wins; otherwise the given name starts at the last capital letter, which is
    right except for unseen camel-case given names ('XiaoHua')."""
    body = line.strip()
    truncated = body.endswith(" et al.")
    if truncated:
        body = body[: -len(" et al.")].rstrip()
    parts = body.split(", ")
    co_authors: list[str] = []
    while len(parts) > 1 and len(co_authors) < 2 and NAME_RE.match(parts[-1]):
        co_authors.insert(0, parts.pop())
    if not truncated and not co_authors:
        raise ValueError("title line has no author list")
    glued = ", ".join(parts)
    head, _, family = glued.rpartition(" ")
    if not head or not re.match(rf"^{_FAMILY}$", family):
        raise ValueError("title line has no author list")
    title_tail_word_start = head.rfind(" ") + 1
    word = head[title_tail_word_start:]
    cut = _given_name_start(word, family, known_names)
    if cut is None:
        raise ValueError("cannot find where the title ends and the first author begins")
    title = (head[:title_tail_word_start] + word[:cut]).strip()
    first = f"{word[cut:]} {family}"
    if not title:
        raise ValueError("title is empty")
    return title, [first, *co_authors], truncated


def _given_name_start(word: str, family: str, known_names: set[str]) -> int | None:
    candidates = [k for k in range(1, len(word)) if word[k].isupper() and GIVEN_RE.match(word[k:])]
    for k in candidates:  # leftmost known name first: the longest given name that was seen un-glued
        if f"{word[k:]} {family}".casefold() in known_names:
            return k
    # A capital right after a title's closing character ('?', ')', '$', a quote, a digit) is an unambiguous
    # boundary, even before a camel-case given name ('"Quoted"XiaoHua'); a hyphen is not ('Pre-TrainingBiao').
    for k in candidates:
        if not word[k - 1].isalpha() and word[k - 1] != "-":
            return k
    return candidates[-1] if candidates else None


def slug(text: str, max_len: int = 60) -> str:
    words = re.findall(r"[a-z0-9]+", normalize(text))
    out = ""
    for w in words:
        if len(out) + len(w) + 1 > max_len:
            break
        out = f"{out}-{w}" if out else w
    return out or "paper"


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", normalize(text))


class TfIdf:
    """TF-IDF over a fixed set of documents (document frequencies counted once), for comparing abstracts."""

    def __init__(self, docs: Iterable[str]) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0
        for d in docs:
            self.df.update(set(_words(d)))
            self.n += 1

    def vector(self, text: str) -> dict[str, float]:
        counts = Counter(_words(text))
        v = {w: tf * math.log((1 + self.n) / (1 + self.df[w])) for w, tf in counts.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {w: x / norm for w, x in v.items()}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(x * b.get(w, 0.0) for w, x in a.items())


def _quoted_title(text: str) -> str | None:
    m = QUOTED_TITLE_RE.search(text)
    return normalize(m.group(1)).strip(" ,.") if m else None


def same_paper(a: str, b: str, similarity: float, paper_text: str | None = None) -> bool:
    """Versions of one abstract: the whole texts are very similar and about as long, and the new one brings
    nothing the paper does not have — no name, acronym or link it never uses, no sentence addressed to an AI
    (an abstract that shares a method's name, or a copy with a planted sentence, is another record, never a
    version that could speak for the real paper). Two papers that reference different earlier works are
    kept apart too (the reproducibility companions share a template but each quotes its own original's
    title). `paper_text`: every text of the paper (title, all versions); default b."""
    if similarity < VERSION_SIMILARITY:
        return False
    wa, wb = len(a.split()), len(b.split())
    if min(wa, wb) < VERSION_LENGTH_RATIO * max(wa, wb):
        return False
    if _additions(a, paper_text or b):
        return False
    qa, qb = _quoted_title(a), _quoted_title(b)
    return not (qa and qb and qa != qb)


# A name as abstracts write them: an acronym or camel-case word (EISAM, LRSs, GPT-4, EvilCorp), a capitalised
# word inside a sentence (Mallory), or a link. Sentence-initial capitals are ordinary words.
NAME_IN_TEXT = re.compile(r"(?<![\w-])(?:[A-Z][\w-]*[A-Z0-9][\w-]*|(?<=[a-z,;:] )[A-Z][a-z]+)(?![\w-])")
# Reworded versions of the seed corpus are 0.965-1.0 the length of their paper's abstract.
VERSION_LENGTH_RATIO = 0.8


def _additions(text: str, paper_text: str) -> str:
    """What a would-be version adds to a paper that a rewording never does ("" when nothing)."""
    parts = []
    new = _names(text) - _names(paper_text)
    if new:
        parts.append("names or links it never uses (" + ", ".join(sorted(new)[:5]) + ")")
    if INSTRUCTION.search(text) and not INSTRUCTION.search(paper_text):
        parts.append("a sentence addressed to an AI assistant")
    return " and ".join(parts)


def _names(text: str) -> set[str]:
    return set(NAME_IN_TEXT.findall(text)) | set(URL_RE.findall(text))


def find_urls(text: str) -> list[str]:
    return [u.rstrip(".,;:)]}") for u in URL_RE.findall(text)]


def derive_title(abstract: str) -> str:
    """A readable title for an abstract with no listing entry (flagged title_source='derived')."""
    quoted = QUOTED_TITLE_RE.search(abstract)
    if quoted and re.search(r"\breproduc", abstract, re.I):
        return "Reproducibility Companion Paper: " + quoted.group(1).strip(" ,.")
    first = re.split(r"(?<=[.!?])\s", abstract, maxsplit=1)[0]
    words = first.split()
    return " ".join(words[:12]).rstrip(".,;:") + ("…" if len(words) > 12 else "")


def build_papers(records: Iterable[Record], listing_year: int) -> tuple[list[Paper], list[SourceError]]:
    """Papers in source order, plus the records that could not be turned into papers."""
    listings: list[ListingRecord] = []
    abstracts: list[AbstractRecord] = []
    metas: list[MetaRecord] = []  # BibTeX, arXiv, CSV, JSONL: merged after the seed formats (ingest.merge)
    pdfs: list[PdfRecord] = []
    for r in records:
        if isinstance(r, ListingRecord):
            listings.append(r)
        elif isinstance(r, AbstractRecord):
            abstracts.append(r)
        elif isinstance(r, MetaRecord):
            metas.append(r)
        else:
            pdfs.append(r)
    known = _known_names(listings)
    papers: list[Paper] = []
    by_title: dict[str, Paper] = {}
    errors: list[SourceError] = []
    for r in listings:
        try:
            title, authors, truncated = split_title_authors(r.title_line, known)
        except ValueError as exc:
            errors.append(SourceError(r.path, r.line + 1, f"{exc}: {r.title_line[:80]!r}", AUTHOR_EXPECTED))
            continue
        ref = SourceRef(r.path, r.line, "listing")
        same = by_title.get(normalize(title))
        if same is not None:  # the same paper listed again (e.g. in a second listing file): one paper
            _add_version(same, r.abstract, ref)
            continue
        paper = Paper(
            paper_id=slug(title), title=title, title_source="listing", authors=authors,
            authors_truncated=truncated, date=r.date, year=r.year or listing_year,
            year_inferred=r.year is None, category=r.category, has_code=r.has_code,
            urls=find_urls(r.abstract), score=r.score, abstract=r.abstract, provenance=[ref],
        )
        papers.append(paper)
        by_title[normalize(title)] = paper
    errors += _merge_versions(papers, abstracts)
    merge_sources(papers, metas, pdfs, slug)
    _dedupe_ids(papers)
    return papers, errors


def _known_names(listings: list[ListingRecord]) -> set[str]:
    names = set()
    for r in listings:
        body = r.title_line.removesuffix(" et al.")
        for part in body.split(", ")[1:]:
            if NAME_RE.match(part):
                names.add(part.casefold())
    return names


def _add_version(paper: Paper, abstract: str, ref: SourceRef) -> None:
    if abstract != paper.abstract and abstract not in paper.other_abstracts:
        paper.other_abstracts.append(abstract)
    paper.provenance.append(ref)
    paper.urls.extend(u for u in find_urls(abstract) if u not in paper.urls)


# How many lexical look-alikes of an abstract are compared closely. Versions of one abstract share most of
# their rare words, so the true match is the top BM25 hit; a few more cover near-identical templates.
MERGE_CANDIDATES = 5


def _merge_versions(papers: list[Paper], abstracts: list[AbstractRecord]) -> list[SourceError]:
    """Attach each abstracts-only record to the paper it is another version of, or make it a paper. A record
    that copies a paper's abstract but adds names, links or orders to an AI is neither: attached, its
    additions would speak for the real paper; alone, the copy would compete with it. It is returned as a
    bad record (file:line, what it adds), which fails the ingest or, with --skip-invalid, is left out.

    Comparing every record with every paper is quadratic (hours at 100k papers), so BM25 (bm25s, already
    under llama-index's BM25 retriever) proposes the few most similar listing abstracts and TF-IDF cosine —
    document frequencies over the whole corpus, counted once — decides."""
    if not abstracts:
        return []
    errors: list[SourceError] = []
    listed = list(papers)
    candidates = _lexical_candidates([p.abstract for p in listed], [r.abstract for r in abstracts])
    tfidf = TfIdf(itertools.chain((p.abstract for p in listed), (r.abstract for r in abstracts)))
    untitled: dict[str, Paper] = {}
    for rec, cands in zip(abstracts, candidates, strict=True):
        ref = SourceRef(rec.path, rec.line, "abstracts")
        vec = tfidf.vector(rec.abstract)
        scored = sorted(((_cosine(vec, tfidf.vector(listed[i].abstract)), i) for i in cands), reverse=True)
        match = next((i for sim, i in scored if same_paper(rec.abstract, listed[i].abstract, sim,
                                                          _paper_text(listed[i]))), None)
        if match is not None:
            _add_version(listed[match], rec.abstract, ref)
            continue
        copied = next(((sim, i) for sim, i in scored if sim >= VERSION_SIMILARITY
                       and _additions(rec.abstract, _paper_text(listed[i]))), None)
        if copied is not None:
            sim, i = copied
            errors.append(SourceError(
                rec.path, rec.line, f"a copy of the abstract of {listed[i].title!r} (similarity {sim:.2f}) that adds "
                f"{_additions(rec.abstract, _paper_text(listed[i]))}; left out so it cannot speak for that paper",
                "another version to add nothing the paper does not say (a genuinely revised abstract belongs in the "
                "listing entry)"))
            continue
        digest = hashlib.sha1(" ".join(_words(rec.abstract)).encode()).hexdigest()[:10]
        if digest in untitled:  # the same untitled abstract given twice
            untitled[digest].provenance.append(ref)
            continue
        paper = Paper(
            paper_id=f"untitled-{digest}", title=derive_title(rec.abstract), title_source="derived",
            authors=[], authors_truncated=False, date=None, year=None, year_inferred=False, category=None,
            has_code=False, urls=find_urls(rec.abstract), score=None, abstract=rec.abstract, provenance=[ref],
        )
        untitled[digest] = paper
        papers.append(paper)
    return errors


def _paper_text(p: Paper) -> str:
    return " ".join([p.title, p.abstract, *p.other_abstracts])


def _lexical_candidates(docs: list[str], queries: list[str]) -> list[list[int]]:
    if not docs:
        return [[] for _ in queries]
    import bm25s

    k = min(MERGE_CANDIDATES, len(docs))
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(docs, stopwords="en", show_progress=False), show_progress=False)
    tokens = bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)
    ids, scores = retriever.retrieve(tokens, k=k, show_progress=False)
    return [[int(i) for i, sc in zip(row, srow, strict=True) if sc > 0] for row, srow in zip(ids, scores, strict=True)]


def _dedupe_ids(papers: list[Paper]) -> None:
    seen: dict[str, int] = {}
    for p in papers:
        if p.paper_id in seen:
            seen[p.paper_id] += 1
            p.paper_id = f"{p.paper_id}-{hashlib.sha1(normalize(p.title).encode()).hexdigest()[:6]}"
        else:
            seen[p.paper_id] = 0
