"""Extraction benchmark: a realistic 300-page PDF with an outline, extracted once.

    .venv/bin/python bench/extraction.py                  # build in memory, then extract
    .venv/bin/python bench/extraction.py --build /tmp/course-300.pdf
    /usr/bin/time -v .venv/bin/python bench/extraction.py --pdf /tmp/course-300.pdf

The PDF has chapters and sections in its outline, a running header, page numbers and a
few paragraphs per page (tests/documents.py:course_pdf). Build it to a file first when
measuring peak memory, so `/usr/bin/time -v` sees extraction alone, not the PDF writer.
"""

import argparse
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyplanner.settings")

import django

django.setup()

from sessions_app.extraction import extract_document  # noqa: E402


def build(pages: int) -> bytes:
    from tests.documents import course_pdf

    started = time.perf_counter()
    pdf = course_pdf(pages)
    elapsed = time.perf_counter() - started
    print(f"built a {pages}-page PDF ({len(pdf) / 1e6:.1f} MB) in {elapsed:.2f} s")
    return pdf


def extract(pdf: bytes) -> None:
    started = time.perf_counter()
    document = extract_document(io.BytesIO(pdf), "course-reader.pdf")
    elapsed = time.perf_counter() - started
    print(
        f"extracted {document.page_count} pages, {len(document.text):,} characters and "
        f"{len(document.outline)} outline entries in {elapsed:.2f} s "
        f"({elapsed / document.page_count * 1000:.1f} ms per page)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--build", metavar="PATH", help="only write the PDF to PATH")
    parser.add_argument("--pdf", metavar="PATH", help="extract this PDF instead of building one")
    args = parser.parse_args()
    if args.build:
        Path(args.build).write_bytes(build(args.pages))
    elif args.pdf:
        extract(Path(args.pdf).read_bytes())
    else:
        extract(build(args.pages))


if __name__ == "__main__":
    main()
