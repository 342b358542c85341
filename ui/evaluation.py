"""The Evaluation tab: runs the evaluation set (eval.runner.run_eval) with a progress bar and shows the
metrics per variant, the chart, and one row per question; reports download as JSON and CSV.
The eval package is imported when a run starts, not when the app starts."""

from __future__ import annotations

import atexit
import html
import logging
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from rag.errors import LabQAError

log = logging.getLogger("labqa.ui")
_RUNS: Path | None = None
ROW_COLUMNS = ["ID", "Variant", "Kind", "Question", "Expected papers", "Cited papers", "Result"]
ALL = "all variants"


def _variants() -> tuple[list[str], str]:
    try:
        from eval.runner import FULL_SYSTEM, VARIANTS

        return list(VARIANTS), FULL_SYSTEM
    except Exception:  # noqa: BLE001 - the tab still renders; a run reports the import problem
        return ["dense", "bm25", "hybrid", "hybrid+metadata"], "hybrid+metadata"


def _num(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, int | float) else "—"


def metrics_table(variants: dict[str, dict[str, float]]) -> tuple[list[str], list[list[Any]]]:
    """One row per metric (in the order the runner reports them), one column per variant."""
    names: list[str] = []
    for m in variants.values():
        names += [n for n in m if n not in names]
    return ["metric", *variants], [[n, *[_num(m.get(n)) for m in variants.values()]] for n in names]


def kind_table(by_kind: dict[str, dict[str, float]], metric_order: list[str]) -> tuple[list[str], list[list[Any]]]:
    """One row per metric, one column per question kind (a blank means the metric does not apply)."""
    names = [n for n in metric_order if any(n in m for m in by_kind.values())]
    return ["metric", *by_kind], [[n, *[_num(m.get(n)) for m in by_kind.values()]] for n in names]


def _field(row: Any, *names: str) -> Any:
    for n in names:
        if hasattr(row, n):
            return getattr(row, n)
    return None


def question_rows(rows: list[Any], variant: str = ALL, failures_only: bool = False) -> list[list[Any]]:
    out = []
    for r in rows:
        if variant != ALL and r.variant != variant:
            continue
        passed = bool(_field(r, "passed"))
        if failures_only and passed:
            continue
        why = "; ".join(_field(r, "failures") or [])
        expected = _field(r, "expected_titles", "expected") or []
        cited = _field(r, "cited_titles", "cited") or []
        out.append([r.id, r.variant, r.kind, r.question, "\n".join(expected) or "— (nothing: should abstain)",
                    "\n".join(cited) or "—", "✓ pass" if passed else f"✗ fail: {why}" if why else "✗ fail"])
    return out


def summary_markdown(result: Any) -> str:
    overall = result.overall
    full = getattr(result, "full_system", "hybrid+metadata")
    k = getattr(result, "k", 5)
    rows = [r for r in result.rows if r.variant == full]
    passed = sum(1 for r in rows if r.passed)
    keys = [f"hit@{k}", "mrr", "citation_recall", "abstention_accuracy", "fact_accuracy"]
    shown = " · ".join(f"**{n}** {overall[n]:.3f}" for n in keys if n in overall)
    secs = getattr(result, "seconds", 0.0)
    return (f"**{full}**: {passed} of {len(rows)} questions pass · {shown}  \n"
            f"<small>{getattr(result, 'n_questions', len(rows))} questions × {len(result.variants)} variants in "
            f"{secs:.1f} s · answerer: {getattr(result, 'answerer', 'offline')}</small>")


def run(service: Any, variants: list[str], k: float, progress: Any) -> dict[str, Any]:
    """Run the evaluation and write its reports into a fresh temporary folder (served by Gradio from its
    cache only when returned as outputs)."""
    from eval.dataset import DEFAULT_DATASET, load_dataset
    from eval.report import write_reports
    from eval.runner import run_eval

    if not variants:
        raise LabQAError("Choose at least one variant to evaluate.")
    if not service.build.ready:
        raise LabQAError(service.build.message())
    assistant = service.assistant
    assistant.warm()
    questions = load_dataset(DEFAULT_DATASET, assistant.catalog)

    asks = len(questions) * len(variants)

    def tick(done: int, total: int, label: str) -> None:
        # The runner counts answering and scoring as one 2×asks scale; the bar shows them as the two phases
        # they are, so the scoring phase is not counted as answers (nor shown stuck at 50 %).
        if done <= asks and label != "scoring":
            progress((done, asks), desc=f"Answering the questions ({label})", unit="answers")
        else:
            progress((done - asks) / max(total - asks, 1), desc="Scoring the answers (embedding answers and sources)")

    result = run_eval(assistant, questions, k=int(k), variants=variants, progress=tick)
    out = _run_dir()
    files = write_reports(result, out)
    return {"result": result, "files": {name: Path(p) for name, p in files.items()}}


def rows_message(shown: list[list[Any]], failures_only: bool, variant: str = ALL) -> str:
    """What an empty question table means (instead of a bare header row)."""
    if shown:
        return ""
    which = "any variant" if variant == ALL else variant
    text = (f"No failures: every question of {which} passes. Untick “Failures only” to see them all."
            if failures_only else f"No questions were run for {which}.")
    return f"<div class='lq-panel-empty'>{html.escape(text)}</div>"


def report_zip(files: dict[str, Path]) -> str | None:
    """report.md links its chart as chart.png (relative): downloaded alone, the image is broken. Ship both in
    one zip, side by side, so the link works wherever it is unpacked."""
    md, png = _file(files, ".md"), _file(files, ".png")
    if md is None:
        return None
    out = Path(md).with_name("labqa-eval-report.zip")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(md, "report.md")
        if png is not None:
            z.write(png, Path(png).name)
    return str(out)


def _run_dir(keep: int = 3) -> Path:
    """A fresh folder for one run's reports, under one folder per server process (removed at exit); only the
    newest few runs are kept: Gradio copies the files it serves into its own cache."""
    global _RUNS
    if _RUNS is None:
        _RUNS = Path(tempfile.mkdtemp(prefix="labqa-eval-"))
        atexit.register(shutil.rmtree, _RUNS, ignore_errors=True)
    for old in sorted(_RUNS.iterdir(), key=lambda p: p.stat().st_mtime)[:-keep + 1 or None]:
        shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=_RUNS))


def _file(files: dict[str, Path], suffix: str) -> str | None:
    for name, p in files.items():
        if str(name).endswith(suffix) or p.name.endswith(suffix):
            return str(p)
    return None


def build_tab(service: Any) -> None:
    """The tab's components and events (called inside the Blocks context)."""
    import gradio as gr

    names, full = _variants()
    gr.HTML('<div class="lq-side-title">Evaluation</div><div class="lq-side-help">Runs the labelled question '
            'set (<code>eval/questions.jsonl</code>) through each retrieval variant and scores retrieval, '
            'citations, abstention and facts. Same numbers as <code>labqa eval</code>.</div>')
    with gr.Row(equal_height=True):
        chosen = gr.CheckboxGroup(names, value=names, label="Variants", scale=4, elem_id="lq-eval-variants")
        k = gr.Number(5, label="k (cut-off)", precision=0, minimum=1, maximum=20, scale=1, min_width=110,
                      elem_id="lq-eval-k")
        start = gr.Button("▶ Run evaluation", variant="primary", scale=1, min_width=160, elem_id="lq-eval-run")
    status = gr.Markdown("<div class='lq-panel-empty'>Press <b>Run evaluation</b>: under a minute offline. "
                         "The metrics table, a chart and every question's result appear here.</div>",
                         elem_id="lq-eval-status")
    with gr.Column(visible=False) as results:
        # One above the other: side by side, the four variant columns did not fit in 1400 px.
        metrics = gr.Dataframe(label="Metrics per variant (all questions)", interactive=False, wrap=True,
                               max_height=900, elem_id="lq-eval-metrics")
        kinds = gr.Dataframe(label=f"{full}: metrics per question kind", interactive=False, wrap=True,
                             max_height=900, elem_id="lq-eval-kinds")
        with gr.Row():
            json_dl = gr.DownloadButton("⬇ results.json", size="sm", elem_id="lq-eval-json")
            csv_dl = gr.DownloadButton("⬇ results.csv", size="sm", elem_id="lq-eval-csv")
            md_dl = gr.DownloadButton("⬇ report.zip (report.md + chart.png)", size="sm", elem_id="lq-eval-md")
        chart = gr.Image(label="Chart", type="filepath", interactive=False, buttons=["download"],
                         elem_id="lq-eval-chart")
        with gr.Row():
            show_variant = gr.Dropdown([ALL, *names], value=full, label="Questions of", scale=2)
            failures_only = gr.Checkbox(False, label="Failures only", scale=1)
        table = gr.Dataframe(headers=ROW_COLUMNS, interactive=False, wrap=True, max_height=560,
                             column_widths=["6%", "11%", "9%", "24%", "20%", "20%", "10%"], elem_id="lq-eval-rows")
        rows_note = gr.HTML("", elem_id="lq-eval-rows-note", container=False)
    last = gr.State(None)  # this session's last EvalResult

    def do_run(variants: list[str], k_value: float, variant: str, fails: bool,
               progress=gr.Progress()):  # type: ignore[no-untyped-def]  # noqa: B008 - Gradio's injection idiom
        def failed(message: str):  # type: ignore[no-untyped-def]
            return (f"<div class='lq-error'>⚠ {html.escape(message)}</div>", gr.Column(visible=False),
                    *(gr.skip(),) * 8, None)

        try:
            got = run(service, variants, k_value or 5, progress)
        except ImportError as exc:
            return failed(f"The evaluation package is not available ({exc}).")
        except LabQAError as exc:
            return failed(str(exc))
        except Exception as exc:  # noqa: BLE001 - a readable line in the tab, the trace in the log
            log.exception("evaluation failed")
            return failed(f"The evaluation failed ({type(exc).__name__}: {exc}); details are in the server log.")
        result, files = got["result"], got["files"]
        heads, rows = metrics_table(result.variants)
        kheads, krows = kind_table(result.by_kind, [r[0] for r in rows])
        view = variant if variant == ALL or variant in result.variants else getattr(result, "full_system", ALL)

        def dl(suffix: str):  # type: ignore[no-untyped-def]
            path = _file(files, suffix)
            return gr.DownloadButton(value=path, visible=path is not None)

        shown = question_rows(result.rows, view, fails)
        zipped = report_zip(files)
        return (summary_markdown(result), gr.Column(visible=True), gr.Dataframe(value=rows, headers=heads),
                gr.Dataframe(value=krows, headers=kheads), _file(files, ".png"), dl(".json"), dl(".csv"),
                gr.DownloadButton(value=zipped, visible=zipped is not None), shown, rows_message(shown, fails),
                result)

    start.click(do_run, [chosen, k, show_variant, failures_only],
                [status, results, metrics, kinds, chart, json_dl, csv_dl, md_dl, table, rows_note, last],
                concurrency_limit=1, concurrency_id="evaluation", api_visibility="private")

    def refilter(result: Any, variant: str, fails: bool):  # type: ignore[no-untyped-def]
        if result is None:
            return [], ""
        shown = question_rows(result.rows, variant, fails)
        return shown, rows_message(shown, fails, variant)

    for control in (show_variant, failures_only):
        control.change(refilter, [last, show_variant, failures_only], [table, rows_note], queue=False,
                       api_visibility="private")
