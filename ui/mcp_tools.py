"""Paper-lookup tools that `labqa serve` offers to MCP clients (Gradio's built-in MCP server turns every
public API function into a tool: the docstring is the description a model reads, the typed parameters the
arguments). The `ask` tool is ui.app's `/ask` endpoint. These only read the catalog: no file, network or
index access beyond it."""

from __future__ import annotations

import logging
from typing import Any

from rag.errors import LabQAError
from rag.types import Paper

log = logging.getLogger(__name__)
MAX_RESULTS = 50


def paper_summary(p: Paper) -> dict[str, Any]:
    return {
        "paper_id": p.paper_id, "title": p.title, "authors": p.authors,
        "authors_complete": not p.authors_truncated, "year": p.year, "date": p.date,
        "categories": p.categories or ([p.category] if p.category else []), "venue": p.venue,
        "doi": p.doi, "arxiv_id": p.arxiv_id, "url": p.url, "has_code": p.has_code,
        "full_text_pages": p.fulltext_pages,
    }


def register(service) -> None:  # type: ignore[no-untyped-def]
    """Add the lookup tools to the gr.Blocks being built (call inside its `with` block)."""
    import gradio as gr

    def catalog():  # type: ignore[no-untyped-def]
        try:
            return service.assistant.catalog
        except LabQAError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    def find_papers(query: str = "", limit: int = 10) -> list[dict[str, Any]]:
        """Look up papers of the research group's collection by metadata (not by meaning: use `ask` for
        questions about content). Every word of `query` must appear in the paper's title, an author's name,
        the year, an arXiv category, a keyword, the venue, the DOI or the arXiv id; case and accents are
        ignored. An empty query lists the collection.

        Args:
            query: words to match, e.g. "Del Maestro 2013", "cs.IR unlearning", "10.1103/PhysRevB.85.115117".
            limit: at most this many papers (1-50), newest first.

        Returns:
            A list of papers: paper_id (for get_paper and paper_bibtex), title, authors, authors_complete (false
            when the source listed only the first authors, "et al."), year, date, categories, venue, doi,
            arxiv_id, url, has_code, full_text_pages (0 when only the abstract is indexed).
        """
        from rag.bibtex_out import select

        found = select(catalog().papers, query or "")
        found.sort(key=lambda p: -(p.year or 0))
        return [paper_summary(p) for p in found[: max(1, min(int(limit), MAX_RESULTS))]]

    def get_paper(paper_id: str) -> dict[str, Any]:
        """Everything the collection knows about one paper: its metadata, its abstract (and other versions
        of it), and where each piece came from (source files and lines).

        Args:
            paper_id: the paper_id from find_papers or from a citation of `ask`.

        Returns:
            The paper's fields as in find_papers plus abstract, other_abstracts, keywords, journal_ref and
            sources (file, line, kind).
        """
        paper = catalog().get(paper_id.strip())
        if paper is None:
            raise gr.Error(f"No paper with id {paper_id!r}. Find ids with find_papers.", print_exception=False)
        out = paper_summary(paper)
        out.update(abstract=paper.abstract, other_abstracts=paper.other_abstracts, keywords=paper.keywords,
                   journal_ref=paper.journal_ref,
                   sources=[{"file": s.path, "line": s.line, "kind": s.kind} for s in paper.provenance])
        return out

    def paper_bibtex(paper_ids: list[str]) -> str:
        """BibTeX entries for papers of the collection, ready to paste into a .bib file.

        Args:
            paper_ids: paper_id values from find_papers or from the citations of an `ask` answer.

        Returns:
            The entries as one BibTeX string (unknown ids are an error).
        """
        from rag.bibtex_out import to_bibtex

        cat = catalog()
        ids = [paper_ids] if isinstance(paper_ids, str) else list(paper_ids)
        missing = [i for i in ids if cat.get(i) is None]
        if missing:
            raise gr.Error(f"No paper with id {', '.join(map(repr, missing))}.", print_exception=False)
        return to_bibtex([cat.get(i) for i in ids])

    for fn in (find_papers, get_paper, paper_bibtex):
        gr.api(fn, api_name=fn.__name__)
