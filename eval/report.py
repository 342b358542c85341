"""Console tables and the files of `labqa eval --out DIR`: report.md, results.json, results.csv (one row
per question per variant) and chart.png (metrics by variant and by kind)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from eval import metrics as M
from eval.runner import EvalResult
from rag.errors import LabQAError

CHART_COLORS = ["#8da0cb", "#fc8d62", "#66c2a5", "#e78ac3", "#a6d854", "#ffd92f"]
LOWER_IS_BETTER = {"false_abstention_rate"}


def headline_metrics(result: EvalResult) -> list[str]:
    """The metrics that appear in the tables and charts, in a fixed order (only those computed)."""
    names = M.metric_names(result.k)
    present = {n for v in result.variants.values() for n in v}
    return [n for n in names if n in present]


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in
                                                                range(len(header))) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(widths[i]) if i == 0 else h.rjust(widths[i]) for i, h in enumerate(header))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)) for r in rows]
    return "\n".join(out)


def variants_table(result: EvalResult, markdown: bool = False) -> str:
    names = list(result.variants)
    rows = [[m] + [_fmt(result.variants[v].get(m)) for v in names] for m in headline_metrics(result)]
    rows.append(["ms/question"] + [f"{result.ms_per_question.get(v, 0):.0f}" for v in names])
    return _table(["metric", *names], rows, markdown)


def kind_table(result: EvalResult, variant: str, markdown: bool = False) -> str:
    by_kind = result.by_kind_variants.get(variant, {})
    kinds = list(by_kind)
    counts = {kind: sum(1 for r in result.rows if r.variant == variant and r.kind == kind) for kind in kinds}
    rows = [[m] + [_fmt(by_kind[kind].get(m)) for kind in kinds] for m in headline_metrics(result)
            if any(m in by_kind[kind] for kind in kinds)]
    rows.append(["questions"] + [str(counts[kind]) for kind in kinds])
    rows.append(["passed"] + [str(sum(1 for r in result.rows if r.variant == variant and r.kind == kind
                                      and r.passed)) for kind in kinds])
    return _table(["metric", *kinds], rows, markdown)


def format_tables(result: EvalResult) -> str:
    parts = [f"LabQA eval — {result.n_questions} questions, k={result.k}, answerer: {result.answerer}"
             + (f", LLM judge: {result.judge}" if result.llm_judged else ""),
             "", "By variant (all questions):", variants_table(result), "",
             f"By kind ({result.full_system}):", kind_table(result, result.full_system)]
    return "\n".join(parts)


def format_failures(result: EvalResult, limit: int = 40) -> str:
    failing = result.failing()
    if not failing:
        return f"\nAll {result.n_questions} questions passed ({result.full_system})."
    lines = [f"\n{len(failing)} of {result.n_questions} questions did not pass ({result.full_system}):"]
    for r in failing[:limit]:
        lines.append(f"  {r.id} [{r.kind}] {r.question}")
        lines += [f"      - {f}" for f in r.failures]
    if len(failing) > limit:
        lines.append(f"  … and {len(failing) - limit} more (see results.csv with --out)")
    return "\n".join(lines)


def write_reports(result: EvalResult, out_dir: Path) -> dict[str, Path]:
    """Write report.md, results.json, results.csv and chart.png into out_dir; returns their paths."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {"report": out_dir / "report.md", "json": out_dir / "results.json",
                 "csv": out_dir / "results.csv", "chart": out_dir / "chart.png"}
        paths["json"].write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        _write_csv(result, paths["csv"])
        _write_chart(result, paths["chart"])
        paths["report"].write_text(_markdown(result), encoding="utf-8")
    except OSError as exc:
        raise LabQAError(f"Cannot write the eval report to {out_dir}: {exc.strerror or exc}. "
                         "Choose another folder with --out.") from None
    return paths


def _write_csv(result: EvalResult, path: Path) -> None:
    names = M.metric_names(result.k)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "variant", "kind", "question", "passed", "abstained", "answerer", "expected_titles",
                    "cited_titles", "retrieved_titles", "failures", "ms", *names, "answer"])
        for r in result.rows:
            w.writerow([r.id, r.variant, r.kind, r.question, r.passed, r.abstained, r.answerer,
                        " | ".join(r.expected_titles), " | ".join(r.cited_titles), " | ".join(r.retrieved_titles),
                        " | ".join(r.failures), r.ms, *("" if r.metrics.get(n) is None else r.metrics[n]
                                                        for n in names), r.answer])


def _markdown(result: EvalResult) -> str:
    help_ = M.metric_help(result.k)
    parts = [
        "# LabQA evaluation report", "",
        f"- dataset: `{result.dataset}` ({result.n_questions} questions), k = {result.k}",
        f"- answerer: {result.answerer}" + (f"; LLM judge: {result.judge} (llm_* metrics are LLM-judged)"
                                             if result.llm_judged else "; no LLM judge (no LLM configured)"),
        f"- full system: {result.full_system}; wall time {result.seconds:.1f} s", "",
        "![metrics by variant and by kind](chart.png)", "",
        "## By variant (all questions)", "", variants_table(result, markdown=True), "",
    ]
    for v in result.variants:
        parts += [f"## By kind — {v}", "", kind_table(result, v, markdown=True), ""]
    parts += ["## Questions that did not pass (" + result.full_system + ")", ""]
    failing = result.failing()
    if not failing:
        parts.append("None.")
    for r in failing:
        parts.append(f"- **{r.id}** [{r.kind}] {r.question}")
        parts += [f"  - {f}" for f in r.failures]
    parts += ["", "## Metric definitions", ""]
    parts += [f"- `{name}`: {text}" for name, text in help_.items()]
    if result.notes:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in result.notes]
    return "\n".join(parts) + "\n"


def _write_chart(result: EvalResult, path: Path) -> None:
    # The object API with the Agg canvas: no pyplot global state, safe inside the UI's server process.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = headline_metrics(result)
    variants = list(result.variants)
    by_kind = result.by_kind
    kinds = list(by_kind)
    fig = Figure(figsize=(13, 9.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(2, 1, height_ratios=[1.0, 0.9])
    width = 0.8 / max(1, len(variants))
    for i, v in enumerate(variants):
        xs = [j + (i - (len(variants) - 1) / 2) * width for j in range(len(names))]
        ax1.bar(xs, [result.variants[v].get(n, 0.0) for n in names], width, label=v,
                color=CHART_COLORS[i % len(CHART_COLORS)])
    ax1.set_xticks(range(len(names)), names, rotation=25, ha="right")
    ax1.set_ylim(0, 1.05)
    ax1.set_ylabel("score (false_abstention_rate: lower is better)")
    ax1.set_title(f"Metrics by variant — {result.n_questions} questions, k={result.k}")
    ax1.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, title="variant")
    ax1.grid(axis="y", alpha=0.3)

    kind_names = [n for n in names if any(n in by_kind[kind] for kind in kinds)]
    grid = [[by_kind[kind].get(n, float("nan")) for n in kind_names] for kind in kinds]
    # colour = goodness: a false-abstention rate of 0 is green, like an accuracy of 1
    shade = [[1.0 - v if n in LOWER_IS_BETTER else v for n, v in zip(kind_names, row, strict=True)] for row in grid]
    im = ax2.imshow(shade, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
    ax2.set_xticks(range(len(kind_names)), kind_names, rotation=25, ha="right")
    ax2.set_yticks(range(len(kinds)), kinds)
    for yi, row in enumerate(grid):
        for xi, val in enumerate(row):
            if val == val:  # not NaN
                ax2.text(xi, yi, f"{val:.2f}", ha="center", va="center", fontsize=8)
    ax2.set_title(f"By kind — {result.full_system} (blank: metric does not apply)")
    fig.colorbar(im, ax=ax2, shrink=0.8, label="good → green")
    fig.savefig(path, dpi=110)

