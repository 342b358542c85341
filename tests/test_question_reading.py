"""Round 3 of question reading (issue 9), through the real Assistant over the seed index: words that carry no
meaning are dropped and words that do are kept (measured with the embedding model), misspelt function words,
British spellings and closed-up hyphens, quoted partial titles, unknown name variants, the reproduction
relation between papers, references inside one question, two-part questions, and sentence choice for facts.
The questions come from the dev split (eval/dev.jsonl), never from the test split."""

from __future__ import annotations

from rag.assistant import Assistant
from rag.types import Turn


def ids(answer) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.paper_id for c in answer.citations]


def _after(assistant: Assistant, question: str) -> list[Turn]:
    a = assistant.ask(question)
    return [Turn("user", question), Turn("assistant", a.answer, ids(a))]


def test_chat_around_a_filter_is_not_a_topic(assistant: Assistant) -> None:
    a = assistant.ask("List everything the group published between 2023 and 2025, inclusive.")
    expected = {p.paper_id for p in assistant.catalog.papers if p.year and 2023 <= p.year <= 2025}
    assert set(ids(a)) == expected and "inclusive" in assistant.read(a.question).noise
    a = assistant.ask("OK, switching topics. Which papers is Shuai Tan on?")
    assert set(ids(a)) == {p.paper_id for p in assistant.catalog.papers if "Shuai Tan" in p.authors}


def test_a_word_that_carries_the_question_stays_even_when_no_paper_uses_it(assistant: Assistant) -> None:
    parsed = assistant.read("cold-start recommendation")
    assert "cold-start" in parsed.topic and not parsed.noise
    assert assistant.ask("cold-start recommendation").abstained


def test_an_acronym_spelt_out_is_one_concept(assistant: Assistant) -> None:
    parsed = assistant.read("federated unlearning for large language models")
    assert "large language models" in [w for w, _, _ in parsed.salience]


def test_misspelt_function_words_british_spellings_and_closed_up_hyphens(assistant: Assistant) -> None:
    assert assistant.read("which of thsoe came out in 2024?").refers_back
    papres = assistant.ask("papres from 2022")
    assert set(ids(papres)) == {p.paper_id for p in assistant.catalog.papers if p.year == 2022}
    parsed = assistant.read("bilevel optimisation")
    assert parsed.corrections == {"bilevel": "bi-level", "optimisation": "optimization"}
    assert assistant.ask("bilevel optimisation").citations


def test_a_quoted_piece_of_a_title_names_the_paper_even_when_slightly_wrong(assistant: Assistant) -> None:
    parsed = assistant.read("In the 'Bridging the Copyright Divide' paper about vision-language models, "
                            "how big is the benchmark?")
    assert [assistant.catalog.by_id[i].title.split(":")[0] for i in parsed.mentions] == ["Bridging the Copyright Gap"]


def test_a_variant_of_a_known_name_is_not_that_paper(assistant: Assistant) -> None:
    a = assistant.ask("Tell me about MotionStone++")
    assert a.abstained and not a.citations
    assert "MotionStone++" in a.answer and "MotionStone:" in a.answer


def test_the_reproduction_relation(assistant: Assistant) -> None:
    companions = assistant.catalog.companions
    in_ucds = next(pid for pid in companions if "in-processing" in pid)
    a = assistant.ask("is there a reproducibility companion for In-UCDS?")
    assert ids(a) == companions[in_ucds]
    assert assistant.ask("is there a reproducibility companion for WassFFed?").abstained
    a = assistant.ask("was it reproduced?", history=_after(assistant, "LEGO"))
    assert a.abstained and "no reproducibility companion of LEGO" in a.answer
    history = _after(assistant, "is there a reproducibility companion for In-UCDS?")
    assert ids(assistant.ask("and the original paper?", history=history)) == [in_ucds]


def test_a_reference_inside_the_question_is_not_a_follow_up(assistant: Assistant) -> None:
    a = assistant.ask("Oldest paper in the collection, and who wrote it?")
    oldest = min((p for p in assistant.catalog.papers if p.year), key=lambda p: (p.year, p.date or ""))
    assert ids(a) == [oldest.paper_id] and oldest.authors[0] in a.answer
    a = assistant.ask("Unlearning papers from 2025, all of them")
    assert a.citations and all(c.year == 2025 for c in a.citations)


def test_a_second_clause_about_the_first_clauses_papers_annotates_them(assistant: Assistant) -> None:
    a = assistant.ask("Which papers do fairness in federated learning, and do any of them have code?")
    assert {c.title.split(":")[0] for c in a.citations} == {"FedFACT", "WassFFed"}
    assert "None of them" in a.answer and "released code" in a.answer


def test_person_words_make_a_lower_case_surname_an_author(assistant: Assistant) -> None:
    a = assistant.ask("how many papers has zheng co-authored")
    expected = {p.paper_id for p in assistant.catalog.papers if any(x.endswith("Zheng") for x in p.authors)}
    assert set(ids(a)) == expected and f"**{len(expected)}**" in a.answer


def test_category_codes_and_code_words(assistant: Assistant) -> None:
    history = _after(assistant, "recommendation unlearning")
    a = assistant.ask("which of those are IR?", history=history)
    assert a.citations and all(c.category == "cs.IR" for c in a.citations)
    a = assistant.ask("which papers have code released")
    assert {c.paper_id for c in a.citations} == {p.paper_id for p in assistant.catalog.papers if p.has_code}
    # "&" is "and": the category's name is read whole, nothing of it is left over as a topic (dev5 s040)
    a = assistant.ask("cryptography & security category")
    assert {c.paper_id for c in a.citations} == {p.paper_id for p in assistant.catalog.papers
                                                 if p.category == "cs.CR"} and not assistant.read(a.question).topic


def test_a_fact_sentence_that_points_back_brings_its_antecedent(assistant: Assistant) -> None:
    a = assistant.ask("Which classic portfolio model does the Thompson-sampling portfolio paper say is hard to "
                      "apply in all periods?")
    assert "Markowitz" in a.answer


def test_a_topic_outside_the_named_category_is_found_in_its_own_and_said_so(assistant: Assistant) -> None:
    a = assistant.ask("computer vision work on whether models understand humor")
    assert [c.title.split('"')[1] for c in a.citations] == ["I See What You Did There"]
    assert a.answer.startswith("No paper in cs.CV is about") and a.notes


def test_no_x_is_x_free_when_the_papers_say_so(assistant: Assistant) -> None:
    parsed = assistant.read("Which methods in the collection need no training at all?")
    assert "training-free" in parsed.topic and not parsed.exclude_topic


def test_code_and_link_questions_about_one_paper_of_the_previous_answer(assistant: Assistant) -> None:
    history = _after(assistant, "What has the group done on recommendation unlearning?")
    first, second = history[1].paper_ids[:2]
    a = assistant.ask("does the first one have code?", history=history)
    assert ids(a) == [first]
    a = assistant.ask("give me the link for the second", history=history)
    assert ids(a) == [second]
    url = assistant.catalog.by_id[second].url
    assert url is None or url in a.answer


def test_a_link_that_is_not_code_is_not_called_code(assistant: Assistant) -> None:
    a = assistant.ask("project page for SimM")
    assert "simm-t2i.github.io" in a.answer and "Code for" not in a.answer


def test_that_survey_points_back(assistant: Assistant) -> None:
    history = _after(assistant, "What has the group done on recommendation unlearning?")
    a = assistant.ask("tell me more about that survey", history=history)
    assert len(a.citations) == 1 and a.citations[0].title.startswith("A Survey on Recommendation Unlearning")


def test_authors_joined_by_or_decades_and_a_lone_unknown_surname(assistant: Assistant) -> None:
    a = assistant.ask("papers by Li Zhang or Zhongxuan Han")
    expected = {p.paper_id for p in assistant.catalog.papers if {"Li Zhang", "Zhongxuan Han"} & set(p.authors)}
    assert set(ids(a)) == expected and len(expected) > len(ids(assistant.ask("papers by Li Zhang and Zhongxuan Han")))
    f = assistant.read("papers from the 2020s").filters
    assert (f.year_from, f.year_to) == (2020, 2029)
    a = assistant.ask("is there anything by Hinton?")
    assert a.abstained and "lists Hinton as an author" in a.answer


# ---- round 4: follow-ups that change the previous question, authors of the paper in view, dates relative to it,
# category names joined to a code, code words after the first ----------------------------------------------------
def test_what_about_another_year_asks_the_previous_question_again(assistant: Assistant) -> None:
    history = _after(assistant, "Which unlearning papers came out in 2025?")
    a = assistant.ask("what about from 2024?", history=history)
    assert a.citations and all(c.year == 2024 for c in a.citations)
    assert all("unlearning" in (p := assistant.catalog.by_id[i]).title.lower() + p.abstract.lower() for i in ids(a))
    # a narrowing continuation in between is part of the question the next one changes
    history = _after(assistant, "unlearning papers")
    b = assistant.ask("and from 2025?", history=history)
    history += [Turn("user", "and from 2025?"), Turn("assistant", b.answer, ids(b))]
    c = assistant.ask("what about 2024?", history=history)
    assert set(ids(c)) == set(ids(a))
    # another author replaces the author
    history = _after(assistant, "papers by Yuyuan Li")
    d = assistant.ask("what about Chaochao Chen?", history=history)
    assert set(ids(d)) == {p.paper_id for p in assistant.catalog.papers if "Chaochao Chen" in p.authors}


def test_other_papers_of_an_author_of_the_paper_in_view(assistant: Assistant) -> None:
    history = _after(assistant, "What is VoP?")
    vop = assistant.catalog.by_id[history[1].paper_ids[0]]
    a = assistant.ask("what else has its first author written?", history=history)
    expected = {p.paper_id for p in assistant.catalog.papers if vop.authors[0] in p.authors} - {vop.paper_id}
    assert expected and set(ids(a)) == expected
    b = assistant.ask("what else did the authors of VoP write?")
    assert set(ids(b)) == {p.paper_id for p in assistant.catalog.papers
                           if set(p.authors) & set(vop.authors)} - {vop.paper_id}
    assert assistant.read("who are the authors of VoP?").scope_author is None  # asks who, not for other papers


def test_newer_than_the_papers_in_view(assistant: Assistant) -> None:
    history = _after(assistant, "unlearning papers from 2023")
    before = [assistant.catalog.by_id[i] for i in history[1].paper_ids]
    a = assistant.ask("any newer ones than those?", history=history)
    assert a.citations and all(c.year and c.year >= max(p.year for p in before) for c in a.citations)
    assert not set(ids(a)) & {p.paper_id for p in before} and "Newer than" in a.answer


def test_a_category_name_joined_to_its_code_is_not_a_topic(assistant: Assistant) -> None:
    parsed = assistant.read("anything filed under crypto/security (cs.CR)?")
    assert parsed.filters.categories == ["cs.CR"] and not parsed.topic
    parsed = assistant.read("which ones have a github link / released code?")
    assert parsed.filters.has_code is True and not parsed.topic


def test_the_collection_by_author_category_or_year(assistant: Assistant) -> None:
    papers = assistant.catalog.papers
    a = assistant.ask("who are the most frequent authors?")
    assert not a.citations and "by author" in a.answer and "first three authors" in a.answer
    top = max({p.authors.count(x) and x for p in papers for x in p.authors},
              key=lambda x: sum(1 for p in papers if any(y.lower() == x.lower() for y in p.authors)))
    assert f"{sum(1 for p in papers if any(y.lower() == top.lower() for y in p.authors))}" in a.answer
    b = assistant.ask("how many papers per year?")
    for year in {p.year for p in papers if p.year}:
        assert f"- {year}: {sum(1 for p in papers if p.year == year)}" in b.answer
    c = assistant.ask("which categories are covered?")
    assert all(f"- {cat} (" in c.answer for cat in {p.category for p in papers if p.category})
    d = assistant.ask("which authors worked on unlearning?")  # the authors of the papers on a topic
    assert "about “unlearning”" in d.answer and assistant.read("which authors worked on unlearning?").facet == "authors"
    # one paper's authors stay an authors question
    assert assistant.read("who are the authors of VoP?").facet == ""


def test_sorted_lists_n_newest_and_lower_case_names(assistant: Assistant) -> None:
    from rag.catalog import sort_key
    a = assistant.ask("papers sorted by year")
    dated = [assistant.catalog.by_id[i] for i in ids(a) if assistant.catalog.by_id[i].year]
    assert len(a.citations) == len(assistant.catalog.papers) and dated == sorted(dated, key=sort_key)
    b = assistant.ask("What are the three most recent papers?")
    newest = sorted((p for p in assistant.catalog.papers if p.year), key=sort_key, reverse=True)[:3]
    assert ids(b) == [p.paper_id for p in newest]
    assert assistant.read("any ir papers?").filters.categories == ["cs.IR"]
    assert assistant.read("is there a paper by hinton?").unknown_authors == ["Hinton"]
    assert assistant.read("which paper has the most authors?").facet == ""


def test_comparisons_and_aspects_of_the_papers_in_view(assistant: Assistant) -> None:
    history = _after(assistant, "What is LEGO?")
    lego = history[1].paper_ids[0]
    a = assistant.ask("How does it compare to CURE4Rec?", history=history)
    assert len(a.citations) == 2 and ids(a)[0] == lego and "Side by side" in a.answer
    assert "the 2 papers" in a.filters
    history += [Turn("user", "How does it compare to CURE4Rec?"), Turn("assistant", a.answer, ids(a))]
    b = assistant.ask("which datasets did they use?", history=history)  # an aspect of both, not a new subject
    assert ids(b) == ids(a)
    history = _after(assistant, "unlearning surveys")
    c = assistant.ask("which is better?", history=history)
    assert set(ids(c)) == set(history[1].paper_ids) and "Side by side" in c.answer
    assert assistant.read("hi, I'm new to the group. what do you work on?").facet == "categories"


def test_months_and_everything_except(assistant: Assistant) -> None:
    from rag.catalog import sort_key
    a = assistant.ask("Which papers were published in December?")
    assert set(ids(a)) == {p.paper_id for p in assistant.catalog.papers if p.year and sort_key(p)[1] == 12}
    assert a.citations and "published in December" in a.answer
    assert assistant.read("what may be the best paper on unlearning?").filters.months == []
    b = assistant.ask("everything except machine learning")
    assert b.citations and all(c.category != "cs.LG" for c in b.citations)
    c = assistant.ask("anything not about unlearning?")
    assert c.citations and not any("unlearning" in c.title.lower() for c in c.citations)


def test_anything_else_besides_those(assistant: Assistant) -> None:
    history = _after(assistant, "unlearning in recommender systems")
    first = set(history[1].paper_ids)
    a = assistant.ask("anything else besides those?", history=history)
    assert not set(ids(a)) & first  # the previous answer's papers are left out
    assert a.citations and "Besides the" in a.answer or "No other paper" in a.answer
    history = _after(assistant, "papers on federated learning")
    b = assistant.ask("what else?", history=history)
    assert not set(ids(b)) & set(history[1].paper_ids)


def test_which_are_about_x_narrows_the_previous_answer(assistant: Assistant) -> None:
    history = _after(assistant, "papers by Zhongxuan Han")
    a = assistant.ask("which are about fairness?", history=history)
    assert a.citations and set(ids(a)) < set(history[1].paper_ids)
    alone = assistant.ask("which are about fairness?")  # nothing before: the collection
    assert len(alone.citations) >= len(a.citations)


def test_months_join_the_chat_filters_and_a_paper_without_authors_says_so(assistant: Assistant) -> None:
    from rag.catalog import sort_key
    from rag.types import Filters
    a = assistant.ask("Which papers were published in December?", filters=Filters(year_from=2024, year_to=2024))
    assert a.citations and all(c.year == 2024 for c in a.citations)
    assert all(sort_key(assistant.catalog.by_id[i])[1] == 12 for i in ids(a))
    unnamed = next(p for p in assistant.catalog.papers if not p.authors)  # the companion known only by its abstract
    b = assistant.ask("what else has its first author written?",
                      history=[Turn("user", "that companion paper"), Turn("assistant", unnamed.title, [unnamed.paper_id])])
    assert not b.citations and "list no authors" in b.answer


def test_others_besides_the_paper_in_view(assistant: Assistant) -> None:
    """dev5: "any others besides that one?" after a one-paper answer asks the question again without it."""
    history = [Turn("user", "video generation papers"),
               Turn("assistant", "I found:\n- MotionStone: Decoupled Motion Intensity Modulation with Diffusion "
                                 "Transformer for Image-to-Video Generation")]
    for q in ("any others besides that one?", "anything besides this paper?", "are there others?"):
        got = [c.title for c in assistant.ask(q, history=history).citations]
        assert got and not any(t.startswith("MotionStone") for t in got), q
        assert any(t.startswith("PhysRVG") for t in got), q


def test_undated_papers_are_a_filter_not_everything(assistant: Assistant) -> None:
    """'papers without a date' used to list all 31 papers (the words were dropped, no filter was left)."""
    undated = {p.paper_id for p in assistant.catalog.papers if not p.year or p.year_inferred}
    assert 0 < len(undated) < len(assistant.catalog)
    for q in ("papers without a date", "show me the undated entries", "how many papers have no year?"):
        a = assistant.ask(q)
        assert {c.paper_id for c in a.citations} == undated, q
    assert not assistant.read("unlearning papers with a date in 2024").filters.undated
