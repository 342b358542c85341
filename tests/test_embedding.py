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


def test_int8_vectors_stay_close_to_fp32(model_cache: Path) -> None:
    exact = Embedder(model_cache).embed(TEXTS)
    quick = Embedder(model_cache, precision="int8").embed(TEXTS)
    assert quick.shape == exact.shape
    cosine = (exact * quick).sum(axis=1) / np.linalg.norm(quick, axis=1)
    assert cosine.min() > 0.85, cosine


QUESTIONS = ["What is EISAM?", "What has the group done on recommendation unlearning?",
             "Which papers deal with federated learning?", "What has the group published on protein structure prediction?"]


@pytest.mark.slow
def test_int8_precision_builds_its_own_index_and_answers_alike(index_home: Path, model_cache: Path) -> None:
    from ingest.pipeline import ingest
    from rag.assistant import Assistant
    from rag.settings import Settings
    from rag.store import fingerprint

    exact = Settings(home=index_home, model_cache=model_cache)
    quick = Settings(home=index_home, model_cache=model_cache, embed_precision="int8")
    assert fingerprint(quick) != fingerprint(exact)  # never mixes vectors of the two
    before = [(a.abstained, [c.paper_id for c in a.citations]) for a in map(Assistant(exact).ask, QUESTIONS)]

    report = ingest(quick)
    assert (report.papers, report.chunks_added, report.chunks_unchanged) == (31, 89, 0)  # a rebuild
    after = [(a.abstained, [c.paper_id for c in a.citations]) for a in map(Assistant(quick).ask, QUESTIONS)]
    for (abst_b, cited_b), (abst_a, cited_a) in zip(before, after, strict=True):
        assert abst_a == abst_b
        assert set(cited_a) == set(cited_b)
