"""Fit the relevance judgement (rag/relevance.py) on the dev split, and choose its two thresholds there.

    python -m eval.fit_relevance [--dataset eval/dev.jsonl] [--write]

For every dev question the relevance judgement would see (topic questions, and catalog questions with topic
words), the retrieved pool is scored as the planner scores it; a pooled paper is a positive when it is gold.
A logistic regression (scikit-learn, standardised features, balanced classes) gives the weights. Then, on the
same dev questions:
- answer_at: the best-paper probability below which to abstain, chosen for abstention accuracy (answerable
  questions must clear it, unanswerable ones must not), the middle of the best range;
- cite_at: the probability from which a paper is cited, chosen for the mean per-question citation F1.
The precision/recall curve is printed. --write stores the model in rag/relevance_model.json; the thresholds
printed go into rag.settings.RelevanceSettings. Never run this on the test split."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

from eval.dataset import load_dataset
from rag.assistant import Assistant, clean_question
from rag.relevance import FEATURES, MODEL_FILE
from rag.settings import load_settings

DEV = Path(__file__).resolve().parent / "dev.jsonl"
REGRESSION = Path(__file__).resolve().parent / "questions.jsonl"


def collect(assistant: Assistant, path: Path) -> list[tuple[str, list[dict[str, float]], list[int], bool]]:
    """(question id, features of each pooled paper, gold labels, answerable) for questions the judgement sees."""
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
        if not parsed.topic and parsed.intent.value in ("count", "order", "list"):
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
        out.append((q.id, [j.features for j in judged], [int(j.evidence.paper.paper_id in gold) for j in judged],
                    bool(gold)))
    return out


def fit(rows: list, names: Sequence[str], C: float):  # type: ignore[no-untyped-def]
    """Standardised logistic regression on the (question, paper) pairs, balanced classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X = np.array([[x[k] for k in names] for _, xs, _, _ in rows for x in xs])
    y = np.array([label for _, _, labels, _ in rows for label in labels])
    scaler = StandardScaler().fit(X)
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=2000).fit(scaler.transform(X), y)
    return scaler, model


def per_question(rows: list, names: Sequence[str], scaler, model) -> list:  # type: ignore[no-untyped-def]
    out = []
    for qid, xs, labels, answerable in rows:
        p = model.predict_proba(scaler.transform(np.array([[x[k] for k in names] for x in xs])))[:, 1] if xs \
            else np.zeros(0)
        out.append((qid, p, np.array(labels), answerable))
    return out


def curve(per_q: list) -> list[tuple[float, float, float, float, float]]:
    """(threshold, abstention accuracy, citation precision, recall, F1) over a grid of thresholds."""
    out = []
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        acc = np.mean([(p.max(initial=0) >= t) == a for _, p, _, a in per_q])
        prec, rec, f1 = [], [], []
        for _, p, lab, a in per_q:
            if not a or not len(p):
                continue
            cited = (p >= t) | (p == p.max())
            tp = float((cited & (lab == 1)).sum())
            pr, rc = tp / max(cited.sum(), 1), tp / max(lab.sum(), 1)
            prec.append(pr)
            rec.append(rc)
            f1.append(0 if tp == 0 else 2 * pr * rc / (pr + rc))
        out.append((float(t), float(acc), float(np.mean(prec)), float(np.mean(rec)), float(np.mean(f1))))
    return out


def thresholds(c: list[tuple[float, float, float, float, float]]) -> tuple[float, float]:
    """answer_at: the middle of the best abstention-accuracy range; cite_at: the middle of the best F1 range."""
    best_acc = max(x[1] for x in c)
    ok = [x[0] for x in c if x[1] >= best_acc - 1e-9]
    best_f1 = max(x[4] for x in c)
    ok_f1 = [x[0] for x in c if x[4] >= best_f1 - 1e-9]
    return round(float(np.median(ok)), 2), round(float(np.median(ok_f1)), 2)


def cross_validate(rows: list, names: Sequence[str], C: float, k: int, repeats: int = 3) -> dict[str, float]:
    """K folds by question, repeated with `repeats` shuffles: fit and choose both thresholds on k-1 folds, score
    the held-out fold. Counts are per repeat (averaged)."""
    wrong_answer = false_abstain = 0
    f1s: list[float] = []
    folds = [f for seed in range(repeats) for f in np.array_split(np.random.default_rng(seed).permutation(len(rows)), k)]
    for fold in folds:
        held = set(fold.tolist())
        train = [r for i, r in enumerate(rows) if i not in held]
        test = [rows[i] for i in sorted(held)]
        scaler, model = fit(train, names, C)
        answer_at, cite_at = thresholds(curve(per_question(train, names, scaler, model)))
        for _, p, lab, answerable in per_question(test, names, scaler, model):
            answered = p.max(initial=0) >= answer_at
            wrong_answer += int(answered and not answerable)
            false_abstain += int(answerable and not answered)
            if answerable and answered:
                cited = (p >= cite_at) | (p == p.max())
                tp = float((cited & (lab == 1)).sum())
                pr, rc = tp / max(cited.sum(), 1), tp / max(lab.sum(), 1)
                f1s.append(0 if tp == 0 else 2 * pr * rc / (pr + rc))
            elif answerable:
                f1s.append(0.0)
    n_un = sum(1 for r in rows if not r[3])
    return {"questions": len(rows), "unanswerable": n_un, "answered_unanswerable": round(wrong_answer / repeats, 1),
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
    if unknown := set(names) - set(FEATURES):
        print(f"unknown feature(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    assistant = Assistant(load_settings())
    rows = [r for d in args.dataset for r in collect(assistant, d)]
    scaler, model = fit(rows, names, args.C)
    n_pairs = sum(len(xs) for _, xs, _, _ in rows)
    print(f"{len(rows)} questions, {n_pairs} (question, paper) pairs, "
          f"{sum(sum(labels) for _, _, labels, _ in rows)} positive")
    print("weights (standardised):", {k: round(float(w), 3) for k, w in zip(names, model.coef_[0], strict=True)})
    c = curve(per_question(rows, names, scaler, model))
    print("\nthreshold  abstain_acc  cite_precision  cite_recall  cite_F1   (fitted questions)")
    for t, acc, pr, rc, f1 in c:
        if round(t * 100) % 5 == 0:
            print(f"  {t:.2f}      {acc:.3f}        {pr:.3f}           {rc:.3f}       {f1:.3f}")
    answer_at, cite_at = thresholds(c)
    print(f"\nanswer_at = {answer_at}, cite_at = {cite_at}")
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
            "thresholds": {"answer_at": answer_at, "cite_at": cite_at},
            "curve": [dict(zip(("threshold", "abstention_accuracy", "citation_precision", "citation_recall",
                                "citation_f1"), (round(v, 4) for v in x), strict=True)) for x in c],
        }, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
