"""eval.runner and `labqa eval` on the real seed index: a small dataset written here that names gold papers
only by exact title, the ablation variants, the --min gate, --json and --out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from eval import metrics as M
from eval.dataset import load_dataset
from eval.runner import VARIANTS, run_eval
from rag.cli import main

EISAM = "Taming the Long Tail: Efficient Item-wise Sharpness-Aware Minimization for LLM-based Recommender Systems"
FEDREC = "Sharpness-Aware Minimization for Generalized Embedding Learning in Federated Recommendation"
VOP = "VoP: Text-Video Co-operative Prompt Tuning for Cross-Modal Retrieval"
COPYRIGHT = "CopyrightMeter: Revisiting Copyright Protection in Text-to-image Models"

QUESTIONS = [
    {"id": "sam", "question": "Which papers rely on sharpness-aware minimization?", "kind": "topic",
     "gold_titles": [EISAM, FEDREC],
     "reference_answer": "FedRecGEL and EISAM both use sharpness-aware minimization."},
    {"id": "eisam", "question": "What is EISAM?", "kind": "fact", "gold_titles": [EISAM],
     "must_contain": ["Sharpness-Aware Minimization"]},
    {"id": "cv-code", "question": "Computer vision papers with code", "kind": "metadata", "gold_titles": [VOP]},
    {"id": "second", "question": "Tell me more about the second one.", "kind": "follow_up",
     "gold_titles": [COPYRIGHT], "must_contain": ["17"],
     "history": [{"role": "user", "content": "Papers on copyright?"},
                 {"role": "assistant", "content": f"- {VOP}\n- {COPYRIGHT}"}]},
    {"id": "protein", "question": "What has the group published on protein structure prediction?",
     "kind": "unanswerable", "gold_titles": []},
]


def _dataset(tmp_path: Path, questions: list[dict] = QUESTIONS) -> Path:  # type: ignore[type-arg]
    path = tmp_path / "theirs.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    return path


def test_run_eval_scores_every_variant_on_a_title_only_dataset(assistant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    questions = load_dataset(_dataset(tmp_path), assistant.catalog)
    calls: list[tuple[int, int, str]] = []
    result = run_eval(assistant, questions, k=5, progress=lambda d, t, label: calls.append((d, t, label)))

    asks = len(QUESTIONS) * len(VARIANTS)
    answering = [c for c in calls if c[2] != "scoring"]
    scoring = [c for c in calls if c[2] == "scoring"]
    assert [c[0] for c in answering] == list(range(1, asks + 1)), "one tick per question and variant"
    assert scoring and scoring[-1][0] == 2 * asks, "scoring reports too, ending at 100%"
    assert [c[0] for c in scoring] == sorted(c[0] for c in scoring) and {c[1] for c in calls} == {2 * asks}
    assert len(result.rows) == asks and list(result.variants) == list(VARIANTS)
    assert result.full_system == "hybrid+metadata" and result.overall == result.variants["hybrid+metadata"]
    assert result.dataset.endswith("theirs.jsonl") and result.n_questions == len(QUESTIONS)
    assert set(result.by_kind) == {"topic", "fact", "metadata", "follow_up", "unanswerable"}

    rows = {(r.variant, r.id): r for r in result.rows}
    for r in result.rows:  # each row's metrics agree with what the answer cited
        gold = set(r.expected_titles)
        if gold:
            assert r.metrics["citation_recall"] == pytest.approx(len(gold & set(r.cited_titles)) / len(gold))
            assert r.metrics["hit@5"] == float(bool(gold & set(r.retrieved_titles)))
        else:  # unanswerable: no retrieval or citation metrics
            assert r.metrics["hit@5"] is None and r.metrics["citation_recall"] is None
        assert r.metrics["abstention_accuracy"] == float(r.abstained != bool(gold))
        assert r.passed == (not r.failures)
    # the overall numbers are the means over the questions each metric applies to
    full = [r for r in result.rows if r.variant == "hybrid+metadata"]
    assert result.overall["mrr"] == pytest.approx(sum(r.metrics["mrr"] for r in full if r.expected_titles) / 4,
                                                   abs=1e-4)
    assert result.overall["answer_similarity"] == rows[("hybrid+metadata", "sam")].metrics["answer_similarity"]

    # what the full system must get right on questions this plain
    eisam, protein = rows[("hybrid+metadata", "eisam")], rows[("hybrid+metadata", "protein")]
    assert eisam.passed and eisam.metrics["fact_accuracy"] == 1.0 and eisam.metrics["mrr"] == 1.0
    assert protein.abstained and protein.passed and protein.cited_titles == []
    assert rows[("hybrid+metadata", "cv-code")].cited_titles == [VOP]
    # the metadata question is a catalog filter: without the metadata stage the dense variant cannot list it
    assert result.variants["hybrid+metadata"]["citation_recall_metadata_list"] == 1.0
    assert result.variants["dense"]["citation_recall_metadata_list"] < 1.0
    assert 0.0 <= result.overall["groundedness"] <= 1.0

    d = json.loads(json.dumps(result.to_dict()))
    assert {"overall", "by_kind", "variants", "questions", "k", "dataset"} <= set(d)
    assert len(d["questions"]) == asks and d["questions"][0]["metrics"]


def _run_cli(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(["eval", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_cli_json_and_out_write_the_report_files(built_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LABQA_HOME", str(built_home))
    out_dir = tmp_path / "report"
    code, out, err = _run_cli(capsys, ["--dataset", str(_dataset(tmp_path)), "--variants", "bm25,hybrid+metadata",
                                       "--json", "--out", str(out_dir), "--k", "3", "--min-mrr", "0.5"])
    assert code == 0, err
    d = json.loads(out)  # stdout is exactly one JSON object
    assert d["k"] == 3 and d["variants_run"] == ["bm25", "hybrid+metadata"]
    assert set(M.metric_names(3)) - {"llm_faithfulness", "llm_relevancy", "llm_correctness"} >= set(d["overall"])
    assert {"hit@3", "mrr", "ndcg@3", "citation_recall_metadata_list", "abstention_accuracy"} <= set(d["overall"])
    assert set(d["variants"]) == {"bm25", "hybrid+metadata"} and "unanswerable" in d["by_kind"]
    assert "quality gate passed" in err

    files = {p.name for p in out_dir.iterdir()}
    assert files == {"report.md", "results.json", "results.csv", "chart.png"}
    assert (out_dir / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out_dir / "results.json").read_text())["overall"] == d["overall"]
    with (out_dir / "results.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(QUESTIONS) * 2 and {r["variant"] for r in rows} == {"bm25", "hybrid+metadata"}
    report = (out_dir / "report.md").read_text()
    assert "## By variant" in report and "## By kind — bm25" in report and "| hit@3 |" in report


@pytest.mark.slow
def test_cli_min_gate_fails_naming_the_metric_and_the_question(built_home: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LABQA_HOME", str(built_home))
    # Someone labelled EISAM's question with the wrong paper: its hit@5 is 0, so hit@5 = 0.75 < 0.97.
    wrong = [dict(q) for q in QUESTIONS]
    wrong[1] = {"id": "eisam", "question": "What is EISAM?", "kind": "fact", "gold_titles": [VOP]}
    code, out, err = _run_cli(capsys, ["--dataset", str(_dataset(tmp_path, wrong)), "--variants",
                                       "hybrid+metadata", "--min-hit@5", "0.97", "--min-abstention_accuracy", "1"])
    assert code == 1
    assert "quality gate FAILED" in err and "hit@5 = 0.7500 is below the minimum 0.97" in err
    assert "abstention_accuracy" not in err.split("FAILED")[1]  # only failing metrics are named
    assert "eisam [fact] What is EISAM?" in out and "cited no gold paper" in out  # the console table says why
    assert "By variant" in out


def test_cli_bad_input_exits_2_before_loading_models(built_home: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LABQA_HOME", str(built_home))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "What is EISAM?", "kind": "fact", "gold_titles": ["No Such Paper"]}\n')
    code, _, err = _run_cli(capsys, ["--dataset", str(bad)])
    assert code == 2 and f"{bad}:1: gold_titles 'No Such Paper' matches no paper" in err

    code, _, err = _run_cli(capsys, ["--min-hit@10", "0.9"])
    assert code == 2 and "with --k 5 it is called hit@5" in err
    code, _, err = _run_cli(capsys, ["--min-recal", "0.9"])
    assert code == 2 and "Unknown metric 'recal'" in err
    code, _, err = _run_cli(capsys, ["--variants", "dense,sparse"])
    assert code == 2 and "Unknown variant(s) 'sparse'" in err
