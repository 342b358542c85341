"""Paper → chunks that fit the embedding model: whole sentences packed up to a token budget, with one
sentence of overlap, so no text is lost to the 256-token limit. A paper with PDF full text gets the
abstract's chunks first, then each page's, packed within the page so every body chunk has one page number. The title, authors and year travel with
every chunk as metadata that llama-index puts in front of the text when embedding (see rag.store)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from rag.text import sentences
from rag.types import Chunk, Paper

MIN_BUDGET = 32  # tokens left for the passage even under an absurdly long title
# Bump when a change to this module or to rag.text.sentences changes how papers split into chunks: stored
# papers are then re-chunked on the next ingest (only chunks whose text changed are re-embedded).
CHUNKER_VERSION = 2


def header(paper: Paper) -> str:
    """What the embedding sees in front of every chunk (must match rag.store.chunk_node's metadata)."""
    year = f"\nyear: {paper.year}" if paper.year else ""
    return f"title: {paper.title}\nauthors: {paper.authors_for_embedding}{year}\n\n"


def chunk_papers(papers: Sequence[Paper], tokenizer, max_tokens: int, overlap: int) -> dict[str, list[Chunk]]:  # type: ignore[no-untyped-def]
    """Chunks of many papers at once: every sentence and header is tokenized in one batch call (Rust,
    multi-threaded) — one call per sentence costs ~0.2 ms each, minutes at 100k papers."""
    heads = [header(p) for p in papers]
    # (page or None, sentences) of every abstract version, then of every page of the full text.
    # A BibTeX entry without an abstract is still findable by its title.
    versions = [[(None, sentences(v)) for v in (p.abstract or p.title, *p.other_abstracts)]
                + [(n, sentences(text)) for n, text in enumerate(p.body, start=1) if text.strip()] for p in papers]
    flat = [s for vs in versions for _, sents in vs for s in sents]
    counts = iter(_lengths(tokenizer, flat, special=False))
    head_counts = _lengths(tokenizer, heads, special=True)
    out: dict[str, list[Chunk]] = {}
    for paper, head, head_n, vs in zip(papers, heads, head_counts, versions, strict=True):
        budget = max(MIN_BUDGET, max_tokens - head_n)
        texts: list[tuple[int | None, str]] = []
        for page, sents in vs:
            pieces: list[tuple[str, int]] = []
            for s in sents:
                n = next(counts)
                pieces.extend([(s, n)] if n <= budget else _split_long(s, tokenizer, budget))
            texts.extend((page, t) for t in _pack(pieces, budget, overlap))
        out[paper.paper_id] = [
            Chunk(chunk_id=f"{paper.paper_id}#{pos}-{hashlib.sha1((head + text).encode()).hexdigest()[:12]}",
                  paper_id=paper.paper_id, position=pos, text=text, page=page)
            for pos, (page, text) in enumerate(texts)
        ]
    return out


def chunk_paper(paper: Paper, tokenizer, max_tokens: int, overlap: int) -> list[Chunk]:  # type: ignore[no-untyped-def]
    return chunk_papers([paper], tokenizer, max_tokens, overlap)[paper.paper_id]


def _lengths(tokenizer, texts: list[str], special: bool) -> list[int]:  # type: ignore[no-untyped-def]
    if not texts:
        return []
    return [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=special)]


def _pack(pieces: list[tuple[str, int]], budget: int, overlap: int) -> list[str]:
    """Greedy packing of (sentence, tokens) into passages of at most `budget` tokens (a joining space can
    add a token, hence `+ len(cur)`), repeating the last `overlap` sentences at the start of the next."""
    out: list[str] = []
    cur: list[tuple[str, int]] = []
    for piece in pieces:
        if cur and sum(n for _, n in cur) + piece[1] + len(cur) > budget:
            out.append(" ".join(s for s, _ in cur))
            cur = cur[-overlap:] if overlap else []
            while cur and sum(n for _, n in cur) + piece[1] + len(cur) > budget:
                cur.pop(0)
        cur.append(piece)
    if cur:
        out.append(" ".join(s for s, _ in cur))
    return out


def _split_long(sentence: str, tokenizer, budget: int) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """A sentence longer than the budget, cut at word boundaries (rare: only run-on sentences)."""
    words, out, cur = sentence.split(), [], []  # type: ignore[var-annotated]
    for w in words:
        trial = " ".join([*cur, w])
        if cur and len(tokenizer.encode(trial, add_special_tokens=False).ids) > budget:
            text = " ".join(cur)
            out.append((text, len(tokenizer.encode(text, add_special_tokens=False).ids)))
            cur = [w]
        else:
            cur.append(w)
    if cur:
        text = " ".join(cur)
        out.append((text, len(tokenizer.encode(text, add_special_tokens=False).ids)))
    return out
