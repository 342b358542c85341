"""Bad source files: each problem is reported with the file, the line and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pipeline import load_papers
from rag.errors import SourceError, SourceErrors

GOOD = ("CVNov 23, 2022Code\n"
        "A Good TitleAnn Lee, Bo Chen et al.\n"
        "An abstract that is fine.\n")


def write(tmp_path: Path, text: str | bytes, name: str = "listing.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def errors_of(path: Path) -> list[SourceError]:
    with pytest.raises((SourceErrors, SourceError)) as info:
        load_papers([path], 2026)
    exc = info.value
    return exc.errors if isinstance(exc, SourceErrors) else [exc]


@pytest.mark.parametrize("body,line,problem,expected", [
    (GOOD + "XYZ not a header\nTitleAnn Lee et al.\nAbstract.\n", 4, "header does not parse", "[score]CAT"),
    (GOOD + "LGMay 30\nA title with no authors\nAbstract.\n", 5, "no author list", "up to three authors"),
    (GOOD + "LGMay 30\nA TitleAnn Lee et al.\n" + GOOD, 6, "missing abstract", "abstract on the line after"),
    (GOOD + "LGMay 30\nA TitleAnn Lee et al.\n", 6, "missing abstract", "abstract on the line after"),
    (GOOD + "QQMay 30\nA TitleAnn Lee et al.\nAbstract.\n", 4, "unknown category 'QQ'", "one of CV, IR"),
    (GOOD + "LGMay 30\n" + GOOD, 5, "missing title", "the title followed directly"),
])
def test_bad_listing_record(tmp_path: Path, body: str, line: int, problem: str, expected: str) -> None:
    path = write(tmp_path, body)
    errs = errors_of(path)
    assert len(errs) == 1, [str(e) for e in errs]
    err = errs[0]
    assert (err.path, err.line) == (str(path), line)
    assert problem in err.problem
    assert expected in err.expected
    assert f"{path}:{line}" in str(err)


def test_all_bad_records_are_reported_together(tmp_path: Path) -> None:
    body = "XYZ\nTitleAnn Lee et al.\nAbstract.\n" + GOOD + "QQMay 30\nA TitleAnn Lee et al.\nAbstract.\n"
    errs = errors_of(write(tmp_path, body))
    assert [e.line for e in errs] == [1, 7]
    with pytest.raises(SourceErrors, match="--skip-invalid"):
        load_papers([tmp_path / "listing.txt"], 2026)


def test_parsing_resumes_after_a_bad_record(tmp_path: Path) -> None:
    body = "XYZ\njunk\n" + GOOD + "QQMay 30\nA TitleAnn Lee et al.\nAbstract.\n" + GOOD.replace("Good", "Second")
    papers, _, errors = load_papers([write(tmp_path, body)], 2026, skip_invalid=True)
    assert [p.title for p in papers] == ["A Good Title", "A Second Title"]
    assert [e.line for e in errors] == [1, 6]


@pytest.mark.parametrize("body,line,problem", [
    ("Abstract:Fine text.\n\nAbstract:\n", 3, "missing abstract after 'Abstract:'"),
    ("Abstract:Fine text.\nStray line without the prefix\n", 2, "does not start with 'Abstract:'"),
])
def test_bad_abstracts_file(tmp_path: Path, body: str, line: int, problem: str) -> None:
    errs = errors_of(write(tmp_path, body, "abstracts.txt"))
    assert [(e.line, problem in e.problem) for e in errs] == [(line, True)]


@pytest.mark.parametrize("content,line,problem", [
    (b"", None, "empty file"),
    (b"\n  \n\n", None, "empty file"),
    (GOOD.encode() + b"\x89PNG\x00\x00binary", 4, "binary file"),
    (GOOD.encode() + "Caf\u00e9 line\n".encode("latin-1"), 4, "not UTF-8 (byte 0xe9 at column 4)"),
])
def test_unreadable_file(tmp_path: Path, content: bytes, line: int | None, problem: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(SourceError) as info:
        load_papers([path], 2026)
    assert (info.value.path, info.value.line) == (str(path), line)
    assert problem in info.value.problem


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or folder") as info:
        load_papers([tmp_path / "nope.txt"], 2026)
    assert info.value.path.endswith("nope.txt")


def test_folder_without_sources(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="folder has no source files"):
        load_papers([tmp_path / "empty"], 2026)


def test_crlf_bom_and_blank_lines_between_records(tmp_path: Path) -> None:
    body = "\ufeff" + GOOD.replace("\n", "\r\n") + "\r\n\r\n" + GOOD.replace("Good", "Other")
    papers, records, errors = load_papers([write(tmp_path, body)], 2026)
    assert [p.title for p in papers] == ["A Good Title", "A Other Title"] and not errors
    assert papers[1].provenance[0].line == 6


def test_same_paper_listed_twice_is_one_paper(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.txt")
    write(tmp_path, GOOD.replace("is fine", "is fine, reworded slightly"), "b.txt")
    papers, _, _ = load_papers([tmp_path], 2026)
    assert len(papers) == 1
    assert len(papers[0].provenance) == 2 and papers[0].other_abstracts == [
        "An abstract that is fine, reworded slightly."]
