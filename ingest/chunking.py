"""Paper → chunks that fit the embedding model: whole sentences packed up to a token budget, with one
sentence of overlap, so no text is lost to the 256-token limit. The title, authors and year travel with
every chunk as metadata that llama-index puts in front of the text when embedding (see rag.store)."""

from __future__ import annotations

import hashlib

from rag.text import sentences
from rag.types import Chunk, Paper


def header(paper: Paper) -> str:
    """What the embedding sees in front of every chunk (must match rag.store.chunk_node's metadata)."""
    year = f"\nyear: {paper.year}" if paper.year else ""
    return f"title: {paper.title}\nauthors: {paper.authors_display}{year}\n\n"


def chunk_paper(paper: Paper, tokenizer, max_tokens: int, overlap: int) -> list[Chunk]:  # type: ignore[no-untyped-def]
    budget = max_tokens - len(tokenizer.encode(header(paper)).ids)
    if budget < 32:
        budget = 32  # an absurdly long title: keep passages useful; the title is also in the document text
    texts: list[str] = []
    for version in [paper.abstract, *paper.other_abstracts]:
        texts.extend(_pack(sentences(version), tokenizer, budget, overlap))
    chunks = []
    for pos, text in enumerate(texts):
        digest = hashlib.sha1((header(paper) + text).encode()).hexdigest()[:12]
        chunks.append(Chunk(chunk_id=f"{paper.paper_id}#{pos}-{digest}", paper_id=paper.paper_id,
                            position=pos, text=text))
    return chunks


def _pack(sents: list[str], tokenizer, budget: int, overlap: int) -> list[str]:  # type: ignore[no-untyped-def]
    pieces: list[tuple[str, int]] = []
    for s in sents:
        n = len(tokenizer.encode(s, add_special_tokens=False).ids)
        if n <= budget:
            pieces.append((s, n))
        else:  # one sentence longer than the budget: cut it at word boundaries
            pieces.extend(_split_long(s, tokenizer, budget))
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
