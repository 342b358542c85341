"""The catalog's indexes and derived state (name linker, term statistics, acronyms) updated from the papers that
changed equal those built from every paper, so a running process can follow an ingest without recounting."""

from __future__ import annotations

from pathlib import Path

from ingest.pipeline import load_papers
from rag.catalog import Catalog
from rag.derived import changes_between, derive
from rag.query_parser import linker_for
from rag.term_stats import catalog_terms
from rag.text import Vocabulary
from rag.types import Paper

DATA = Path(__file__).resolve().parent.parent / "data"


def built(papers: list[Paper], previous: Catalog | None = None, removed: list[Paper] | None = None,
          added: list[Paper] | None = None) -> Catalog:
    catalog = Catalog(papers) if previous is None else Catalog.updated(papers, previous, removed or [], added or [])
    derive(catalog, previous, removed, added)
    return catalog


INDEXES = ("by_id", "authors", "position", "all_ids", "by_year", "by_category", "with_code", "known",
           "author_by_folded", "by_name_word", "title_folded", "by_title", "companions", "max_author_words",
           "title_names", "quotes")


def assert_same_state(incremental: Catalog, full: Catalog, changed: set[str]) -> None:
    for name in INDEXES:
        assert getattr(incremental, name) == getattr(full, name), name
    assert {k: sorted(v) for k, v in incremental.names_by_first_word.items()} == \
        {k: sorted(v) for k, v in full.names_by_first_word.items()}
    a, b = linker_for(incremental), linker_for(full)
    assert a.vocabulary == b.vocabulary
    assert a.stems == b.stems
    assert a.paper_names == b.paper_names
    assert a.acronyms.by_expansion == b.acronyms.by_expansion
    ta, tb = catalog_terms(incremental), catalog_terms(full)
    assert set(ta.paper_terms) == set(tb.paper_terms)
    for pid in changed & set(tb.paper_terms):
        assert ta.paper_terms[pid] == tb.paper_terms[pid]
    assert ta.vocab.n == tb.vocab.n == len(full)
    # the document frequencies are a full build's, except that an acronym only an added paper defines counts
    # in the other papers' frequencies from the next full build on (their terms, computed on use, have it)
    acronyms = set(tb.acronyms.expansions)
    full_df = Vocabulary.from_term_sets(list(tb.paper_terms.values())).df
    assert {t: n for t, n in ta.vocab.df.items() if t not in acronyms} == \
        {t: n for t, n in full_df.items() if t not in acronyms}
    assert all(ta.vocab.df[t] <= full_df[t] for t in acronyms)


def test_adding_removing_and_changing_papers_updates_the_state_like_a_full_build() -> None:
    papers, _, _ = load_papers([DATA], 2026)
    assert len(papers) == 31
    # papers that define acronyms and names (EISAM, CURE4Rec, …) come and go
    # and one that a reproducibility companion quotes by its full title (the companions index)
    leave = [p for p in papers if "EISAM" in p.abstract or "CURE4Rec" in p.title][:2] + \
        [p for p in papers if p.title.startswith("Making Users Indistinguishable")]
    assert len(leave) == 3
    rest = [p for p in papers if p not in leave]
    before = built(rest)
    after_full = built(papers)
    after = built(papers, before, [], leave)
    assert_same_state(after, after_full, {p.paper_id for p in leave})
    assert "eisam" in linker_for(after).paper_names
    assert leave[2].paper_id in after.companions and leave[2].paper_id not in before.companions

    # and back: removing them again
    again = built(rest, after, leave, [])
    assert_same_state(again, before, set())
    assert "eisam" not in linker_for(again).paper_names

    # a changed paper (new abstract text) is removed and added
    old = papers[0]
    new = Paper.from_dict({**old.to_dict(), "abstract": old.abstract + " We call the method ZORBLAX."})
    changed = [new, *papers[1:]]
    gone, came = changes_between({p.paper_id: p.abstract for p in papers}, {p.paper_id: p.abstract for p in changed})
    assert gone == came == {old.paper_id}
    updated = built(changed, after, [old], [new])
    assert_same_state(updated, built(changed), {old.paper_id})
    assert linker_for(updated).paper_names.get("zorblax") == {old.paper_id}
