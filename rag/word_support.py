"""How close a paper comes to a question word it never uses: the best cosine between the word and the paper's
own words, each embedded on its own by the embedding model.

A paraphrase finds a near neighbour ("jokes" → "humor", "picture" → "image"); a near-miss does not
("hallucination", "cold-start", "membership" have nothing close in the papers they were retrieved with). Single
words embed less reliably than sentences, so this is one score among several in the relevance judgement
(rag.relevance), never a rule on its own. A paper's word vectors are computed the first time a question
needs them (rag.text_vectors keeps them on disk) and kept for the life of the process."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

import numpy as np

from rag.catalog import Catalog, fold
from rag.embedding import DIM, Embedder
from rag.lexicon import ENGLISH_STOP_WORDS
from rag.text_vectors import TextVectors

WORD = re.compile(r"[^\W\d_][^\W_]*(?:[-'][^\W_]+)*")
KEEP_PAPERS = 4096  # papers whose word vectors stay in memory (about 230 kB each)


class WordSupport:
    def __init__(self, catalog: Catalog, embedder: Embedder, terms: TextVectors) -> None:
        self.catalog = catalog
        self.embedder = embedder
        self.terms = terms
        self._words: dict[str, np.ndarray] = {}  # the current question's words (prepare)
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _paper_vectors(self, paper_id: str) -> np.ndarray:
        with self._lock:
            got = self._vectors.get(paper_id)
        if got is not None:
            return got
        words = self.words_of(paper_id)
        vecs = self.terms.get(words) if words else np.zeros((0, DIM), dtype=np.float32)
        with self._lock:
            self._vectors[paper_id] = vecs
            while len(self._vectors) > KEEP_PAPERS:
                self._vectors.popitem(last=False)
        return vecs

    def words_of(self, paper_id: str) -> list[str]:
        p = self.catalog.get(paper_id)
        text = " ".join([p.title, p.abstract, *p.other_abstracts]) if p else ""
        return sorted({fold(w) for w in WORD.findall(text)} - ENGLISH_STOP_WORDS)

    def warm(self, limit: int) -> None:
        """Vectors for the words of every paper now (when the catalog has at most `limit` papers), so no
        question waits for them."""
        if len(self.catalog) <= limit:
            self.terms.get(sorted({w for p in self.catalog.papers for w in self.words_of(p.paper_id)}))

    def prepare(self, words: list[str]) -> None:
        """Fetch (or embed, in one batch) a question's words before asking support() about each of them."""
        self._words = dict(zip((fold(w) for w in words), self.terms.get([fold(w) for w in words]), strict=True))

    def support(self, word: str, paper_id: str) -> float:
        """The cosine of the word's nearest word in the paper (1.0 for a word the paper uses as written)."""
        vecs = self._paper_vectors(paper_id)
        if not len(vecs):
            return 0.0
        key = fold(word)
        v = self._words[key] if key in self._words else self.terms.get([key])[0]
        return float(max(0.0, (vecs @ v).max()))
