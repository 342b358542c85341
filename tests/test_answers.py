"""The offline answer as text: every [n] has its citation and every citation is used; every sentence of
substance is a sentence of the paper it cites (framing, titles, bylines and the caveat aside); answers about
authors carry the caveat; list gists say what each paper does; the layout reads as an answer."""

from __future__ import annotations

import re

import pytest

from rag.answer_offline import trim
from rag.assistant import Assistant
from rag.prompts import AUTHORS_CAVEAT
from rag.text import sentences
from rag.types import Answer, Turn

MARKER = re.compile(r"\[(\d+)\]")
TITLE_PREFIX = re.compile(r"^\*\*.+?\*\* \([^()]*\):\s*")

# Questions whose answers quote the sources (topic, fact, detail and list answers).
QUOTING = [
    "What has the group done on recommendation unlearning?",
    "What is EISAM?",
    "Which papers deal with federated learning?",
    "How many trainable parameters does VoP use?",
    "Which work studies copyright in text-to-image models?",
    "Which papers were published in 2023?",
    "Which papers have released code?",
    "What has Biao Gong worked on?",
    "List the computer vision papers",
    "Federated learning papers from 2025",
    "Tell me about Thompson sampling for portfolios",
]
CATALOG = [
    "How many papers did Yuyuan Li co-author since 2024?",
    "What is the oldest paper in the collection?",
    "Who wrote the LEGO paper?",
    "protein structure prediction",
    "Which papers did Geoffrey Hinton co-author?",
]


def normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def source_text(assistant: Assistant, paper_id: str) -> str:
    p = assistant.catalog.get(paper_id)
    assert p is not None
    return normal(" ".join([p.abstract, *p.other_abstracts]))


def quoted_sentences(answer: Answer) -> list[tuple[str, int]]:
    """(sentence, cited number) for each sentence before a marker, without bullets, bold titles and bylines."""
    out = []
    for line in answer.answer.splitlines():
        markers = list(MARKER.finditer(line))
        if not markers:
            continue
        segment = TITLE_PREFIX.sub("", re.sub(r"^- ", "", line[:markers[0].start()]).strip())
        out.extend((s, int(markers[0].group(1))) for s in sentences(segment) if s.strip())
    return out


@pytest.mark.parametrize("question", QUOTING + CATALOG)
def test_citation_numbers_match_the_citations(assistant: Assistant, question: str) -> None:
    a = assistant.ask(question)
    used = [int(n) for n in MARKER.findall(a.answer)]
    assert [c.n for c in a.citations] == list(range(1, len(a.citations) + 1))
    assert set(used) == {c.n for c in a.citations}, "every [n] has a citation and every citation is cited"
    assert list(dict.fromkeys(used)) == sorted(set(used)), "numbered in order of first use"
    for c in a.citations:
        assert c.snippet and all(h in assistant.catalog.get(c.paper_id).abstract for h in c.highlights)  # type: ignore[union-attr]


@pytest.mark.parametrize("question", QUOTING)
def test_every_sentence_of_substance_comes_from_the_cited_paper(assistant: Assistant, question: str) -> None:
    a = assistant.ask(question)
    claims = quoted_sentences(a)
    assert claims, a.answer
    for sentence, n in claims:
        cited = a.citations[n - 1]
        assert normal(sentence) in source_text(assistant, cited.paper_id), (sentence, cited.title)


@pytest.mark.parametrize("question", ["What has Biao Gong worked on?", "Show me papers by Gong.",
                                      "How many papers did Yuyuan Li co-author since 2024?",
                                      "Who wrote the LEGO paper?", "Which papers did Geoffrey Hinton co-author?"])
def test_answers_about_authors_carry_the_caveat(assistant: Assistant, question: str) -> None:
    assert AUTHORS_CAVEAT in assistant.ask(question).answer


@pytest.mark.parametrize("question", ["What is EISAM?", "Which papers have released code?",
                                      "protein structure prediction"])
def test_other_answers_do_not(assistant: Assistant, question: str) -> None:
    assert AUTHORS_CAVEAT not in assistant.ask(question).answer


def test_author_answer_names_the_known_authors(assistant: Assistant) -> None:
    a = assistant.ask("Who wrote the LEGO paper?")
    lego = next(p for p in assistant.catalog.papers if p.title.startswith("LEGO"))
    assert [c.paper_id for c in a.citations] == [lego.paper_id]
    assert f"is by {lego.authors_display}" in a.answer


def test_list_gists_say_what_each_paper_does(assistant: Assistant) -> None:
    """'Which papers have code?' must not answer with each paper's 'our code is at …' sentence."""
    a = assistant.ask("Which papers have released code?")
    for c in a.citations:
        [gist] = c.highlights
        pr = assistant.planner.stats.profile_of(c.paper_id)
        assert pr is not None
        if any(s.proposal or s.named for s in pr.sentences):
            chosen = next(s for s in pr.sentences if s.text == gist)
            assert chosen.proposal or chosen.named, gist
        assert "github" not in gist.lower()


def test_a_one_paper_answer_leads_with_the_paper_and_names_its_method(assistant: Assistant) -> None:
    a = assistant.ask("Has the group worked on updating or correcting facts stored in multimodal large language "
                      "models?")
    first, body = a.answer.splitlines()[:2]
    assert first.startswith("**Out-of-Distribution Generalization via Invariant Trajectories")
    assert "ODEdit" in body


def test_a_topic_answer_lists_each_paper_once_closest_first(assistant: Assistant) -> None:
    a = assistant.ask("Which papers deal with federated learning?")
    lines = [x for x in a.answer.splitlines() if x.startswith("- ")]
    assert len(lines) == len(a.citations) == len({c.paper_id for c in a.citations})
    assert a.answer.splitlines()[0] == f"{len(a.citations)} papers in the collection bear on this, closest first:"
    assert [s.paper_id for s in a.sources[:len(a.citations)]] == [c.paper_id for c in a.citations]


def test_count_answer_states_the_number_first(assistant: Assistant) -> None:
    a = assistant.ask("How many papers have released code?")
    n = len(a.citations)
    assert a.answer.startswith(f"**{n}** papers with released code:")
    assert len([x for x in a.answer.splitlines() if x.startswith("- **")]) == n


def test_order_answer_cites_only_the_answer(assistant: Assistant) -> None:
    history = [Turn("user", "Which papers deal with fairness in federated learning?"),
               Turn("assistant", "- FedFACT: A Provable Framework for Controllable Group-Fairness Calibration in "
                                 "Federated Learning\n- WassFFed: Wasserstein Fair Federated Learning")]
    a = assistant.ask("Which of those was published first, and when?", history=history)
    assert [c.title for c in a.citations] == ["WassFFed: Wasserstein Fair Federated Learning"]
    assert "Nov 11, 2024" in a.answer and "FedFACT (Jun 4, 2025)" in a.answer


def test_abstention_cites_nothing(assistant: Assistant) -> None:
    a = assistant.ask("protein structure prediction")
    assert a.abstained and not a.citations and not MARKER.search(a.answer)


@pytest.mark.parametrize(("sentence", "expected"), [
    ("To address this challenge, we propose EISAM, a novel optimization framework for tails.",
     "We propose EISAM, a novel optimization framework for tails."),
    ("In this paper, we study the machine unlearning problem in I2I generative models.",
     "We study the machine unlearning problem in I2I generative models."),
    ("Specifically, we divide the multiple-attribute unlearning process into two steps.",
     "We divide the multiple-attribute unlearning process into two steps."),
    ("We propose LEGO, a lightweight framework.", "We propose LEGO, a lightweight framework."),
    ("However, this is short.", "However, this is short."),  # too little left to stand alone
])
def test_trim_drops_only_a_leading_connective(sentence: str, expected: str) -> None:
    assert trim(sentence) == expected
