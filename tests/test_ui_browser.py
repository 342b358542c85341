"""End to end in a real browser: `labqa serve` in a subprocess, Debian's Chromium driven by Playwright.
Asks a question and waits for the streamed answer, checks the [n] markers against the source cards, asks a
follow-up, uses a filter, shows an error, browses the Papers tab and asks about a paper, checks that a second
browser session has its own conversation, and measures question → first text → full answer. Screenshots
and timings go to tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
QUESTION = "What has the group done on recommendation unlearning?"

# Installed in the page before a question is sent: notes when Enter is pressed, when the new answer first
# shows text (not the "…" placeholder) and when it is complete (its footer names the answerer), using the
# page's own clock, so Playwright's polling does not distort the figures.
MEASURE_JS = """() => {
  const chat = document.querySelector('#lq-chat');
  const m = window.__lq = {t0: null, first: null, full: null, lengths: new Set(), before: 0};
  document.querySelector('#lq-question textarea').addEventListener('keydown', e => {
    if (e.key === 'Enter' && m.t0 === null) {
      m.t0 = performance.now();
      m.before = chat.querySelectorAll('[data-testid=bot]').length;
    }
  }, {capture: true, once: true});
  new MutationObserver(() => {
    if (m.t0 === null || m.full !== null) return;
    const bots = chat.querySelectorAll('[data-testid=bot]');
    if (bots.length <= m.before) return;
    const text = bots[bots.length - 1].innerText.trim();
    if (text && text !== '…') {
      if (m.first === null) m.first = performance.now();
      m.lengths.add(text.length);
    }
    if (text.includes('Answerer:')) m.full = performance.now();
  }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(built_home: Path, model_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`labqa serve` on a free port, over a private copy of the seed index (the process is a real user)."""
    home = tmp_path_factory.mktemp("serve-home")
    shutil.copytree(built_home, home, dirs_exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABQA_", "OPENAI_"))}
    env.update(LABQA_HOME=str(home), LABQA_MODEL_CACHE=str(model_cache), HF_HUB_OFFLINE="1")
    log = home / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"labqa serve exited:\n{log.read_text()}"
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"labqa serve did not start:\n{log.read_text()}"
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it with `make browser-deps` "
                    "(apt-get install chromium chromium-driver).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser: Any, url: str, outside: list[str]) -> Any:
    """A fresh browser session (own cookies, own Gradio session) that may only talk to the app."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
    page = context.new_page()

    def route(r: Any) -> None:
        if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url)
    page.wait_for_selector("#lq-question textarea")
    page.wait_for_function("document.body.innerText.includes('31 papers')", timeout=60000)
    return page


def ask(page: Any, question: str, timeout: float = 30000) -> dict[str, float]:
    """Type a question, press Enter, wait for the complete answer; returns the page-clock timings (ms)."""
    page.evaluate(MEASURE_JS)
    page.fill("#lq-question textarea", question)
    page.press("#lq-question textarea", "Enter")
    page.wait_for_function("window.__lq.full !== null", timeout=timeout)
    m = page.evaluate("({t0: window.__lq.t0, first: window.__lq.first, full: window.__lq.full, "
                      "updates: window.__lq.lengths.size})")
    server = re.search(r"Answerer: [^·]+· (\d+) ms", last_answer(page))
    return {"first_text_ms": round(m["first"] - m["t0"], 1), "full_answer_ms": round(m["full"] - m["t0"], 1),
            "server_ms": int(server.group(1)) if server else None, "text_updates_seen": m["updates"]}


def last_answer(page: Any) -> str:
    return page.locator("#lq-chat [data-testid=bot]").last.inner_text()


def cards(page: Any) -> list[dict[str, Any]]:
    return page.eval_on_selector_all("#lq-sources .lq-card", """els => els.map(e => ({
        n: Number(e.dataset.n), title: e.querySelector('.lq-title').innerText,
        meta: e.querySelector('.lq-meta').innerText, marks: e.querySelectorAll('mark').length,
        links: [...e.querySelectorAll('a')].map(a => a.href)}))""")


def choose(page: Any, dropdown: str, option: str) -> None:
    page.click(f"{dropdown} input")
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def test_chat_papers_and_sessions_in_a_real_browser(server: str, browser: Any, assistant) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []
    page = open_page(browser, server, outside)
    assert "Answerer: offline" in page.inner_text(".lq-header")

    # 1. a topic question: streamed answer with [n] markers, one card per cited paper, highlights, links
    timings = [ask(page, QUESTION)]
    text = last_answer(page)
    markers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", text)})
    expected = assistant.ask(QUESTION)
    assert markers == [c.n for c in expected.citations] and len(markers) >= 3
    got = cards(page)
    assert [c["n"] for c in got] == markers
    assert [c["title"] for c in got] == [c.title for c in expected.citations]
    assert all(c["marks"] >= 1 for c in got)  # the sentences the answer used are highlighted
    for card, cit in zip(got, expected.citations, strict=True):
        assert (cit.date or "") in card["meta"] and (cit.category or "") in card["meta"]
        assert ("et al." in card["meta"]) == cit.authors_truncated
        assert (cit.url in card["links"]) if cit.url else not card["links"]
    assert "Answerer: offline" in text and "No filters" in text
    page.screenshot(path=str(ARTIFACTS / "ui-chat.png"))

    # copy puts the answer and its references on the clipboard
    page.click("#lq-copy")
    clip = page.evaluate("navigator.clipboard.readText()")
    assert clip.startswith(expected.answer.strip()[:40]) and "References" in clip and "[1]" in clip

    # 2. a follow-up in the same conversation refers to the papers of the previous answer
    timings.append(ask(page, "Which of those have code?"))
    follow = cards(page)
    assert follow and {c["title"] for c in follow} <= {c["title"] for c in got}
    assert all(c["links"] or "code released" in c["meta"] for c in follow)
    assert "previous answer" in last_answer(page)
    # clicking the earlier answer shows its sources again
    page.locator("#lq-chat [data-testid=bot]").first.click()
    page.wait_for_function("document.querySelector('#lq-sources .lq-panel-q').innerText.includes('recommendation')")
    assert [c["n"] for c in cards(page)] == markers

    # 3. a filter beside the chat applies to retrieval and the answer says so
    choose(page, "#lq-year-from", "2025")
    timings.append(ask(page, "unlearning"))
    assert "Filters applied: year ≥ 2025" in last_answer(page)
    filtered = cards(page)
    assert filtered and all(re.search(r"\b202[5-9]\b", c["meta"]) for c in filtered)
    page.click("#lq-reset")

    # 4. an error is a readable message in the chat, and the app goes on answering
    page.click("#lq-send")
    page.wait_for_selector("#lq-chat .lq-error")
    assert "The question is empty" in page.inner_text("#lq-chat .lq-error")
    timings.append(ask(page, "What is EISAM?"))
    assert "[1]" in last_answer(page) and cards(page)[0]["title"].startswith("Taming the Long Tail")

    # 5. a second browser session has its own, empty conversation; its example questions work
    other = open_page(browser, server, outside)
    assert other.locator("#lq-chat [data-testid=bot]").count() == 0
    other.get_by_role("button", name=re.compile("Which papers were published in 2023")).click()
    other.wait_for_function("[...document.querySelectorAll('#lq-chat [data-testid=bot]')].pop()?.innerText"
                            ".includes('Answerer:')")
    assert "2023" in last_answer(other) and cards(other)
    assert page.locator("#lq-chat [data-testid=bot]").count() == 5  # untouched by the other session
    other.context.close()

    # 6. the Papers tab: the whole catalog, searchable; a paper's details; ask about it in the chat
    page.get_by_role("tab", name="Papers").click()
    grid = page.locator("#lq-papers [role=grid]")
    page.wait_for_function("document.querySelector('#lq-papers [role=grid]')?.getAttribute('aria-rowcount') == '32'")
    page.fill("#lq-paper-search textarea", "multimodal puns")
    page.wait_for_function("document.querySelector('#lq-papers [role=grid]').getAttribute('aria-rowcount') == '2'")
    assert grid.get_attribute("aria-rowcount") == "2"
    page.locator("#lq-papers [role=gridcell]").nth(3).click()  # the title cell of the only row
    page.wait_for_selector("#lq-paper-details .lq-details-title")
    details = page.inner_text("#lq-paper-details")
    assert "Understand Multimodal Puns" in details and "Naen Xu" in details and "ABSTRACT" in details.upper()
    page.screenshot(path=str(ARTIFACTS / "ui-papers.png"))
    page.click("#lq-ask-paper")
    page.wait_for_function("document.querySelectorAll('#lq-chat [data-testid=bot]').length == 6")
    page.wait_for_function("[...document.querySelectorAll('#lq-chat [data-testid=bot]')].pop().innerText"
                           ".includes('Answerer:')")
    assert cards(page)[0]["title"].startswith('"I See What You Did There"')

    # 7. retry asks the last question again; clear empties the conversation
    page.click("#lq-retry")
    page.wait_for_function("[...document.querySelectorAll('#lq-chat [data-testid=bot]')].pop().innerText"
                           ".includes('Answerer:')")
    assert page.locator("#lq-chat [data-testid=bot]").count() == 6
    page.click("#lq-clear")
    page.wait_for_function("document.querySelectorAll('#lq-chat [data-testid=bot]').length == 0")
    assert "appear here" in page.inner_text("#lq-sources")

    # 8. the Evaluation tab (one variant, to keep CI short): progress, metrics, chart, rows, downloads
    page.get_by_role("tab", name="Evaluation").click()
    for name in ("dense", "bm25", "hybrid"):
        page.uncheck(f"#lq-eval-variants input[name='{name}']")
    page.click("#lq-eval-run")
    page.wait_for_selector("#lq-eval-chart img", timeout=180000)
    summary = page.inner_text("#lq-eval-status")
    assert re.search(r"hybrid\+metadata: \d+ of \d+ questions pass", summary) and "× 1 variants" in summary
    assert "hit@5" in page.inner_text("#lq-eval-metrics") and "follow_up" in page.inner_text("#lq-eval-kinds")
    rows_text = page.inner_text("#lq-eval-rows")
    assert "q001" in rows_text and "✓ pass" in rows_text
    with page.expect_download() as download:
        page.click("#lq-eval-json")
    report = json.loads(Path(download.value.path()).read_text())
    assert report["n_questions"] > 50 and "overall" in report and report["variants_run"] == ["hybrid+metadata"]
    with page.expect_download() as download:
        page.click("#lq-eval-csv")
    assert Path(download.value.path()).read_text().startswith("id,variant,kind,question")
    page.screenshot(path=str(ARTIFACTS / "ui-evaluation.png"), full_page=True)

    assert outside == [], f"the page tried to reach the outside: {outside[:5]}"
    (ARTIFACTS / "ui-timings.json").write_text(json.dumps(timings, indent=1))
    first = [t["first_text_ms"] for t in timings]
    full = [t["full_answer_ms"] for t in timings]
    print(f"\nbrowser timings (offline answerer, ms): first text {first}, full answer {full}")
    assert all(0 < f <= g for f, g in zip(first, full, strict=True))
