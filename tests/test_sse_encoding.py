from django.test import SimpleTestCase

from studyplanner.sse import encode_comment, encode_event, encode_retry
from tests.streams import parse_stream


class EncodeEventTests(SimpleTestCase):
    def test_json_data_is_one_line_with_event_and_id(self):
        text = encode_event("progress", {"doc": 1, "plan": [{"title": "a\nb"}]}, id=7)

        self.assertEqual(
            text, 'event: progress\nid: 7\ndata: {"doc": 1, "plan": [{"title": "a\\nb"}]}\n\n'
        )

    def test_multi_line_html_becomes_one_data_line_each_and_round_trips(self):
        html = '<div class="plan">\n  <h3>Limits</h3>\r\n</div>'

        text = encode_event("progress", html, id=1)

        self.assertIn('data: <div class="plan">\ndata:   <h3>Limits</h3>\ndata: </div>\n', text)
        [event], _ = parse_stream(text)
        self.assertEqual(event.data, '<div class="plan">\n  <h3>Limits</h3>\n</div>')
        self.assertEqual(event.event, "progress")
        self.assertEqual(event.id, "1")

    def test_non_ascii_survives_unescaped(self):
        [event], _ = parse_stream(encode_event("completed", {"plan": ["Übung — 中文"]}))

        self.assertEqual(event.data, '{"plan": ["Übung — 中文"]}')

    def test_retry_line(self):
        self.assertEqual(encode_retry(3000), "retry: 3000\n\n")
        self.assertTrue(encode_event("started", {}, retry=2500).startswith("retry: 2500\n"))

    def test_comments_are_ignored_by_parsers(self):
        text = encode_comment("ping") + encode_comment("two\nlines") + encode_event("x", "y")

        self.assertEqual(text.splitlines()[:3], [": ping", "", ": two"])
        events, comments = parse_stream(text)
        self.assertEqual([(e.event, e.data) for e in events], [("x", "y")])
        self.assertEqual(comments, ["ping", "two", "lines"])

    def test_line_breaks_in_event_names_or_ids_are_refused(self):
        with self.assertRaises(ValueError):
            encode_event("bad\nname", {})
        with self.assertRaises(ValueError):
            encode_event("ok", {}, id="1\n2")
