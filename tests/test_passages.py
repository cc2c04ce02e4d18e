"""Passages (SPEC §15): documents cut at pages and headings with exact offsets, and a
full-text index that follows uploads, deletions, failures and re-extraction."""

import itertools

from django.core.files.base import ContentFile

from questions.retrieval import retrieve
from sessions_app.models import Document, Passage
from sessions_app.passages import (
    HEADING_SEPARATOR,
    MAX_CHARS,
    cut_passages,
    query_terms,
    search_passages,
    terms_of,
)
from tests.ask_fixture import DOCUMENTS, HISTORY_PDF
from tests.base import AppTestCase

NOTES = """# Kernels

A kernel manages the hardware.

## Scheduling

Round robin gives every thread a quantum.

Second paragraph about scheduling.

# Images

An image is a read-only template.
"""


class CuttingTests(AppTestCase):
    def test_every_passage_is_the_exact_slice_of_the_text_at_its_offsets(self):
        for name, text in DOCUMENTS.items():
            drafts = cut_passages(text)
            self.assertTrue(drafts, name)
            for draft in drafts:
                self.assertEqual(text[draft.start : draft.end], draft.text, name)
            # In order, without overlaps, and covering every word of the document.
            for before, after in itertools.pairwise(drafts):
                self.assertLessEqual(before.end, after.start)
            covered = "\n".join(d.text for d in drafts)
            self.assertEqual(sorted(covered.split()), sorted(text.split()), name)

    def test_headings_give_each_passage_its_heading_path(self):
        drafts = cut_passages(NOTES)
        by_text = {d.text.splitlines()[-1]: d.heading for d in drafts}
        self.assertEqual(by_text["A kernel manages the hardware."], "Kernels")
        self.assertEqual(
            by_text["Second paragraph about scheduling."], f"Kernels{HEADING_SEPARATOR}Scheduling"
        )
        self.assertEqual(by_text["An image is a read-only template."], "Images")

    def test_a_passage_never_crosses_a_heading(self):
        for draft in cut_passages(NOTES):
            headings = [line for line in draft.text.splitlines() if line.startswith("#")]
            self.assertLessEqual(len(headings), 1)
            if headings:
                self.assertTrue(draft.text.startswith("#"))

    def test_pdf_pages_are_numbered_from_the_form_feeds_and_never_crossed(self):
        drafts = cut_passages(HISTORY_PDF)
        self.assertEqual({d.page for d in drafts}, {1, 2, 3, 4, 5})
        pages = HISTORY_PDF.split("\f")
        for draft in drafts:
            self.assertNotIn("\f", draft.text)
            self.assertIn(draft.text, pages[draft.page - 1])

    def test_pdf_bookmarks_become_the_heading_of_the_pages_they_start(self):
        outline = [
            {"level": 1, "title": "The Revolution", "page": 1},
            {"level": 1, "title": "Industry", "page": 4},
        ]
        drafts = cut_passages(HISTORY_PDF, outline)
        self.assertEqual({d.heading for d in drafts if d.page <= 3}, {"The Revolution"})
        self.assertEqual({d.heading for d in drafts if d.page >= 4}, {"Industry"})

    def test_a_text_without_structure_is_cut_into_passages_of_bounded_size(self):
        sentence = "The lecture continues with another observation about the topic. "
        text = sentence * 200  # one 13,000-character paragraph
        drafts = cut_passages(text)
        self.assertGreater(len(drafts), 5)
        for draft in drafts:
            self.assertLessEqual(len(draft.text), MAX_CHARS)
            self.assertEqual(text[draft.start : draft.end], draft.text)
            self.assertIsNone(draft.page)

    def test_stemming_follows_the_session_language(self):
        self.assertEqual(query_terms("running kernels", "en"), ["run", "kernel"])
        self.assertEqual(terms_of("Häuser", "de"), terms_of("Haus", "de"))
        # An unknown language is matched word for word, not dropped.
        self.assertEqual(query_terms("Kernel", "zz"), ["kernel"])


class IndexTests(AppTestCase):
    def setUp(self):
        self.session = self.make_session()
        self.document = Document.objects.create(
            session=self.session, original_name="notes.md", position=1
        )
        self.document.mark_completed(NOTES, [])

    def found(self, words: str, session=None) -> list[int]:
        session = session or self.session
        return [h.passage_id for h in search_passages(session.pk, query_terms(words, "en"))]

    def test_completing_a_document_stores_and_indexes_its_passages(self):
        passages = list(Passage.objects.filter(document=self.document))
        self.assertEqual(len(passages), len(cut_passages(NOTES)))
        hits = self.found("quantum")
        self.assertEqual(len(hits), 1)
        self.assertIn("quantum", Passage.objects.get(pk=hits[0]).text)

    def test_words_match_their_other_forms(self):
        self.assertTrue(self.found("templates"))
        self.assertTrue(self.found("managing"))

    def test_deleting_a_document_removes_its_passages_from_the_index(self):
        self.assertTrue(self.found("quantum"))
        self.document.delete()
        self.assertFalse(Passage.objects.filter(session=self.session).exists())
        self.assertEqual(self.found("quantum"), [])

    def test_re_extraction_replaces_the_passages_and_the_index(self):
        self.document.file.save("notes.md", ContentFile(b"# Paging\n\nA page fault loads a page."))
        self.document.run_extraction()  # what the admin's "Re-run extraction" calls
        self.assertEqual(self.found("quantum"), [])
        hits = self.found("fault")
        self.assertEqual(len(hits), 1)
        self.assertEqual(Passage.objects.get(pk=hits[0]).document, self.document)

    def test_a_failed_extraction_leaves_nothing_in_the_index(self):
        self.document.mark_failed("This PDF is password-protected.")
        self.assertEqual(self.found("quantum"), [])

    def test_a_search_only_sees_its_own_session(self):
        other = self.make_session(owner=self.other)
        Document.objects.create(session=other, original_name="x.md", position=1).mark_completed(
            "Quantum mechanics is unrelated.", []
        )
        mine = self.found("quantum")
        theirs = self.found("quantum", session=other)
        self.assertEqual(len(mine), 1)
        self.assertEqual(len(theirs), 1)
        self.assertNotEqual(mine, theirs)

    def test_search_syntax_in_a_question_is_taken_as_words(self):
        for question in ['"quantum', "quantum OR NOT*", "(quantum) AND -x", "quantum'; --", ":"]:
            self.assertIsInstance(self.found(question), list)
        self.assertTrue(self.found('"quantum" OR NOT*'))

    def test_documents_completed_before_passages_existed_are_cut_when_asked_about(self):
        legacy = self.make_document(self.session, name="legacy.md", text="Mitochondria make ATP.")
        self.assertFalse(legacy.passages.exists())
        sources = retrieve(self.session, "What do mitochondria make?")
        self.assertEqual(sources[0].name, "legacy.md")
