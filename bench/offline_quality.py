"""Offline builder quality on real manuals nobody on the team wrote (issue 13).

    .venv/bin/python bench/offline_quality.py --install   # apt-get the packages (root)
    .venv/bin/python bench/offline_quality.py             # the table, one row a document

The corpus is 15 PDFs from Debian documentation packages, 10 with bookmarks and 5 without;
they are installed with apt-get, never committed:

    apt-get update && apt-get install -y --no-install-recommends \\
        zlib1g-dev nettle-dev libtasn1-doc valgrind shared-mime-info bzip2-doc \\
        gnuplot-doc r-doc-pdf camlidl-doc asymptote-doc glpk-doc music-doc pari-doc

Each document is extracted (sessions_app.extraction) and folded into an empty plan by the
offline builder, timed together. Per document the table says:

- chapters: how many of the document's chapters became topics. The ground truth is the
  outline's chapter level (the level named below, less the back matter listed below), or
  for a PDF without bookmarks a list written by hand from its table of contents. A chapter
  counts when a topic's title equals it (case, spacing and Unicode compatibility forms
  aside). gnuplot's 115 chapters don't fit the plan's 60 topics: its five parts are the
  topics there, the chapters their subtopics.
- junk: titles (topics and subtopics) that are back matter, hold a ligature, end in a page
  number, start with a part or appendix label, repeat a running head, or are a bare
  number or a cross-reference ("section 4.9").
- dropped: titles the builder reported as left out (FoldStep.dropped).
- time: extraction plus folding, in seconds: wall clock, and the process's CPU time (on
  a shared machine the CPU time is the steadier figure).

Targets (issue 13): ≥ 95 % of chapters as topics, 0 junk titles, < 5 s each.
"""

import argparse
import gzip
import io
import os
import re
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyplanner.settings")

import django

django.setup()

from plans.builders.base import SourceDocument  # noqa: E402
from plans.builders.offline import fold_document  # noqa: E402
from sessions_app.extraction import extract_document  # noqa: E402

PACKAGES = [
    "zlib1g-dev", "nettle-dev", "libtasn1-doc", "valgrind", "shared-mime-info", "bzip2-doc",
    "gnuplot-doc", "r-doc-pdf", "camlidl-doc", "asymptote-doc", "glpk-doc", "music-doc",
    "pari-doc",
]  # fmt: skip


@dataclass
class Case:
    name: str
    path: str
    level: int | None = None  # the outline level that holds the chapters
    exclude: tuple[str, ...] = ()  # back matter at that level
    chapters: list[str] = field(default_factory=list)  # by hand, for PDFs without bookmarks


D = "/usr/share/doc"
CORPUS = [
    Case("gnuplot (parts)", f"{D}/gnuplot/gnuplot.pdf", 1, ("VI Index",)),
    Case(
        "R-intro",
        f"{D}/r-doc-pdf/manual/R-intro.pdf",
        1,
        ("Preface", "D Function and variable index", "E Concept index", "F References"),
    ),
    Case(
        "R-data",
        f"{D}/r-doc-pdf/manual/R-data.pdf",
        1,
        ("Acknowledgements", "A References", "Function and variable index", "Concept index"),
    ),
    Case(
        "libtasn1",
        f"{D}/libtasn1-doc/libtasn1.pdf",
        1,
        ("A Copying Information", "Concept Index", "Function and Data Index"),
    ),
    Case(
        "shared-mime-info spec",
        f"{D}/shared-mime-info/shared-mime-info-spec.pdf",
        1,
        ("3. Contributors",),
    ),
    Case("nettle", f"{D}/nettle-dev/nettle.pdf.gz", 1, ("Copyright", "Function and Concept Index")),
    Case(
        "valgrind (books)",
        f"{D}/valgrind/valgrind_manual.pdf.gz",
        2,
        (
            "AUTHORS",
            "NEWS",
            "OLDER NEWS",
            "README",
            "README_MISSING_SYSCALL_OR_IOCTL",
            "README_DEVELOPERS",
            "README_PACKAGERS",
            "README.S390",
            "README.android",
            "README.android_emulator",
            "README.mips",
            "README.solaris",
            "README.freebsd",
            "The GNU General Public License",
            "The GNU Free Documentation License",
        ),
    ),
    Case("glpk", f"{D}/glpk-doc/glpk.pdf", 1, ("GNU General Public License",)),
    Case("gmpl", f"{D}/glpk-doc/gmpl.pdf", 1, ("Acknowledgements",)),
    Case("asymptote", f"{D}/asymptote/asymptote.pdf", 1, ("17 Acknowledgments", "Index")),
    Case(
        "crc-doc (no outline)",
        f"{D}/zlib1g-dev/crc-doc.1.0.pdf.gz",
        chapters=[
            "Definition of CRC",
            "Related work",
            "CRC tricks and tips",
            "Efficient software implementation",
            "Experimental results",
        ],
    ),
    Case(
        "bzip2 (no outline)",
        f"{D}/bzip2/manual.pdf.gz",
        chapters=["Introduction", "How to use bzip2", "Programming with libbzip2", "Miscellanea"],
    ),
    Case(
        "camlidl (no outline)",
        f"{D}/camlidl/camlidl-1.04.doc.pdf",
        chapters=[
            "Overview",
            "IDL syntax",
            "The Caml-IDL mapping",
            "Using camlidl",
            "Module Com: run-time library for COM components",
            "Hints on writing IDL files",
        ],
    ),
    Case(
        "PARI/GP tutorial (no outline)",
        "/usr/share/pari/doc/tutorial.pdf",
        chapters=[
            "Greetings!",
            "Warming up",
            "The Remaining PARI Types",
            "Elementary Arithmetic Functions",
            "Performing Linear Algebra",
            "Using Transcendental Functions",
            "Using Numerical Tools",
            "Polynomials",
            "Power Series",
            "Working with Elliptic Curves",
            "Working in Quadratic Number Fields",
            "Working in General Number Fields",
            "Working with Associative Algebras",
            "Plotting",
            "GP Programming",
        ],
    ),
    Case(
        "MUSIC (no outline)",
        f"{D}/music-doc/music-manual.pdf.gz",
        chapters=[
            "Introduction",
            "Execution Model",
            "Starting a Multi-Simulation",
            "Application Program Interface",
            "Adapting Existing Applications",
            "A Complete Example",
            "C Interface",
            "Specification File Syntax",
        ],
    ),
]

# --- what counts as junk (written for this benchmark, independent of the builder) -------

_BACK_MATTER = re.compile(
    r"^(?:(?:function|concept|variable|data|general|subject|command|option|program)"
    r"(?:\s+(?:and|&)\s+\w+)?\s+)?index$|^references$|^bibliography$"
    r"|^(?:gnu\s+)?(?:free\s+documentation\s+|general\s+public\s+)?licen[cs]es?$"
    r"|^gnu (?:free documentation|general public|lesser general public) licen[cs]e"
    r"|^copying(?: information| conditions)?$|^copyright$|^authors?$|^contributors$"
    r"|^acknowledge?ments?$|^(?:table of )?contents$|^change ?log$|^(?:older )?news$"
    r"|^release notes$",
    re.IGNORECASE,
)
_LIGATURES = re.compile("[\ufb00-\ufb06]")
_PAGE_NUMBER_END = re.compile(r"\D\s+\d{1,4}$")
_LABEL_START = re.compile(
    r"^(?:(?:appendix|part)\s+)?(?:[A-Z]|[IVXLC]{1,6})[.:]?\s+[A-Z]|^[A-Z](?:\.\d{1,3})+\.?\s"
)
_BARE = re.compile(r"^(?:(?:section|chapter|page|figure|table)\s+)?[\d.\s]+$", re.IGNORECASE)


def junk_reason(title: str, running_heads: set[str], known: set[str]) -> str | None:
    """Why `title` is junk, or None; `known` are the document's own headings (folded)."""
    folded = _fold(title)
    if _BACK_MATTER.search(_CHAPTER_LABEL.sub("", title.strip())):
        return "back matter"
    if _LIGATURES.search(title):
        return "ligature"
    if folded in known:
        return None
    if _PAGE_NUMBER_END.search(title):
        return "page number"
    if _LABEL_START.match(title) and not re.match(r"^(?:A|I)\s+[a-z]", title):
        return "label"
    if _BARE.match(title):
        return "bare number"
    if folded in running_heads:
        return "running head"
    return None


def running_heads(text: str) -> set[str]:
    """Lines at the top or bottom of at least a fifth of the pages (digits aside)."""
    pages = text.split("\f")
    seen: Counter[str] = Counter()
    for page in pages:
        lines = [line.strip() for line in page.split("\n") if line.strip()]
        edges = {re.sub(r"\d+", "", _fold(line)).strip() for line in lines[:2] + lines[-2:]}
        seen.update(edge for edge in edges if edge)
    return {line for line, count in seen.items() if count >= max(3, len(pages) // 5)}


def _fold(title: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", title).casefold().split())


_CHAPTER_LABEL = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3})*\.?|[A-Z]\.?|[IVXLC]{1,6}\.?)\s+(?=\S)")


def outline_entries(data: bytes) -> list[tuple[int, str]]:
    from pypdf import PdfReader

    entries: list[tuple[int, str]] = []

    def walk(items, level):
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
            else:
                entries.append((level, str(item.title).strip()))

    walk(PdfReader(io.BytesIO(data)).outline, 1)
    return entries


def expected_chapters(case: Case, data: bytes) -> list[str]:
    if case.chapters:
        return case.chapters
    excluded = {_fold(_CHAPTER_LABEL.sub("", title)) for title in case.exclude}
    return [
        _CHAPTER_LABEL.sub("", title)
        for level, title in outline_entries(data)
        if level == case.level and _fold(_CHAPTER_LABEL.sub("", title)) not in excluded
    ]


def read(path: str) -> bytes:
    data = Path(path).read_bytes()
    return gzip.decompress(data) if path.endswith(".gz") else data


def measure(case: Case) -> dict:
    data = read(case.path)
    expected = expected_chapters(case, data)
    dropped: list[str] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    extracted = extract_document(io.BytesIO(data), Path(case.path).name.removesuffix(".gz"))
    document = SourceDocument(case.name, extracted.text, extracted.outline)
    try:
        plans = list(fold_document([], document, dropped=dropped))
    except TypeError:  # the builder before issue 13 reports nothing dropped
        plans = list(fold_document([], document))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    plan = plans[-1]
    topics = {_fold(topic["title"]) for topic in plan}
    found = [title for title in expected if _fold(title) in topics]
    heads = running_heads(extracted.text)
    # The document's own headings, labels aside, are never junk for their shape (a title
    # may end in a number: "Differences between versions 4 and 5") — unless back matter.
    known = {_fold(title) for title in expected} | {
        _fold(_CHAPTER_LABEL.sub("", title)) for _, title in outline_entries(data)
    }
    titles = [t["title"] for t in plan] + [s for t in plan for s in t["subtopics"]]
    junk = [
        (title, reason)
        for title in titles
        if (reason := junk_reason(title, heads, known)) is not None
    ]
    return {
        "name": case.name,
        "pages": extracted.page_count,
        "bookmarks": bool(case.level),
        "expected": expected,
        "found": found,
        "topics": len(plan),
        "junk": junk,
        "dropped": dropped,
        "time": elapsed,
        "cpu": cpu,
        "plan": plan,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--install", action="store_true", help="apt-get the corpus (as root)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list misses and junk")
    parser.add_argument("--only", help="run only the documents whose name contains this")
    args = parser.parse_args()
    if args.install:
        subprocess.run(["apt-get", "update"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES], check=True
        )
    rows = []
    print(
        "| document | pages | bookmarks | chapters as topics | junk titles | dropped "
        "| time (wall / CPU) |"
    )
    print("| --- | ---: | :---: | ---: | ---: | ---: | ---: |")
    for case in CORPUS:
        if args.only and args.only.casefold() not in case.name.casefold():
            continue
        if not Path(case.path).exists():
            print(f"| {case.name} | missing: run with --install | | | | | |")
            continue
        row = measure(case)
        rows.append(row)
        share = len(row["found"]) / len(row["expected"]) if row["expected"] else 1.0
        print(
            f"| {row['name']} | {row['pages']} | {'yes' if row['bookmarks'] else 'no'} "
            f"| {len(row['found'])}/{len(row['expected'])} ({share:.0%}) | {len(row['junk'])} "
            f"| {len(row['dropped'])} | {row['time']:.2f} / {row['cpu']:.2f} s |"
        )
        if args.verbose:
            missing = [t for t in row["expected"] if t not in row["found"]]
            print(f"    missing: {missing}\n    junk: {row['junk']}")
            print(f"    topics: {[t['title'] for t in row['plan']]}")
    if rows:
        found = sum(len(r["found"]) for r in rows)
        expected = sum(len(r["expected"]) for r in rows)
        print(
            f"| **all {len(rows)}** | | | {found}/{expected} ({found / expected:.0%}) "
            f"| {sum(len(r['junk']) for r in rows)} | {sum(len(r['dropped']) for r in rows)} "
            f"| max {max(r['time'] for r in rows):.2f} / {max(r['cpu'] for r in rows):.2f} s |"
        )


if __name__ == "__main__":
    main()
