"""A lesson as a slide deck: RISE (the jupyterlab-rise extension) in headless Chromium.

Every lesson is also a deck: its cells carry `metadata.slideshow.slide_type`, and
`tools/nbtool.py check` keeps that metadata consistent. Here one lesson is opened the way
an instructor presents it, at RISE's own page `/rise/<path>` (what JupyterLab's "Render
with RISE" opens), from a copy of notebooks/ without outputs, at 1280×720, and run once
from the slides (select every cell, then Ctrl+Enter: RISE's page has no Run menu). Then:
- RISE built the deck from the metadata: one slide per `slide` cell, one vertical
  sub-slide per `subslide` cell;
- every code cell ran, and only cells tagged raises-exception show an error or stderr;
- the title slide shows the H1, not the navigation cell, and keeps its speaker notes in
  the slide's notes (RISE's speaker view, key T), off screen; the slide with the lesson's
  diagram shows it as an image that loaded; the Summary opens a slide of its own;
- the slide with the lesson's widget would show a live widget: an expected failure today,
  because RISE's page cannot load ipywidgets 8 (see the mark).
Each of those slides is saved as results/browser/slides-NN-<what>.png (and -failure.png
when opening or running the deck fails).

The JupyterLab server, Chromium and the reasons to skip come from test_lab.py (imported,
not copied). RISE's slide transition is turned off in the server's own settings folder,
so a screenshot never catches a slide half-way. Without chromium or jupyterlab-rise the
tests skip with the reason; under CI, which installs both, they fail instead.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from testpolicy import skip_or_fail
from test_lab import (CHROMIUM, CHROMIUM_ARGS, IMAGE, NOTEBOOKS, RESULTS, WIDGET, Lab, _cells,
                      _shows, browser_ready)  # noqa: F401  (browser_ready: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180),
              pytest.mark.no_leak_check(reason="a JupyterLab server and Chromium are shared by the module's tests")]

LESSON = "05-send-recv.ipynb"  # a diagram (t.diagram()) and a widget (RecvSizeExplorer)
VIEWPORT = {"width": 1280, "height": 720}  # a projector
RISE_SETTINGS = ("jupyterlab-rise/plugin.jupyterlab-settings", {"transition": "none"})


def _rise_missing() -> str | None:
    try:
        import jupyterlab_rise  # noqa: F401
    except ImportError:
        return "jupyterlab-rise is not installed (pip install -r requirements.txt)"
    return None


@pytest.fixture(scope="module")
def rise_lab(browser_ready):
    reason = _rise_missing()
    if reason:
        skip_or_fail(reason)
    with tempfile.TemporaryDirectory(prefix="socketlab-slides-") as base:
        server = Lab(Path(base))
        try:
            name, values = RISE_SETTINGS  # read by each page load: no restart needed
            path = Path(base) / "settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def chromium(rise_lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


# -- what the notebook says the deck holds --------------------------------------------

def _slide_type(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type")


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def expected(cells: list[dict]) -> dict:
    """The title, the code-cell positions of the first diagram and widget, and the deck's shape."""
    code = [c for c in cells if c["cell_type"] == "code"]
    first = next(c for c in cells if c["cell_type"] == "markdown" and _source(c).startswith("# "))
    kinds = [_slide_type(c) for c in cells]
    return {
        "title": _source(first).splitlines()[0][2:].strip(),
        "diagram": next(i for i, c in enumerate(code) if _shows(c, IMAGE)),
        "widget": next(i for i, c in enumerate(code) if _shows(c, WIDGET)),
        "slides": kinds.count("slide"),
        "subslides": kinds.count("subslide"),
        "code": code,
    }


# -- driving RISE ---------------------------------------------------------------------

DECK_JS = """() => [...document.querySelectorAll('.reveal .slides > section')]
    .map(s => s.querySelectorAll(':scope > section').length || 1)"""

CODE_JS = """() => [...document.querySelectorAll('.reveal .jp-CodeCell')].map(c => ({
    prompt: (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
    errors: c.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').length,
    text: [...c.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText).join('\\n'),
}))"""

# Where an element is in the deck (horizontal slide h, vertical sub-slide v), found as
# ['code', k] (the k-th code cell), ['h1', text] or ['h2', text].
LOCATE_JS = """([kind, what]) => {
  const el = kind === 'code'
    ? [...document.querySelectorAll('.reveal .jp-CodeCell')][what]
    : [...document.querySelectorAll('.reveal .jp-MarkdownCell ' + kind)]
        .find(e => e.textContent.trim().startsWith(what));
  if (!el) return null;
  const tops = [...document.querySelectorAll('.reveal .slides > section')];
  const h = tops.findIndex(s => s.contains(el));
  if (h < 0) return null;
  const v = [...tops[h].querySelectorAll(':scope > section')].findIndex(s => s.contains(el));
  return {h, v: Math.max(v, 0)};
}"""

# Whether the present slide holds the element found as above.
SHOWN_JS = """([kind, what]) => {
  const present = [...document.querySelectorAll('.reveal .slides section.present')].pop();
  if (!present) return false;
  return kind === 'code'
    ? present.contains([...document.querySelectorAll('.reveal .jp-CodeCell')][what])
    : [...present.querySelectorAll('.jp-MarkdownCell ' + kind)]
        .some(e => e.textContent.trim().startsWith(what));
}"""

# What is on screen of the present slide: the element found as above, its images and
# widgets, and any shown cell that RISE should have skipped.
SEEN_JS = """([kind, what]) => {
  const present = [...document.querySelectorAll('.reveal .slides section.present')].pop();
  if (!present) return null;
  const el = kind === 'code'
    ? [...document.querySelectorAll('.reveal .jp-CodeCell')][what]
    : [...present.querySelectorAll('.jp-MarkdownCell ' + kind)]
        .find(e => e.textContent.trim().startsWith(what));
  const box = e => { const r = e.getBoundingClientRect(); return [r.top, r.bottom, r.width, r.height]; };
  const onScreen = e => { const [t, b, w, h] = box(e); return w > 0 && h > 0 && t < innerHeight && b > 0; };
  return {
    inPresent: !!el && present.contains(el),
    onScreen: !!el && onScreen(el),
    box: el ? box(el) : null,
    images: el ? [...el.querySelectorAll('.jp-OutputArea-output img')].map(
        i => i.complete && i.naturalWidth > 0 && onScreen(i)) : [],
    widgets: el ? [...el.querySelectorAll('.jp-OutputArea-output .jupyter-widgets')]
        .filter(onScreen).length : 0,
    text: el ? el.innerText.slice(0, 400) : '',
    skippedShown: [...present.querySelectorAll('.reveal-skip')].filter(onScreen).length,
    notes: present.querySelectorAll('aside.notes .jp-MarkdownCell').length,
    notesShown: [...present.querySelectorAll('aside.notes .jp-MarkdownCell')].filter(onScreen).length,
  };
}"""


def _run_all(page, lab, name: str, code: list[dict], timeout: float) -> list[dict]:
    """Select every cell and run them (RISE's notebook keys: Ctrl+A, then Ctrl+Enter);
    wait until each non-empty code cell has a number, or until nothing moves for 10 s
    while the kernel is idle (a cell failed and the run stopped)."""
    page.locator(".reveal .slides section.present .jp-Cell:not(.reveal-skip)").first.click()
    page.keyboard.press("Escape")  # command mode
    page.keyboard.press("Control+a")
    page.keyboard.press("Control+Enter")
    wanted = [bool(_source(c).strip()) for c in code]
    deadline, last, still = time.monotonic() + timeout, None, 0.0
    while time.monotonic() < deadline:
        seen = page.evaluate(CODE_JS)
        numbered = [bool(re.search(r"\[\d+\]", s["prompt"])) for s in seen]
        if len(seen) == len(wanted) and all(n or not w for n, w in zip(numbered, wanted)):
            return seen
        still = still + 0.5 if seen == last else 0.0
        if still >= 10 and _kernel_idle(lab, name):
            return seen
        last = seen
        time.sleep(0.5)
    return page.evaluate(CODE_JS)


def _kernel_idle(lab, name: str) -> bool:
    return any(s.get("path") == f"notebooks/{name}"
               and (s.get("kernel") or {}).get("execution_state") == "idle"
               for s in lab.api("GET", "/api/sessions") or [])


def _run_problems(code: list[dict], seen: list[dict]) -> list[str]:
    problems = []
    for k, (cell, shown) in enumerate(zip(code, seen)):
        first = (_source(cell).strip().splitlines() or [""])[0][:60]
        tags = cell.get("metadata", {}).get("tags", [])
        if _source(cell).strip() and not re.search(r"\[\d+\]", shown["prompt"]):
            problems.append(f"code cell {k} ({first!r}) did not run")
        elif shown["errors"] and "raises-exception" not in tags:
            problems.append(f"code cell {k} ({first!r}) shows an error or stderr: "
                            f"{shown['text'].strip()[-300:]!r}")
    if len(seen) != len(code):
        problems.append(f"{len(code)} code cells in the notebook, {len(seen)} in the deck")
    return problems


def _show(page, where: tuple, shot: str) -> dict:
    """Go to the slide holding `where`, screenshot it, and return what is on screen."""
    found = page.evaluate(LOCATE_JS, list(where))
    assert found is not None, f"{where} is not on any slide"
    page.evaluate("([h, v]) => { location.hash = `#/${h}/${v}`; }", [found["h"], found["v"]])
    page.wait_for_function(SHOWN_JS, arg=list(where), timeout=10_000)
    page.wait_for_timeout(500)  # images and widget views settle after the slide is shown
    _screenshot(page, shot)
    seen = page.evaluate(SEEN_JS, list(where))
    seen["slide"] = f"{found['h']}/{found['v']}"
    return seen


def _screenshot(page, shot: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"slides-{LESSON[:2]}-{shot}.png"
    page.screenshot(path=str(path))
    return path


@dataclass
class Deck:
    page: object  # the Playwright page showing the deck, after the run
    want: dict  # what the notebook says (see expected())
    shape: list[int]  # sub-slides per slide, as RISE built them
    seen: list[dict]  # each code cell's prompt and outputs after the run
    seconds: float  # to open the deck and run it


@pytest.fixture(scope="module")
def deck(rise_lab, chromium):
    """The lesson opened as slides and run once; the tests below look at its slides."""
    want = expected(_cells(NOTEBOOKS / LESSON))  # the committed notebook: metadata, outputs
    for old in RESULTS.glob(f"slides-{LESSON[:2]}-*.png"):
        old.unlink()
    started = time.monotonic()
    page = chromium.new_page(viewport=VIEWPORT)
    try:
        response = page.goto(f"{rise_lab.url}/rise/notebooks/{LESSON}?token={rise_lab.token}",
                             wait_until="domcontentloaded", timeout=60_000)
        assert response is not None and response.ok, (
            f"RISE's page /rise/notebooks/{LESSON} answered "
            f"{response.status if response else 'nothing'}: is the jupyterlab_rise server "
            f"extension enabled? (jupyter server extension list)")
        page.locator(".reveal .slides section.present .jp-Cell").first.wait_for(
            state="attached", timeout=60_000)
        rise_lab.wait_kernel(f"notebooks/{LESSON}", timeout=60)
        shape = page.evaluate(DECK_JS)
        seen = _run_all(page, rise_lab, LESSON, want["code"], timeout=120)
    except Exception:
        _screenshot(page, "failure")
        page.close()
        raise
    try:
        yield Deck(page, want, shape, seen, time.monotonic() - started)
    finally:
        page.close()
        rise_lab.shutdown_kernels()


def test_rise_builds_the_deck_from_the_slide_metadata(deck):
    slides, subslides = deck.want["slides"], deck.want["subslides"]
    assert (len(deck.shape), sum(deck.shape)) == (slides, slides + subslides), (
        f"RISE built {len(deck.shape)} slides with {sum(deck.shape)} sub-slides in all; "
        f"{LESSON} has {slides} slide cells and {subslides} subslide cells")


def test_every_cell_runs_from_the_slides(deck):
    problems = _run_problems(deck.want["code"], deck.seen)
    assert not problems, (f"{LESSON} run from its slides ({deck.seconds:.0f} s):\n  "
                          + "\n  ".join(problems))


def test_the_title_slide_shows_the_title_and_keeps_its_notes_for_the_speaker(deck):
    title = _show(deck.page, ("h1", deck.want["title"]), "title")
    assert title["slide"] == "0/0" and title["onScreen"], f"the title slide: {title}"
    assert title["skippedShown"] == 0, "the navigation cell shows on the title slide"
    assert title["notes"] >= 1 and title["notesShown"] == 0, (
        f"the title slide's speaker notes should be in its notes, not on screen: {title}")


def test_the_diagram_slide_shows_the_diagram(deck):
    diagram = _show(deck.page, ("code", deck.want["diagram"]), "diagram")
    assert diagram["onScreen"] and diagram["images"] and all(diagram["images"]), (
        f"the diagram's slide {diagram['slide']}: no loaded image on screen: {diagram}")


@pytest.mark.xfail(strict=True, reason=(
    "jupyterlab-rise 0.43's deck cannot load ipywidgets 8's widget manager (it needs "
    "@jupyterlab/console, which RISE's page does not share; upstream issue "
    "jupyterlab-contrib/rise#119): widgets show as their text. Strict: remove this mark "
    "when a release fixes it. The speaker notes tell instructors to demo widgets in the "
    "notebook view."))
def test_the_widget_slide_shows_a_live_widget(deck):
    widget = _show(deck.page, ("code", deck.want["widget"]), "widget")
    assert widget["onScreen"] and widget["widgets"] >= 1, (
        f"the widget's slide {widget['slide']}: no live widget on screen: {widget['text']!r}")
    assert "Error displaying widget" not in widget["text"], widget["text"]


def test_the_summary_has_a_slide_of_its_own(deck):
    summary = _show(deck.page, ("h2", "Summary"), "summary")
    assert summary["onScreen"] and summary["slide"].endswith("/0"), (
        f"the Summary should open a slide of its own: {summary}")
