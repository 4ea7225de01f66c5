"""tools/nbtool.py: the repository's notebooks are normalised, and the tool does its jobs.

The first test is the one that fails when someone commits a notebook that was not run
and normalised by `python tools/nbtool.py run` (or `fix`), or whose slide metadata is
inconsistent. The others build small projects in a temporary folder from notebooks made
with nbformat.v4; every lesson they make is also a small, well-formed slide deck.
"""

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import nbtool

pytestmark = pytest.mark.timeout(30)
KERNEL_THREADS = pytest.mark.no_leak_check(
    reason="jupyter_client keeps its event-loop runner threads for the rest of the process")

ROOT = Path(__file__).resolve().parent.parent
README = "# Course\n\n## Lessons\n\n<!-- lessons:start -->\n<!-- lessons:end -->\n\nThe end.\n"


def test_repository_notebooks_are_normalised():
    assert nbtool.check(ROOT) == []


# ---------------------------------------------------------------------------
# Building small notebooks and projects


def ran(source, count, *outputs, **kw):
    """A code cell as if it had run, with execution count `count`."""
    return new_code_cell(source, execution_count=count, outputs=list(outputs), **kw)


def stdout(text):
    return new_output("stream", name="stdout", text=text)


def result(text, count):
    return new_output("execute_result", data={"text/plain": text}, execution_count=count)


def slide(kind, **metadata):
    """Cell metadata with a slide_type (and whatever else is given, e.g. tags)."""
    return {"slideshow": {"slide_type": kind}, **metadata}


def md(source, kind="-", **metadata):
    return new_markdown_cell(source, metadata=slide(kind, **metadata))


NOTES = nbtool.NOTES_MARKER + "\n- About 20 min."


def deck_tail():
    """What every lesson here ends with, so that it is a deck: a section, notes, a Summary."""
    return [md("## Try it\n\nOne more.", "slide"), md(NOTES, "notes"),
            md("## Summary\n\n- Done.", "slide")]


TAIL = len(deck_tail())


def lesson(heading, intro, *cells, **metadata):
    nb = new_notebook(cells=[md(f"# {heading}\n\n{intro}", "slide"), *cells, *deck_tail()])
    nb.metadata.update(metadata)
    return nb


def welcome():
    return new_notebook(cells=[
        md("# 00 · Welcome\n\nHow the course works.", "slide"),
        new_markdown_cell("(generated)", metadata={"tags": ["lessons"]}),
        *deck_tail(),
    ])


def make_project(tmp_path, readme=README, **extra):
    """A project with 00-welcome, 01-create and 02-bind; `extra` adds or replaces notebooks."""
    notebooks = {
        "00-welcome": welcome(),
        "01-create": lesson("01 · Create", "We make a [socket](https://x.org/a.b). More.",
                            ran("print('你好')", 1, stdout("你好\n"))),
        "02-bind": lesson("02 · Bind", "In 01 we made one! Now we bind it.",
                          ran("1 + 1", 1, result("2", 1))),
    }
    notebooks.update(extra)
    (tmp_path / "notebooks").mkdir()
    for name, nb in notebooks.items():
        nbformat.write(nb, tmp_path / "notebooks" / f"{name}.ipynb")
    if readme is not None:
        (tmp_path / "README.md").write_text(readme, encoding="utf-8")
    return tmp_path


def load(root, name):
    return nbformat.read(root / "notebooks" / f"{name}.ipynb", as_version=4)


def edit_json(root, name, change):
    path = root / "notebooks" / f"{name}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    change(nb)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------
# normalise()


def messy_notebook():
    nb = new_notebook(cells=[
        new_markdown_cell("# 05 · Send", metadata={
            "editable": False, "slideshow": {"slide_type": "slide", "extra": 1}}),
        ran("a = 1", 7, metadata={"collapsed": True, "execution": {"iopub.status.idle": "x"}}),
        new_code_cell("   \n", execution_count=8, outputs=[stdout("left over\n")]),
        ran("a", 3, result("1", 3), metadata={"tags": ["nbval-ignore-output"], "scrolled": True}),
        ran("b", 12, metadata={"tags": []}),
    ])
    nb.nbformat_minor = 4
    nb.metadata = {
        "kernelspec": {"name": "other", "display_name": "Other"},
        "language_info": {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"},
        "widgets": {"state": {}},
        "labkit": {"requires": ["java"]},
    }
    return nb


def test_normalise_reduces_notebook_metadata():
    nb = nbtool.normalise(messy_notebook())
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert nb.metadata == {
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
        "labkit": {"requires": ["java"]},
    }


def test_normalise_keeps_only_nonempty_tags_and_the_slide_type_in_cell_metadata():
    nb = nbtool.normalise(messy_notebook())
    assert [c.metadata for c in nb.cells] == [
        {"slideshow": {"slide_type": "slide"}}, {}, {}, {"tags": ["nbval-ignore-output"]}, {}]


def test_normalise_numbers_cell_ids_by_position():
    nb = nbtool.normalise(messy_notebook())
    assert [c.id for c in nb.cells] == ["c00", "c01", "c02", "c03", "c04"]


def test_normalise_counts_run_cells_and_clears_empty_ones():
    nb = nbtool.normalise(messy_notebook())
    assert [c.get("execution_count") for c in nb.cells] == [None, 1, None, 2, 3]
    assert nb.cells[2].outputs == []
    assert nb.cells[3].outputs[0].execution_count == 2


def test_normalise_does_not_invent_counts_for_cells_that_never_ran():
    nb = new_notebook(cells=[ran("a = 1", 4), new_code_cell("a"), ran("a + 1", 9)])
    assert [c.execution_count for c in nbtool.normalise(nb).cells] == [1, None, 2]


def test_normalise_is_idempotent_and_leaves_its_input_alone():
    messy = messy_notebook()
    before = nbformat.writes(messy)
    once = nbtool.normalise(messy)
    assert nbformat.writes(messy) == before
    assert nbtool.serialise(nbtool.normalise(once)) == nbtool.serialise(once)


def test_serialise_is_one_space_indented_utf8_with_a_final_newline():
    text = nbtool.serialise(nbtool.normalise(new_notebook(cells=[new_markdown_cell("你好")])))
    assert text.endswith("}\n")
    assert '\n "cells": [' in text
    assert "你好" in text and "\\u4f60" not in text


# ---------------------------------------------------------------------------
# Titles, sentences, navigation and lesson lists


@pytest.mark.parametrize("heading, title", [
    ("03 · Listen and accept", "Listen and accept"),
    ("03: Listen and accept", "Listen and accept"),
    ("03 Listen and accept", "Listen and accept"),
    ("Listen and accept", "Listen and accept"),
])
def test_title_comes_from_the_h1(heading, title):
    found = nbtool.describe_lesson("03-listen-accept.ipynb", lesson(heading, "Intro."))
    assert (found.title, found.label) == (title, f"03 {title}")


@pytest.mark.parametrize("intro, sentence", [
    ("We build a server. Then a client.", "We build a server."),
    ("In [02 Bind](02-bind.ipynb) we bound\na socket! Now we listen.", "In 02 Bind we bound a socket!"),
    ("Sockets use `socket.socket()` and labkit.serving.servers. Done.", "Sockets use `socket.socket()` and labkit.serving.servers."),
    ("套接字是通信的端点。我们来试试。", "套接字是通信的端点。"),
    ("No full stop at all", "No full stop at all"),
])
def test_first_sentence_of_the_intro(intro, sentence):
    assert nbtool.describe_lesson("01-a.ipynb", lesson("01 · A", intro)).sentence == sentence


def test_intro_may_be_the_next_markdown_cell():
    nb = new_notebook(cells=[new_markdown_cell("# 01 · A"), new_markdown_cell("First one. Second.")])
    assert nbtool.describe_lesson("01-a.ipynb", nb).sentence == "First one."


def test_speaker_notes_are_never_the_intro():
    nb = new_notebook(cells=[md("# 01 · A", "slide"), md(NOTES, "notes"), md("First one.")])
    assert nbtool.describe_lesson("01-a.ipynb", nb).sentence == "First one."


def test_fix_writes_navigation_cells(tmp_path):
    root = make_project(tmp_path, **{"03-listen": lesson("03 · Listen and accept", "Listen.")})
    nbtool.fix(root)
    first = "[Contents](00-welcome.ipynb#Lessons) · [02 Bind →](02-bind.ipynb)"
    middle = ("[← 01 Create](01-create.ipynb) · [Contents](00-welcome.ipynb#Lessons)"
              " · [03 Listen and accept →](03-listen.ipynb)")
    last = "[← 02 Bind](02-bind.ipynb) · [Contents](00-welcome.ipynb#Lessons)"
    for name, line in (("01-create", first), ("02-bind", middle), ("03-listen", last)):
        cells = load(root, name).cells
        for cell in (cells[0], cells[-1]):
            assert (cell.cell_type, cell.source, cell.metadata) == (
                "markdown", line, {"tags": ["nav"], "slideshow": {"slide_type": "skip"}})
    welcome = load(root, "00-welcome").cells
    assert [c.metadata.get("tags") for c in welcome] == [["nav"], None, ["lessons"], *[None] * TAIL, ["nav"]]
    assert welcome[2].metadata.slideshow == {"slide_type": "slide"}  # the lesson list
    assert welcome[0].source == "[Lessons](#Lessons) · [01 Create →](01-create.ipynb)"


def test_fix_writes_both_lesson_lists(tmp_path):
    root = make_project(tmp_path)
    nbtool.fix(root)
    cell = load(root, "00-welcome").cells[2]
    assert cell.source == (
        "## Lessons\n\n"
        "1. [Create](01-create.ipynb) — We make a socket.\n"
        "2. [Bind](02-bind.ipynb) — In 01 we made one!"
    )
    assert (root / "README.md").read_text(encoding="utf-8") == (
        "# Course\n\n## Lessons\n\n<!-- lessons:start -->\n"
        "1. [Create](notebooks/01-create.ipynb) — We make a socket.\n"
        "2. [Bind](notebooks/02-bind.ipynb) — In 01 we made one!\n"
        "<!-- lessons:end -->\n\nThe end.\n"
    )


def test_a_missing_lessons_cell_is_appended(tmp_path):
    bare = new_notebook(cells=[new_markdown_cell("# 00 · Welcome\n\nHello.")])
    root = make_project(tmp_path, **{"00-welcome": bare})
    nbtool.fix(root)
    cells = load(root, "00-welcome").cells
    assert cells[-2].metadata == {"tags": ["lessons"], "slideshow": {"slide_type": "slide"}}
    assert cells[-2].source.startswith("## Lessons\n\n1. [Create](01-create.ipynb)")


def test_a_changed_title_makes_nav_and_lists_stale_until_fixed(tmp_path):
    root = make_project(tmp_path)
    nbtool.fix(root)
    assert nbtool.check(root) == []
    edit_json(root, "02-bind", lambda nb: nb["cells"][1].update(source="# 02 · Bind to an address\n\nNew."))
    found = "\n".join(nbtool.check(root))
    assert "notebooks/01-create.ipynb: navigation cells missing or stale" in found
    assert "notebooks/00-welcome.ipynb: lesson list missing or stale" in found
    assert "README.md: lesson list is stale" in found
    nbtool.fix(root)
    assert nbtool.check(root) == []
    assert load(root, "01-create").cells[0].source.endswith("[02 Bind to an address →](02-bind.ipynb)")


def test_hand_edited_nav_cells_are_replaced_not_duplicated(tmp_path):
    root = make_project(tmp_path)
    nbtool.fix(root)
    edit_json(root, "01-create", lambda nb: nb["cells"][0].update(source="[home](x.ipynb)"))
    assert any("navigation cells" in p for p in nbtool.check(root))
    nbtool.fix(root)
    cells = load(root, "01-create").cells
    assert [c.metadata.get("tags") for c in cells].count(["nav"]) == 2
    assert nbtool.check(root) == []


# ---------------------------------------------------------------------------
# check() and problems()


def test_fix_makes_a_project_clean_and_is_idempotent(tmp_path):
    root = make_project(tmp_path)
    assert nbtool.check(root) != []
    assert len(nbtool.fix(root)) == 4  # three notebooks and the README
    assert nbtool.check(root) == []
    assert nbtool.fix(root) == []


def test_stray_metadata_is_detected(tmp_path):
    root = make_project(tmp_path)
    nbtool.fix(root)
    edit_json(root, "01-create", lambda nb: nb["cells"][2]["metadata"].update(scrolled=True))
    edit_json(root, "02-bind", lambda nb: nb["metadata"].update(widgets={}))
    assert nbtool.check(root) == [
        "notebooks/01-create.ipynb: cell metadata other than tags and slideshow.slide_type "
        "(cells 2; run: python tools/nbtool.py fix)",
        "notebooks/02-bind.ipynb: notebook metadata: extra ['widgets']",
    ]


def test_wrong_execution_counts_are_detected(tmp_path):
    root = make_project(tmp_path, **{"02-bind": lesson(
        "02 · Bind", "Bind.", ran("a = 1", 1), ran("a", 5, result("1", 5)))})
    nbtool.fix(root)
    edit_json(root, "02-bind", lambda nb: nb["cells"][3].update(execution_count=7))
    problems = nbtool.problems(root / "notebooks" / "02-bind.ipynb")
    assert problems == ["notebooks/02-bind.ipynb: execution counts are not 1..N in order "
                        "(cells 3; run: python tools/nbtool.py fix)"]


def test_a_stripped_notebook_is_reported_as_not_run(tmp_path):
    root = make_project(tmp_path, **{"02-bind": lesson("02 · Bind", "Bind.", new_code_cell("1 + 1"))})
    nbtool.fix(root)
    assert nbtool.check(root) == [
        "notebooks/02-bind.ipynb: cell 2 ('1 + 1') has not been run (run: python tools/nbtool.py run)"
    ]


def test_an_error_is_reported_unless_tagged_raises_exception(tmp_path):
    error = new_output("error", ename="TypeError", evalue="bad", traceback=[])
    root = make_project(tmp_path, **{"02-bind": lesson(
        "02 · Bind", "Bind.",
        ran("s.send('x')", 1, error, metadata={"tags": ["raises-exception"]}),
        ran("s.send('y')", 2, error))})
    nbtool.fix(root)
    assert nbtool.check(root) == [
        "notebooks/02-bind.ipynb: cell 3 (\"s.send('y')\") shows an error but is not tagged raises-exception"
    ]


def test_readme_without_markers_is_reported(tmp_path):
    root = make_project(tmp_path, readme="# Course\n")
    nbtool.fix(root)
    assert nbtool.check(root) == [
        "README.md: no <!-- lessons:start --> … <!-- lessons:end --> markers for the lesson list"
    ]
    assert (root / "README.md").read_text() == "# Course\n"


def test_missing_readme_is_reported(tmp_path):
    root = make_project(tmp_path, readme=None)
    nbtool.fix(root)
    assert nbtool.check(root) == ["README.md: missing (it holds the lesson list)"]


def test_check_command_exit_status(tmp_path, capsys):
    root = make_project(tmp_path)
    assert nbtool.main(["check", "--root", str(root)]) == 1
    assert "README.md: lesson list is stale" in capsys.readouterr().err
    assert nbtool.main(["fix", "--root", str(root)]) == 0
    assert nbtool.main(["check", "--root", str(root)]) == 0


# ---------------------------------------------------------------------------
# Slides: every lesson is also a deck (slide_problems, and check() around it)


def good_deck():
    """A small lesson that is a well-formed deck; the tests below break it one way each."""
    nav = "[Contents](00-welcome.ipynb#Lessons)"
    return new_notebook(cells=[
        md(nav, "skip", tags=["nav"]),                                     # 0
        md("# 03 · Listen\n\nWe listen.", "slide"),                        # 1
        md(NOTES, "notes"),                                                # 2
        ran("import labkit", 1),                                           # 3
        md("## Backlog\n\nA queue:", "slide"),                              # 4
        ran("listen(1)", 2),                                               # 5
        md("Later, more:", "subslide"),                                    # 6
        md("## Exercise 1: accept\n\nWrite it:", "slide"),                  # 7
        ran('ex = labkit.exercise("03-accept")\nex', 3),                   # 8
        ran("def serve_one(listener):\n    ...", 4),                       # 9
        ran("ex.check(serve_one)", 5),                                     # 10
        md("Stuck?\n\n## Exercise 2: wait\n\nWrite it:", "slide"),          # 11
        md(NOTES, "notes"),                                                # 12
        ran('ex = labkit.exercise("03-wait")', 6),                          # 13
        md("Done:", "subslide"),                                           # 14
        ran("listener.close()", 7),                                        # 15
        md("## Sidebar: SO_REUSEPORT\n\nAside.", "subslide"),               # 16
        md("*End of sidebar.*", "skip"),                                   # 17
        md("```\n## not a heading: in a fence\n```"),                       # 18
        md("## Summary\n\n- Done.", "slide"),                               # 19
        md("## Questions\n\n1. Why?", "subslide"),                          # 20
        md(nav, "skip", tags=["nav"]),                                     # 21
    ])


def set_type(nb, index, kind):
    if kind is None:
        nb.cells[index].metadata.pop("slideshow", None)
    else:
        nb.cells[index].metadata["slideshow"] = {"slide_type": kind}
    return nb


def test_a_good_deck_has_no_slide_problems():
    assert nbtool.slide_problems(good_deck()) == []


def test_a_sidebar_does_not_end_with_a_heading():
    nb = good_deck()
    nb.cells[17].source = "## End sidebar"
    assert nbtool.slide_problems(nb) == [
        "cell 17 ('## End sidebar') ends a sidebar with the heading '## End sidebar', which "
        "shows in the table of contents as a section: end it with the line "
        "'*End of sidebar.*' instead"]


def test_questions_things_to_try_and_sidebars_may_be_slides_too():
    nb = set_type(set_type(good_deck(), 20, "slide"), 16, "slide")
    nb.cells[20].source = "## Things to try\n\n- More."
    assert nbtool.slide_problems(nb) == []
    assert nbtool.slide_problems(set_type(good_deck(), 17, "-")) == []  # the sidebar's end continues


@pytest.mark.parametrize("index, kind, message", [
    (4, "-", "cell 4 ('## Backlog') has the heading '## Backlog' but does not start a slide "
             "(slide_type '-', not slide): every section is a slide"),
    (4, "subslide", "cell 4 ('## Backlog') has the heading '## Backlog' but does not start a "
                    "slide (slide_type 'subslide', not slide): every section is a slide"),
    (4, None, "cell 4 ('## Backlog') has the heading '## Backlog' but does not start a slide "
              "(slide_type None, not slide): every section is a slide"),
    (19, "fragment", "cell 19 ('## Summary') has the heading '## Summary' but does not start a "
                     "slide (slide_type 'fragment', not slide): every section is a slide"),
    (20, "-", "cell 20 ('## Questions') has the heading '## Questions' but does not start a "
              "slide (slide_type '-', not slide or subslide): every section is a slide"),
    (16, "-", "cell 16 ('## Sidebar: SO_REUSEPORT') has the heading '## Sidebar: SO_REUSEPORT' "
              "but does not start a slide (slide_type '-', not slide or subslide): every "
              "section is a slide"),
    (1, "-", "cell 1 ('# 03 · Listen') is the title but not a slide (slide_type '-', not 'slide')"),
    (1, "subslide", "cell 1 ('# 03 · Listen') is the title but not a slide "
                    "(slide_type 'subslide', not 'slide')"),
    (0, "-", "cell 0 ('[Contents](00-welcome.ipynb#Lessons)') is a navigation cell: slide_type "
             "must be skip, not '-' (run: python tools/nbtool.py fix)"),
    (5, "sub-slide", "cell 5 ('listen(1)'): slide_type 'sub-slide' is not one of slide, "
                     "subslide, fragment, skip, notes, -"),
    (2, "-", f"cell 2 ({nbtool.excerpt(NOTES)}) begins with {nbtool.NOTES_MARKER} but its "
             "slide_type is '-', not notes: it would show on the slide"),
    (6, "notes", f"cell 6 ('Later, more:') is speaker notes but does not begin with "
                 f"{nbtool.NOTES_MARKER}, which tells a reader of the notebook what the cell is"),
    (5, "notes", "cell 5 ('listen(1)') is speaker notes but a code cell: notes are markdown"),
])
def test_each_slide_fault_is_named(index, kind, message):
    assert nbtool.slide_problems(set_type(good_deck(), index, kind)) == [message]


def test_a_heading_in_the_middle_of_a_cell_starts_a_slide_too():
    nb = set_type(good_deck(), 11, "-")  # "Stuck?" then "## Exercise 2: wait"
    assert nbtool.slide_problems(nb) == [
        "cell 11 ('Stuck?') has the heading '## Exercise 2: wait' but does not start a slide "
        "(slide_type '-', not slide): every section is a slide",
        "cell 11 ('Stuck?') introduces the exercise \"03-wait\" (cell 13) but does not start a "
        "slide (slide_type '-', not slide or subslide): each exercise has a slide of its own",
    ]


def test_each_exercise_starts_its_own_slide():
    nb = good_deck()
    nb.cells[7].source = "Now an exercise. Write it:"  # no heading: only the exercise rule
    nb = set_type(nb, 7, "-")
    assert nbtool.slide_problems(nb) == [
        "cell 7 ('Now an exercise. Write it:') introduces the exercise \"03-accept\" (cell 8) "
        "but does not start a slide (slide_type '-', not slide or subslide): each exercise "
        "has a slide of its own"]
    assert nbtool.slide_problems(set_type(nb, 7, "subslide")) == []


def test_an_exercise_without_prose_before_it_starts_the_slide_itself():
    nb = good_deck()
    nb.cells.insert(8, new_code_cell("setup()", execution_count=None))
    assert nbtool.slide_problems(nb) == [
        "cell 9 ('ex = labkit.exercise(\"03-accept\")') introduces the exercise \"03-accept\" "
        "(cell 9) but does not start a slide (slide_type None, not slide or subslide): each "
        "exercise has a slide of its own"]
    nb.cells[9].metadata["slideshow"] = {"slide_type": "subslide"}
    assert nbtool.slide_problems(nb) == []


def test_a_lesson_without_slide_metadata_is_told_so_once():
    nb = good_deck()
    for cell in nb.cells:
        cell.metadata.pop("slideshow", None)
    assert nbtool.slide_problems(nb) == [
        "no slide metadata: every lesson is also a slide deck (set each section's "
        "metadata.slideshow.slide_type; see tools/nbtool.py)"]


def test_a_deck_needs_speaker_notes_and_three_slides():
    nb = good_deck()
    nb.cells = [c for c in nb.cells if nbtool.slide_type_of(c) != "notes"]
    assert nbtool.slide_problems(nb) == [
        "no speaker notes: add a markdown cell of slide_type notes beginning with "
        f"{nbtool.NOTES_MARKER} (what to demo, how long, where learners stumble)"]
    small = new_notebook(cells=[md("# 01 · A\n\nIntro.", "slide"), md(NOTES, "notes"),
                                md("## Summary\n\n- Done.", "slide")])
    assert nbtool.slide_problems(small) == [
        "only 2 slide(s): a lesson deck has at least 3 (the title, its sections, the Summary)"]


def test_the_deck_opens_with_the_title():
    nb = good_deck()
    nb.cells.insert(1, md("Welcome!", "slide"))
    assert nbtool.slide_problems(nb) == [
        "cell 1 ('Welcome!') opens the lesson, but the first cell should be the H1 title "
        "(the title slide)"]


def test_section_headings_skip_code_fences_and_deeper_levels():
    source = "Intro\n## One\n```\n## two\n```\n### three\n~~~\n## four\n~~~\n## End sidebar ##"
    assert nbtool.section_headings(source) == ["One", "End sidebar"]


def test_check_reports_slide_problems_by_notebook(tmp_path):
    root = make_project(tmp_path)
    nbtool.fix(root)
    edit_json(root, "02-bind", lambda nb: nb["cells"][1]["metadata"].update(
        slideshow={"slide_type": "-"}))
    assert nbtool.check(root) == [
        "notebooks/02-bind.ipynb: cell 1 ('# 02 · Bind') is the title but not a slide "
        "(slide_type '-', not 'slide')",
        "notebooks/02-bind.ipynb: only 2 slide(s): a lesson deck has at least 3 "
        "(the title, its sections, the Summary)"]


def test_fix_gives_generated_cells_their_slide_types(tmp_path):
    root = make_project(tmp_path)
    edit_json(root, "01-create", lambda nb: nb["cells"].insert(
        0, {"cell_type": "markdown", "metadata": {"tags": ["nav"]}, "source": "old nav"}))
    nbtool.fix(root)
    cells = load(root, "01-create").cells
    assert [nbtool.slide_type_of(c) for c in (cells[0], cells[-1])] == ["skip", "skip"]
    assert nbtool.slide_type_of(load(root, "00-welcome").cells[2]) == "slide"
    assert nbtool.check(root) == []


# ---------------------------------------------------------------------------
# run: a fresh kernel per notebook (slow-ish: a kernel start each)


@KERNEL_THREADS
@pytest.mark.timeout(90)
def test_run_executes_in_a_fresh_kernel_and_normalises(tmp_path):
    root = make_project(tmp_path, **{"02-bind": lesson(
        "02 · Bind", "Bind.",
        new_code_cell("import os\nos.path.basename(os.getcwd())"),
        new_code_cell(""),
        new_code_cell("print('你好')"),
        new_code_cell("b'x' + 'y'", metadata={"tags": ["raises-exception"]}),
    )})
    nbtool.fix(root)
    assert nbtool.run([root / "notebooks" / "02-bind.ipynb"]) == 0
    cells = load(root, "02-bind").cells
    assert [c.get("execution_count") for c in cells] == [None, None, 1, None, 2, 3, *[None] * TAIL, None]
    assert cells[2].outputs[0].data["text/plain"] == "'notebooks'"  # cwd is notebooks/
    assert cells[4].outputs[0].text == "你好\n"
    assert cells[5].outputs[0].ename == "TypeError"
    assert "execution" not in cells[2].metadata
    assert nbtool.check(root) == []


@KERNEL_THREADS
@pytest.mark.timeout(90)
def test_run_refuses_an_untagged_error_and_writes_nothing(tmp_path, capsys):
    root = make_project(tmp_path, **{"02-bind": lesson(
        "02 · Bind", "Bind.", new_code_cell("1 / 0"), new_code_cell("print('after')"))})
    path = root / "notebooks" / "02-bind.ipynb"
    before = path.read_text(encoding="utf-8")
    assert nbtool.run([path]) == 1
    assert path.read_text(encoding="utf-8") == before
    err = capsys.readouterr().err
    assert "FAILED notebooks/02-bind.ipynb" in err
    assert "cell 1 ('1 / 0'): ZeroDivisionError: division by zero" in err


def test_outputs_equal_after_sanitizing_are_kept():
    rules = nbtool.sanitize_rules(ROOT)
    old = new_notebook(cells=[ran("show()", 1, stdout("on 127.0.0.1:40001\n")), ran("n", 2, result("3", 2))])
    new = new_notebook(cells=[ran("show()", 1, stdout("on 127.0.0.1:50002\n")), ran("n", 2, result("3", 2))])
    kept = nbtool.keep_equivalent_outputs(new, old, rules)
    assert kept.cells[0].outputs[0].text == "on 127.0.0.1:40001\n"  # only the port differed


def test_one_real_change_takes_every_output_from_the_new_run():
    # never a mix of two runs: the stored port would disagree with the new one elsewhere
    rules = nbtool.sanitize_rules(ROOT)
    old = new_notebook(cells=[ran("show()", 1, stdout("on 127.0.0.1:40001\n")), ran("n", 2, result("3", 2))])
    new = new_notebook(cells=[ran("show()", 1, stdout("on 127.0.0.1:50002\n")), ran("n", 2, result("4", 2))])
    kept = nbtool.keep_equivalent_outputs(new, old, rules)
    assert kept.cells[0].outputs[0].text == "on 127.0.0.1:50002\n"
    assert kept.cells[1].outputs[0].data["text/plain"] == "4"  # the real change


@KERNEL_THREADS
@pytest.mark.timeout(90)
def test_a_rerun_that_differs_only_in_ephemeral_ports_changes_nothing(tmp_path, capsys):
    code = ("import socket\ns = socket.create_server(('127.0.0.1', 0))\n"
            "print(f'listening on 127.0.0.1:{s.getsockname()[1]}')\ns")
    root = make_project(tmp_path, **{"02-bind": lesson("02 · Bind", "Bind.", new_code_cell(code))})
    (root / "tests").mkdir()
    (root / "tests" / "nbval-sanitize.cfg").write_text((ROOT / nbtool.SANITIZE_FILE).read_text())
    path = root / "notebooks" / "02-bind.ipynb"
    assert nbtool.run([path]) == 0
    first = path.read_text(encoding="utf-8")
    assert nbtool.run([path]) == 0
    assert path.read_text(encoding="utf-8") == first
    assert "unchanged notebooks/02-bind.ipynb" in capsys.readouterr().out


def test_an_output_ignored_cell_must_assert_what_holds():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("rate = measure()\nrate", execution_count=1,
                                  metadata={"tags": ["nbval-ignore-output"]}),
        nbformat.v4.new_code_cell("rate = measure()\nassert rate > 0\nrate", execution_count=2,
                                  metadata={"tags": ["nbval-ignore-output"]}),
    ])
    assert nbtool.run_problems(nb) == [
        "cell 0 ('rate = measure()') is tagged nbval-ignore-output but asserts nothing: when "
        "its output is not compared, the cell must assert what has to hold"]

