"""eval.dataset: the schema, gold resolution by title or id, and an error with file:line for every bad line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.dataset import DEFAULT_DATASET, KINDS, load_dataset
from rag.catalog import Catalog
from rag.errors import DatasetError
from rag.types import Paper

EISAM = "Taming the Long Tail: Efficient Item-wise Sharpness-Aware Minimization for LLM-based Recommender Systems"
VOP = "VoP: Text-Video Co-operative Prompt Tuning for Cross-Modal Retrieval"


def _paper(pid: str, title: str) -> Paper:
    return Paper(paper_id=pid, title=title, title_source="listing", authors=["A B"], authors_truncated=False,
                 date="Mar 13, 2026", year=2026, year_inferred=False, category="cs.IR", has_code=False, urls=[],
                 score=None, abstract="An abstract.")


@pytest.fixture
def catalog() -> Catalog:
    return Catalog([_paper("eisam", EISAM), _paper("vop", VOP)])


def _write(tmp_path: Path, lines: list[object]) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def _error(path: Path, catalog: Catalog) -> str:
    with pytest.raises(DatasetError) as exc:
        load_dataset(path, catalog)
    return str(exc.value)


def test_titles_and_ids_resolve_and_optional_fields_load(tmp_path: Path, catalog: Catalog) -> None:
    path = _write(tmp_path, [
        {"question": "What is EISAM?", "kind": "fact", "gold_titles": [EISAM], "must_contain": ["EISAM"],
         "reference_answer": "An optimizer."},
        "",  # blank lines between records are allowed
        {"id": "mine", "question": "VoP and EISAM?", "kind": "topic", "gold_paper_ids": ["vop"],
         "gold_titles": [EISAM.upper()]},  # case differences are forgiven
        {"question": "Who wrote the second one?", "kind": "follow_up", "gold_titles": [VOP],
         "history": [{"role": "user", "content": "list"}, {"role": "assistant", "content": f"- {EISAM}\n- {VOP}"}]},
        {"question": "Protein folding?", "kind": "unanswerable", "gold_titles": []},
    ])
    qs = load_dataset(path, catalog)
    assert [q.id for q in qs] == ["line1", "mine", "line4", "line5"]
    assert [q.line for q in qs] == [1, 3, 4, 5]
    assert qs[0].gold_ids == ["eisam"] and qs[0].must_contain == ["EISAM"] and qs[0].reference_answer == "An optimizer."
    assert qs[1].gold_ids == ["vop", "eisam"] and qs[1].gold_titles == [VOP, EISAM]
    assert [t.role for t in qs[2].history] == ["user", "assistant"]
    assert not qs[3].answerable and qs[3].gold_ids == []


@pytest.mark.parametrize("line, expected", [
    ('{"question": "What is EISAM?", "kind": "fact"', "not valid JSON"),
    ('["What is EISAM?"]', "expected a JSON object"),
    ({"kind": "fact", "gold_titles": [EISAM]}, 'missing "question"'),
    ({"question": "  ", "kind": "fact", "gold_titles": [EISAM]}, '"question" must be a non-empty string'),
    ({"question": "What is EISAM?", "gold_titles": [EISAM]}, 'missing "kind"'),
    ({"question": "What is EISAM?", "kind": "trivia", "gold_titles": [EISAM]}, "unknown kind 'trivia'"),
    ({"question": "What is EISAM?", "kind": "fact", "gold_titles": EISAM}, "'gold_titles' must be a list"),
    ({"question": "What is EISAM?", "kind": "fact", "gold_titles": [EISAM], "must_contain": "EISAM"},
     "'must_contain' must be a list"),
    ({"question": "What is EISAM?", "kind": "fact", "gold_titles": [EISAM], "reference_answer": 3},
     '"reference_answer" must be a string'),
    ({"question": "Which?", "kind": "follow_up", "gold_titles": [EISAM], "history": [{"role": "bot", "content": "x"}]},
     '"history" must be a list'),
    ({"question": "Which?", "kind": "follow_up", "gold_titles": [EISAM]}, 'needs a "history"'),
    ({"question": "What is EISAM?", "kind": "fact", "gold_titles": [EISAM], "gold": []}, "unknown field(s) 'gold'"),
    ({"question": "What is EISAM?", "kind": "fact"}, "needs gold papers"),
    ({"question": "Protein folding?", "kind": "unanswerable", "gold_titles": [EISAM]}, "must have no gold papers"),
])
def test_each_malformed_line_is_reported_with_its_line_number(tmp_path: Path, catalog: Catalog, line: object,
                                                                expected: str) -> None:
    good = {"question": "What is VoP?", "kind": "fact", "gold_titles": [VOP]}
    path = _write(tmp_path, [good, line, good])
    msg = _error(path, catalog)
    assert f"{path}:2: " in msg and expected in msg
    assert f"{path}:1:" not in msg and f"{path}:3:" not in msg


def test_unknown_gold_titles_and_ids_are_all_listed_by_name(tmp_path: Path, catalog: Catalog) -> None:
    path = _write(tmp_path, [
        {"question": "a?", "kind": "fact", "gold_titles": ["Taming the Long Tail: Efficient Item-wise SAM"]},
        {"question": "b?", "kind": "fact", "gold_titles": [VOP], "gold_paper_ids": ["no-such-paper"]},
        {"question": "c?", "kind": "topic", "gold_titles": ["A Paper Nobody Wrote", EISAM]},
    ])
    msg = _error(path, catalog)
    assert "3 gold paper(s) match no paper" in msg
    assert f"{path}:1: gold_titles 'Taming the Long Tail: Efficient Item-wise SAM'" in msg
    assert f"did you mean {EISAM!r}" in msg  # a near miss gets a suggestion
    assert f"{path}:2: gold_paper_ids 'no-such-paper'" in msg
    assert f"{path}:3: gold_titles 'A Paper Nobody Wrote'" in msg


def test_several_problems_are_reported_together(tmp_path: Path, catalog: Catalog) -> None:
    path = _write(tmp_path, [
        "{bad json",
        {"id": "x", "question": "a?", "kind": "fact", "gold_titles": [VOP]},
        {"id": "x", "question": "b?", "kind": "fact", "gold_titles": [VOP]},
        {"question": "c?", "kind": "opinion", "gold_titles": [VOP]},
    ])
    msg = _error(path, catalog)
    assert f"{path}:1: not valid JSON" in msg
    assert f"{path}:3: duplicate id 'x' (also on line 2)" in msg
    assert f"{path}:4: unknown kind 'opinion'" in msg


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_an_empty_file_is_an_error(tmp_path: Path, catalog: Catalog, content: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(content, encoding="utf-8")
    assert "is empty" in _error(path, catalog)


def test_missing_file_folder_and_non_utf8_are_errors(tmp_path: Path, catalog: Catalog) -> None:
    assert "No evaluation dataset at" in _error(tmp_path / "nope.jsonl", catalog)
    assert "is a folder" in _error(tmp_path, catalog)
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b'{"question": "ok?", "kind": "unanswerable"}\n{"question": "caf\xe9?", "kind": "unanswerable"}\n')
    assert f"{bad}:2: not UTF-8" in _error(bad, catalog)


def test_the_project_set_resolves_against_the_real_catalog(assistant) -> None:  # type: ignore[no-untyped-def]
    qs = load_dataset(DEFAULT_DATASET, assistant.catalog)
    assert len(qs) >= 60
    assert {q.kind for q in qs} == set(KINDS)
    assert len({q.id for q in qs}) == len(qs)
    for q in qs:
        assert q.answerable == (q.kind != "unanswerable")
        if q.kind == "count":  # the count is the number of gold papers
            assert q.must_contain == [str(len(q.gold_ids))], q.id
        if q.kind == "follow_up":
            assert q.history and q.history[-1].role == "assistant", q.id


def test_a_question_the_assistant_would_reject_is_caught_with_its_line(tmp_path: Path, catalog: Catalog) -> None:
    """A question over 2,000 characters used to pass validation and then stop the whole run."""
    path = _write(tmp_path, [{"question": "What is EISAM?", "kind": "fact", "gold_titles": [EISAM]},
                             {"question": "What is EISAM? " * 200, "kind": "fact", "gold_titles": [EISAM]},
                             {"question": "\x00\x01", "kind": "fact", "gold_titles": [EISAM]}])
    err = _error(path, catalog)
    assert f"{path}:2: \"question\" would be rejected by the assistant: The question is 2,999 characters long; " \
           "the limit is 2,000." in err
    assert f"{path}:3: \"question\" would be rejected by the assistant: The question is empty" in err
    assert f"{path}:1:" not in err
