"""Citation markers (SPEC §15): markers that match no source never reach the learner, even
when the model's pieces cut a marker in two."""

from django.test import SimpleTestCase

from questions.citations import MarkerFilter, cited_numbers, clean_answer


def streamed(pieces: list[str], valid: set[int]) -> str:
    markers = MarkerFilter(valid)
    return "".join(markers.feed(p) for p in pieces) + markers.flush()


class MarkerTests(SimpleTestCase):
    def test_known_markers_stay_and_unknown_ones_go(self):
        self.assertEqual(clean_answer("A [1] b [4] c [2].", {1, 2}), "A [1] b  c [2].")

    def test_a_marker_cut_across_pieces_is_judged_whole(self):
        self.assertEqual(streamed(["See [", "1", "2] and [", "2]."], {2}), "See  and [2].")

    def test_lists_keep_their_valid_numbers_as_separate_markers(self):
        self.assertEqual(clean_answer("x [1, 3; 9] y", {1, 3}), "x [1][3] y")
        self.assertEqual(clean_answer("x [8, 9] y", {1}), "x  y")

    def test_brackets_that_are_not_markers_pass_through(self):
        text = "f[x] = [a, b] and [see note] and [ at the end ["
        self.assertEqual(streamed(list(text), {1}), text)

    def test_cited_numbers_are_in_order_of_first_appearance(self):
        self.assertEqual(cited_numbers("b [2] a [1] again [2]"), [2, 1])
