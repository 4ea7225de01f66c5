"""Run, normalise and check the course notebooks.

Usage:
    python tools/nbtool.py run [NB ...]   re-execute in a fresh kernel, then normalise
                                          (--fresh: store every new output)
    python tools/nbtool.py fix            normalise every notebook, regenerate the
                                          navigation cells and both lesson lists
    python tools/nbtool.py check          exit 1 listing whatever is not normalised

Every subcommand takes --root DIR: the project folder holding notebooks/ and README.md
(default: this repository). `run` without arguments runs every notebooks/NN-*.ipynb, one
after another; a notebook argument may be a path or a file name in notebooks/. A cell may
raise only if tagged `raises-exception`; otherwise `run` reports it and writes nothing.
Where every cell's new outputs equal the stored ones after tests/nbval-sanitize.cfg (only
ephemeral ports or addresses differ), `run` keeps the stored ones: no diff churn. If one
cell really changed, every cell takes the new run's outputs (never a mix of two runs).

What "normalised" means (and what `fix` writes):
- nbformat 4.5; notebook metadata is only `kernelspec` (python3), `language_info`
  (`{"name": "python"}`) and `labkit` (the notebook's runtime requirements), if present;
- cell metadata is only `tags`, when there are any, and `slideshow` (its `slide_type`
  alone), when set; cell ids are c00, c01, ... by position;
- execution counts 1..N over the code cells that ran, in order; empty code cells have
  neither a count nor outputs;
- the first and last cells of every lesson (NN-*.ipynb with NN >= 01) are generated
  markdown cells tagged `nav`:
      [← 02 Bind](02-bind.ipynb) · [Contents](00-welcome.ipynb#Lessons) · [04 Connect →](04-connect.ipynb)
  and the 00 notebook's are `[Lessons](#Lessons) · [01 Create →](01-create.ipynb)`;
  they are left out of the slides (slide_type `skip`);
- the cell tagged `lessons` in the 00 notebook holds "## Lessons" and a numbered list
  of the lessons (H1 title, then the first sentence of the intro), a slide of its own;
  README.md holds the same list between <!-- lessons:start --> and <!-- lessons:end -->;
- JSON with a 1-space indent, sorted keys, non-ASCII kept as is, a trailing newline.

`check` also reports code cells that never ran (a stripped notebook), error outputs
in cells not tagged `raises-exception`, and cells tagged `nbval-ignore-output` that assert
nothing (an output nobody compares must be checked by the cell itself), and keeps every notebook a slide deck (RISE, the
jupyterlab-rise extension, reads each cell's `metadata.slideshow.slide_type`):
- every slide_type is one of slide, subslide, fragment, skip, notes or "-" (continue the
  slide), and the notebook has slide metadata at all;
- the first cell after the navigation cell is the H1 title, and it is a `slide`;
- every markdown cell with a `## ` heading (outside code fences) starts a `slide`, wherever
  in the cell the heading stands; `## Questions`, `## Things to try` and `## Sidebar: …`
  may start a `subslide` instead; a sidebar ends with the line `*End of sidebar.*`, never
  with a `## End sidebar` heading (it would show in the table of contents as a section);
- each exercise starts a slide or subslide of its own: the markdown cell just before the
  code cell that calls `labkit.exercise(` (speaker notes passed over; that code cell
  itself if the cell before is code);
- speaker notes are markdown cells of type `notes` that begin with NOTES_MARKER (which
  tells a learner working alone to skip them), and a cell that begins so is of type `notes`; every notebook has at least one, and at
  least three slides.
Importable: normalise(nb), problems(path), slide_problems(nb), check(root).
"""

import argparse
import atexit
import copy
import json
import os
import re
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_GLOB = "[0-9][0-9]-*.ipynb"
CELL_TIMEOUT = 60  # seconds, as for nbval in CI
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
NAV_TAG, LESSONS_TAG, RAISES_TAG = "nav", "lessons", "raises-exception"
IGNORE_TAG = "nbval-ignore-output"  # nbval does not compare the cell's output
README_START, README_END = "<!-- lessons:start -->", "<!-- lessons:end -->"
FIX_HINT = "run: python tools/nbtool.py fix"
RUN_HINT = "run: python tools/nbtool.py run"
SANITIZE_FILE = "tests/nbval-sanitize.cfg"  # the rules nbval applies before comparing
SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")
STARTS = ("slide", "subslide")  # the types that begin a new slide
NOTES_MARKER = "**Speaker notes** (for whoever teaches this lesson; learning on your own, skip this cell)."  # how a notes cell announces itself, to a learner too
MIN_SLIDES, MIN_NOTES = 3, 1
OPTIONAL_SUBSLIDES = ("Questions", "Things to try")  # may hang below the Summary
SIDEBAR, END_SIDEBAR = "Sidebar:", "End sidebar"


# ---------------------------------------------------------------------------
# Reading and writing


def read(path):
    """Read a notebook as nbformat 4 (its minor version and ids as they are)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing ids etc.: normalise() repairs them
        return nbformat.reads(Path(path).read_text(encoding="utf-8"), as_version=4)


def serialise(nb):
    """The notebook as the JSON text we commit: indent 1, sorted keys, UTF-8, final newline."""
    return nbformat.writes(nb) + "\n"


def write_if_changed(path, text):
    """Write `text` to `path` unless it is already there; return whether it wrote."""
    path = Path(path)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


# ---------------------------------------------------------------------------
# Lessons: titles and intros read from the notebooks themselves


@dataclass(frozen=True)
class Lesson:
    file: str  # "03-listen-accept.ipynb"
    number: str  # "03"
    title: str  # "Listen and accept", from "# 03 · Listen and accept"
    sentence: str  # first sentence of the intro paragraph, links reduced to their text

    @property
    def label(self):
        return f"{self.number} {self.title}"


def notebook_paths(nb_dir):
    """Every NN-*.ipynb in `nb_dir`, in order (the 00 contents notebook included)."""
    return sorted(Path(nb_dir).glob(NOTEBOOK_GLOB))


def contents_file(nb_dir):
    """File name of the contents notebook (00-*.ipynb), 00-welcome.ipynb if there is none."""
    found = [p.name for p in notebook_paths(nb_dir) if p.name.startswith("00-")]
    return found[0] if found else "00-welcome.ipynb"


def read_lessons(nb_dir):
    """The lessons (01 onwards) in `nb_dir`, with their titles and first sentences."""
    return [describe_lesson(p.name, read(p)) for p in notebook_paths(nb_dir)
            if not p.name.startswith("00-")]


def describe_lesson(file, nb):
    heading, intro = title_and_intro(nb)
    number = file[:2]
    title = re.sub(r"^\d+\s*[·:.\-–—]?\s*", "", heading) if heading else Path(file).stem[3:]
    return Lesson(file, number, title, first_sentence(intro))


def title_and_intro(nb):
    """The H1 text and the paragraph after it ("" for what is missing)."""
    cells = [c for c in nb.cells if c.cell_type == "markdown" and NAV_TAG not in tags_of(c)
             and slide_type_of(c) != "notes"]
    for i, cell in enumerate(cells):
        lines = cell.source.splitlines()
        for j, line in enumerate(lines):
            match = re.match(r"#\s+(.+?)\s*#*\s*$", line)
            if match:
                rest = "\n".join(lines[j + 1:]).strip()
                if not rest and i + 1 < len(cells):
                    rest = cells[i + 1].source.strip()
                return match.group(1), rest.split("\n\n")[0]
    return "", ""


def first_sentence(paragraph):
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", paragraph)  # [text](url) -> text
    text = " ".join(text.split())
    match = re.match(r"(.+?(?:[.!?](?=\s|$)|[。！？]))", text)
    return match.group(1) if match else text


def tags_of(cell):
    return list(cell.get("metadata", {}).get("tags", []))


def slide_type_of(cell):
    """The cell's slide_type for RISE (None when it has none)."""
    slideshow = cell.get("metadata", {}).get("slideshow")
    return slideshow.get("slide_type") if isinstance(slideshow, dict) else None


# ---------------------------------------------------------------------------
# Generated cells and README list


def nav_line(lessons, index, contents):
    """The navigation line of lessons[index]: previous · contents · next."""
    parts = []
    if index > 0:
        prev = lessons[index - 1]
        parts.append(f"[← {prev.label}]({prev.file})")
    parts.append(f"[Contents]({contents}#Lessons)")
    if index + 1 < len(lessons):
        nxt = lessons[index + 1]
        parts.append(f"[{nxt.label} →]({nxt.file})")
    return " · ".join(parts)


def lesson_list(lessons, link_prefix=""):
    """A numbered markdown list: `1. [Create](01-create.ipynb) — First sentence.`"""
    lines = []
    for n, lesson in enumerate(lessons, start=1):
        item = f"{n}. [{lesson.title}]({link_prefix}{lesson.file})"
        lines.append(f"{item} — {lesson.sentence}" if lesson.sentence else item)
    return "\n".join(lines)


GENERATED_SLIDE_TYPE = {NAV_TAG: "skip", LESSONS_TAG: "slide"}  # nav is not shown in slides


def generated_cell(source, tag):
    return nbformat.v4.new_markdown_cell(source, metadata={
        "slideshow": {"slide_type": GENERATED_SLIDE_TYPE[tag]}, "tags": [tag]})


def with_nav(nb, line):
    """A copy of `nb` whose first and last cells are `line`, tagged nav (old nav cells go)."""
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if NAV_TAG not in tags_of(c)]
    nb.cells = [generated_cell(line, NAV_TAG), *cells, generated_cell(line, NAV_TAG)]
    return nb


def with_lesson_list(nb, listing):
    """A copy of `nb` whose cell tagged `lessons` holds the list (appended if missing)."""
    nb = copy.deepcopy(nb)
    source = f"## Lessons\n\n{listing}" if listing else "## Lessons"
    for index, cell in enumerate(nb.cells):
        if LESSONS_TAG in tags_of(cell):
            nb.cells[index] = generated_cell(source, LESSONS_TAG)
            break
    else:
        nb.cells.append(generated_cell(source, LESSONS_TAG))
    return nb


def readme_with_list(text, listing):
    """README text with `listing` between the markers, or None if the markers are missing."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return None
    middle = f"\n{listing}\n" if listing else "\n"
    return text[: start + len(README_START)] + middle + text[end:]


# ---------------------------------------------------------------------------
# Normalising one notebook


def normalise(nb):
    """A normalised copy of `nb` (metadata, ids, counts; see the module docstring)."""
    nb = copy.deepcopy(nb)
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata = normalised_metadata(nb.metadata)
    count = 0
    for index, cell in enumerate(nb.cells):
        cell.metadata = normalised_cell_metadata(cell)
        cell.id = f"c{index:02d}"
        if cell.cell_type == "code":
            count = renumber(cell, count)
    return nb


def normalised_cell_metadata(cell):
    """Only `tags` (when there are any) and `slideshow` reduced to its slide_type."""
    kept = {}
    tags = tags_of(cell)
    if tags:
        kept["tags"] = tags
    slide_type = slide_type_of(cell)
    if slide_type is not None:
        kept["slideshow"] = {"slide_type": slide_type}
    return nbformat.from_dict(kept)


def normalised_metadata(metadata):
    kept = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    if "labkit" in metadata:
        kept["labkit"] = metadata["labkit"]
    return nbformat.from_dict(kept)


def renumber(cell, count):
    """Give a code cell that ran the next count; clear empty cells. Returns the last count."""
    if not cell.source.strip():
        cell.execution_count, cell.outputs = None, []
        return count
    if cell.execution_count is None:
        return count  # never ran: problems() reports it, fix cannot invent outputs
    count += 1
    cell.execution_count = count
    for output in cell.outputs:
        if output.output_type == "execute_result":
            output.execution_count = count
    return count


def fixed(nb, path):
    """What `fix` makes of notebook `nb` stored at `path`: generated cells, then normalise."""
    path = Path(path)
    nb_dir = path.parent
    if re.fullmatch(r"00-.*\.ipynb", path.name):
        lessons = read_lessons(nb_dir)
        nb = with_lesson_list(nb, lesson_list(lessons))
        if lessons:  # the contents notebook links to its own list and on to lesson 01
            nb = with_nav(nb, f"[Lessons](#Lessons) · [{lessons[0].label} →]({lessons[0].file})")
    elif re.fullmatch(r"\d\d-.*\.ipynb", path.name):
        lessons = read_lessons(nb_dir)
        files = [lesson.file for lesson in lessons]
        if path.name in files:
            nb = with_nav(nb, nav_line(lessons, files.index(path.name), contents_file(nb_dir)))
    return normalise(nb)


# ---------------------------------------------------------------------------
# Checking


def problems(path):
    """Everything wrong with the notebook at `path`, one message each ([] if none)."""
    path = Path(path)
    try:
        have = json.loads(path.read_text(encoding="utf-8"))
        nb = read(path)
    except ValueError as exc:  # not JSON, or not a notebook
        return [f"{display(path)}: cannot be read as a notebook: {exc}"]
    want = json.loads(serialise(fixed(nb, path)))
    found = run_problems(nb) + slide_problems(nb)
    if have != want:
        found += differences(have, want) or [f"not normalised ({FIX_HINT})"]
    return [f"{display(path)}: {message}" for message in found]


def run_problems(nb):
    """Code cells that never ran, and errors in cells not tagged raises-exception."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        where = f"cell {index} ({excerpt(cell.source)})"
        if cell.execution_count is None and "skip-execution" not in tags_of(cell):
            found.append(f"{where} has not been run ({RUN_HINT})")
        if any(o.output_type == "error" for o in cell.outputs) and RAISES_TAG not in tags_of(cell):
            found.append(f"{where} shows an error but is not tagged {RAISES_TAG}")
        if IGNORE_TAG in tags_of(cell) and not re.search(r"^\s*assert\b", cell.source, re.M):
            found.append(f"{where} is tagged {IGNORE_TAG} but asserts nothing: when its "
                         f"output is not compared, the cell must assert what has to hold")
    return found


def slide_problems(nb):
    """What keeps the notebook from being a well-formed slide deck (see the docstring)."""
    cells = nb.cells
    kinds = [slide_type_of(c) for c in cells]
    found = [f"{where(i, c)}: slide_type {k!r} is not one of {', '.join(SLIDE_TYPES)}"
             for i, (c, k) in enumerate(zip(cells, kinds)) if k is not None and k not in SLIDE_TYPES]
    if all(k is None for k in kinds):
        return found + ["no slide metadata: every lesson is also a slide deck (set each "
                        "section's metadata.slideshow.slide_type; see tools/nbtool.py)"]
    for i, cell in enumerate(cells):
        if NAV_TAG in tags_of(cell) and kinds[i] != "skip":
            found.append(f"{where(i, cell)} is a navigation cell: slide_type must be skip, "
                         f"not {kinds[i]!r} ({FIX_HINT})")
    content = [i for i, c in enumerate(cells) if NAV_TAG not in tags_of(c)]
    if content:
        first = content[0]
        if not (cells[first].cell_type == "markdown" and re.match(r"#\s", cells[first].source)):
            found.append(f"{where(first, cells[first])} opens the lesson, but the first cell "
                         f"should be the H1 title (the title slide)")
        elif kinds[first] != "slide":
            found.append(f"{where(first, cells[first])} is the title but not a slide "
                         f"(slide_type {kinds[first]!r}, not 'slide')")
    for i, cell in enumerate(cells):
        if cell.cell_type == "markdown" and NAV_TAG not in tags_of(cell):
            found += heading_problems(i, cell, kinds[i])
            found += notes_problems(i, cell, kinds[i])
        elif kinds[i] == "notes":
            found.append(f"{where(i, cell)} is speaker notes but a {cell.cell_type} cell: "
                         f"notes are markdown")
    found += exercise_problems(cells, kinds)
    slides, notes = kinds.count("slide"), kinds.count("notes")
    if slides < MIN_SLIDES:
        found.append(f"only {slides} slide(s): a lesson deck has at least {MIN_SLIDES} "
                     f"(the title, its sections, the Summary)")
    if notes < MIN_NOTES:
        found.append(f"no speaker notes: add a markdown cell of slide_type notes beginning "
                     f"with {NOTES_MARKER} (what to demo, how long, where learners stumble)")
    return found


def heading_problems(index, cell, kind):
    """A `## ` section heading starts a slide (see the docstring for the exceptions)."""
    headings = section_headings(cell.source)
    if not headings:
        return []
    where_ = f"{where(index, cell)} has the heading '## {headings[0]}'"
    if END_SIDEBAR in headings:
        return [f"{where(index, cell)} ends a sidebar with the heading '## {END_SIDEBAR}', "
                f"which shows in the table of contents as a section: end it with the line "
                f"'*End of sidebar.*' instead"]
    optional = headings[0] in OPTIONAL_SUBSLIDES or headings[0].startswith(SIDEBAR)
    allowed = STARTS if optional else ("slide",)
    if kind not in allowed:
        wanted = "slide or subslide" if optional else "slide"
        return [f"{where_} but does not start a slide (slide_type {kind!r}, not {wanted}): "
                f"every section is a slide"]
    return []


def notes_problems(index, cell, kind):
    marked = cell.source.lstrip().startswith(NOTES_MARKER)
    if kind == "notes" and not marked:
        return [f"{where(index, cell)} is speaker notes but does not begin with {NOTES_MARKER}, "
                f"which tells a reader of the notebook what the cell is"]
    if marked and kind != "notes":
        return [f"{where(index, cell)} begins with {NOTES_MARKER} but its slide_type is "
                f"{kind!r}, not notes: it would show on the slide"]
    return []


def exercise_problems(cells, kinds):
    """Each exercise starts a slide or subslide: the markdown cell that introduces it."""
    found = []
    for index, cell in enumerate(cells):
        match = re.search(r"labkit\.exercise\(\s*(['\"][^'\"]*['\"])?", cell.source)
        if cell.cell_type != "code" or not match:
            continue
        before = [j for j in range(index) if kinds[j] != "notes"]
        start = before[-1] if before and cells[before[-1]].cell_type == "markdown" else index
        if kinds[start] not in STARTS:
            name = match.group(1) or "here"
            found.append(f"{where(start, cells[start])} introduces the exercise {name} "
                         f"(cell {index}) but does not start a slide (slide_type {kinds[start]!r}, "
                         f"not slide or subslide): each exercise has a slide of its own")
    return found


def section_headings(source):
    """The text of each `## ` heading line in markdown `source`, outside code fences."""
    headings, fenced = [], False
    for line in source.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            headings.append(line[3:].strip().rstrip("#").strip())
    return headings


def where(index, cell):
    return f"cell {index} ({excerpt(cell.source)})"


def differences(have, want):
    """Name what differs between the stored notebook JSON and its normalised form."""
    found = []
    if (have.get("nbformat"), have.get("nbformat_minor")) != (4, 5):
        found.append(f"nbformat {have.get('nbformat')}.{have.get('nbformat_minor')}, not 4.5")
    if have.get("metadata") != want["metadata"]:
        extra = sorted(set(have.get("metadata", {})) - set(want["metadata"]))
        found.append(f"notebook metadata: extra {extra}" if extra else "notebook metadata differs")
    for tag, what in ((NAV_TAG, "navigation cells"), (LESSONS_TAG, "lesson list")):
        if tagged_sources(have, tag) != tagged_sources(want, tag):
            found.append(f"{what} missing or stale ({FIX_HINT})")
    # Line up the cells the lesson's author wrote (positions as stored) with their
    # normalised form; if the count differs, the generated cells said it already.
    have_cells = [(i, c) for i, c in enumerate(have.get("cells", [])) if not generated(c)]
    want_cells = [c for c in want["cells"] if not generated(c)]
    if len(have_cells) == len(want_cells):
        found += cell_differences(have_cells, want_cells)
    return found


def generated(cell_json):
    tags = cell_json.get("metadata", {}).get("tags", [])
    return NAV_TAG in tags or LESSONS_TAG in tags


def tagged_sources(nb_json, tag):
    return [joined(c.get("source", "")) for c in nb_json.get("cells", [])
            if tag in c.get("metadata", {}).get("tags", [])]


def cell_differences(have_cells, want_cells):
    """Group cell-level differences by kind; `have_cells` are (position, cell) pairs."""
    kinds = {"ids": [], "metadata": [], "counts": [], "other": []}
    for (index, have), want in zip(have_cells, want_cells):
        if have.get("id") != want["id"]:
            kinds["ids"].append(index)
        if have.get("metadata") != want["metadata"]:
            kinds["metadata"].append(index)
        if have.get("execution_count") != want.get("execution_count"):
            kinds["counts"].append(index)
        if without_keys(have) != without_keys(want):
            kinds["other"].append(index)
    messages = {
        "ids": "cell ids are not c00, c01, …",
        "metadata": "cell metadata other than tags and slideshow.slide_type",
        "counts": "execution counts are not 1..N in order",
        "other": "outputs of empty code cells or result counts not normalised",
    }
    return [f"{messages[k]} (cells {shorten(v)}; {FIX_HINT})" for k, v in kinds.items() if v]


def without_keys(cell_json, keys=("id", "metadata", "execution_count")):
    return {k: v for k, v in cell_json.items() if k not in keys}


def readme_problems(root):
    readme = Path(root) / "README.md"
    if not readme.exists():
        return ["README.md: missing (it holds the lesson list)"]
    text = readme.read_text(encoding="utf-8")
    want = readme_with_list(text, readme_listing(root))
    if want is None:
        return [f"README.md: no {README_START} … {README_END} markers for the lesson list"]
    if want != text:
        return [f"README.md: lesson list is stale ({FIX_HINT})"]
    return []


def readme_listing(root):
    return lesson_list(read_lessons(Path(root) / "notebooks"), link_prefix="notebooks/")


def check(root=ROOT):
    """Every problem in the project at `root`: its notebooks and the README list."""
    nb_dir = Path(root) / "notebooks"
    paths = notebook_paths(nb_dir)
    found = [msg for path in paths for msg in problems(path)]
    contents = [p for p in paths if p.name.startswith("00-")]
    if paths and not contents:
        found.append("notebooks/: no 00-*.ipynb contents notebook (navigation links to it)")
    return found + readme_problems(root)


# ---------------------------------------------------------------------------
# Fixing and running


def fix(root=ROOT):
    """Normalise every notebook and the README list in place; return the files changed."""
    changed = []
    for path in notebook_paths(Path(root) / "notebooks"):
        if write_if_changed(path, serialise(fixed(read(path), path))):
            changed.append(path)
    readme = Path(root) / "README.md"
    if readme.exists():
        text = readme_with_list(readme.read_text(encoding="utf-8"), readme_listing(root))
        if text is not None and write_if_changed(readme, text):
            changed.append(readme)
    return changed


class ExecutionFailed(Exception):
    """A notebook raised where it should not have (or could not be run at all)."""


def kernel_manager(**kwargs):
    """A KernelManager that talks to its kernel over Unix sockets in a folder of its own
    where the system has them, else over TCP.

    Over TCP, the kernel's five ports are picked, let go, and bound by the kernel a moment
    later; in that gap any other program's socket may take one (seen with the tests in
    parallel: the kernel died "Address already in use" and its client waited forever).
    A lesson's own sockets are the same either way.
    """
    if os.name != "posix":
        return KernelManager(**kwargs)
    folder = tempfile.mkdtemp(prefix="socket-lab-kernel-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return KernelManager(transport="ipc", ip=os.path.join(folder, "ipc"), **kwargs)


def execute(path):
    """Run the notebook at `path` top to bottom in a fresh kernel; return it with outputs.

    Cells run with notebooks/ as the working folder. An error is allowed only in a cell
    tagged raises-exception: any other raises ExecutionFailed naming every such cell.
    """
    path = Path(path)
    nb = read(path)
    client = NotebookClient(
        nb,
        km=kernel_manager(kernel_name="python3"),
        timeout=CELL_TIMEOUT,
        allow_errors=True,  # run to the end, then report every unexpected error at once
        record_timing=False,
        coalesce_streams=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except Exception as exc:  # timeouts, a dead kernel: the notebook cannot be trusted
        raise ExecutionFailed(f"{type(exc).__name__}: {exc}") from exc
    unexpected = unexpected_errors(nb)
    if unexpected:
        raise ExecutionFailed("\n".join(unexpected))
    return nb


def unexpected_errors(nb):
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or RAISES_TAG in tags_of(cell):
            continue
        for out in cell.outputs:
            if out.output_type == "error":
                found.append(f"cell {index} ({excerpt(cell.source)}): {out.ename}: {out.evalue}")
    return found


def untriggered_raises(nb):
    """Cells tagged raises-exception that ran without raising (the prose may now be wrong)."""
    return [f"cell {i} ({excerpt(c.source)}) is tagged {RAISES_TAG} but did not raise"
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and RAISES_TAG in tags_of(c) and c.execution_count is not None
            and not any(o.output_type == "error" for o in c.outputs)]


def run(paths, fresh=False):
    """Execute and normalise each notebook in turn; return how many failed.

    With *fresh*, the new outputs are stored even where the old ones are equivalent.
    """
    warm_matplotlib_font_cache()
    failed = 0
    for path in map(Path, paths):
        print(f"running {display(path)} …", flush=True)
        try:
            nb = execute(path)
        except ExecutionFailed as exc:
            failed += 1
            print(f"FAILED {display(path)} (not written):\n{indent(str(exc))}", file=sys.stderr)
            continue
        for warning in untriggered_raises(nb):
            print(f"warning: {display(path)}: {warning}", file=sys.stderr)
        if not fresh:
            nb = keep_equivalent_outputs(nb, read(path), sanitize_rules(path.parent.parent))
        if write_if_changed(path, serialise(fixed(nb, path))):
            print(f"wrote {display(path)}")
        else:
            print(f"unchanged {display(path)}")
    return failed


def sanitize_rules(root):
    """The (regex, replacement) pairs of tests/nbval-sanitize.cfg, parsed as nbval does."""
    cfg = Path(root) / SANITIZE_FILE
    if not cfg.exists():
        return []
    return re.findall("^regex: (.*)$\n^replace: (.*)$", cfg.read_text(encoding="utf-8"), flags=re.M)


def keep_equivalent_outputs(new, old, rules):
    """`new`, or `old`'s stored outputs if nbval would call every code cell's outputs equal.

    A re-run then changes no line of a notebook whose outputs differ only in what the
    sanitize file hides (ephemeral ports, addresses, times), so diffs show real changes.
    It is all or nothing: where one cell really changed, every cell takes the new run's
    outputs, so the stored outputs always come from one run (mixing runs would show, say,
    one listener on three different ports in three cells).
    """
    old_code = [c for c in old.cells if c.cell_type == "code"]
    new_code = [c for c in new.cells if c.cell_type == "code"]
    same = len(old_code) == len(new_code) and all(
        cell.source == before.source
        and (cell.execution_count is None) == (before.get("execution_count") is None)
        and comparable(cell.outputs, rules) == comparable(before.outputs, rules)
        for cell, before in zip(new_code, old_code))
    if not same:
        return new
    new = copy.deepcopy(new)
    for cell, before in zip([c for c in new.cells if c.cell_type == "code"], old_code):
        cell.outputs = copy.deepcopy(before.outputs)
    return new


def comparable(value, rules):
    """Outputs as nbval compares them: sanitized text, execution counts left out."""
    if isinstance(value, str):
        for regex, replacement in rules:
            value = re.sub(regex, replacement, value)
        return value
    if isinstance(value, dict):
        return {k: comparable(v, rules) for k, v in value.items() if k != "execution_count"}
    if isinstance(value, list):
        return [comparable(v, rules) for v in value]
    return value


def warm_matplotlib_font_cache():
    """Build matplotlib's font cache here, so no kernel prints "building the font cache"
    on stderr into a stored output (the root conftest.py does the same for pytest)."""
    try:
        import matplotlib.font_manager  # noqa: F401
    except ImportError:
        pass


# ---------------------------------------------------------------------------
# Small helpers


def joined(source):
    return "".join(source) if isinstance(source, list) else source


def excerpt(source, width=40):
    line = source.strip().splitlines()[0] if source.strip() else ""
    return repr(line if len(line) <= width else line[: width - 1] + "…")


def shorten(indices, most=8):
    shown = ", ".join(map(str, indices[:most]))
    return shown + (", …" if len(indices) > most else "")


def indent(text):
    return "\n".join("    " + line for line in text.splitlines())


def display(path):
    """A notebook's name as the project sees it: notebooks/01-create.ipynb."""
    path = Path(path)
    return f"{path.resolve().parent.name}/{path.name}"


# ---------------------------------------------------------------------------
# Command line


def resolve_notebooks(root, names):
    """Notebook paths from command-line names; every NN-*.ipynb when there are none."""
    nb_dir = Path(root) / "notebooks"
    if not names:
        return notebook_paths(nb_dir)
    paths = []
    for name in names:
        path = Path(name) if Path(name).exists() else nb_dir / name
        if not path.exists():
            raise SystemExit(f"nbtool: no such notebook: {name}")
        paths.append(path.resolve())
    return paths


def parse_args(argv):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=Path, default=ROOT,
                        help="project folder holding notebooks/ and README.md")
    parser = argparse.ArgumentParser(prog="nbtool", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", parents=[common], help="re-execute, then normalise")
    run_parser.add_argument("notebooks", nargs="*", metavar="NB")
    run_parser.add_argument("--fresh", action="store_true",
                            help="store the new run's outputs even where the old ones are equivalent")
    sub.add_parser("fix", parents=[common], help="normalise notebooks and lesson lists")
    sub.add_parser("check", parents=[common], help="exit 1 if anything is not normalised")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.command == "run":
        failed = run(resolve_notebooks(args.root, args.notebooks), fresh=args.fresh)
        report(check(args.root), quiet_ok=True)  # what is left to do, for information
        return 1 if failed else 0
    if args.command == "fix":
        for path in fix(args.root):
            print(f"fixed {path.relative_to(args.root)}")
        return report(check(args.root), quiet_ok=True)
    return report(check(args.root))


def report(found, quiet_ok=False):
    for message in found:
        print(message, file=sys.stderr)
    if not found and not quiet_ok:
        print("all notebooks normalised")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
