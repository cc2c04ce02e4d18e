"""The offline plan builder: a document's own structure, merged into the plan (SPEC §5)."""

import asyncio
import copy
import io
import itertools

from django.test import SimpleTestCase

from plans.builders.base import SourceDocument
from plans.builders.offline import OfflineBuilder, fold_document, readable_name
from plans.schema import MAX_SUBTOPICS, MAX_TEXT_LENGTH, MAX_TOPICS, normalize_plan
from sessions_app.extraction import extract_document
from tests.documents import SAMPLE_OUTLINE, docx_with_headings, pdf_with_outline
from tests.offline_documents import (
    PAPER_PROSE,
    docx_with_ligatures,
    paper_blocks,
    pdf_with_layout,
    pdf_with_ligatures,
    slides_pdf,
)


def fold(text, name="notes.md", outline=(), plan=()):
    """Every plan fold_document yields, for one document folded into `plan`."""
    return list(fold_document(list(plan), SourceDocument(name, text, list(outline))))


def outline_of(plan):
    """The plan as [(title, [subtopics])], for assertions that read like the plan."""
    return [(topic["title"], topic["subtopics"]) for topic in plan]


def result(text, name="notes.md", outline=(), plan=()):
    return outline_of(fold(text, name, outline, plan)[-1])


MARKDOWN_LECTURE = """\
# Lecture 3: Derivatives

Last week we met limits. Today we use them to define the derivative.

## The derivative as a limit

The derivative of *f* at *a* is the limit of the difference quotient.

```python
# numerical derivative with a central difference
def derivative(f, x, h=1e-6):
    # the error shrinks with h squared
    return (f(x + h) - f(x - h)) / (2 * h)
```

## Differentiation rules

### Power rule

### Product rule

### The **chain rule**

## Applications ##

### Related rates
### Optimisation problems

See https://example.org/calculus for exercises.
"""


class MarkdownLectureTests(SimpleTestCase):
    def test_the_h2_headings_are_the_topics_and_the_h3_headings_their_subtopics(self):
        self.assertEqual(
            result(MARKDOWN_LECTURE, "lecture3.md"),
            [
                ("The derivative as a limit", []),
                ("Differentiation rules", ["Power rule", "Product rule", "The chain rule"]),
                ("Applications", ["Related rates", "Optimisation problems"]),
            ],
        )

    def test_comment_lines_in_a_fenced_code_block_are_not_topics(self):
        titles = str(result(MARKDOWN_LECTURE, "lecture3.md"))

        self.assertNotIn("numerical derivative", titles)
        self.assertNotIn("error shrinks", titles)

    def test_a_comment_next_to_unfenced_code_is_not_a_heading(self):
        text = """\
# Vectors

Text.

    # indented code
    v = [1, 2]

# build the matrix
m = np.eye(3)

# Matrices

Text.
"""

        self.assertEqual(result(text), [("Vectors", []), ("Matrices", [])])

    def test_setext_headings_are_read_but_rules_and_table_separators_are_not(self):
        text = """\
Linear Algebra
==============

Vectors
-------

A vector has a length and a direction.

---

| Operation | Result |
|-----------|--------|
| dot       | scalar |

Matrices
--------

A matrix is a grid of numbers,
arranged in rows
---
"""
        # Over two plain sections the lone "Linear Algebra" is the topic.
        self.assertEqual(result(text, "la.md"), [("Linear Algebra", ["Vectors", "Matrices"])])

    def test_a_lecture_heading_over_a_few_sections_is_the_topic(self):
        text = "Lecture 2: Derivatives\n\n2.1 The product rule\n2.2 The chain rule\n"

        self.assertEqual(
            result(text, "week2.txt"),
            [("Derivatives", ["The product rule", "The chain rule"])],
        )

    def test_a_title_over_many_sections_is_the_documents_title(self):
        weeks = "".join(f"## Week {n}: Subject {n}\n\nText.\n\n" for n in range(1, 9))

        topics = result("# Calculus I\n\n" + weeks, "syllabus.md")

        self.assertEqual([title for title, _ in topics], [f"Subject {n}" for n in range(1, 9)])

    def test_a_document_with_flat_headings_gives_topics_without_subtopics(self):
        text = "## Sets\n\nText.\n\n## Relations\n\nText.\n\n## Functions\n\nText."

        self.assertEqual(result(text), [("Sets", []), ("Relations", []), ("Functions", [])])

    def test_a_heading_about_html_elements_or_generics_keeps_its_angle_brackets(self):
        # Stripped like markup, "<canvas>" and "<video>" both became "The element", and the
        # second was dropped as a duplicate of the first.
        text = (
            "# Web and Java\n\n## The <canvas> element\n\nDraw.\n\n"
            "## The <video> element\n\nPlay.\n\n## Generic List<T> and Map<K, V>\n\nTypes.\n\n"
            '## <a id="slots"></a>Using <em>slots</em><br/>\n\nText.\n'
        )

        self.assertEqual(
            result(text, "web.md"),
            [
                (
                    "Web and Java",
                    [
                        "The <canvas> element",
                        "The <video> element",
                        "Generic List<T> and Map<K, V>",
                        "Using slots",
                    ],
                )
            ],
        )


SYLLABUS = """\
Calculus I - Syllabus, winter term

1 Introduction
1.1 Course overview
1.2 Assessment and grading
2 Limits
2.1 Limits of sequences
2.2 Continuity

Before the first lecture:
1. Read chapter 2 of the textbook before the first lecture.
2. Solve the exercises on page 40 of the workbook.
3. Bring a calculator.

3 Derivatives
3.1 The derivative as a rate of change
3.2 The chain rule
4. Integrals
4 Integrals
4.1 Riemann sums
"""


class NumberedHeadingTests(SimpleTestCase):
    def test_a_numbered_syllabus_gives_its_sections_as_topics_and_subsections(self):
        self.assertEqual(
            result(SYLLABUS, "syllabus.txt"),
            [
                ("Introduction", ["Course overview", "Assessment and grading"]),
                ("Limits", ["Limits of sequences", "Continuity"]),
                ("Derivatives", ["The derivative as a rate of change", "The chain rule"]),
                ("Integrals", ["Riemann sums"]),
            ],
        )

    def test_a_numbered_list_restarting_at_one_is_not_read_as_headings(self):
        text = """\
1 Sets
Some text about sets.
2 Relations
Homework:
1 Exercise sheet one
2 Exercise sheet two
3 Exercise sheet three
Text after the list, and more of it, enough to end the list.
Still text here.
Even more text.
3 Functions
"""
        self.assertEqual(
            [title for title, _ in result(text, "notes.txt")], ["Sets", "Relations", "Functions"]
        )

    def test_roman_and_lettered_numbering_give_topics_and_subtopics(self):
        text = "I. Foundations\nA. Sets\nB. Logic\nII. Analysis\nA. Limits\nB. Continuity\n"

        self.assertEqual(
            result(text, "outline.txt"),
            [("Foundations", ["Sets", "Logic"]), ("Analysis", ["Limits", "Continuity"])],
        )

    def test_dates_are_not_headings(self):
        text = "1 Limits\n12. Oktober 2024\n3.4.2024\n2 Derivatives\n2.1 Rules\n"

        self.assertEqual(result(text, "plan.txt"), [("Limits", []), ("Derivatives", ["Rules"])])


class DivisionLineTests(SimpleTestCase):
    def test_chapter_and_lecture_lines_give_topics_without_their_prefix(self):
        text = """\
Course plan

Lecture 1 - Sets and functions
We start with sets.
Lecture 2: Relations
Lecture III \N{EN DASH} Graphs and trees
LECTURE 4. Counting
Lecture 5 covers the rest of the material.
"""
        self.assertEqual(
            [title for title, _ in result(text, "plan.txt")],
            ["Sets and functions", "Relations", "Graphs and trees", "Counting"],
        )

    def test_after_a_colon_a_title_in_lower_case_is_still_a_title(self):
        text = "Lecture 1: limits and continuity\nLecture 2: derivatives\n"

        self.assertEqual(
            [title for title, _ in result(text, "plan.txt")],
            ["limits and continuity", "derivatives"],
        )

    def test_chapters_hold_their_numbered_sections(self):
        text = """\
Chapter 4 \N{EN DASH} Derivatives
4.1 Rates of change
4.2 Differentiation rules
Chapter 5: Integrals
5.1 Area under a curve
"""
        self.assertEqual(
            result(text, "book.txt"),
            [
                ("Derivatives", ["Rates of change", "Differentiation rules"]),
                ("Integrals", ["Area under a curve"]),
            ],
        )

    def test_a_file_name_as_a_heading_keeps_its_name(self):
        # "week1.md" starts like "Week 1." but is a name, not a division and a title.
        self.assertEqual(
            result("# week1.md\n\nNotes of week1.md.\n", "week1.md"), [("week1.md", [])]
        )

    def test_a_chapter_number_alone_takes_its_title_from_the_next_line(self):
        text = "Chapter 1\nLimits\n\nText.\n\nChapter 2\n\nDerivatives\n\nText.\n"

        self.assertEqual(result(text, "book.txt"), [("Limits", []), ("Derivatives", [])])

    def test_division_words_in_other_languages_are_understood(self):
        cases = {
            "Kapitel 1: Folgen\nKapitel 2 \N{EM DASH} Reihen\nKapitel 3. Stetigkeit": [
                "Folgen",
                "Reihen",
                "Stetigkeit",
            ],
            "Chapitre 1 : Les suites\nChapitre 2 : Les séries": ["Les suites", "Les séries"],
            "Capítulo 1: Funciones\nCapítulo 2: Derivadas": ["Funciones", "Derivadas"],
            "Lezione 1 - Integrali\nLezione 2 - Serie": ["Integrali", "Serie"],
            "Vorlesung 1: Einführung in die Analysis\nVorlesung 2: Grenzwerte": [
                "Einführung in die Analysis",
                "Grenzwerte",
            ],
        }
        for text, titles in cases.items():
            with self.subTest(text=text):
                self.assertEqual([title for title, _ in result(text, "plan.txt")], titles)


def pdf_pages(*bodies, header="Calculus for Engineers - Lecture Notes"):
    """PDF-like text: a running header on top and "Page n of N" at the bottom of each page."""
    return "\f".join(
        f"{header}\n{body}\nPage {number} of {len(bodies)}"
        for number, body in enumerate(bodies, start=1)
    )


PROSE = (
    "A function is continuous when small changes in its input give small changes in its\n"
    "output. We will use this idea again and again in the chapters that follow.\n"
)


WEEKS = ["Limits", "Derivatives", "Integrals", "Series", "Vectors"]


class PdfTextTests(SimpleTestCase):
    PAGES = pdf_pages(
        "Chapter 1\nLimits\n\n1.1 Intuition\n" + PROSE,
        PROSE * 3,
        "1.2 One-sided limits\n" + PROSE,
        "Chapter 2\nDerivatives\n\n2.1 Slopes of tangent lines\n" + PROSE,
        "12\n" + PROSE * 2,
        "- 13 -\n2.2 The chain rule\n" + PROSE,
    )

    def test_headings_are_read_and_running_headers_and_page_numbers_are_not(self):
        self.assertEqual(
            result(self.PAGES, "calculus.pdf"),
            [
                ("Limits", ["Intuition", "One-sided limits"]),
                ("Derivatives", ["Slopes of tangent lines", "The chain rule"]),
            ],
        )

    def test_the_outline_is_used_when_given(self):
        outline = [
            {"level": 1, "title": "Calculus for Engineers", "page": 1},
            {"level": 2, "title": "1 Limits and continuity", "page": 1},
            {"level": 3, "title": "1.1 Intuition", "page": 1},
            {"level": 3, "title": "1.2 One-sided limits", "page": 3},
            {"level": 2, "title": "2 Derivatives", "page": 4},
            {"level": 3, "title": "2.1 Slopes of tangent lines", "page": 4},
            {"level": 4, "title": "Worked example", "page": 4},
        ]

        self.assertEqual(
            result(self.PAGES, "calculus.pdf", outline),
            [
                ("Limits and continuity", ["Intuition", "One-sided limits"]),
                ("Derivatives", ["Slopes of tangent lines"]),
            ],
        )

    def test_an_outline_with_only_the_documents_title_gives_way_to_the_text(self):
        outline = [{"level": 1, "title": "Calculus for Engineers", "page": 1}]

        self.assertEqual(
            [title for title, _ in result(self.PAGES, "calculus.pdf", outline)],
            ["Limits", "Derivatives"],
        )

    def test_a_table_of_contents_page_adds_no_titles_with_page_numbers(self):
        contents = (
            "Contents\n1 Introduction 1\n1.1 Overview 3\n2 Limits 7\n"
            "2.1 Definition . . . . . . 8\n3 Derivatives 15\n"
        )
        text = pdf_pages(
            contents,
            "1 Introduction\n" + PROSE + "1.1 Overview\n" + PROSE,
            "2 Limits\n" + PROSE + "2.1 Definition\n" + PROSE,
            "3 Derivatives\n" + PROSE,
        )

        self.assertEqual(
            result(text, "book.pdf"),
            [("Introduction", ["Overview"]), ("Limits", ["Definition"]), ("Derivatives", [])],
        )

    def test_chapters_opening_a_page_each_are_not_taken_for_running_headers(self):
        text = pdf_pages(
            *(f"Week {n}\n{title}\n" + PROSE for n, title in enumerate(WEEKS, start=1))
        )

        self.assertEqual([title for title, _ in result(text, "weeks.pdf")], WEEKS)

    def test_markdown_markers_mean_nothing_in_a_pdf(self):
        text = pdf_pages(
            "1 Sampling\n# of students asked\n" + PROSE,
            "2 Estimation\n## 2 groups\n" + PROSE,
            "3 Testing\n" + PROSE,
        )

        self.assertEqual(
            [title for title, _ in result(text, "stats.pdf")],
            ["Sampling", "Estimation", "Testing"],
        )

    def test_slide_titles_become_the_subtopics_of_the_lecture(self):
        slides = [
            "Lecture 4: Integration\nDr. Ada Smith\nWinter term 2024",
            "Outline\n- Riemann sums\n- Antiderivatives",
            "Riemann sums\n- partition the interval\n- add up the rectangles",
            "Riemann sums (cont.)\n- refine the partition",
            "The fundamental theorem\n- integration undoes differentiation",
            "Antiderivatives\n- the constant of integration",
            "Integration by substitution\n- u = g(x)",
            "Questions?",
        ]
        text = "\f".join(
            f"{slide}\nCalculus I - Lecture 4   {number}/8"
            for number, slide in enumerate(slides, start=1)
        )

        self.assertEqual(
            result(text, "lecture4.pdf"),
            [
                (
                    "Integration",
                    [
                        "Riemann sums",
                        "The fundamental theorem",
                        "Antiderivatives",
                        "Integration by substitution",
                    ],
                )
            ],
        )


class DocxTextTests(SimpleTestCase):
    TEXT = (
        "# Sorting algorithms\n\nWhy order matters.\n\n## Bubble sort\n\nSwap neighbours.\n\n"
        "## Merge sort\n\nDivide and conquer.\n\n### Merging two sorted lists\n\n"
        "Operation | Cost\n\nmerge | O(n)\n\n## Quicksort\n\nPick a pivot."
    )
    OUTLINE = [
        {"level": 1, "title": "Sorting algorithms", "page": None},
        {"level": 2, "title": "Bubble sort", "page": None},
        {"level": 2, "title": "Merge sort", "page": None},
        {"level": 3, "title": "Merging two sorted lists", "page": None},
        {"level": 2, "title": "Quicksort", "page": None},
    ]
    EXPECTED = [
        ("Bubble sort", []),
        ("Merge sort", ["Merging two sorted lists"]),
        ("Quicksort", []),
    ]

    def test_heading_styles_from_the_outline_give_the_topics(self):
        self.assertEqual(result(self.TEXT, "sorting.docx", self.OUTLINE), self.EXPECTED)

    def test_the_heading_markers_in_the_text_give_the_same_topics(self):
        self.assertEqual(result(self.TEXT, "sorting.docx"), self.EXPECTED)

    def test_an_outline_of_what_isnt_study_material_gives_way_to_the_text(self):
        outline = [
            {"level": 1, "title": "Contents", "page": None},
            {"level": 1, "title": "References", "page": None},
            {"level": 1, "title": "Index", "page": None},
        ]

        self.assertEqual(result(self.TEXT, "sorting.docx", outline), self.EXPECTED)


WEEK_2_NOTES = """\
Today we looked at how the chain rule works when functions are nested inside each other. The
chain rule says that the derivative of a composite function is the product of the derivatives.
We practised the chain rule on trigonometric functions and on exponential functions.

Implicit differentiation came next. Implicit differentiation lets us find slopes on curves such
as circles, where y is not given as a function of x. With implicit differentiation we
differentiate both sides and solve for the slope.

Finally we started related rates. Related rates problems connect how fast two quantities
change, for example the radius and the area of a growing circle. Trigonometric functions
appear again in related rates, and the chain rule is behind every one of them.
"""


class UnstructuredTextTests(SimpleTestCase):
    def test_one_topic_named_after_the_file_with_key_phrases_as_subtopics(self):
        [(title, subtopics)] = result(WEEK_2_NOTES, "week2_notes.txt")

        self.assertEqual(title, "Week 2 notes")
        self.assertEqual(subtopics[0], "Chain rule")  # the order the notes teach them in
        for phrase in ("Implicit differentiation", "Related rates", "Trigonometric functions"):
            self.assertIn(phrase, subtopics)
        for word in ("Today", "Finally", "We", "The"):
            self.assertNotIn(word, subtopics)
        self.assertLessEqual(len(subtopics), 8)

    def test_a_short_first_line_that_reads_like_a_title_names_the_topic(self):
        [(title, _)] = result("Differentiation Techniques\n\n" + WEEK_2_NOTES, "w2.txt")

        self.assertEqual(title, "Differentiation Techniques")

    def test_german_notes_give_german_phrases_without_german_stop_words(self):
        text = """\
Die Kettenregel gilt für verkettete Funktionen. Mit der Kettenregel berechnet man die Ableitung
von verketteten Funktionen, also von Funktionen, die ineinander eingesetzt werden.
Die Produktregel gilt für Produkte von Funktionen. Die Produktregel und die Kettenregel werden
in vielen Aufgaben zusammen verwendet, zum Beispiel bei der Ableitung von x mal sin x.
Die Ableitung der Exponentialfunktion ist wieder die Exponentialfunktion. Die
Exponentialfunktion wächst schneller als jede Potenz; die Ableitung zeigt es. Am Ende der
Vorlesung haben wir die Quotientenregel aus der Produktregel und der Kettenregel hergeleitet.
"""

        [(title, subtopics)] = result(text, "ableitungen.txt")

        self.assertEqual(title, "Ableitungen")
        self.assertEqual(subtopics[0], "Kettenregel")
        for phrase in ("Produktregel", "Exponentialfunktion", "Ableitung"):
            self.assertIn(phrase, subtopics)
        for word in ("Die", "Mit", "Der", "Man", "Gilt"):
            self.assertNotIn(word, subtopics)

    def test_file_names_are_made_readable(self):
        cases = {
            "week2_notes.txt": "Week 2 notes",
            "Lecture03-Derivatives.pdf": "Lecture 03 Derivatives",
            "linearAlgebraSummary.docx": "Linear Algebra Summary",
            "notes.final.v2.md": "Notes final v 2",
            ".md": "Untitled document",
        }
        for name, title in cases.items():
            with self.subTest(name=name):
                self.assertEqual(readable_name(name), title)

    def test_a_document_with_only_page_furniture_adds_nothing(self):
        plan = [{"order_index": 1, "title": "Limits", "subtopics": []}]

        self.assertEqual(fold("12\f13\f14", "scan.pdf", plan=plan), [plan])


LIMITS_NOTES = """\
# Limits
## One-sided limits
## Limits at infinity
# Derivatives
## Product rule
## Chain rule
"""
SECOND_LECTURE = """\
# Introduction to limits
## Epsilon-delta definition
## One sided limits
# Chain Rule
## Nested functions
# Integrals
## Riemann sums
# Derivatives
## Quotient rule
## Product Rule
"""


class MergingTests(SimpleTestCase):
    def test_an_overlapping_document_joins_the_topics_it_shares_and_adds_the_new_ones(self):
        first = fold(LIMITS_NOTES)[-1]

        self.assertEqual(
            result(SECOND_LECTURE, "lecture2.md", plan=first),
            [
                (
                    "Limits",
                    ["One-sided limits", "Limits at infinity", "Epsilon-delta definition"],
                ),
                (
                    "Derivatives",
                    ["Product rule", "Chain rule", "Nested functions", "Quotient rule"],
                ),
                ("Integrals", ["Riemann sums"]),
            ],
        )

    def test_the_learners_titles_edits_and_order_survive(self):
        plan = [
            {"order_index": 1, "title": "Integration", "subtopics": ["Area"]},
            {"order_index": 2, "title": "Introduction to limits", "subtopics": ["My own note"]},
            {"order_index": 3, "title": "Differentiation", "subtopics": []},
        ]

        merged = result(LIMITS_NOTES, "limits.md", plan=plan)

        self.assertEqual(
            merged,
            [
                ("Integration", ["Area"]),
                (
                    "Introduction to limits",
                    ["My own note", "One-sided limits", "Limits at infinity"],
                ),
                ("Differentiation", []),
                ("Derivatives", ["Product rule", "Chain rule"]),
            ],
        )

    def test_a_topic_that_adds_a_word_to_two_it_shares_joins_it_under_its_own_name(self):
        plan = [{"order_index": 1, "title": "Linear regression", "subtopics": []}]

        merged = result("# Linear regression models\n## Least squares\n# Sequences", plan=plan)

        self.assertEqual(
            merged,
            [
                ("Linear regression", ["Linear regression models", "Least squares"]),
                ("Sequences", []),
            ],
        )

    def test_topics_that_share_one_word_stay_apart(self):
        # Issue 11, finding 14: a learner's "Probability basics" vanished into a manual's
        # "Probability distributions".
        plan = [
            {"order_index": 1, "title": "Probability distributions", "subtopics": ["Normal"]},
            {"order_index": 2, "title": "Functions", "subtopics": []},
        ]

        merged = result(
            "# Probability basics\n## Sample spaces\n# Inverse functions\n## Horizontal line test",
            plan=plan,
        )

        self.assertEqual(
            merged,
            [
                ("Probability distributions", ["Normal"]),
                ("Functions", []),
                ("Probability basics", ["Sample spaces"]),
                ("Inverse functions", ["Horizontal line test"]),
            ],
        )

    def test_a_subtopic_is_not_dropped_as_a_duplicate_of_a_different_one(self):
        # Issue 11, finding 14: "Invoking asn1Decoding" was taken for "Invoking asn1Coding".
        plan = [
            {
                "order_index": 1,
                "title": "Utilities",
                "subtopics": ["Invoking asn1Parser", "Invoking asn1Coding"],
            }
        ]

        merged = result(
            "# Utilities\n## Invoking asn1Decoding\n## Invoking asn1Coding\n"
            "## Invoking the encoder\n## Invoking the decoder\n",
            plan=plan,
        )

        self.assertEqual(
            merged,
            [
                (
                    "Utilities",
                    [
                        "Invoking asn1Parser",
                        "Invoking asn1Coding",
                        "Invoking asn1Decoding",
                        "Invoking the encoder",
                        "Invoking the decoder",
                    ],
                )
            ],
        )

    def test_a_documents_own_subtopics_stay_apart_however_alike(self):
        self.assertEqual(
            result("# Linting\n## Format checks\n## Formal checks\n## Format checks\n"),
            [("Linting", ["Format checks", "Formal checks"])],
        )

    def test_words_that_differ_in_their_first_letter_are_not_typos(self):
        plan = [{"order_index": 1, "title": "Plotting styles", "subtopics": ["Xerrorbars"]}]

        merged = result("# Plotting styles\n## Yerrorbars\n## Xerrorbars", plan=plan)

        self.assertEqual(merged, [("Plotting styles", ["Xerrorbars", "Yerrorbars"])])

    def test_titles_that_differ_by_a_typo_still_merge(self):
        plan = [{"order_index": 1, "title": "Fourier series", "subtopics": ["Convergence"]}]

        merged = result("# Fourrier series\n## Convergance\n## Gibbs phenomenon", plan=plan)

        self.assertEqual(merged, [("Fourier series", ["Convergence", "Gibbs phenomenon"])])

    def test_titles_that_differ_in_their_numbers_or_subject_stay_apart(self):
        plan = [
            {"order_index": 1, "title": "Week 1 review", "subtopics": []},
            {"order_index": 2, "title": "Linear regression", "subtopics": []},
        ]

        merged = result("# Week 2 review\n# Logistic regression", plan=plan)

        self.assertEqual(
            [title for title, _ in merged],
            ["Week 1 review", "Linear regression", "Week 2 review", "Logistic regression"],
        )

    def test_within_one_document_its_own_similar_sections_stay_apart(self):
        self.assertEqual(
            [title for title, _ in result("# Limits\n# Limits at infinity\n# Limits\n## Rules")],
            ["Limits", "Limits at infinity"],
        )


class FoldContractTests(SimpleTestCase):
    def test_every_yielded_plan_is_already_normalised(self):
        first = fold(LIMITS_NOTES)[-1]
        for text in (LIMITS_NOTES, SECOND_LECTURE, SYLLABUS, MARKDOWN_LECTURE, WEEK_2_NOTES):
            for plan in fold(text, plan=first):
                with self.subTest(text=text[:20]):
                    self.assertEqual(normalize_plan(plan), plan)

    def test_each_yield_adds_to_the_previous_one_and_the_last_is_the_result(self):
        plans = fold(SYLLABUS, "syllabus.txt")

        self.assertEqual([len(plan) for plan in plans], [1, 2, 3, 4])
        for before, after in itertools.pairwise(plans):
            self.assertNotEqual(before, after)
            for old, new in zip(before, after, strict=False):
                self.assertEqual(old["title"], new["title"])
                self.assertEqual(new["subtopics"][: len(old["subtopics"])], old["subtopics"])

    def test_the_same_input_gives_the_same_output(self):
        plan = fold(LIMITS_NOTES)[-1]

        for text in (SECOND_LECTURE, WEEK_2_NOTES, PdfTextTests.PAGES):
            with self.subTest(text=text[:20]):
                self.assertEqual(fold(text, plan=plan), fold(text, plan=plan))

    def test_the_input_plan_is_not_mutated(self):
        plan = fold(LIMITS_NOTES)[-1]
        before = copy.deepcopy(plan)

        fold(SECOND_LECTURE, plan=plan)

        self.assertEqual(plan, before)

    def test_a_document_with_nothing_new_yields_the_plan_once(self):
        plan = fold(LIMITS_NOTES)[-1]

        self.assertEqual(fold(LIMITS_NOTES, plan=plan), [plan])


class BoundsTests(SimpleTestCase):
    def test_two_hundred_headings_still_give_a_valid_plan(self):
        text = "\n".join(
            f"## Topic number {n}\n\n### First part of {n}\n\n### Second part of {n}\n"
            for n in range(1, 201)
        )

        plans = fold(text)

        final = plans[-1]
        self.assertEqual(normalize_plan(final), final)
        self.assertEqual(len(final), MAX_TOPICS)
        self.assertEqual(final[0]["subtopics"], ["First part of 1", "Second part of 1"])
        # What no longer fits as a topic joins the last one while it has room.
        self.assertEqual(len(final[-1]["subtopics"]), MAX_SUBTOPICS)
        self.assertEqual(final[-1]["subtopics"][2], "Topic number 61")

    def test_a_topic_with_too_many_subtopics_has_them_grouped_not_cut(self):
        text = "# Algebra\n## Exercises\n" + "\n".join(f"### Problem set {n}" for n in range(1, 50))
        dropped = []

        plans = list(fold_document([], SourceDocument("algebra.md", text), dropped))

        [(title, subtopics)] = outline_of(plans[-1])
        self.assertEqual(title, "Exercises")
        self.assertEqual(len(subtopics), 25)
        self.assertEqual(subtopics[0], "Problem set 1; Problem set 2")
        self.assertEqual(subtopics[-1], "Problem set 49")
        self.assertEqual(dropped, [])

    def test_a_huge_chapter_of_long_titles_is_grouped_within_the_title_length(self):
        sections = [f"Properties of widget {n} in a rather long context" for n in range(1, 71)]
        text = "# Widgets\n" + "\n".join(f"## {title}" for title in sections)

        [(title, subtopics)] = result(text)

        self.assertEqual(title, "Widgets")
        self.assertEqual(len(subtopics), 24)
        self.assertTrue(all(len(subtopic) <= MAX_TEXT_LENGTH for subtopic in subtopics))
        self.assertEqual("; ".join(subtopics), "; ".join(sections))

    def test_a_chapter_whose_sections_cannot_be_grouped_is_split_into_parts(self):
        sections = [f"Widget {n} " + "in a rather long context " * 5 for n in range(1, 71)]
        text = "# Widgets\n" + "\n".join(f"## {title.strip()}" for title in sections)

        plan = result(text)

        self.assertEqual(
            [title for title, _ in plan], ["Widgets", "Widgets (part 2)", "Widgets (part 3)"]
        )
        self.assertEqual(
            [subtopic for _, subtopics in plan for subtopic in subtopics],
            [title.strip() for title in sections],
        )

    def test_what_a_full_plan_cannot_take_is_reported_as_dropped(self):
        plan = [
            {
                "order_index": n,
                "title": f"Existing topic {n}",
                "subtopics": [f"Note {n}.{k}" for k in range(1, MAX_SUBTOPICS + 1)],
            }
            for n in range(1, MAX_TOPICS + 1)
        ]
        dropped = []

        plans = list(
            fold_document(plan, SourceDocument("new.md", "# Graph colouring\n## Greedy"), dropped)
        )

        self.assertEqual(plans[-1], plan)
        self.assertEqual(dropped, ["Graph colouring", "Greedy"])

    def test_the_offline_builder_passes_what_it_dropped_on_its_final_step(self):
        plan = [
            {"order_index": 1, "title": "Algebra", "subtopics": [f"Note {k}" for k in range(30)]}
        ]
        builder = OfflineBuilder()

        async def steps():
            document = SourceDocument("algebra.md", "# Algebra\n## Groups\n## Rings")
            return [step async for step in builder.fold(plan, document, language="en")]

        final = asyncio.run(steps())[-1]

        self.assertTrue(final.final)
        self.assertEqual(final.dropped, ("Groups", "Rings"))

    def test_long_titles_are_cut_at_a_word_boundary(self):
        words = " ".join(["differentiation"] * 16)  # 255 characters

        [(title, _)] = result(f"# {words}\n# Second")[:1]

        self.assertLessEqual(len(title), MAX_TEXT_LENGTH)
        self.assertTrue(title.endswith("differentiation…"))

    def test_a_full_plan_takes_new_topics_as_subtopics_of_the_closest_topic(self):
        plan = [
            {"order_index": n, "title": f"Existing topic {n}", "subtopics": []}
            for n in range(1, MAX_TOPICS)
        ] + [{"order_index": MAX_TOPICS, "title": "Graph theory", "subtopics": []}]

        merged = result("# Graph colouring\n# Planar graph algorithms", plan=plan)

        self.assertEqual(len(merged), MAX_TOPICS)
        self.assertEqual(
            merged[-1], ("Graph theory", ["Graph colouring", "Planar graph algorithms"])
        )

    def test_a_three_hundred_page_document_becomes_a_valid_plan(self):
        filler = (
            "The derivative measures how a function changes as its input changes, and the\n"
            "integral accumulates those changes over an interval of the real line.\n"
        ) * 22
        pages, outline = [], []
        for page in range(1, 301):
            lines = ["Calculus for Engineers, Second Edition"]
            if page % 25 == 1:
                chapter = page // 25 + 1
                lines += [f"Chapter {chapter}", f"Subject number {chapter}"]
                outline.append({"level": 1, "title": f"Subject number {chapter}", "page": page})
            if page % 5 == 3:
                lines.append(f"{chapter}.{page % 25 // 5 + 1} Section on page {page}")
            pages.append("\n".join([*lines, filler, str(page)]))
        text = "\f".join(pages)

        for given in (outline, []):
            with self.subTest(outline=bool(given)):
                final = fold(text, "calculus.pdf", given)[-1]

                self.assertEqual(normalize_plan(final), final)
                self.assertEqual(len(final), 12)
                self.assertEqual(final[0]["title"], "Subject number 1")


class ExtractedWordDocumentTests(SimpleTestCase):
    def test_the_title_style_of_a_word_document_does_not_become_a_topic(self):
        extracted = extract_document(io.BytesIO(docx_with_headings()), "calculus.docx")
        plan = list(
            fold_document([], SourceDocument("calculus.docx", extracted.text, extracted.outline))
        )[-1]

        self.assertEqual([t["title"] for t in plan], ["Limits", "Derivatives"])


# --- real manuals (issue 13) ------------------------------------------------------------


def outline(*entries):
    """Outline entries from (level, title) pairs."""
    return [{"level": level, "title": title, "page": None} for level, title in entries]


def topics_of(entries):
    return result("", "manual.pdf", outline(*entries))


class StructureChoiceTests(SimpleTestCase):
    def test_numbered_chapters_stay_the_topics_however_many_sections_they_hold(self):
        # shared-mime-info's spec: it became 20 flat topics, its two chapters lost.
        names = "directory source media glob magic namespaces icon treemagic cache"
        names += " attributes subclassing checking nonregular volumes schemes security users"
        sections = [(2, f"2.{n}. The {name} rules") for n, name in enumerate(names.split(), 1)]
        plan = topics_of(
            [
                (1, "1. Introduction"),
                (2, "1.1. Version"),
                (2, "1.2. What is this spec?"),
                (2, "1.3. Language used in this specification"),
                (1, "2. Unified system"),
                *sections,
                (1, "3. Contributors"),
                (2, "References"),
            ]
        )

        self.assertEqual([title for title, _ in plan], ["Introduction", "Unified system"])
        self.assertEqual(
            plan[0][1], ["Version", "What is this spec?", "Language used in this specification"]
        )
        self.assertEqual(len(plan[1][1]), 17)

    def test_a_few_parts_over_dozens_of_chapters_give_the_chapters_as_topics(self):
        entries = []
        for part, name in (("I", "Basics"), ("II", "Tools"), ("III", "Internals")):
            entries.append((1, f"{part} {name}"))
            for n in range(1, 13):
                entries += [(2, f"{name} chapter {n}"), (3, f"{name} section {n}.1")]

        plan = topics_of(entries)

        self.assertEqual(len(plan), 36)
        self.assertEqual(plan[0], ("Basics chapter 1", ["Basics section 1.1"]))
        self.assertEqual(plan[-1][0], "Internals chapter 12")

    def test_a_book_without_chapters_stays_a_topic_beside_the_chapters_of_the_others(self):
        # valgrind's manual: books ("User Manual" with 13 chapters), a lone "FAQ" book.
        entries = [(1, "Quick Start Guide")]
        entries += [(1, "User Manual")] + [(2, f"{n}. Tool number {n}") for n in range(1, 14)]
        entries += [(1, "Technical Documentation"), (2, "1. Design"), (2, "2. Writing a tool")]

        plan = topics_of(entries)

        self.assertEqual(plan[0], ("Quick Start Guide", []))
        self.assertEqual(plan[1][0], "Tool number 1")
        self.assertEqual([title for title, _ in plan[-2:]], ["Design", "Writing a tool"])
        self.assertEqual(len(plan), 16)

    def test_parts_whose_chapters_would_not_fit_a_plan_stay_the_topics_with_nothing_cut(self):
        # gnuplot: 6 parts over 115 chapters; three parts were cut at 30 subtopics.
        entries = []
        for part, name, count in (("I", "Gnuplot", 30), ("II", "Plotting styles", 45),
                                  ("III", "Commands", 40), ("IV", "Terminals", 1)):  # fmt: skip
            entries.append((1, f"{part} {name}"))
            entries += [(2, f"{name} item {n}") for n in range(1, count + 1)]
        entries.append((1, "V Index"))
        dropped = []

        plans = list(
            fold_document([], SourceDocument("gnuplot.pdf", "", outline(*entries)), dropped)
        )

        plan = outline_of(plans[-1])
        self.assertEqual(
            [title for title, _ in plan], ["Gnuplot", "Plotting styles", "Commands", "Terminals"]
        )
        styles = plan[1][1]
        self.assertLessEqual(len(styles), MAX_SUBTOPICS)
        self.assertEqual(
            "; ".join(styles), "; ".join(f"Plotting styles item {n}" for n in range(1, 46))
        )
        self.assertEqual(dropped, [])


class BackMatterTests(SimpleTestCase):
    def test_indexes_references_licences_and_authors_are_left_out(self):
        plan = topics_of(
            [
                (1, "Preface"),
                (1, "1 Introduction"),
                (1, "2 Vectors"),
                (2, "GNU Free Documentation License"),
                (2, "Index vectors"),
                (1, "Copyright"),
                (1, "AUTHORS"),
                (1, "A Copying Information"),
                (1, "D Function and variable index"),
                (1, "E Concept index"),
                (1, "F References"),
                (1, "GNU Licenses"),
                (2, "The GNU General Public License"),
                (1, "3. Contributors"),
                (1, "Acknowledgements"),
                (1, "Table of Contents"),
                (1, "Release notes"),
                (1, "OLDER NEWS"),
            ]
        )

        self.assertEqual(plan, [("Introduction", []), ("Vectors", ["Index vectors"])])

    def test_back_matter_is_recognised_in_the_languages_the_builder_knows(self):
        plan = topics_of(
            [
                (1, "Grenzwerte"),
                (1, "Literaturverzeichnis"),
                (1, "Stichwortverzeichnis"),
                (1, "Lizenz"),
                (1, "Ableitungen"),
                (1, "Remerciements"),
                (1, "Licencia"),
                (1, "Autoren"),
            ]
        )

        self.assertEqual([title for title, _ in plan], ["Grenzwerte", "Ableitungen"])

    def test_appendix_and_part_labels_are_stripped_like_chapter_numbers(self):
        plan = topics_of(
            [
                (1, "1 Introduction"),
                (1, "14 OS facilities"),
                (1, "A A sample session"),
                (1, "B Invoking R"),
                (1, "Appendix C The command-line editor"),
                (1, "Part IV Terminals"),
                (2, "A.1 Configuration file"),
            ]
        )

        self.assertEqual(
            [title for title, _ in plan],
            ["Introduction", "OS facilities", "A sample session", "Invoking R",
             "The command-line editor", "Terminals"],
        )  # fmt: skip
        self.assertEqual(plan[-1][1], ["Configuration file"])

    def test_a_title_that_starts_with_a_word_like_a_label_keeps_it(self):
        plan = topics_of([(1, "A Complete Example"), (1, "C Interface"), (1, "Debugging")])

        self.assertEqual(
            [title for title, _ in plan], ["A Complete Example", "C Interface", "Debugging"]
        )


class PaperTextTests(SimpleTestCase):
    # A paper's first page: its table of contents, amid the abstract.
    PAGES = (
        "Everything we know about checksums\nAda Example\nAbstract\n"
        "This paper describes checksums.\nContents\n1 Definition of the checksum 2\n"
        "2 Related work 3\n3 Tricks and tips 4\n3.1 Incremental computation . . . . 4\n1\f"
        "1 Definition of the checksum\nA checksum is a function of a message.\n"
        "2 Related work\nSarwate published it, as described in\nsection 4.9.\nMore text.\f"
        "3 Tricks and tips\n3.1 Incremental computation\nThe checksum grows.\n"
    )

    def test_table_of_contents_lines_are_not_headings_and_lose_no_chapter(self):
        self.assertEqual(
            result(self.PAGES, "paper.pdf"),
            [
                ("Definition of the checksum", []),
                ("Related work", []),
                ("Tricks and tips", ["Incremental computation"]),
            ],
        )

    def test_a_lower_case_reference_to_a_section_is_not_a_subtopic(self):
        self.assertNotIn("section 4.9", str(result(self.PAGES, "paper.pdf")))


class LayoutHeadingTests(SimpleTestCase):
    """PDFs without bookmarks: headings from the layout (sessions_app.extraction.layout)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        pdf = pdf_with_layout(paper_blocks(), running_head="Checksums explained")
        cls.extracted = extract_document(io.BytesIO(pdf), "paper.pdf")

    def test_headings_come_from_type_size_weight_and_numbering(self):
        self.assertEqual(
            [(entry["level"], entry["title"], entry["page"]) for entry in self.extracted.outline],
            [
                (1, "Contents", 1),
                (1, "1 Definition of the checksum", 2),
                (1, "2 Related work", 2),
                (1, "3 Tricks and tips", 3),
                (2, "3.1 Incremental computation", 3),
                (2, "3.2 Changing the initial value", 3),
                (1, "References", 4),
            ],
        )

    def test_the_plan_has_the_papers_sections_and_nothing_else(self):
        plan = outline_of(
            list(
                fold_document(
                    [], SourceDocument("paper.pdf", self.extracted.text, self.extracted.outline)
                )
            )[-1]
        )

        self.assertEqual(
            plan,
            [
                ("Definition of the checksum", []),
                ("Related work", []),
                ("Tricks and tips", ["Incremental computation", "Changing the initial value"]),
            ],
        )

    def test_a_large_running_head_is_not_a_heading(self):
        blocks = [("section", f"{n} Chapter {n}") if n else ("body", PAPER_PROSE) for n in (0, 1)]
        blocks += [
            ("page", ""),
            ("body", PAPER_PROSE),
            ("section", "2 Second chapter"),
            ("body", PAPER_PROSE),
        ]
        blocks += [("page", ""), ("section", "3 Third chapter"), ("body", PAPER_PROSE)]
        # A running head that names the chapter, set large: "1 Introduction" on each page.
        pdf = pdf_with_layout(blocks, running_head="1 Introduction", running_head_size=18)

        titles = [e["title"] for e in extract_document(io.BytesIO(pdf), "m.pdf").outline]

        self.assertEqual(titles, ["1 Chapter 1", "2 Second chapter", "3 Third chapter"])

    def test_sections_named_alike_in_every_chapter_are_headings_not_running_lines(self):
        blocks = []
        for n, name in enumerate(("Limits", "Continuity", "Derivatives"), start=1):
            blocks += [("chapter", f"{n} {name}"), ("body", PAPER_PROSE)]
            blocks += [("section", f"{n}.1 Exercises"), ("body", PAPER_PROSE), ("page", "")]
        pdf = pdf_with_layout(blocks[:-1])

        extracted = extract_document(io.BytesIO(pdf), "course.pdf")

        self.assertEqual(
            result(extracted.text, "course.pdf", extracted.outline),
            [
                ("Limits", ["Exercises"]),
                ("Continuity", ["Exercises"]),
                ("Derivatives", ["Exercises"]),
            ],
        )

    def test_one_style_holds_chapters_and_their_numbered_sections_apart(self):
        blocks = []
        for n, name in enumerate(("Limits", "Continuity", "Derivatives"), start=1):
            blocks += [("section", f"Chapter {n}: {name}"), ("body", PAPER_PROSE)]
            blocks += [("section", f"{n}.1 Definitions"), ("body", PAPER_PROSE)]
            blocks += [("section", f"{n}.2 Theorems"), ("body", PAPER_PROSE), ("page", "")]
        pdf = pdf_with_layout(blocks[:-1])

        extracted = extract_document(io.BytesIO(pdf), "course.pdf")

        self.assertEqual(
            result(extracted.text, "course.pdf", extracted.outline),
            [
                ("Limits", ["Definitions", "Theorems"]),
                ("Continuity", ["Definitions", "Theorems"]),
                ("Derivatives", ["Definitions", "Theorems"]),
            ],
        )

    def test_a_chapter_label_above_its_title_makes_one_heading(self):
        blocks = []
        for n, name in enumerate(("Introduction", "Execution model", "Interfaces"), start=1):
            blocks += [("section", f"Chapter {n}"), ("title", name), ("body", PAPER_PROSE)]
            blocks += [
                ("bold", f"{n}.1 Scope of {name.lower()}"),
                ("body", PAPER_PROSE),
                ("page", ""),
            ]
        pdf = pdf_with_layout(blocks[:-1])

        extracted = extract_document(io.BytesIO(pdf), "manual.pdf")
        plan = result(extracted.text, "manual.pdf", extracted.outline)

        self.assertEqual(
            plan,
            [
                ("Introduction", ["Scope of introduction"]),
                ("Execution model", ["Scope of execution model"]),
                ("Interfaces", ["Scope of interfaces"]),
            ],
        )

    def test_a_heading_wrapped_over_two_lines_is_one(self):
        long_title = (
            "4 Application program interface for coupling simulators running on large clusters"
        )
        blocks = [("chapter", "3 Starting a multi-simulation"), ("body", PAPER_PROSE)]
        blocks += [("chapter", long_title), ("body", PAPER_PROSE)]
        blocks += [("chapter", "5 Adapting existing applications"), ("body", PAPER_PROSE)]
        pdf = pdf_with_layout(blocks)

        titles = [e["title"] for e in extract_document(io.BytesIO(pdf), "m.pdf").outline]

        self.assertEqual(titles[1], long_title)
        self.assertEqual(len(titles), 3)

    def test_a_numbered_heading_in_large_type_may_end_in_a_full_stop(self):
        # PARI/GP's tutorial, set in plain TeX: "1. Greetings!.", "2. Warming up."
        blocks = [("chapter", "1. Greetings!."), ("body", PAPER_PROSE)]
        blocks += [("chapter", "2. Warming up."), ("body", PAPER_PROSE)]
        blocks += [("chapter", "3. Polynomials."), ("body", PAPER_PROSE)]
        blocks += [("bold", "This bold sentence is emphasis."), ("body", PAPER_PROSE)]
        pdf = pdf_with_layout(blocks)

        extracted = extract_document(io.BytesIO(pdf), "tutorial.pdf")

        self.assertEqual(
            result(extracted.text, "tutorial.pdf", extracted.outline),
            [("Greetings!", []), ("Warming up", []), ("Polynomials", [])],
        )

    def test_a_slide_deck_without_bookmarks_is_still_read_as_slides(self):
        slides = [
            "Lecture 4: Integration\nDr. Ada Smith\nWinter term 2024",
            "Outline\n- Riemann sums\n- Antiderivatives",
            "Riemann sums\n- partition the interval\n- add up the rectangles",
            "The fundamental theorem\n- integration undoes differentiation",
            "Antiderivatives\n- the constant of integration",
            "Integration by substitution\n- u = g(x)",
            "Questions?",
        ]
        extracted = extract_document(io.BytesIO(slides_pdf(slides)), "lecture4.pdf")

        self.assertEqual(
            result(extracted.text, "lecture4.pdf", extracted.outline),
            [
                (
                    "Integration",
                    [
                        "Riemann sums",
                        "The fundamental theorem",
                        "Antiderivatives",
                        "Integration by substitution",
                    ],
                )
            ],
        )

    def test_a_pdf_with_bookmarks_keeps_them(self):
        extracted = extract_document(io.BytesIO(pdf_with_outline()), "calculus.pdf")

        self.assertEqual(
            [(entry["level"], entry["title"]) for entry in extracted.outline],
            [(level, title) for level, title, _ in SAMPLE_OUTLINE],
        )


class NormalisationTests(SimpleTestCase):
    def test_ligatures_in_pdf_text_become_plain_letters(self):
        text = extract_document(io.BytesIO(pdf_with_ligatures()), "crc.pdf").text

        self.assertIn("Definition of CRC", text)
        self.assertIn("Efficient software", text)

    def test_a_word_broken_at_a_line_end_is_joined_and_a_hyphenated_name_is_not(self):
        text = extract_document(io.BytesIO(pdf_with_ligatures()), "crc.pdf").text

        self.assertIn("stored in compression\nof data", text)
        self.assertIn("Black-\nScholes", text)

    def test_text_files_are_normalised_too(self):
        full_width = "\uff26\uff55\uff4c\uff4c"
        raw = f"# De\ufb01nitions\nThe \ufb01le is com-\npressed; {full_width} width; co\u00adop.\n"

        text = extract_document(io.BytesIO(raw.encode()), "notes.md").text

        self.assertEqual(text, "# Definitions\nThe file is compressed;\nFull width; coop.\n")

    def test_other_compatibility_characters_keep_their_meaning(self):
        raw = "Half: ½ of x² … and e\u0301te\n"

        text = extract_document(io.BytesIO(raw.encode()), "notes.txt").text

        self.assertEqual(text, "Half: ½ of x² … and \u00e9te\n")

    def test_word_documents_are_normalised_too(self):
        extracted = extract_document(io.BytesIO(docx_with_ligatures()), "notes.docx")

        self.assertEqual(extracted.outline[0]["title"], "Efficient software")
        self.assertIn("The file format", extracted.text)
