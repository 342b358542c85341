"""Run a question set through the Assistant in several retrieval variants (the ablation), score every
answer, and aggregate overall, per kind and per variant. `labqa eval` is run_cli."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval import metrics as M
from eval.dataset import DEFAULT_DATASET, KINDS, EvalQuestion, load_dataset
from rag.errors import LabQAError, LLMError
from rag.types import Answer

# variant → how Assistant.ask is called: (mode, use_metadata)
VARIANT_ARGS: dict[str, tuple[str, bool]] = {
    "dense": ("dense", False),
    "bm25": ("bm25", False),
    "hybrid": ("hybrid", False),
    "hybrid+metadata": ("hybrid", True),
}
VARIANTS = tuple(VARIANT_ARGS)
FULL_SYSTEM = "hybrid+metadata"

Progress = Callable[[int, int, str], None]


@dataclass
class QuestionResult:
    id: str
    variant: str
    kind: str
    question: str
    expected_titles: list[str]
    cited_titles: list[str]
    passed: bool
    answer: str
    answerer: str
    abstained: bool
    metrics: dict[str, float | None]
    failures: list[str] = field(default_factory=list)  # why it did not pass, in words
    retrieved_titles: list[str] = field(default_factory=list)  # the top-k sources the retrieval metrics saw
    ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EvalResult:
    overall: dict[str, float]  # the full system ("hybrid+metadata" when run, else the last variant)
    by_kind: dict[str, dict[str, float]]  # the full system, per question kind
    variants: dict[str, dict[str, float]]  # every variant, over all questions
    rows: list[QuestionResult]
    k: int = 5
    dataset: str = ""
    full_system: str = FULL_SYSTEM
    by_kind_variants: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    answerer: str = "offline"
    llm_judged: bool = False
    judge: str = ""
    n_questions: int = 0
    seconds: float = 0.0
    ms_per_question: dict[str, float] = field(default_factory=dict)  # mean Assistant.ask time per variant
    notes: list[str] = field(default_factory=list)

    def failing(self, variant: str | None = None) -> list[QuestionResult]:
        variant = variant or self.full_system
        return [r for r in self.rows if r.variant == variant and not r.passed]

    def to_dict(self) -> dict[str, Any]:
        """The JSON of `labqa eval --json`."""
        return {
            "dataset": self.dataset, "k": self.k, "n_questions": self.n_questions,
            "variants_run": list(self.variants), "full_system": self.full_system,
            "answerer": self.answerer, "llm_judged": self.llm_judged, "judge": self.judge,
            "seconds": round(self.seconds, 2), "ms_per_question": self.ms_per_question,
            "overall": self.overall, "by_kind": self.by_kind, "variants": self.variants,
            "by_kind_variants": self.by_kind_variants,
            "metric_help": M.metric_help(self.k),
            "notes": self.notes,
            "questions": [r.to_dict() for r in self.rows],
        }


def run_eval(assistant: Any, questions: Sequence[EvalQuestion], k: int = 5, variants: Sequence[str] = VARIANTS,
             progress: Progress | None = None, *, offline: bool = False, judge: bool | None = None,
             dataset: Path | str = "") -> EvalResult:
    """Ask every question in every variant and score the answers.

    offline: use the offline answerer even if an LLM is configured. judge: LLM-judged metrics on the full
    system's answers; default = whenever an LLM is configured and `offline` is not set."""
    t0 = time.perf_counter()
    variants = _check_variants(variants)
    if k < 1:
        raise LabQAError(f"--k must be at least 1 (got {k}).")
    if not questions:
        raise LabQAError("The question set is empty: nothing to evaluate.")
    settings = assistant.settings
    if judge is None:
        judge = bool(settings.llm_configured) and not offline
    elif judge and not settings.llm_configured:
        raise LabQAError("LLM-judged metrics need an LLM: set LABQA_LLM_MODEL (and OPENAI_BASE_URL) first.")
    full = FULL_SYSTEM if FULL_SYSTEM in variants else variants[-1]
    dataset = dataset or questions[0].source
    catalog = assistant.catalog
    asks = len(questions) * len(variants)
    total, done = 2 * asks, 0  # first half: answering; second half: scoring (embedding answers and sources)
    answered: list[tuple[str, EvalQuestion, Answer | None, str, float]] = []
    for variant in variants:
        mode, use_metadata = VARIANT_ARGS[variant]
        for q in questions:
            t = time.perf_counter()
            answer, error = None, ""
            try:
                answer = assistant.ask(q.question, history=list(q.history), mode=mode, use_metadata=use_metadata,
                                       offline=offline)
            except LLMError as exc:  # LLM failures with LABQA_LLM_FALLBACK=false: a failed question, not a crash
                error = str(exc)
            answered.append((variant, q, answer, error, (time.perf_counter() - t) * 1000))
            done += 1
            if progress:
                progress(done, total, f"{variant} · {q.id}")

    cache = M.EmbeddingCache(assistant.index.embedder.embed)

    def scoring(fraction: float) -> None:
        if progress:
            progress(asks + round(fraction * asks), total, "scoring")

    _prefetch(cache, answered, catalog, scoring)
    rows = [_score(variant, q, answer, error, ms, k, cache, catalog) for variant, q, answer, error, ms in answered]

    notes: list[str] = []
    judge_label = ""
    if judge:
        judge_label, note = _judge_rows([r for r in rows if r.variant == full], questions, answered, catalog,
                                        settings)
        notes += [note] if note else []

    result = EvalResult(overall={}, by_kind={}, variants={}, rows=rows, k=k, dataset=str(dataset),
                        full_system=full, answerer=assistant.answerer_label if not offline else "offline",
                        llm_judged=bool(judge_label), judge=judge_label, n_questions=len(questions), notes=notes)
    for variant in variants:
        vrows = [r for r in rows if r.variant == variant]
        result.variants[variant] = M.aggregate([r.metrics for r in vrows], [r.kind for r in vrows])
        result.by_kind_variants[variant] = {
            kind: M.aggregate([r.metrics for r in vrows if r.kind == kind]) for kind in KINDS
            if any(r.kind == kind for r in vrows)}
        result.ms_per_question[variant] = round(sum(r.ms for r in vrows) / len(vrows), 1)
    result.overall = result.variants[full]
    result.by_kind = result.by_kind_variants[full]
    result.seconds = time.perf_counter() - t0
    return result


def _check_variants(variants: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(variants, str):
        variants = [v.strip() for v in variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANT_ARGS]
    if unknown or not variants:
        raise LabQAError(f"Unknown variant(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
                         f"choose from {', '.join(VARIANTS)} (comma-separated).")
    return tuple(dict.fromkeys(variants))


def _prefetch(cache: M.EmbeddingCache, answered: list[Any], catalog: Any,
              tick: Callable[[float], None] = lambda _: None) -> None:
    """Embed every text the scores need in large batches (much faster than one at a time), reporting the
    share done after each batch."""
    texts: list[str] = []
    for _, q, answer, _, _ in answered:
        if answer is None:
            continue
        if q.reference_answer and q.answerable:
            texts += [M.clean_answer(answer.answer), q.reference_answer]
        texts += [s for s, _ in M.cited_sentences(answer.answer)]
    cited = {c.paper_id for _, _, a, _, _ in answered if a for c in a.citations}
    for pid in cited:
        paper = catalog.get(pid)
        if paper:
            texts += M.paper_units(paper)
    texts = list(dict.fromkeys(texts))
    step = 256
    for i in range(0, len(texts), step):
        cache.add(texts[i:i + step])
        tick(min(1.0, (i + step) / len(texts)))
    tick(1.0)


def _score(variant: str, q: EvalQuestion, answer: Answer | None, error: str, ms: float, k: int,
           cache: M.EmbeddingCache, catalog: Any) -> QuestionResult:
    gold = q.gold_ids
    m: dict[str, float | None] = dict.fromkeys(M.metric_names(k))
    for name in ("citation_recall_metadata_list", "llm_faithfulness", "llm_relevancy", "llm_correctness"):
        m.pop(name)  # aggregated from citation_recall / filled in by the judge
    failures: list[str] = []
    if answer is None:
        failures.append(f"error: {error}")
        text, answerer, abstained, cited, ranking = "", "error", False, [], []
    else:
        text, answerer, abstained = answer.answer, answer.answerer, answer.abstained
        cited = list(dict.fromkeys(c.paper_id for c in answer.citations))
        ranking = list(dict.fromkeys(s.paper_id for s in answer.sources))

    m["abstention_accuracy"] = float(abstained != q.answerable)
    if q.answerable:
        m.update(M.retrieval_metrics(ranking, gold, k))
        m["citation_precision"] = M.citation_precision(cited, gold)
        m["citation_recall"] = M.citation_recall(cited, gold)
        m["false_abstention_rate"] = float(abstained)
        if abstained:
            failures.append("abstained although gold papers exist (false abstention)")
        elif not set(cited) & set(gold):
            failures.append("cited no gold paper")
        if m[f"hit@{k}"] == 0.0:
            failures.append(f"no gold paper in the top {k} sources")
        if q.kind in M.LIST_KINDS and not abstained:
            missed = [_title(catalog, g) for g in gold if g not in cited]
            extra = [_title(catalog, c) for c in cited if c not in gold]
            if missed:
                failures.append(f"missed {len(missed)} of {len(gold)} papers: " + "; ".join(missed))
            if extra:
                failures.append(f"listed {len(extra)} paper(s) that do not match: " + "; ".join(extra))
    else:
        if not abstained:
            failures.append("answered an unanswerable question instead of abstaining")
        if cited:
            failures.append(f"cited {len(cited)} paper(s) on an unanswerable question")
    if q.must_contain:
        missing = M.missing_facts(text, q.must_contain)
        m["fact_accuracy"] = float(not missing)
        if missing:
            failures.append("answer lacks " + ", ".join(f"“{s}”" for s in missing))
    if q.reference_answer and q.answerable and answer is not None:  # abstentions: abstention_accuracy
        m["answer_similarity"] = round(M.cosine(cache[M.clean_answer(text)], cache[q.reference_answer]), 4)
    if answer is not None and not abstained:
        units = {}
        for c in answer.citations:
            paper = catalog.get(c.paper_id)
            units[c.n] = M.paper_units(paper) if paper else [c.title, c.snippet]
        m["groundedness"] = M.groundedness(M.cited_sentences(text), units, cache)
    return QuestionResult(
        id=q.id, variant=variant, kind=q.kind, question=q.question, expected_titles=list(q.gold_titles),
        cited_titles=[_title(catalog, c) for c in cited], passed=not failures, answer=text, answerer=answerer,
        abstained=abstained, metrics={n: (round(v, 4) if isinstance(v, float) else v) for n, v in m.items()},
        failures=failures, retrieved_titles=[_title(catalog, p) for p in ranking[:k]], ms=round(ms, 1))


def _title(catalog: Any, paper_id: str) -> str:
    p = catalog.get(paper_id)
    return p.title if p else paper_id


def _judge_rows(rows: list[QuestionResult], questions: Sequence[EvalQuestion], answered: list[Any],
                catalog: Any, settings: Any) -> tuple[str, str]:
    """LLM-judged metrics for the full system's rows, in place. Stops at the first judge failure (an
    unreachable endpoint would otherwise time out once per question) and says so in a note."""
    from eval.judge import Judge

    judge = Judge(settings)
    by_id = {q.id: q for q in questions}
    answers = {(v, q.id): a for v, q, a, _, _ in answered}
    for row in rows:
        q, answer = by_id[row.id], answers.get((row.variant, row.id))
        if answer is None:
            continue
        papers = [catalog.get(c.paper_id) for c in answer.citations]
        contexts = [f"{p.title}\n{p.abstract}" for p in papers if p]
        try:
            judged = judge.judge(q.question, answer.answer, contexts, q.reference_answer, q.answerable,
                                 answer.abstained)
        except LLMError as exc:
            return judge.label, f"LLM judging stopped at {row.id}: {exc}"
        row.metrics.update(judged.as_metrics())
    return judge.label, ""


# ---- the command ---------------------------------------------------------------------------------------

def parse_thresholds(items: Sequence[str], k: int) -> dict[str, float]:
    """["hit@5=0.97", …] → {"hit@5": 0.97}; unknown metric names and bad numbers are errors."""
    known = M.metric_names(k)
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise LabQAError(f"Bad threshold {item!r}: write --min-METRIC VALUE, e.g. --min-mrr 0.9.")
        if name not in known:
            hint = ""
            if "@" in name and name.split("@")[0] + f"@{k}" in known:
                hint = f" (with --k {k} it is called {name.split('@')[0]}@{k}; or pass --k {name.split('@')[1]})"
            raise LabQAError(f"Unknown metric {name!r} in --min-{name}{hint}. Metrics: {', '.join(known)}.")
        try:
            out[name] = float(value)
        except ValueError:
            raise LabQAError(f"--min-{name} needs a number, got {value!r}.") from None
    return out


def check_thresholds(overall: dict[str, float], thresholds: dict[str, float]) -> list[str]:
    """One message per metric below (or missing for) its threshold."""
    out = []
    for name, minimum in thresholds.items():
        value = overall.get(name)
        if value is None:
            out.append(f"{name} was not computed (no question in the set it applies to), minimum {minimum:g}")
        elif value < minimum:
            out.append(f"{name} = {value:.4f} is below the minimum {minimum:g}")
    return out


SPLITS = {  # the question sets `labqa eval` knows by name (eval/SPLITS.md)
    "dev": DEFAULT_DATASET.with_name("dev.jsonl"),  # tune on it
    "test": DEFAULT_DATASET.with_name("test.jsonl"),  # frozen: never tuned on; the CI gate
    "test2": DEFAULT_DATASET.with_name("test2.jsonl"),  # a second frozen split (round 4), never tuned on
    "regression": DEFAULT_DATASET,  # the first round's set, kept as a regression check
}


def dataset_paths(given: Sequence[Path | str] | Path | str | None) -> list[Path]:
    """--dataset values (paths or split names) → files; none given means every split, each reported alone."""
    if not given:
        return list(SPLITS.values())
    items = [given] if isinstance(given, (str, Path)) else list(given)
    return [SPLITS.get(str(g), Path(g)) for g in items]


def run_cli(settings: Any, args: Any) -> int:
    """`labqa eval`: exit 0 when every --min threshold holds on every set, 1 when one fails, 2 for bad input."""
    import json

    from rag.assistant import Assistant
    from rag.catalog import Catalog
    from rag.store import load_catalog

    k = int(getattr(args, "k", 5) or 5)
    variants = _check_variants(getattr(args, "variants", None) or ",".join(VARIANTS))
    thresholds = parse_thresholds(getattr(args, "min", None) or [], k)
    if k < 1:
        raise LabQAError(f"--k must be at least 1 (got {k}).")
    paths = dataset_paths(getattr(args, "dataset", None))
    offline = bool(getattr(args, "offline", False))

    # Every dataset is checked against the catalog alone first, so a bad file fails before models load.
    catalog = Catalog(load_catalog(settings))
    sets = [(path, load_dataset(path, catalog)) for path in paths]
    assistant = Assistant(settings)
    assistant.warm()
    results, failed = {}, False
    for path, questions in sets:
        name = next((n for n, p in SPLITS.items() if p == path), path.stem)
        result = _run_one(assistant, questions, path, k, variants, offline)
        results[name] = result
        out = Path(args.out) / name if getattr(args, "out", None) and len(sets) > 1 else getattr(args, "out", None)
        failed |= _report(result, name, len(sets) > 1, thresholds, bool(getattr(args, "json", False)), out)
    if getattr(args, "json", False):
        only = next(iter(results.values()))
        print(json.dumps(only.to_dict() if len(results) == 1 else
                         {"sets": {n: r.to_dict() for n, r in results.items()}}, ensure_ascii=False))
    return 1 if failed else 0


def _run_one(assistant: Any, questions: list[EvalQuestion], path: Path, k: int, variants: Sequence[str],
             offline: bool) -> EvalResult:
    bar = None
    try:
        from tqdm import tqdm

        bar = tqdm(total=len(questions) * len(variants), unit="q", desc=f"eval {path.stem}", file=sys.stderr,
                   disable=None, leave=False)

        def progress(done: int, total: int, label: str) -> None:
            bar.set_postfix_str(label, refresh=False)
            bar.update(done - bar.n)

        return run_eval(assistant, questions, k=k, variants=variants, progress=progress, offline=offline,
                        dataset=path)
    finally:
        if bar is not None:
            bar.close()


def _report(result: EvalResult, name: str, several: bool, thresholds: Any, as_json: bool, out: Path | None) -> bool:
    """Print one set's tables (or keep stdout for JSON), write its reports; True when its gate fails."""
    from eval.report import format_failures, format_tables, write_reports

    if not as_json:
        if several:
            print(f"\n## {name} ({result.dataset})\n")
        print(format_tables(result))
        print(format_failures(result))
    if out:
        written = write_reports(result, Path(out))
        print("wrote " + ", ".join(str(p) for p in written.values()), file=sys.stderr)
    print(f"eval {name}: {result.n_questions} questions × {len(result.variants)} variant(s) in "
          f"{result.seconds:.1f} s (answerer: {result.answerer})", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    below = check_thresholds(result.overall, thresholds)
    if below:
        print(f"labqa eval: quality gate FAILED on {name} for {result.full_system}:", file=sys.stderr)
        for b in below:
            print(f"  - {b}", file=sys.stderr)
        if as_json:  # the console listing was not printed; CI logs need the why
            print(format_failures(result), file=sys.stderr)
        return True
    if thresholds:
        print(f"quality gate passed on {name} ({len(thresholds)} threshold(s))", file=sys.stderr)
    return False
