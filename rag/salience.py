"""How much of a question's meaning one word carries, measured with the embedding model itself.

Used for the words of a question that no paper uses. Such a word is either
- noise: chat and phrasing ("OK, switching topics", "between 2023 and 2025, inclusive", "I'm writing my
  thesis"), which must not become a topic that no paper matches; or
- the point of the question: "membership inference attacks on recommender models" and "cold-start
  recommendation" share every other word with some paper, and one word no paper uses makes them
  unanswerable.
The model tells them apart: leave the word out and compare with the whole question (1 − cosine). Filler
changes almost nothing; the point of a question changes much. Two words that say the same thing ("climate
modelling or weather forecasting") hide each other when left out one at a time, so the words that look like
filler one by one are also left out together. No word list decides it; the cut-off
(`relevance.noise_salience`) is chosen on the dev split."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

Embed = Callable[[list[str]], np.ndarray]  # texts → unit vectors (rag.embedding.Embedder.embed_cached)


def leave_out(text: str, groups: Sequence[Sequence[tuple[int, int]]], embed: Embed,
              also: Sequence[str] = ()) -> list[float]:
    """For each group of spans (words' positions in `text`), the share of the text's meaning lost without
    them (1 − cosine of the text with and without the group). `also`: texts embedded in the same batch for
    later (embed remembers them), one model call instead of several."""
    if not groups:
        return []
    variants = []
    for group in groups:
        kept, at = [], 0
        for a, b in sorted(group):
            kept.append(text[at:a])
            at = b
        kept.append(text[at:])
        variants.append(re.sub(r"\s+", " ", " ".join(kept)).strip() or ".")
    vecs = embed([text, *variants, *also])[: 1 + len(variants)]
    return [float(x) for x in np.clip(1.0 - vecs[1:] @ vecs[0], 0.0, 1.0)]
