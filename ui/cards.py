"""HTML for the chat: source cards (one per cited paper), the answer's footer and small text helpers.

Everything that comes from the corpus or the user is escaped here, once: abstracts contain `$`, `<`,
`&` and quotes, and a title must never be able to inject markup into the page."""

from __future__ import annotations

import html
import re
from urllib.parse import urlparse

from rag import formatting
from rag.formatting import authors_text
from rag.types import Answer, Citation, Paper

# A few TeX fragments appear in titles and abstracts ($\varepsilon$-constrained, $\mathrm{MRD}$). Render the
# simple ones as plain text; anything more complex is shown as written.
_TEX_SYMBOLS = {
    "varepsilon": "ε", "epsilon": "ϵ", "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "lambda": "λ",
    "mu": "μ", "sigma": "σ", "theta": "θ", "tau": "τ", "phi": "φ", "pi": "π", "rho": "ρ", "omega": "ω",
    "eta": "η", "kappa": "κ", "ell": "ℓ", "infty": "∞", "times": "×", "cdot": "·", "leq": "≤", "geq": "≥",
    "le": "≤", "ge": "≥", "approx": "≈", "pm": "±", "to": "→", "rightarrow": "→", "sim": "∼",
}
# Pandoc's rule for inline math: no space inside the dollars, no digit right after the closing one ("$5 and $10").
_TEX_INLINE = re.compile(r"\$(?=\S)([^$\n]{1,80}?)(?<=\S)\$(?!\d)")
_TEX_WRAPPER = re.compile(r"\\(?:mathrm|text|textrm|mathit|mathbf|mathsf|operatorname|textbf|textit)\{([^{}]*)\}")
_TEX_SYMBOL = re.compile(r"\\([A-Za-z]+)")
CITE_MARKER = re.compile(r"\[(\d{1,3})\]")
# "Copy BibTeX" buttons carry their entries in data-bibtex; one delegated listener (in the page head) copies
# them, so the cards stay plain HTML without inline handlers.
COPY_BIBTEX_JS = ("<script>document.addEventListener('click', (e) => { const b = e.target.closest('.lq-copy-bib');"
                  " if (!b) return; navigator.clipboard.writeText(b.dataset.bibtex || '').then(() => {"
                  " const t = b.textContent; b.textContent = 'Copied'; setTimeout(() => { b.textContent = t; }, 1200);"
                  " }); });</script>")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}#|~])")
_MD_LINE_START = re.compile(r"^(\s*(?:\d+)?)([-+.)])(?=\s|$)", re.M)  # list markers: "- x", "+ x", "1. x"


def tex_to_text(text: str) -> str:
    """'$\\varepsilon$-Constrained' → 'ε-Constrained'; unknown TeX stays as written."""

    def one(m: re.Match[str]) -> str:
        if not re.search(r"[\\^_]", m.group(1)) and " " in m.group(1):  # prose between two dollars
            return m.group(0)
        body = _TEX_WRAPPER.sub(r"\1", m.group(1))
        body = _TEX_SYMBOL.sub(lambda s: _TEX_SYMBOLS.get(s.group(1), s.group(0)), body)
        return m.group(0) if re.search(r"[\\{}^_]", body) else body

    return _TEX_INLINE.sub(one, text)


def esc(text: object) -> str:
    """HTML-escaped text (TeX made readable). `$` is escaped too: Gradio's HTML component fills a JS-style
    template, and a literal `${` must never reach it."""
    return html.escape(tex_to_text(str(text)), quote=True).replace("$", "&#36;")


def safe_url(url: str | None) -> str | None:
    """Only plain http(s) links are rendered as links (no javascript: or data: URLs from the corpus)."""
    if not url:
        return None
    parsed = urlparse(url.strip())
    return url.strip() if parsed.scheme in ("http", "https") and parsed.netloc else None


def when_text(date: str | None, year: int | None, year_inferred: bool = False) -> str:
    """The card's date: an inferred year is marked as such (rag.formatting is the one place for this)."""
    return formatting.when_text(date, year, year_inferred, mark_inferred=True)


def link_label(url: str, has_code: bool) -> str:
    host = urlparse(url).netloc.lower()
    if any(h in host for h in ("github.com", "gitlab.com", "bitbucket.org", "huggingface.co")):
        return "Code"
    return "Project page" if not has_code else "Code / project page"


def link_html(url: str | None, has_code: bool) -> str:
    good = safe_url(url)
    if good:
        return (f'<a class="lq-link" href="{html.escape(good, quote=True)}" target="_blank" '
                f'rel="noopener noreferrer">{link_label(good, has_code)} ↗</a>')
    if has_code:
        return '<span class="lq-chip lq-chip-code">code released</span>'
    return ""


def _find(snippet: str, sentence: str) -> tuple[int, int] | None:
    """Where a highlighted sentence sits in the snippet (exact, then whitespace-insensitive)."""
    i = snippet.find(sentence)
    if i >= 0:
        return i, i + len(sentence)
    words = sentence.split()
    if not words:
        return None
    m = re.search(r"\s+".join(map(re.escape, words)), snippet)
    return (m.start(), m.end()) if m else None


def highlighted_snippet(snippet: str, highlights: list[str]) -> str:
    """The snippet as HTML with the sentences the answer used in <mark>. A highlight that is not inside
    the snippet (the answer may quote another passage of the paper) is shown first, then an ellipsis."""
    spans: list[tuple[int, int]] = []
    outside: list[str] = []
    for h in highlights:
        h = h.strip()
        if not h:
            continue
        where = _find(snippet, h)
        if where is None:
            outside.append(h)
        elif not any(a < where[1] and where[0] < b for a, b in spans):
            spans.append(where)
    parts: list[str] = [f"<mark>{esc(h)}</mark> … " for h in outside]
    pos = 0
    for a, b in sorted(spans):
        parts.append(esc(snippet[pos:a]))
        parts.append(f"<mark>{esc(snippet[a:b])}</mark>")
        pos = b
    parts.append(esc(snippet[pos:]))
    return "".join(parts)


def copy_bibtex_button(papers: list[Paper], label: str = "Copy BibTeX") -> str:
    from rag.bibtex_out import to_bibtex

    if not papers:
        return ""
    data = html.escape(to_bibtex(papers), quote=True).replace("$", "&#36;")
    return f'<button type="button" class="lq-copy-bib" data-bibtex="{data}">{esc(label)}</button>'


def source_card(c: Citation, paper: Paper | None = None, anchor: str = "") -> str:
    """One card per cited paper. Written as single-line HTML: the chatbot renders messages as Markdown,
    where indented lines would turn into code blocks."""
    inferred = bool(paper and paper.year_inferred)
    meta = [f'<span class="lq-authors">{esc(authors_text(c.authors, c.authors_truncated))}</span>',
            f'<span class="lq-date">{esc(when_text(c.date, c.year, inferred))}</span>']
    if c.category:
        meta.append(f'<span class="lq-chip">{esc(c.category)}</span>')
    link = link_html(c.url, c.has_code)
    if link:
        meta.append(link)
    if c.page is not None:
        meta.append(f'<span class="lq-chip">p. {c.page}</span>')
    if paper is not None:
        meta.append(copy_bibtex_button([paper]))
    ident = f' id="{html.escape(anchor, quote=True)}"' if anchor else ""
    return (f'<div class="lq-card"{ident} data-n="{c.n}" data-paper-id="{html.escape(c.paper_id, quote=True)}">'
            f'<div class="lq-card-head"><span class="lq-n">{c.n}</span>'
            f'<span class="lq-title">{esc(c.title)}</span></div>'
            f'<div class="lq-meta">{" · ".join(meta)}</div>'
            f'<div class="lq-snippet">{snippet_html(c.snippet, c.highlights)}</div></div>')


SHORT_SNIPPET = 360  # characters: a passage this short is shown whole; longer ones start collapsed


def snippet_html(snippet: str, highlights: list[str]) -> str:
    """A long passage collapsed to the sentences the answer used, with the whole passage one click away
    (a native <details>, no script), so several cards fit in the panel at once."""
    used = [h.strip() for h in highlights if h.strip()]
    whole = highlighted_snippet(snippet, used)
    if len(snippet) <= SHORT_SNIPPET or not used:
        return whole
    short = " … ".join(f"<mark>{esc(h)}</mark>" for h in used)
    return (f'<span class="lq-snippet-short">… {short} …</span>'
            f'<details class="lq-whole"><summary>Show the whole passage</summary>{whole}</details>')


def sources_html(answer: Answer, papers: dict[str, Paper] | None = None, prefix: str = "src") -> str:
    """All cards of one answer, in citation order, plus the retrieved-but-not-cited papers."""
    papers = papers or {}
    cards = "".join(source_card(c, papers.get(c.paper_id), f"{prefix}-{c.n}") for c in answer.citations)
    cited = {c.paper_id for c in answer.citations}
    others = [s for s in answer.sources if s.paper_id not in cited][:5]
    more = ""
    if others and not answer.abstained:
        items = "".join(f"<li>{esc(s.title)} <span class=\"lq-score\">{s.score:.3f}</span></li>" for s in others)
        more = f'<details class="lq-more"><summary>Also retrieved, not cited ({len(others)})</summary><ul>{items}</ul></details>'
    cited_papers = [papers[c.paper_id] for c in answer.citations if c.paper_id in papers]
    copy_all = copy_bibtex_button(cited_papers, f"Copy BibTeX of the {len(cited_papers)} cited papers") \
        if len(cited_papers) > 1 else ""
    return f'<div class="lq-sources">{cards}{copy_all}{more}</div>'


def md_text(text: str) -> str:
    """Text shown as written in a Markdown message: HTML and Markdown syntax both escaped, so a question like
    "<b>x</b> *y* [1](z)" appears exactly as typed (Gradio's sanitizer only removes dangerous HTML; it would
    still render <b> or an <img>). Entities, not backslashes, for & < >: they hold whichever of Markdown and
    HTML sanitizing runs first."""
    out = html.escape(text, quote=False)
    out = _MD_SPECIAL.sub(r"\\\1", out)
    return _MD_LINE_START.sub(r"\1\\\2", out).replace("$", "\\$")


def answer_footer(answer: Answer, pinned: bool = False) -> str:
    """The line under every answer: answerer, time, filters applied, notes. Markdown only, no HTML tags:
    the chatbot uses a message's raw content as its screen-reader label (the CSS styles the last emphasised
    paragraph as the small footer). `pinned`: the question was asked about one chosen paper."""
    ms = answer.timings_ms.get("total_ms")
    bits = [f"Answerer: {answer.answerer}"]
    if ms is not None:
        bits.append(f"{ms:.0f} ms")
    if pinned:
        bits.append("About the chosen paper only (the chat filters were not applied)")
    else:
        bits.append(f"Filters applied: {answer.filters}" if answer.filters else "No filters")
    lines = [f"> ⚠ {md_text(n)}" for n in answer.notes if n not in answer.answer]
    return "\n\n" + "\n\n".join([*lines, "_" + " · ".join(md_text(b) for b in bits) + "_"])


def error_markdown(message: str) -> str:
    """An error as a chat message: a quoted warning line (styled by the CSS), no HTML tags."""
    return f"> ⚠ {md_text(message)}"


def answer_markdown(text: str) -> str:
    """The answer as chat Markdown: TeX made readable, stray angle brackets shown as text."""
    out = tex_to_text(text).replace("<", "&lt;").replace(">", "&gt;")
    return out.replace("$", "\\$")


def references_text(answer: Answer) -> str:
    """Plain-text reference list (what the copy button puts on the clipboard after the answer)."""
    lines = [answer.answer.strip()]
    if answer.citations:
        lines += ["", "References"]
        lines += [formatting.reference(c) for c in answer.citations]
    return "\n".join(lines)
