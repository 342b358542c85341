"""The deterministic question reader: filters (years, authors, categories, code) and intents from many
phrasings, on a small hand-made catalog (no index needed) and on the real one."""

from __future__ import annotations

import pytest

from rag.catalog import Catalog
from rag.query_parser import parse
from rag.types import Paper

YEAR = 2026


def paper(pid: str, title: str, authors: list[str], year: int | None = 2024, category: str | None = "cs.IR",
          has_code: bool = False, abstract: str = "We propose a method.") -> Paper:
    return Paper(paper_id=pid, title=title, title_source="listing", authors=authors, authors_truncated=True,
                 date=f"Mar 3, {year}" if year else None, year=year, year_inferred=False, category=category,
                 has_code=has_code, urls=[], score=None, abstract=abstract)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog([
        paper("a", "Alpha: Unlearning for Recommenders", ["Chaochao Chén", "Yuyuan Li", "Biao Gong"]),
        paper("b", "Beta: Video Generation", ["Biao Gong", "XiaoHua Feng"], year=2023, category="cs.CV"),
        paper("c", "Gamma Survey", ["Xiaohua Feng", "Li Zhang"], year=2025, category="cs.LG", has_code=True),
    ])


def q(text: str, catalog: Catalog):  # type: ignore[no-untyped-def]
    return parse(text, catalog, YEAR)


@pytest.mark.parametrize(("text", "lo", "hi"), [
    ("Which papers were published in 2023?", 2023, 2023),
    ("papers from 2025", 2025, 2025),
    ("List the papers from 2023 to 2024.", 2023, 2024),
    ("papers between 2022 and 2024", 2022, 2024),
    ("work in 2023–2025", 2023, 2025),
    ("anything from 2023 or 2024?", 2023, 2024),
    ("How many papers since 2024?", 2024, None),
    ("papers from 2024 onwards", 2024, None),
    ("2024 or later", 2024, None),
    ("papers after 2023", 2024, None),
    ("papers before 2024", None, 2023),
    ("published prior to 2020", None, 2019),
    ("papers up to 2023", None, 2023),
    ("2023 or earlier", None, 2023),
    ("papers from this year", YEAR, YEAR),
    ("papers from last year", YEAR - 1, YEAR - 1),
    ("papers of the last two years", YEAR - 1, None),
])
def test_year_filters(catalog: Catalog, text: str, lo: int | None, hi: int | None) -> None:
    f = q(text, catalog).filters
    assert (f.year_from, f.year_to) == (lo, hi)
    assert q(text, catalog).intent in ("list", "count")


@pytest.mark.parametrize(("text", "expected"), [
    ("What has Biao Gong worked on?", ["Biao Gong"]),
    ("papers by biao gong", ["Biao Gong"]),
    ("Which papers did Chaochao Chen co-author?", ["Chaochao Chén"]),  # accent-insensitive both ways
    ("Which papers did CHAOCHAO CHÉN write?", ["Chaochao Chén"]),
    ("Show me papers by Gong.", ["Gong"]),  # partial name
    ("What are Yuyuan Li's papers?", ["Yuyuan Li"]),
    ("papers by Biao Gong and Yuyuan Li", ["Biao Gong", "Yuyuan Li"]),
])
def test_author_filters(catalog: Catalog, text: str, expected: list[str]) -> None:
    parsed = q(text, catalog)
    assert parsed.filters.authors == expected
    assert parsed.intent == "list"
    assert not parsed.unknown_authors


def test_spellings_of_one_name_are_both_found(catalog: Catalog) -> None:
    # the listing spells one person "XiaoHua Feng" and "Xiaohua Feng": either spelling filters on both
    parsed = q("papers by xiaohua feng", catalog)
    assert len(parsed.filters.authors) == 1
    assert {p.paper_id for p in catalog.filter(parsed.filters)} == {"b", "c"}


def test_unknown_person_is_reported_not_ignored(catalog: Catalog) -> None:
    parsed = q("Which papers did Geoffrey Hinton co-author?", catalog)
    assert parsed.unknown_authors == ["Geoffrey Hinton"] and not parsed.filters.authors


def test_a_capitalised_topic_is_not_a_person(catalog: Catalog) -> None:
    parsed = q("What is Sharpness-Aware Minimization?", catalog)
    assert not parsed.filters.authors and not parsed.unknown_authors


@pytest.mark.parametrize(("text", "codes"), [
    ("List the computer vision papers", ["cs.CV"]),
    ("Which papers are in cs.IR?", ["cs.IR"]),
    ("Which papers are in CS.ir?", ["cs.IR"]),
    ("Any papers in cryptography and security?", ["cs.CR"]),
    ("Which papers are in the computation and language category?", ["cs.CL"]),
    ("Which papers are filed under artificial intelligence (cs.AI)?", ["cs.AI"]),
    ("machine learning papers from 2025", ["cs.LG"]),
    ("CV papers", ["cs.CV"]),
    ("papers in information retrieval or computer vision", ["cs.IR", "cs.CV"]),
])
def test_category_filters(catalog: Catalog, text: str, codes: list[str]) -> None:
    assert sorted(q(text, catalog).filters.categories) == sorted(codes)


def test_vision_as_a_topic_word_is_not_a_category(catalog: Catalog) -> None:
    parsed = q("Which papers adapt vision-language models?", catalog)
    assert parsed.filters.categories == [] and "vision-language" in parsed.topic


@pytest.mark.parametrize(("text", "has_code"), [
    ("Which papers have code?", True),
    ("Which papers have released code?", True),
    ("papers with code", True),
    ("Is the code available on GitHub?", True),
    ("open-source papers", True),
    ("papers without released code", False),
    ("papers with no code", False),
    ("federated learning papers", None),
])
def test_code_filter(catalog: Catalog, text: str, has_code: bool | None) -> None:
    assert q(text, catalog).filters.has_code is has_code


@pytest.mark.parametrize(("text", "intent"), [
    ("How many papers did Yuyuan Li co-author since 2024?", "count"),
    ("What is the number of papers from 2025?", "count"),
    ("Who wrote the second one?", "authors"),
    ("Who are the authors of that paper?", "authors"),
    ("Which came out earlier?", "order"),
    ("What is the most recent paper?", "order"),
    ("Tell me more about it", "detail"),
    ("List the computer vision papers", "list"),
    ("What has the group done on recommendation unlearning?", "topic"),
    ("What is EISAM?", "topic"),
])
def test_intents(catalog: Catalog, text: str, intent: str) -> None:
    assert q(text, catalog).intent == intent


def test_order_direction(catalog: Catalog) -> None:
    assert q("Which came out earlier?", catalog).order == "asc"
    assert q("Which is the oldest?", catalog).order == "asc"
    assert q("Which one is the newest?", catalog).order == "desc"


@pytest.mark.parametrize(("text", "ordinal"), [("who wrote the second one?", 2), ("tell me about the first paper", 1),
                                               ("the last one?", -1), ("and the 3rd of them?", 3)])
def test_ordinals_refer_back(catalog: Catalog, text: str, ordinal: int) -> None:
    parsed = q(text, catalog)
    assert parsed.ordinal == ordinal and parsed.refers_back


@pytest.mark.parametrize("text", ["which of those have code?", "tell me more about it", "which came out earlier?",
                                  "who wrote them?", "any with code?"])
def test_follow_up_cues(catalog: Catalog, text: str) -> None:
    assert q(text, catalog).refers_back


@pytest.mark.parametrize("text", ["Which papers have code?", "What has the group done on unlearning?",
                                  "List the papers from 2023"])
def test_standalone_questions_do_not_refer_back(catalog: Catalog, text: str) -> None:
    assert not q(text, catalog).refers_back


def test_topic_keeps_content_words_and_drops_metadata_phrases(catalog: Catalog) -> None:
    parsed = q("Federated learning papers from 2025 with code", catalog)
    assert parsed.topic == "Federated learning"
    assert (parsed.filters.year_from, parsed.filters.year_to, parsed.filters.has_code) == (2025, 2025, True)
    assert q("Which papers rely on sharpness-aware minimization?", catalog).topic == "sharpness-aware minimization"


def test_or_questions_keep_each_side(catalog: Catalog) -> None:
    parsed = q("Which of the group's papers are surveys or literature reviews?", catalog)
    assert parsed.alternatives == ["surveys", "literature reviews"]


def test_real_catalog_names(assistant) -> None:  # type: ignore[no-untyped-def]
    cat = assistant.catalog
    assert parse("How many papers did Yuyuan Li co-author since 2024?", cat, YEAR).filters.authors == ["Yuyuan Li"]
    parsed = parse("Which papers did Chaochao Chén co-author?", cat, YEAR)
    assert parsed.filters.authors == ["Chaochao Chen"]
    assert parse("papers by zhongxuan han", cat, YEAR).filters.authors == ["Zhongxuan Han"]
