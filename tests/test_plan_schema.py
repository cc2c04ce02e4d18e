from django.test import SimpleTestCase

from plans.schema import (
    MAX_SUBTOPICS,
    MAX_TEXT_LENGTH,
    MAX_TOPICS,
    PlanValidationError,
    normalize_plan,
    preview_plan,
)


class NormalizePlanTests(SimpleTestCase):
    def assertRejected(self, plan, *fragments):
        with self.assertRaises(PlanValidationError) as caught:
            normalize_plan(plan)
        text = str(caught.exception)
        for fragment in fragments:
            self.assertIn(fragment, text)
        return caught.exception

    def test_a_valid_plan_passes_unchanged(self):
        plan = [
            {"order_index": 1, "title": "Limits", "subtopics": ["Epsilon-delta", "One-sided"]},
            {"order_index": 2, "title": "Derivatives", "subtopics": []},
        ]

        self.assertEqual(normalize_plan(plan), plan)

    def test_order_index_is_renumbered_in_list_order(self):
        plan = [
            {"order_index": 7, "title": "B", "subtopics": []},
            {"order_index": 3, "title": "A", "subtopics": []},
        ]

        self.assertEqual(
            [(t["order_index"], t["title"]) for t in normalize_plan(plan)], [(1, "B"), (2, "A")]
        )

    def test_whitespace_is_trimmed_and_collapsed(self):
        plan = [{"title": "  Limits\n and   continuity ", "subtopics": ["\tε-δ  ", " "]}]

        self.assertEqual(
            normalize_plan(plan),
            [{"order_index": 1, "title": "Limits and continuity", "subtopics": ["ε-δ"]}],
        )

    def test_empty_topics_are_dropped(self):
        plan = [{"title": "", "subtopics": []}, {"title": "  "}, {"title": "Real"}]

        self.assertEqual(
            normalize_plan(plan), [{"order_index": 1, "title": "Real", "subtopics": []}]
        )

    def test_duplicate_titles_merge_case_insensitively_keeping_the_first(self):
        plan = [
            {"title": "Limits", "subtopics": ["a", "b"]},
            {"title": "Derivatives", "subtopics": []},
            {"title": "LIMITS", "subtopics": ["B", "c"]},
        ]

        self.assertEqual(
            normalize_plan(plan),
            [
                {"order_index": 1, "title": "Limits", "subtopics": ["a", "b", "c"]},
                {"order_index": 2, "title": "Derivatives", "subtopics": []},
            ],
        )

    def test_bare_strings_become_topics_and_unknown_keys_are_dropped(self):
        plan = ["Limits", {"title": "Series", "subtopics": ["Ratio test"], "notes": "x"}]

        self.assertEqual(
            normalize_plan(plan),
            [
                {"order_index": 1, "title": "Limits", "subtopics": []},
                {"order_index": 2, "title": "Series", "subtopics": ["Ratio test"]},
            ],
        )

    def test_non_list_input_is_rejected(self):
        for value in [None, "Limits", {"topics": []}, 3]:
            with self.subTest(value=value):
                self.assertRejected(value, "must be a list of topics")

    def test_bad_types_are_reported_with_their_position(self):
        error = self.assertRejected(
            [
                {"title": "Fine"},
                42,
                {"title": ["x"]},
                {"title": "Bad subs", "subtopics": "a, b"},
                {"title": "Bad sub", "subtopics": ["ok", 5]},
            ],
            "Topic 2: must be an object",
            "Topic 3: the title must be text",
            "Topic 4: subtopics must be a list",
            "Topic 5, subtopic 2: must be text",
        )
        self.assertEqual(
            [(p.topic, p.subtopic) for p in error.problems],
            [(2, None), (3, None), (4, None), (5, 2)],
        )

    def test_subtopics_without_a_title_are_reported(self):
        self.assertRejected(
            [{"title": " ", "subtopics": ["orphan"]}], "Topic 1: has subtopics but no title"
        )

    def test_too_many_topics_is_reported(self):
        plan = [{"title": f"Topic {n}"} for n in range(MAX_TOPICS + 1)]

        self.assertRejected(plan, f"{MAX_TOPICS + 1} topics; the limit is {MAX_TOPICS}")

    def test_exactly_the_maximum_sizes_pass(self):
        plan = [
            {
                "title": f"T{n}" + "x" * (MAX_TEXT_LENGTH - 4),
                "subtopics": [f"s{m}" for m in range(MAX_SUBTOPICS)],
            }
            for n in range(MAX_TOPICS)
        ]

        self.assertEqual(len(normalize_plan(plan)), MAX_TOPICS)

    def test_too_many_subtopics_is_reported(self):
        plan = [{"title": "Big", "subtopics": [f"s{n}" for n in range(MAX_SUBTOPICS + 1)]}]

        self.assertRejected(plan, f"has {MAX_SUBTOPICS + 1} subtopics")

    def test_overlong_strings_are_reported(self):
        self.assertRejected(
            [{"title": "x" * (MAX_TEXT_LENGTH + 1)}, {"title": "ok", "subtopics": ["y" * 500]}],
            f"Topic 1: the title is {MAX_TEXT_LENGTH + 1} characters long",
            "Topic 2, subtopic 1: is 500 characters long",
        )

    def test_every_problem_is_reported_at_once(self):
        error = self.assertRejected([1, 2, 3])

        self.assertEqual(len(error.problems), 3)


class PreviewPlanTests(SimpleTestCase):
    def test_a_partial_plan_over_the_bounds_is_cut_never_refused(self):
        partial = [
            {"title": "Limits", "subtopics": [f"a{n}" for n in range(20)]},
            {"title": "limits", "subtopics": [f"b{n}" for n in range(20)]},  # merges: 40
            {"title": "x" * 500},
            *({"title": f"T{n}"} for n in range(100)),
            {"subtopics": ["no title yet"]},
            7,
        ]

        plan = preview_plan(partial)

        self.assertEqual(plan, normalize_plan(plan))
        self.assertEqual(len(plan), MAX_TOPICS)
        self.assertEqual(len(plan[0]["subtopics"]), MAX_SUBTOPICS)
        self.assertEqual(len(plan[1]["title"]), MAX_TEXT_LENGTH)
