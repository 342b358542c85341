"""The Evaluation tab's tables, fed by a real (small) run of eval.runner over the seed index; the full tab
(progress bar, chart, downloads) is exercised in the browser test."""

from __future__ import annotations

import pytest

from rag.errors import LabQAError
from ui.chat import ChatService
from ui.evaluation import ALL, kind_table, metrics_table, question_rows, run, summary_markdown


@pytest.fixture(scope="module")
def small_result(assistant):  # type: ignore[no-untyped-def]
    from eval.dataset import DEFAULT_DATASET, load_dataset
    from eval.runner import run_eval

    questions = load_dataset(DEFAULT_DATASET, assistant.catalog)
    picked = [q for kind in ("topic", "count", "unanswerable") for q in [x for x in questions if x.kind == kind][:3]]
    return run_eval(assistant, picked, k=5, variants=["bm25", "hybrid+metadata"], offline=True)


def test_tables_from_a_real_run(small_result) -> None:  # type: ignore[no-untyped-def]
    heads, rows = metrics_table(small_result.variants)
    assert heads == ["metric", "bm25", "hybrid+metadata"]
    by_name = {r[0]: r[1:] for r in rows}
    assert "hit@5" in by_name and all(v == "—" or 0 <= float(v) <= 1 for v in by_name["hit@5"])
    kheads, krows = kind_table(small_result.by_kind, [r[0] for r in rows])
    assert kheads[0] == "metric" and set(kheads[1:]) == set(small_result.by_kind)
    assert [r[0] for r in krows] == [n for n in by_name if any(n in m for m in small_result.by_kind.values())]

    full = question_rows(small_result.rows, "hybrid+metadata")
    assert len(full) == len(small_result.rows) // 2
    assert all(r[1] == "hybrid+metadata" and r[6].startswith(("✓ pass", "✗ fail")) for r in full)
    assert len(question_rows(small_result.rows, ALL)) == len(small_result.rows)
    fails = question_rows(small_result.rows, ALL, failures_only=True)
    assert all(r[6].startswith("✗ fail") for r in fails)
    unanswerable = next(r for r in full if r[2] == "unanswerable")
    assert unanswerable[4].startswith("— (nothing")
    assert "questions pass" in summary_markdown(small_result) and "2 variants" in summary_markdown(small_result)


def test_run_refuses_no_variants(assistant) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LabQAError, match="at least one variant"):
        run(ChatService(assistant.settings, assistant), [], 5, lambda *a, **k: None)


def test_progress_counts_answers_then_scoring_and_report_zip(assistant, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The bar shows answering (in answers) and scoring (as a fraction) as two phases, and report.md ships
    in a zip with the chart it links to."""
    import zipfile

    from ui.evaluation import report_zip, rows_message

    calls: list[tuple[object, str, str | None]] = []
    got = run(ChatService(assistant.settings, assistant), ["bm25"], 5,
              lambda value, desc="", unit=None: calls.append((value, desc, unit)))
    answering = [c for c in calls if c[1].startswith("Answering")]
    scoring = [c for c in calls if c[1].startswith("Scoring")]
    n = got["result"].n_questions
    assert answering and answering[-1][0] == (n, n) and all(c[2] == "answers" for c in answering)
    assert scoring and all(isinstance(c[0], float) and 0 <= c[0] <= 1 and c[2] is None for c in scoring)
    with zipfile.ZipFile(report_zip(got["files"])) as z:
        assert sorted(z.namelist()) == ["chart.png", "report.md"]
        assert "](chart.png)" in z.read("report.md").decode()
    assert "No failures" in rows_message([], True, "bm25") and rows_message([["row"]], True) == ""
