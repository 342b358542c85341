"""`labqa ask`: the JSON contract, batch mode over stdin, and questions that are not really questions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.cli import main
from rag.errors import QuestionError

LABQA = str(Path(sys.executable).with_name("labqa"))
EISAM = "Taming the Long Tail: Efficient Item-wise Sharpness-Aware Minimization for LLM-based Recommender Systems"


def ask_json(question: str, capsys: pytest.CaptureFixture[str]) -> dict:
    code = main(["ask", "--json", question])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_json_answer_has_the_documented_fields(index_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = ask_json("What is EISAM?", capsys)
    assert {"question", "answer", "answerer", "abstained", "citations", "sources", "timings_ms"} <= set(d)
    assert d["answerer"] == "offline" and d["abstained"] is False
    c = d["citations"][0]
    assert {"n", "paper_id", "title", "authors", "year", "category", "url", "snippet"} <= set(c)
    assert (c["n"], c["title"], c["year"], c["category"]) == (1, EISAM, 2026, "cs.IR")
    assert c["snippet"] and "[1]" in d["answer"]
    assert {"paper_id", "title", "score"} <= set(d["sources"][0])
    assert d["timings_ms"]["total_ms"] > 0


def test_text_output_has_references_and_answerer(index_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "What has Biao Gong worked on?"]) == 0
    out = capsys.readouterr().out
    assert "References" in out and "] VoP: Text-Video Co-operative Prompt Tuning" in out
    assert "https://github.com/bighuang624/VoP" in out
    assert "only the first three authors" in out
    assert "Filters applied: author Biao Gong" in out
    assert "Answerer: offline" in out


def test_batch_mode_reads_stdin_and_loads_once(index_home: Path) -> None:
    questions = ["What is EISAM?", "", "Which papers have code?", "\x00\x01\x02", "protein structure prediction"]
    proc = subprocess.run([LABQA, "ask", "--json", "-"], input="\n".join(questions) + "\n", capture_output=True,
                          text=True, timeout=180, env=os.environ.copy())
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(lines) == 4, "blank lines are skipped, every other line gets exactly one JSON line"
    assert lines[0]["citations"][0]["title"] == EISAM
    assert len(lines[1]["citations"]) == 5
    assert "error" in lines[2] and "empty" in lines[2]["error"]
    assert lines[3]["abstained"] is True and lines[3]["citations"] == []
    assert proc.returncode == 1, "a failed line makes the batch exit non-zero"


@pytest.mark.parametrize("question,message", [
    ("", "The question is empty"),
    ("   \t  ", "The question is empty"),
    ("x" * 100_000, "100,000 characters long"),
])
def test_unusable_questions_are_clear_errors(index_home: Path, capsys: pytest.CaptureFixture[str],
                                             question: str, message: str) -> None:
    code = main(["ask", question])
    out, err = capsys.readouterr()
    assert code == 2 and message in err and "Traceback" not in err and out == ""


def test_control_characters_are_ignored(assistant: Assistant) -> None:
    answer = assistant.ask("What\x00 is\x1b[31m EISAM?\x07")
    assert answer.question == "What is [31m EISAM?"
    assert answer.citations[0].title == EISAM


def test_question_in_another_language(assistant: Assistant) -> None:
    spanish = assistant.ask("¿Qué es EISAM y para qué sirve?")
    assert spanish.citations and spanish.citations[0].title == EISAM
    chinese = assistant.ask("推荐系统中的遗忘学习有哪些工作？")
    assert any("reads English" in n for n in chinese.notes)
    assert chinese.abstained or chinese.citations  # no crash; an honest answer either way


def test_question_error_type(assistant: Assistant) -> None:
    with pytest.raises(QuestionError):
        assistant.ask("\n\n")


def test_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run([LABQA, "ask", "What is EISAM?"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LABQA_HOME": str(tmp_path / "empty")})
    assert proc.returncode == 2
    assert "No LabQA index" in proc.stderr and "labqa ingest" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_setting_is_an_error(index_home: Path) -> None:
    proc = subprocess.run([LABQA, "papers"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LABQA_TOP_KK": "3"})
    assert proc.returncode == 2 and "Unknown setting(s) LABQA_TOP_KK" in proc.stderr


def test_bad_setting_value_is_an_error(index_home: Path) -> None:
    proc = subprocess.run([LABQA, "papers"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LABQA_CHUNK_TOKENS": "9999"})
    assert proc.returncode == 2 and "LABQA_CHUNK_TOKENS" in proc.stderr and "256" in proc.stderr


def test_a_bad_byte_spoils_only_its_own_line(index_home: Path) -> None:
    """Strict UTF-8 (PYTHONIOENCODING=utf-8) used to lose the whole batch on one bad byte: each line is
    decoded on its own, the bad one gets a JSON error with its line number, the others are answered."""
    data = b"What is EISAM?\n\xff\xfe Which papers?\n\nWhich papers have code?\n"
    proc = subprocess.run([LABQA, "ask", "--json", "-"], input=data, capture_output=True, timeout=180,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert b"Traceback" not in proc.stderr, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.decode("utf-8").splitlines()]
    assert len(lines) == 3
    assert lines[0]["citations"][0]["title"] == EISAM
    assert lines[1] == {"line": 2, "error": "line 2 is not UTF-8 (byte 0xff at column 1); send questions as UTF-8 text"}
    assert len(lines[2]["citations"]) == 5
    assert proc.returncode == 1


@pytest.mark.parametrize("env,message", [
    ({"LABQA_HOME": ""}, "LABQA_HOME is set but empty"),
    ({"LABQA_RELEVANCE__ANSWER_AT": "nan"}, "LABQA_RELEVANCE__ANSWER_AT: Input should be a finite number"),
    ({"LABQA_LLM_TIMEOUT": "inf"}, "LABQA_LLM_TIMEOUT: Input should be a finite number"),
    ({"LABQA_INGEST_WAIT": "-inf"}, "LABQA_INGEST_WAIT"),
    ({"LABQA_CHROMA_URL": " "}, "LABQA_CHROMA_URL is set but empty"),
])
def test_empty_and_non_finite_settings_are_errors(index_home: Path, env: dict[str, str], message: str) -> None:
    proc = subprocess.run([LABQA, "papers"], capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_home_on_a_virtual_file_system_is_named_as_such(tmp_path: Path) -> None:
    proc = subprocess.run([LABQA, "ingest"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LABQA_HOME": "/proc/labqa"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "/proc is a virtual file system (proc) that cannot hold files" in proc.stderr, proc.stderr
    assert "full" not in proc.stderr
