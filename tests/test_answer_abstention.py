"""Abstention: off-topic and near-miss questions get "nothing on …" with the nearest papers and no citation;
paraphrased answerable questions (other words than the abstracts use) are answered, by the right paper.
The relevance judgement that decides is fitted on eval/dev.jsonl (rag/relevance.py, eval/fit_relevance.py);
these probes were written for the earlier hand-tuned thresholds and are never fitted on."""

from __future__ import annotations

import pytest

from rag.assistant import Assistant
from rag.prompts import ABSTAIN_PREFIX

OFF_TOPIC = [
    "What has the group published on protein structure prediction?",
    "Which papers address quantum error correction?",
    "Has the group worked on lidar point-cloud perception for self-driving cars?",
    "Is there any paper on molecule generation for drug discovery?",
    "Any work on blockchain smart contracts?",
    "papers about genome sequencing",
    "Do they have anything about weather prediction?",
    "audio source separation",
]
# Near misses: the collection has papers on a neighbouring subject (RL for video generation, image models,
# LLMs, classification), but not on this one.
NEAR_MISS = [
    "What has the group done on image classification on ImageNet?",
    "reinforcement learning for robots",
    "How do you train robots with reinforcement learning?",
    "reinforcement learning for playing Atari games",
    "Has the group worked on machine translation?",
    "text-to-speech synthesis",
    "large language models for mathematical theorem proving",
    "code generation with large language models",
    "Which papers study question answering over tables?",
    "What about 3D human pose estimation?",
    "medical image segmentation",
    "Which papers do object detection for autonomous driving?",
]
# Paraphrases: none of these uses the abstract's own key phrase.
PARAPHRASED = [
    ("Is there work on animating a single still picture into a video clip?", "MotionStone"),
    ("understanding jokes and wordplay in images", "Multimodal Puns"),
    ("Which paper tackles the problem that rarely-interacted items get poor results when an LLM is used as the "
     "recommender?", "Taming the Long Tail"),
    ("How do you guarantee equitable outcomes for demographic groups when a model is trained across many clients "
     "without sharing their data?", "FedFACT"),
    ("Has the group worked on updating or correcting facts stored in multimodal large language models?",
     "Model Editing"),
    ("Making a recommender system forget some user data", "Making Recommender Systems Forget"),
    ("Anything on using bandit algorithms for investment decisions?", "Adaptive Portfolio"),
    ("adapting CLIP-like models across clients in one round", "TOFA"),
    ("Which of the group's papers are surveys or literature reviews?", "A Survey on"),
    ("knowledge graphs built from news", "UKnow"),
    ("forgetting a whole class in federated training", "Class-wise Federated Unlearning"),
    ("What is MultiPun?", "Multimodal Puns"),
]


# The judgement is statistical (fitted on the dev split, never on these probes): clearly off-topic questions must
# all abstain; the near misses and paraphrases are scored together, each group against a floor set at the share
# measured when the judgement was last refitted (near misses 10/12, paraphrases 9/12 on 2026-12-02), so a
# refit that makes abstention clearly worse fails here, and one question changing sides does not.
NEAR_MISS_FLOOR = 0.75
PARAPHRASE_FLOOR = 0.67


def _abstains_properly(assistant: Assistant, question: str) -> bool:
    a = assistant.ask(question)
    if not a.abstained:
        return False
    assert a.citations == [] and "[1]" not in a.answer
    assert a.answer.startswith(ABSTAIN_PREFIX)
    nearest = [line[2:] for line in a.answer.splitlines() if line.startswith("- ")]
    assert len(nearest) == 3 and set(nearest) <= {p.title for p in assistant.catalog.papers}
    return True


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_abstain_and_name_the_nearest_topics(assistant: Assistant, question: str) -> None:
    assert _abstains_properly(assistant, question)


def test_most_near_misses_abstain(assistant: Assistant) -> None:
    answered = [q for q in NEAR_MISS if not _abstains_properly(assistant, q)]
    assert 1 - len(answered) / len(NEAR_MISS) >= NEAR_MISS_FLOOR, answered


def test_most_paraphrases_are_answered_by_the_right_paper(assistant: Assistant) -> None:
    missed = []
    for question, title_part in PARAPHRASED:
        a = assistant.ask(question)
        if a.abstained or not any(title_part in c.title for c in a.citations):
            missed.append(question)
    assert 1 - len(missed) / len(PARAPHRASED) >= PARAPHRASE_FLOOR, missed


def test_abstention_repeats_the_subject_as_asked(assistant: Assistant) -> None:
    a = assistant.ask("Which papers use graph neural networks for traffic forecasting?")
    assert a.answer.startswith(f"{ABSTAIN_PREFIX} graph neural networks for traffic forecasting.")


def test_every_paper_is_reachable_by_its_own_title(assistant: Assistant) -> None:
    """The lexical route: a question quoting a title (minus its short name) is never an abstention."""
    for p in assistant.catalog.papers:
        a = assistant.ask(f"Tell me about {p.title.split(': ')[-1]}")
        assert not a.abstained, p.title
        assert p.paper_id in {c.paper_id for c in a.citations} | {s.paper_id for s in a.sources[:3]}, p.title
