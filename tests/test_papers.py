"""Parsing the seed corpus into Papers: every listing entry split exactly, every merge decision checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.papers import split_title_authors
from ingest.pipeline import load_papers
from rag.types import Paper

DATA = Path(__file__).resolve().parents[1] / "data"
LISTING = "000_f3841e431c41a46e.txt"
ABSTRACTS = "002_5f359bf6322cb736.txt"

# Written by hand from data/000_f3841e431c41a46e.txt: (header line, title, authors, date, year, year_inferred,
# category, has_code, score). Every listing names three authors and then "et al.".
EXPECTED = [
    (1, "VoP: Text-Video Co-operative Prompt Tuning for Cross-Modal Retrieval",
     ["Siteng Huang", "Biao Gong", "Yulin Pan"], "Nov 23, 2022", 2022, False, "cs.CV", True, None),
    (4, "CURE4Rec: A Benchmark for Recommendation Unlearning with Deeper Influence",
     ["Chaochao Chen", "Jiaming Zhang", "Yizhao Zhang"], "Aug 26, 2024", 2024, False, "cs.IR", True, None),
    (7, "Making Recommender Systems Forget: Learning and Unlearning for Erasable Recommendation",
     ["Yuyuan Li", "Xiaolin Zheng", "Chaochao Chen"], "Mar 22, 2022", 2022, False, "cs.IR", False, None),
    (10, "Demystifying the Optimal Fair Classifier in Multi-Class Classification",
     ["Li Zhang", "Yuyuan Li", "XiaoHua Feng"], "May 30", 2026, True, "cs.LG", False, 54.6),
    (13, "Integration of Large Language Models and Federated Learning",
     ["Chaochao Chen", "Xiaohua Feng", "Yuyuan Li"], "Jul 18, 2023", 2023, False, "cs.LG", False, None),
    (16, "Making Users Indistinguishable: Attribute-wise Unlearning in Recommender Systems",
     ["Yuyuan Li", "Chaochao Chen", "Xiaolin Zheng"], "Oct 6, 2023", 2023, False, "cs.LG", False, None),
    (19, "UKnow: A Unified Knowledge Protocol with Multimodal Knowledge Graph Datasets for Reasoning and "
         "Vision-Language Pre-Training",
     ["Biao Gong", "Shuai Tan", "Yutong Feng"], "Feb 14, 2023", 2023, False, "cs.CV", False, None),
    (22, "Class-wise Federated Unlearning: Harnessing Active Forgetting with Teacher-Student Memory Generation",
     ["Yuyuan Li", "Jiaming Zhang", "Yixiu Liu"], "Jul 7, 2023", 2023, False, "cs.LG", False, None),
    (25, "Check, Locate, Rectify: A Training-Free Layout Calibration System for Text-to-Image Generation",
     ["Biao Gong", "Siteng Huang", "Yutong Feng"], "Nov 27, 2023", 2023, False, "cs.CV", False, None),
    (28, "Sharpness-Aware Minimization for Generalized Embedding Learning in Federated Recommendation",
     ["Fengyuan Yu", "Xiaohua Feng", "Yuyuan Li"], "Mar 12", 2026, True, "cs.LG", True, 78.5),
    (31, "Controllable Unlearning for Image-to-Image Generative Models via $\\varepsilon$-Constrained Optimization",
     ["Xiaohua Feng", "Yuyuan Li", "Chaochao Chen"], "Aug 3, 2024", 2024, False, "cs.LG", False, None),
    (34, "Bridging the Copyright Gap: Do Large Vision-Language Models Recognize and Respect Copyrighted Content?",
     ["Naen Xu", "Jinghuai Zhang", "Changjiang Li"], "Dec 26, 2025", 2025, False, "cs.CL", False, None),
    (37, "Out-of-Distribution Generalization via Invariant Trajectories for Multimodal Large Language Model Editing",
     ["Jiajie Su", "Haoyuan Wang", "Xiaohua Feng"], "Jan 27", 2026, True, "cs.LG", False, None),
    (40, "PhysRVG: Physics-Aware Unified Reinforcement Learning for Video Generative Models",
     ["Qiyuan Zhang", "Biao Gong", "Shuai Tan"], "Jan 16", 2026, True, "cs.CV", False, None),
    (43, "A Survey on Generative Model Unlearning: Fundamentals, Taxonomy, Evaluation, and Future Direction",
     ["Xiaohua Feng", "Jiaming Zhang", "Fengyuan Yu"], "Jul 26, 2025", 2025, False, "cs.LG", True, None),
    (46, "LEGO: A Lightweight and Efficient Multiple-Attribute Unlearning Framework for Recommender Systems",
     ["Fengyuan Yu", "Yuyuan Li", "Xiaohua Feng"], "Oct 23, 2025", 2025, False, "cs.LG", True, None),
    (49, "MotionStone: Decoupled Motion Intensity Modulation with Diffusion Transformer for Image-to-Video Generation",
     ["Shuwei Shi", "Biao Gong", "Xi Chen"], "Dec 8, 2024", 2024, False, "cs.CV", False, None),
    (52, "A Survey on Recommendation Unlearning: Fundamentals, Taxonomy, Evaluation, and Open Questions",
     ["Yuyuan Li", "Xiaohua Feng", "Chaochao Chen"], "Dec 17, 2024", 2024, False, "cs.IR", False, None),
    (55, "CopyrightMeter: Revisiting Copyright Protection in Text-to-image Models",
     ["Naen Xu", "Changjiang Li", "Tianyu Du"], "Nov 20, 2024", 2024, False, "cs.CR", False, None),
    (58, "\"I See What You Did There\": Can Large Vision-Language Models Understand Multimodal Puns?",
     ["Naen Xu", "Jiayi Sheng", "Changjiang Li"], "Apr 7", 2026, True, "cs.CL", False, 41.3),
    (61, "Bridging the Gap Between Preference Alignment and Machine Unlearning",
     ["Xiaohua Feng", "Yuyuan Li", "Huwei Ji"], "Apr 9, 2025", 2025, False, "cs.LG", False, None),
    (64, "Taming the Long Tail: Efficient Item-wise Sharpness-Aware Minimization for LLM-based Recommender Systems",
     ["Jiaming Zhang", "Yuyuan Li", "Xiaohua Feng"], "Mar 13", 2026, True, "cs.IR", False, 64.2),
    (67, "TOFA: Training-Free One-Shot Federated Adaptation for Vision-Language Models",
     ["Li Zhang", "Zhongxuan Han", "XiaoHua Feng"], "Nov 20, 2025", 2025, False, "cs.AI", False, None),
    (70, "FedFACT: A Provable Framework for Controllable Group-Fairness Calibration in Federated Learning",
     ["Li Zhang", "Zhongxuan Han", "Xiaohua Feng"], "Jun 4, 2025", 2025, False, "cs.LG", False, None),
    (73, "RAID: An In-Training Defense against Attribute Inference Attacks in Recommender Systems",
     ["Xiaohua Feng", "Yuyuan Li", "Fengyuan Yu"], "Apr 15, 2025", 2025, False, "cs.IR", False, None),
    (76, "A Neuro-inspired Interpretation of Unlearning in Large Language Models through Sample-level "
         "Unlearning Difficulty",
     ["Xiaohua Feng", "Yuyuan Li", "Chengye Wang"], "Apr 9, 2025", 2025, False, "cs.LG", False, None),
    (79, "Reproducibility Companion Paper: Making Users Indistinguishable: Attribute-wise Unlearning in "
         "Recommender Systems",
     ["Yuyuan Li", "Junjie Fang", "Chaochao Chen"], "Mar 29, 2025", 2025, False, "cs.IR", False, None),
    (82, "WassFFed: Wasserstein Fair Federated Learning",
     ["Zhongxuan Han", "Li Zhang", "Chaochao Chen"], "Nov 11, 2024", 2024, False, "cs.LG", False, None),
    (85, "In-processing User Constrained Dominant Sets for User-Oriented Fairness in Recommender Systems",
     ["Zhongxuan Han", "Chaochao Chen", "Xiaolin Zheng"], "Sep 4, 2023", 2023, False, "cs.IR", False, None),
    (88, "Adaptive Portfolio by Solving Multi-armed Bandit via Thompson Sampling",
     ["Mengying Zhu", "Xiaolin Zheng", "Yan Wang"], "Nov 13, 2019", 2019, False, "cs.LG", False, None),
]

# Line of each record in the abstracts-only file → title of the listing paper it is another version of
# (None: no listing entry — the reproducibility companion of the In-UCDS paper). Checked by reading both files.
MERGES = {
    1: "Taming the Long Tail: Efficient Item-wise Sharpness-Aware Minimization for LLM-based Recommender Systems",
    2: "Sharpness-Aware Minimization for Generalized Embedding Learning in Federated Recommendation",
    3: "Out-of-Distribution Generalization via Invariant Trajectories for Multimodal Large Language Model Editing",
    4: "PhysRVG: Physics-Aware Unified Reinforcement Learning for Video Generative Models",
    5: "Bridging the Copyright Gap: Do Large Vision-Language Models Recognize and Respect Copyrighted Content?",
    10: "FedFACT: A Provable Framework for Controllable Group-Fairness Calibration in Federated Learning",
    11: "RAID: An In-Training Defense against Attribute Inference Attacks in Recommender Systems",
    12: "A Neuro-inspired Interpretation of Unlearning in Large Language Models through Sample-level "
        "Unlearning Difficulty",
    17: "Bridging the Gap Between Preference Alignment and Machine Unlearning",
    18: None,
}
IN_UCDS = "In-processing User Constrained Dominant Sets for User-Oriented Fairness in Recommender Systems"


@pytest.fixture(scope="module")
def papers() -> list[Paper]:
    papers, records, errors = load_papers([DATA], listing_year=2026)
    assert records == 40 and errors == []
    return papers


def by_title(papers: list[Paper]) -> dict[str, Paper]:
    return {p.title: p for p in papers}


def test_exactly_31_distinct_papers(papers: list[Paper]) -> None:
    assert len(papers) == 31
    assert len({p.paper_id for p in papers}) == 31
    assert len({p.title for p in papers}) == 31


@pytest.mark.parametrize("row", EXPECTED, ids=[r[1][:40] for r in EXPECTED])
def test_listing_entry_parses_exactly(papers: list[Paper], row: tuple) -> None:
    line, title, authors, date, year, inferred, category, code, score = row
    p = by_title(papers).get(title)
    assert p is not None, f"no paper titled {title!r}; titles: {[x.title for x in papers]}"
    assert p.authors == authors
    assert p.authors_truncated is True
    assert (p.date, p.year, p.year_inferred) == (date, year, inferred)
    assert (p.category, p.has_code, p.score) == (category, code, score)
    assert p.title_source == "listing"
    assert p.provenance[0].path.endswith(LISTING) and p.provenance[0].line == line
    assert p.provenance[0].kind == "listing"


def test_every_listing_entry_is_in_the_table(papers: list[Paper]) -> None:
    assert sorted(p.title for p in papers if p.title_source == "listing") == sorted(r[1] for r in EXPECTED)


def test_listing_year_setting_decides_undated_entries() -> None:
    papers, _, _ = load_papers([DATA], listing_year=2025)
    p = by_title(papers)["PhysRVG: Physics-Aware Unified Reinforcement Learning for Video Generative Models"]
    assert (p.year, p.year_inferred) == (2025, True)


@pytest.mark.parametrize("line", sorted(MERGES))
def test_merge_decision(papers: list[Paper], line: int) -> None:
    owners = [p for p in papers for s in p.provenance if s.path.endswith(ABSTRACTS) and s.line == line]
    assert len(owners) == 1, f"abstract on line {line} belongs to {len(owners)} papers"
    owner = owners[0]
    expected = MERGES[line]
    if expected is None:
        assert owner.title_source == "derived"
        assert owner.provenance == [owner.provenance[0]] and owner.provenance[0].kind == "abstracts"
    else:
        assert owner.title == expected
        assert owner.provenance[0].path.endswith(LISTING), "the listing's version stays primary"
        text = (DATA / ABSTRACTS).read_text().splitlines()[line - 1].removeprefix("Abstract:").strip()
        assert text == owner.abstract or text in owner.other_abstracts, "both texts are kept"


def test_reworded_versions_are_kept_as_other_abstracts(papers: list[Paper]) -> None:
    reworded = [p for p in papers if p.other_abstracts]
    # Two of the nine are reworded; seven are verbatim copies (nothing new to keep, provenance still recorded).
    assert sorted(p.title.split(":")[0] for p in reworded) == [
        "FedFACT", "Out-of-Distribution Generalization via Invariant Trajectories for Multimodal Large Language "
        "Model Editing"]
    for p in reworded:
        assert p.other_abstracts[0] != p.abstract


def test_untitled_companion_is_its_own_flagged_paper(papers: list[Paper]) -> None:
    derived = [p for p in papers if p.title_source == "derived"]
    assert len(derived) == 1
    p = derived[0]
    assert p.title == f"Reproducibility Companion Paper: {IN_UCDS}"
    assert p.paper_id.startswith("untitled-")
    assert (p.authors, p.year, p.category, p.has_code, p.date) == ([], None, None, False, None)


def test_the_two_reproducibility_companions_are_different_papers(papers: list[Paper]) -> None:
    companions = [p for p in papers if p.title.startswith("Reproducibility Companion Paper")]
    assert len(companions) == 2
    a, b = companions
    assert a.paper_id != b.paper_id
    assert not a.other_abstracts and not b.other_abstracts, "neither swallowed the other"
    assert IN_UCDS in b.title or IN_UCDS in a.title


def test_code_and_project_urls_are_found(papers: list[Paper]) -> None:
    t = by_title(papers)
    assert t["VoP: Text-Video Co-operative Prompt Tuning for Cross-Modal Retrieval"].urls == [
        "https://github.com/bighuang624/VoP"]
    assert t["CURE4Rec: A Benchmark for Recommendation Unlearning with Deeper Influence"].urls == [
        "https://github.com/xiye7lai/CURE4Rec"]
    for p in papers:
        for u in p.urls:
            assert u.startswith("http") and not u.endswith((".", ",", ")"))


def test_paper_ids_are_stable_and_derived_from_titles(papers: list[Paper]) -> None:
    again, _, _ = load_papers([DATA], listing_year=2026)
    assert [p.paper_id for p in papers] == [p.paper_id for p in again]
    vop = by_title(papers)["VoP: Text-Video Co-operative Prompt Tuning for Cross-Modal Retrieval"]
    assert vop.paper_id == "vop-text-video-co-operative-prompt-tuning-for-cross-modal"


@pytest.mark.parametrize("line,title,authors,truncated", [
    ("Some Title?Ann Lee et al.", "Some Title?", ["Ann Lee"], True),
    ("A Study of $x$Ann Lee, Bo Chen", "A Study of $x$", ["Ann Lee", "Bo Chen"], False),
    ("Deep Nets (DN)Ann Lee, Bo Chen, Cy Dee et al.", "Deep Nets (DN)", ["Ann Lee", "Bo Chen", "Cy Dee"], True),
    ("\"Quoted\"XiaoHua Feng, Bo Chen et al.", "\"Quoted\"", ["XiaoHua Feng", "Bo Chen"], True),
    ("GPT-4Ann Lee et al.", "GPT-4", ["Ann Lee"], True),
    ("Models for AIJosé Núñez, Ann Lee et al.", "Models for AI", ["José Núñez", "Ann Lee"], True),
])
def test_title_author_split_edge_cases(line: str, title: str, authors: list[str], truncated: bool) -> None:
    assert split_title_authors(line, set()) == (title, authors, truncated)


def test_known_names_decide_ambiguous_capitals() -> None:
    # "Pre-TrainingBiao Gong": both "TrainingBiao" and "Biao" look like given names; a name seen un-glued
    # elsewhere in the listing wins.
    line = "Vision-Language Pre-TrainingBiao Gong, Shuai Tan et al."
    assert split_title_authors(line, {"biao gong"})[0] == "Vision-Language Pre-Training"


def test_title_line_without_authors_is_rejected() -> None:
    with pytest.raises(ValueError, match="no author list"):
        split_title_authors("Just a title with no authors", set())


def test_to_dict_is_asdict_without_the_body() -> None:
    """Paper.to_dict is built by hand for speed; it must stay exactly what dataclasses.asdict gives (the stored
    digests are of it: a difference would make every paper look changed)."""
    import dataclasses
    import json

    from ingest.pipeline import load_papers

    papers, _, _ = load_papers([Path(__file__).resolve().parent.parent / "data"], 2026)
    for p in papers:
        expected = dataclasses.asdict(p)
        expected.pop("body")
        assert json.dumps(p.to_dict()) == json.dumps(expected)
