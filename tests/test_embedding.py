"""The ONNX embedder is the same model as sentence-transformers' all-MiniLM-L6-v2 from the packaged weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.embedding import DIM, MAX_TOKENS, Embedder, model_dir

TEXTS = [
    "What is EISAM?",
    "Federated learning with group fairness calibration across clients.",
    "title: VoP\nauthors: Siteng Huang et al.\n\nText-video retrieval with prompt tuning. " * 3,
    "word " * 400,  # longer than the model's 256-token limit: truncated the same way
]


@pytest.mark.slow
def test_onnx_embeddings_match_sentence_transformers(model_cache: Path) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(model_dir()), device="cpu")
    assert reference.max_seq_length == MAX_TOKENS
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    got = Embedder(model_cache).embed(TEXTS, batch_size=3)
    assert got.shape == (len(TEXTS), DIM)
    assert np.abs(got - expected).max() < 1e-4
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_batching_and_order_do_not_change_vectors(model_cache: Path) -> None:
    e = Embedder(model_cache)
    one_by_one = np.stack([e.embed([t])[0] for t in TEXTS])
    batched = e.embed(list(reversed(TEXTS)), batch_size=2)[::-1]
    assert np.abs(one_by_one - batched).max() < 1e-5
