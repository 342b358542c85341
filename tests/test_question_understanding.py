"""Issue 9's examples, as a careful reader would answer them, through the real Assistant over the seed index;
and the linking mechanisms (typos, abbreviations, name forms, negation, year sets, categories used as such)."""

from __future__ import annotations

import pytest

from rag.assistant import Assistant
from rag.catalog import Catalog
from rag.prompts import NO_HISTORY
from rag.query_parser import Intent, parse
from rag.types import Filters, Turn

YEAR = 2026


def titles(answer) -> set[str]:  # type: ignore[no-untyped-def]
    return {c.title for c in answer.citations}


def ids(answer) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.paper_id for c in answer.citations]


def with_words(assistant: Assistant, *words: str) -> set[str]:
    """Titles of papers whose title or abstract holds every word (the ground truth, computed from the data)."""
    out = set()
    for p in assistant.catalog.papers:
        text = " ".join([p.title, p.abstract, *p.other_abstracts]).lower()
        if all(w in text for w in words):
            out.add(p.title)
    return out


def test_a_full_list_question_cites_every_unlearning_paper(assistant: Assistant) -> None:
    a = assistant.ask("give me everything we have on unlearning, full list")
    unlearning = {p.title for p in assistant.catalog.papers if "unlearn" in p.title.lower()}
    assert unlearning <= titles(a)  # every paper with unlearning in its title, not the top one
    assert len(a.citations) >= 10
    assert all("unlearn" in (c.title + c.snippet).lower() for c in a.citations)


@pytest.mark.parametrize("question", ["What is the group's work on federated learning?",
                                      "What are the papers on federated learning?"])
def test_group_work_questions_cite_every_federated_paper(assistant: Assistant, question: str) -> None:
    a = assistant.ask(question)
    fed = {p.title for p in assistant.catalog.papers if "federated" in p.title.lower()}
    assert fed <= titles(a) and len(fed) >= 4


def test_summarize_recommendation_unlearning_cites_several(assistant: Assistant) -> None:
    a = assistant.ask("Summarize the group's work on recommendation unlearning.")
    assert len(a.citations) >= 4 and not a.abstained


def test_keyword_abbreviation_query(assistant: Assistant) -> None:
    a = assistant.ask("recsys fairness")
    assert not a.abstained
    assert any("User-Oriented Fairness in Recommender Systems" in t for t in titles(a))


def test_what_did_an_author_write(assistant: Assistant) -> None:
    a = assistant.ask("What did Zhongxuan Han write?")
    expected = {p.title for p in assistant.catalog.papers if "Zhongxuan Han" in p.authors}
    assert titles(a) == expected and len(expected) >= 3


def test_a_method_name_in_capitals_is_a_topic_not_an_author(assistant: Assistant) -> None:
    a = assistant.ask("Is Sharpness Aware Minimization used by any paper?")
    assert not a.abstained and "as an author" not in a.answer
    assert all("sharpness" in (c.title + c.snippet).lower() for c in a.citations) and len(a.citations) >= 2


def test_both_is_not_a_reference_back(assistant: Assistant) -> None:
    first = assistant.ask("What is EISAM?")
    history = [Turn("user", "What is EISAM?"), Turn("assistant", first.answer, ids(first))]
    a = assistant.ask("Which papers cover both fairness and federated learning?", history=history)
    assert not a.filters  # not scoped to the previous answer
    assert any("FedFACT" in t or "WassFFed" in t for t in titles(a))
    assert not any(t.startswith("Taming the Long Tail") for t in titles(a))


def test_compare_cites_both_side_by_side(assistant: Assistant) -> None:
    a = assistant.ask("compare LASER and CURE4Rec")
    assert len(a.citations) == 2
    assert any(t.startswith("CURE4Rec") for t in titles(a))
    assert any(t.startswith("Making Recommender Systems Forget") for t in titles(a))
    assert "Side by side" in a.answer and "*proposes*" in a.answer


def test_first_author_position(assistant: Assistant) -> None:
    a = assistant.ask("papers where Li Zhang is first author")
    expected = {p.title for p in assistant.catalog.papers if p.authors and p.authors[0] == "Li Zhang"}
    assert titles(a) == expected


def test_negated_code(assistant: Assistant) -> None:
    a = assistant.ask("which papers did not release code?")
    # only papers whose source records the code flag: the abstract-only companion says nothing about code
    expected = {p.title for p in assistant.catalog.papers if not p.has_code and p.category}
    assert titles(a) == expected and len(expected) == 25
    assert "without released code" in a.answer


def test_year_sets_and_impossible_years(assistant: Assistant) -> None:
    a = assistant.ask("papers from 2022 or 2024")
    assert titles(a) == {p.title for p in assistant.catalog.papers if p.year in (2022, 2024)}
    old = assistant.ask("papers from 1850")
    assert not old.citations and old.abstained and "1850" in old.answer


def test_a_category_word_inside_a_topic_is_not_a_filter(assistant: Assistant) -> None:
    a = assistant.ask("fairness in machine learning")
    assert "category" not in a.filters and not a.abstained
    nlp = assistant.ask("NLP papers")
    assert "cs.CL" in nlp.filters
    assert titles(nlp) == {p.title for p in assistant.catalog.papers if p.category == "cs.CL"}


def test_where_is_the_code_answers_with_the_link(assistant: Assistant) -> None:
    a = assistant.ask("where is the github link for VoP?")
    assert "https://github.com/bighuang624/VoP" in a.answer and len(a.citations) == 1


def test_a_near_miss_abstains(assistant: Assistant) -> None:
    assert assistant.ask("adversarial robustness of image classifiers").abstained


@pytest.mark.xfail(reason="MiniLM reads 'differential privacy' as little more than 'privacy', which federated "
                          "learning papers discuss: a known miss of the fitted judgement", strict=False)
def test_differential_privacy_for_federated_learning_abstains(assistant: Assistant) -> None:
    assert assistant.ask("differential privacy for federated learning").abstained


def test_follow_up_reads_the_cited_ids_of_the_turn(assistant: Assistant) -> None:
    first = assistant.ask("Which papers are about federated learning?")
    history = [Turn("user", "Which papers are about federated learning?"),
               Turn("assistant", "(answer text without titles)", ids(first))]
    a = assistant.ask("who wrote the second one?", history=history)
    assert ids(a) == [ids(first)[1]]


def test_follow_up_without_history_says_so(assistant: Assistant) -> None:
    a = assistant.ask("who wrote the second one?")
    assert NO_HISTORY in a.answer and not a.citations


def test_question_and_chat_filter_in_conflict_say_which_filter(assistant: Assistant) -> None:
    a = assistant.ask("Which papers were published in 2025?", filters=Filters(year_from=2023, year_to=2023))
    assert not a.citations and "filter" in a.answer and "Clear" in a.answer and "2023" in a.answer


# ---- the reader alone --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def catalog(assistant: Assistant) -> Catalog:
    return assistant.catalog


@pytest.mark.parametrize(("question", "topic"), [
    ("federted lerning papers", "federated learning"),
    ("unlearing in recomender systems", "unlearning recommender systems"),
    ("FL fairness", "federated learning fairness"),
    ("t2i papers", "text-to-image"),
])
def test_typos_and_abbreviations_become_collection_words(catalog: Catalog, question: str, topic: str) -> None:
    assert parse(question, catalog, YEAR).topic == topic


def test_english_words_are_never_corrected(catalog: Catalog) -> None:
    assert parse("speech recognition papers", catalog, YEAR).topic == "speech recognition"


@pytest.mark.parametrize("question", ["papers by yuyuan li", "papers by Yuyan Li", "Li Yuyuan's papers",
                                      "what did Xiao-hua Feng write", "papers by Xiaohua Feng"])
def test_name_forms(catalog: Catalog, question: str) -> None:
    authors = parse(question, catalog, YEAR).filters.authors
    assert len(authors) == 1 and authors[0].replace("H", "h") in ("Yuyuan Li", "Xiaohua Feng")


@pytest.mark.parametrize(("question", "field", "value"), [
    ("non-CV papers", "exclude_categories", ["cs.CV"]),
    ("papers not by Yuyuan Li", "exclude_authors", ["Yuyuan Li"]),
    ("papers from 2022, 2024 and 2026", "years", [2022, 2024, 2026]),
    ("IR or computer vision papers", "categories", ["cs.IR", "cs.CV"]),
    ("papers in the security category", "categories", ["cs.CR"]),
])
def test_filters_found_by_use(catalog: Catalog, question: str, field: str, value: list) -> None:
    assert sorted(getattr(parse(question, catalog, YEAR).filters, field)) == sorted(value)


def test_negated_topic_and_intents(catalog: Catalog) -> None:
    p = parse("unlearning papers that are not surveys", catalog, YEAR)
    assert (p.topic, p.exclude_topic) == ("unlearning", "surveys")
    assert parse("how many papers have code?", catalog, YEAR).intent == Intent.COUNT
    assert parse("How many protections does CopyrightMeter evaluate?", catalog, YEAR).intent != Intent.COUNT
    assert parse("code generation with LLMs", catalog, YEAR).filters.has_code is None


def test_the_stop_word_copy_is_scikit_learns_list() -> None:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as original

    from rag.lexicon import ENGLISH_STOP_WORDS

    assert original == ENGLISH_STOP_WORDS


def test_two_years_joined_by_and_are_a_set_not_a_range(catalog: Catalog) -> None:
    f = parse("list every paper from 2023 and 2025", catalog, YEAR).filters
    assert sorted(f.years) == [2023, 2025] and f.year_from is None
    f = parse("papers from 2023 to 2025", catalog, YEAR).filters
    assert (f.year_from, f.year_to) == (2023, 2025)


def test_not_by_an_author_lists_the_papers_known_to_be_by_others(assistant: Assistant) -> None:
    a = assistant.ask("papers not by Yuyuan Li")
    expected = {p.title for p in assistant.catalog.papers if p.authors and "Yuyuan Li" not in p.authors}
    assert titles(a) == expected and not a.abstained
    assert "not by Yuyuan Li" in a.filters


def test_a_named_paper_with_a_code_word_asks_for_its_link(assistant: Assistant) -> None:
    for q in ("github for CURE4Rec", "does LEGO have code?"):
        a = assistant.ask(q)
        assert len(a.citations) == 1 and "github.com" in a.answer, q


def test_an_undated_paper_is_never_the_newest(assistant: Assistant) -> None:
    a = assistant.ask("newest paper on fairness")
    assert a.citations and a.citations[0].year is not None


def _previous(assistant: Assistant, question: str) -> list[Turn]:
    a = assistant.ask(question)
    return [Turn("user", question), Turn("assistant", a.answer, ids(a))]


def test_the_first_two_of_the_previous_answer(assistant: Assistant) -> None:
    history = _previous(assistant, "papers on text-to-image generation")
    a = assistant.ask("compare the first two", history=history)
    assert ids(a) == history[1].paper_ids[:2] and "Side by side" in a.answer
    history = _previous(assistant, "what has the group done on fairness?")
    a = assistant.ask("what about the last two?", history=history)
    assert ids(a) == history[1].paper_ids[-2:]


def test_a_continuation_narrows_the_previous_answer_and_stands_alone_without_one(assistant: Assistant) -> None:
    history = _previous(assistant, "recommendation unlearning")
    a = assistant.ask("and from 2025?", history=history)
    assert a.citations and set(ids(a)) <= set(history[1].paper_ids)
    assert all(c.year == 2025 for c in a.citations)
    alone = assistant.ask("and from 2025?")
    assert {c.paper_id for c in alone.citations} == {p.paper_id for p in assistant.catalog.papers if p.year == 2025}


def test_last_listed_author(assistant: Assistant) -> None:
    a = assistant.ask("papers with Chaochao Chen as last listed author")
    expected = {p.title for p in assistant.catalog.papers if p.authors and p.authors[-1] == "Chaochao Chen"}
    assert titles(a) == expected and "last listed author" in a.answer
