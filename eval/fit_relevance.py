"""Fit the relevance judgement (rag/relevance.py) on the dev split, and choose its thresholds there.

    python -m eval.fit_relevance [--dataset eval/dev.jsonl …] [--features a,b,…] [--C 1.0] [--cv 5] [--write]

For every dev question the relevance judgement would see (topic questions, and catalog questions with topic
words), the retrieved pool is scored as the planner scores it; a pooled paper is a positive when it is gold.
A logistic regression (scikit-learn, standardised features, balanced classes) gives the weights. Then, on the
same dev questions:
- answer_at: the best-paper probability below which to abstain, chosen for abstention accuracy (answerable
  questions must clear it, unanswerable ones must not), the middle of the best range;
- cite_at / cite_list_at: the probability from which a paper is cited, chosen for the mean per-question
  citation F1, separately for questions about a topic and for questions asking for every paper on it.
The precision/recall curves are printed; --cv K also reports K-fold cross-validation by question (the fit
and all thresholds chosen on the other folds), which is how the features and C were chosen. --write stores
the model and its thresholds in rag/relevance_model.json (rag.settings.RelevanceSettings reads them from
there). Never run this on the test split."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from eval.dataset import load_dataset
from rag.assistant import Assistant, clean_question
from rag.query_parser import Intent
from rag.relevance import CANDIDATES, FEATURES, MODEL_FILE
from rag.settings import load_settings

DEV = Path(__file__).resolve().parent / "dev.jsonl"
REGRESSION = Path(__file__).resolve().parent / "questions.jsonl"


@dataclass
class Row:
    """One question the judgement sees: each pooled paper's scores and whether it is gold."""

    qid: str
    features: list[dict[str, float]]
    labels: list[int]
    answerable: bool
    wants_list: bool  # asks for every paper on the topic (Intent.LIST or COUNT): its own citation threshold


@dataclass
class Scored:
    qid: str
    p: np.ndarray
    labels: np.ndarray
    answerable: bool
    wants_list: bool


def collect(assistant: Assistant, path: Path) -> list[Row]:
    """The questions of a set that the relevance judgement sees, with their retrieved pools scored."""
    planner = assistant.planner
    catalog = assistant.catalog
    out = []
    for q in load_dataset(path, catalog):
        if q.history:
            continue  # conversation questions: their scope comes from the earlier answer, not from judgement
        parsed = assistant.read(clean_question(q.question))
        f = parsed.filters
        if parsed.mentions or parsed.refers_back or parsed.bad_years or parsed.unknown_authors or parsed.unknown_names:
            continue
        if not parsed.topic and parsed.intent in (Intent.COUNT, Intent.ORDER, Intent.LIST):
            continue  # a question about the whole catalog: no relevance judgement
        if f.has_metadata():
            if not parsed.topic:
                continue
            ids = [p.paper_id for p in catalog.filter(f)]
            if not ids:
                continue
        else:
            ids = None
        judged = planner.relevance.judged(parsed, paper_ids=ids)
        gold = set(q.gold_ids)
        out.append(Row(q.id, [j.features for j in judged], [int(j.evidence.paper.paper_id in gold) for j in judged],
                       bool(gold), parsed.intent in (Intent.LIST, Intent.COUNT)))
    return out


def fit(rows: list[Row], names: Sequence[str], C: float):  # type: ignore[no-untyped-def]
    """Standardised logistic regression on the (question, paper) pairs, balanced classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X = np.array([[x[k] for k in names] for r in rows for x in r.features])
    y = np.array([label for r in rows for label in r.labels])
    scaler = StandardScaler().fit(X)
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=2000).fit(scaler.transform(X), y)
    return scaler, model


def score(rows: list[Row], names: Sequence[str], scaler, model) -> list[Scored]:  # type: ignore[no-untyped-def]
    out = []
    for r in rows:
        p = model.predict_proba(scaler.transform(np.array([[x[k] for k in names] for x in r.features])))[:, 1] \
            if r.features else np.zeros(0)
        out.append(Scored(r.qid, p, np.array(r.labels), r.answerable, r.wants_list))
    return out


GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)


def _prf(s: Scored, t: float) -> tuple[float, float, float]:
    cited = (s.p >= t) | (s.p == s.p.max())
    tp = float((cited & (s.labels == 1)).sum())
    pr, rc = tp / max(cited.sum(), 1), tp / max(s.labels.sum(), 1)
    return pr, rc, 0.0 if tp == 0 else 2 * pr * rc / (pr + rc)


def abstention_curve(scored: list[Scored]) -> list[tuple[float, float]]:
    """(threshold, abstention accuracy): answered when the best paper clears the threshold."""
    return [(float(t), float(np.mean([(s.p.max(initial=0) >= t) == s.answerable for s in scored]))) for t in GRID]


def citation_curve(scored: list[Scored]) -> list[tuple[float, float, float, float]]:
    """(threshold, mean precision, recall, F1) of the papers cited at each threshold, answerable questions."""
    rows = [s for s in scored if s.answerable and len(s.p)]
    out = []
    for t in GRID:
        prf = np.array([_prf(s, t) for s in rows]) if rows else np.zeros((1, 3))
        out.append((float(t), *map(float, prf.mean(axis=0))))
    return out


def _middle_of_best(curve: list, col: int) -> float:
    best = max(x[col] for x in curve)
    return round(float(np.median([x[0] for x in curve if x[col] >= best - 1e-9])), 2)


def thresholds(scored: list[Scored]) -> dict[str, float]:
    """answer_at: the middle of the best abstention-accuracy range; cite_at (questions about a topic) and
    cite_list_at (questions asking for every paper on it): the middle of each one's best citation-F1 range."""
    lists = [s for s in scored if s.wants_list]
    others = [s for s in scored if not s.wants_list]
    return {"answer_at": _middle_of_best(abstention_curve(scored), 1),
            "cite_at": _middle_of_best(citation_curve(others or scored), 3),
            "cite_list_at": _middle_of_best(citation_curve(lists or scored), 3)}


def cross_validate(rows: list[Row], names: Sequence[str], C: float, k: int, repeats: int = 3) -> dict[str, float]:
    """K folds by question, repeated with `repeats` shuffles: fit and choose the thresholds on k-1 folds, score
    the held-out fold. Counts are per repeat (averaged)."""
    wrong_answer = false_abstain = 0
    f1s: list[float] = []
    folds = [f for seed in range(repeats) for f in np.array_split(np.random.default_rng(seed).permutation(len(rows)), k)]
    for fold in folds:
        held = set(fold.tolist())
        train = [r for i, r in enumerate(rows) if i not in held]
        scaler, model = fit(train, names, C)
        th = thresholds(score(train, names, scaler, model))
        for s in score([rows[i] for i in sorted(held)], names, scaler, model):
            answered = s.p.max(initial=0) >= th["answer_at"]
            wrong_answer += int(answered and not s.answerable)
            false_abstain += int(s.answerable and not answered)
            if s.answerable:
                f1s.append(_prf(s, th["cite_list_at" if s.wants_list else "cite_at"])[2] if answered else 0.0)
    return {"questions": len(rows), "unanswerable": sum(1 for r in rows if not r.answerable),
            "answered_unanswerable": round(wrong_answer / repeats, 1),
            "false_abstentions": round(false_abstain / repeats, 1), "citation_f1": round(float(np.mean(f1s)), 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, nargs="+", default=[DEV, REGRESSION],
                    help="question sets to fit on (default: the dev split and the regression set)")
    ap.add_argument("--write", action="store_true", help="write rag/relevance_model.json")
    ap.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    ap.add_argument("--features", default=",".join(FEATURES), help="comma-separated subset of rag.relevance.FEATURES")
    ap.add_argument("--cv", type=int, default=0, metavar="K",
                    help="also report K-fold cross-validation by question (fit and thresholds on K-1 folds)")
    args = ap.parse_args(argv)
    if any("test" in d.name for d in args.dataset):
        print("refusing to fit on a test split", file=sys.stderr)
        return 2
    names = [f for f in args.features.split(",") if f]
    if unknown := set(names) - set(CANDIDATES):
        print(f"unknown feature(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    assistant = Assistant(load_settings())
    rows = [r for d in args.dataset for r in collect(assistant, d)]
    scaler, model = fit(rows, names, args.C)
    n_pairs = sum(len(r.labels) for r in rows)
    print(f"{len(rows)} questions, {n_pairs} (question, paper) pairs, {sum(sum(r.labels) for r in rows)} positive")
    print("weights (standardised):", {k: round(float(w), 3) for k, w in zip(names, model.coef_[0], strict=True)})
    scored = score(rows, names, scaler, model)
    abst = abstention_curve(scored)
    cites = {"topic": citation_curve([s for s in scored if not s.wants_list]),
             "list": citation_curve([s for s in scored if s.wants_list])}
    print("\nthreshold  abstain_acc  | topic questions: P / R / F1  | list questions: P / R / F1   (fitted questions)")
    for i, (t, acc) in enumerate(abst):
        if round(t * 100) % 5 == 0:
            a, b = cites["topic"][i], cites["list"][i]
            print(f"  {t:.2f}      {acc:.3f}       {a[1]:.3f} / {a[2]:.3f} / {a[3]:.3f}          "
                  f"{b[1]:.3f} / {b[2]:.3f} / {b[3]:.3f}")
    th = thresholds(scored)
    print("\n" + ", ".join(f"{k} = {v}" for k, v in th.items()))
    if args.cv:
        print(f"{args.cv}-fold cross-validation by question:", cross_validate(rows, names, args.C, args.cv))
    if args.write:
        MODEL_FILE.write_text(json.dumps({
            "fitted_on": f"{' + '.join(d.name for d in args.dataset)}, {len(rows)} questions, {n_pairs} pairs, "
                         f"{date.today().isoformat()}",
            "weights": {k: round(float(w), 4) for k, w in zip(names, model.coef_[0], strict=True)},
            "bias": round(float(model.intercept_[0]), 4),
            "means": {k: round(float(m), 5) for k, m in zip(names, scaler.mean_, strict=True)},
            "scales": {k: round(float(x), 5) for k, x in zip(names, scaler.scale_, strict=True)},
            "thresholds": th,
            "curve": [{"threshold": t, "abstention_accuracy": round(acc, 4),
                       **{f"{kind}_citation_{m}": round(c[i][j], 4) for kind, c in cites.items()
                          for j, m in ((1, "precision"), (2, "recall"), (3, "f1"))}}
                      for i, (t, acc) in enumerate(abst)],
        }, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
