import json

from django.test import SimpleTestCase, override_settings

from plans.builders.base import SourceDocument
from plans.builders.openrouter import (
    OpenRouterBuilder,
    PlanOutputError,
    extract_plan_json,
    merge_preview,
    preview_from_partial,
    split_into_sections,
)
from plans.prompts import fold_prompt
from tests.fakes import FakeProviderMixin, Reply
from tests.plans_scripts import plan_json

LIMITS = [{"order_index": 1, "title": "Limits", "subtopics": ["One-sided limits"]}]


class ExtractPlanJsonTests(SimpleTestCase):
    def test_bare_object_and_bare_array(self):
        self.assertEqual(extract_plan_json(plan_json(LIMITS)), LIMITS)
        self.assertEqual(extract_plan_json(json.dumps(LIMITS)), LIMITS)

    def test_other_wrapping_keys(self):
        self.assertEqual(extract_plan_json(json.dumps({"plan": LIMITS})), LIMITS)
        self.assertEqual(extract_plan_json(json.dumps({"study_plan": LIMITS})), LIMITS)

    def test_code_fences_with_and_without_a_language(self):
        for fence in ("```json\n", "```\n", "```JSON\n"):
            with self.subTest(fence=fence):
                self.assertEqual(extract_plan_json(f"{fence}{plan_json(LIMITS)}\n```"), LIMITS)

    def test_json_inside_prose_with_braces_in_the_prose(self):
        text = f"Here it is {{as promised}}: {plan_json(LIMITS)}. Enjoy [really]!"

        self.assertEqual(extract_plan_json(text), LIMITS)

    def test_no_json_at_all(self):
        with self.assertRaises(PlanOutputError):
            extract_plan_json("I am sorry, I cannot do that.")


class PreviewTests(SimpleTestCase):
    def test_only_complete_topics_and_subtopics_are_shown(self):
        partial = (
            '{"topics": [{"order_index": 1, "title": "Limits", "subtopics": ["One-sided", "Epsi'
        )

        self.assertEqual(
            preview_from_partial(partial),
            [{"order_index": 1, "title": "Limits", "subtopics": ["One-sided"]}],
        )

    def test_an_incomplete_title_is_not_shown(self):
        self.assertEqual(preview_from_partial('{"topics": [{"order_index": 1, "title": "Lim'), [])

    def test_text_before_the_json_is_skipped(self):
        self.assertEqual(
            preview_from_partial('```json\n[{"title": "Limits"}, {"ti'),
            [{"order_index": 1, "title": "Limits", "subtopics": []}],
        )

    def test_the_previous_plan_stays_visible_while_the_model_rewrites_it(self):
        previous = [
            {"order_index": 1, "title": "Limits", "subtopics": []},
            {"order_index": 2, "title": "Derivatives", "subtopics": []},
        ]
        written = [{"order_index": 1, "title": "Sets", "subtopics": []}]

        self.assertEqual(
            [t["title"] for t in merge_preview(written, previous)],
            ["Sets", "Limits", "Derivatives"],
        )
        rewritten = [{"order_index": 1, "title": "derivatives", "subtopics": ["Chain rule"]}]
        self.assertEqual(
            merge_preview(rewritten, previous),
            [
                {"order_index": 1, "title": "derivatives", "subtopics": ["Chain rule"]},
                {"order_index": 2, "title": "Limits", "subtopics": []},
            ],
        )


class SplitIntoSectionsTests(SimpleTestCase):
    def test_short_text_is_one_section(self):
        self.assertEqual(split_into_sections("# A\n\nText.", 1000), ["# A\n\nText."])

    def test_long_text_is_cut_at_headings_first(self):
        chapters = [f"# Chapter {n}\n\n" + ("Words of the chapter. " * 40) for n in range(1, 6)]
        text = "\n\n".join(chapters)

        sections = split_into_sections(text, 2000)

        self.assertGreater(len(sections), 1)
        self.assertTrue(all(len(s) <= 2000 for s in sections))
        self.assertTrue(
            all(s.startswith("# Chapter") for s in sections), [s[:20] for s in sections]
        )
        self.assertEqual(
            "".join(sections).replace("\n", "").replace(" ", ""),
            text.replace("\n", "").replace(" ", ""),
        )

    def test_without_headings_it_cuts_at_paragraphs_and_never_mid_word(self):
        paragraphs = [" ".join(f"w{n}x{m}" for m in range(60)) for n in range(30)]
        text = "\n\n".join(paragraphs)

        sections = split_into_sections(text, 1500)

        words = set(text.split())
        for section in sections:
            self.assertLessEqual(len(section), 1500)
            self.assertTrue(set(section.split()) <= words)  # every word whole
        self.assertEqual(sum(len(s.split()) for s in sections), len(text.split()))

    def test_page_breaks_are_preferred_over_line_ends(self):
        pages = [f"Line of page {n}.\n" * 30 for n in range(6)]
        text = "\f".join(pages)

        sections = split_into_sections(text, 1200)

        self.assertTrue(all(s.startswith("Line of page") for s in sections))
        self.assertTrue(all(s.count("\f") <= 2 for s in sections))


@override_settings(AI_RETRY_MAX_WAIT=0.01)
class LongDocumentTests(FakeProviderMixin, SimpleTestCase):
    async def test_a_long_document_is_folded_in_section_by_section(self):
        chapters = [
            f"# Chapter {n}\n\n" + ("Sentence about the chapter. " * 150) for n in range(1, 5)
        ]
        document = SourceDocument("book.pdf", "\n\n".join(chapters))
        plans = []

        def responder(request):
            plans.append([*(plans[-1] if plans else []), {"title": f"Part {len(plans) + 1}"}])
            return Reply.answer(request, json.dumps({"topics": plans[-1]}))

        self.provider.responder = responder
        builder = OpenRouterBuilder(max_input_tokens=1500)  # ~6000 characters a call

        steps = [step async for step in builder.fold([], document, language="en")]

        prompts = [r.user_prompt for r in self.provider.requests]
        self.assertGreater(len(prompts), 1)
        self.assertTrue(all(len(p) < 1500 * 4 + 500 for p in prompts))
        self.assertIn(f'"book.pdf", part 1 of {len(prompts)}', prompts[0])
        self.assertIn(f'"book.pdf", part 2 of {len(prompts)}', prompts[1])
        self.assertIn('"title": "Part 1"', prompts[1])  # each part builds on the last
        self.assertEqual({s.sections for s in steps}, {len(prompts)})
        self.assertEqual([s.section for s in steps if not s.final][:1], [1])
        self.assertTrue(steps[-1].final)
        self.assertEqual(
            [t["title"] for t in steps[-1].plan], [f"Part {n}" for n in range(1, len(prompts) + 1)]
        )
        self.assertEqual(builder.usage.prompt_tokens, 12 * len(prompts))


@override_settings(AI_RETRY_MAX_WAIT=0.01)
class UsageTests(FakeProviderMixin, SimpleTestCase):
    async def test_the_tokens_of_an_answer_cut_at_the_output_limit_are_counted(self):
        whole = json.dumps({"topics": [{"title": "Limits", "subtopics": ["Definition"]}]})
        replies = iter([Reply.stream(whole[:20], finish_reason="length"), None])
        self.provider.responder = lambda request: next(replies) or Reply.answer(request, whole)
        builder = OpenRouterBuilder()

        steps = [
            step
            async for step in builder.fold([], SourceDocument("a.md", "# Limits"), language="en")
        ]

        self.assertEqual(len(self.provider.requests), 2)  # the cut answer, then the repair
        self.assertEqual(steps[-1].plan[0]["title"], "Limits")
        self.assertEqual(builder.usage.prompt_tokens, 24)
        self.assertEqual(builder.usage.completion_tokens, 68)


class OutputBudgetTests(SimpleTestCase):
    def test_the_output_budget_grows_with_the_plan_within_the_cap(self):
        builder = OpenRouterBuilder(client=object(), model="m")
        big = [
            {"order_index": n, "title": f"T{n}", "subtopics": ["x" * 150] * 30} for n in range(60)
        ]

        self.assertEqual(builder._options([])["max_tokens"], 4096)
        self.assertGreater(builder._options(big[:5])["max_tokens"], 4096)
        self.assertEqual(builder._options(big)["max_tokens"], 16384)


class PromptTests(SimpleTestCase):
    def test_the_prompt_names_the_language_plan_and_document(self):
        prompt = fold_prompt(LIMITS, "week2.pdf", "Derivatives text", language="pt-BR")

        self.assertIn("pt-BR (Português (Brasil))", prompt)
        self.assertIn(plan_json(LIMITS), prompt)
        self.assertIn(
            'New document "week2.pdf":\n<document>\nDerivatives text\n</document>', prompt
        )
