"""Calibrate the groundedness threshold (eval.metrics.GROUNDED_THRESHOLD) on this corpus.

    LABQA_HOME=/tmp/evalhome .venv/bin/python -m eval.calibrate [--dataset eval/questions.jsonl]

Supported pairs: each sentence of a hand-written reference_answer, against the gold paper that supports it
best (paraphrases, as an LLM answer would write them). Unsupported pairs: the same sentence against every
non-gold paper — a wrong citation. The threshold maximising Youden's J
(true-positive rate − false-positive rate) is printed with both score distributions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from eval import metrics as M
from eval.dataset import DEFAULT_DATASET, load_dataset
from rag.errors import LabQAError


def calibrate(assistant, questions) -> dict[str, float]:  # type: ignore[no-untyped-def]
    catalog = assistant.catalog
    cache = M.EmbeddingCache(assistant.index.embedder.embed)
    units = {p.paper_id: M.paper_units(p) for p in catalog.papers}
    cache.add([u for us in units.values() for u in us])
    pos: list[float] = []
    neg: list[float] = []
    for q in questions:
        if not q.gold_ids or not q.reference_answer:
            continue
        for s, _ in M.cited_sentences(q.reference_answer + " [1]"):
            pos.append(max(M.best_support(s, units[g], cache) for g in q.gold_ids))
            neg.extend(M.best_support(s, units[p.paper_id], cache) for p in catalog.papers
                       if p.paper_id not in q.gold_ids)
    p, n = np.array(pos), np.array(neg)
    grid = np.round(np.arange(0.30, 0.95, 0.01), 2)
    j = [(float((p >= t).mean() - (n >= t).mean()), float(t)) for t in grid]
    best_j, best_t = max(j)
    return {"threshold": best_t, "youden_j": round(best_j, 3), "tpr": round(float((p >= best_t).mean()), 3),
            "fpr": round(float((n >= best_t).mean()), 3), "n_supported": len(p), "n_unsupported": len(n),
            **{f"supported_p{q}": round(float(np.percentile(p, q)), 3) for q in (5, 25, 50)},
            **{f"unsupported_p{q}": round(float(np.percentile(n, q)), 3) for q in (50, 95, 99)},
            "current": M.GROUNDED_THRESHOLD,
            "current_tpr": round(float((p >= M.GROUNDED_THRESHOLD).mean()), 3),
            "current_fpr": round(float((n >= M.GROUNDED_THRESHOLD).mean()), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.calibrate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    args = ap.parse_args(argv)
    try:
        from rag.assistant import Assistant
        from rag.settings import load_settings

        assistant = Assistant(load_settings())
        assistant.warm()
        stats = calibrate(assistant, load_dataset(args.dataset, assistant.catalog))
    except LabQAError as exc:
        print(f"calibrate: error: {exc}", file=sys.stderr)
        return 2
    for key, value in stats.items():
        print(f"{key:>18}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
