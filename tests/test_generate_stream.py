"""The generate-plan event stream end to end: endpoint → builder → AI client → fake provider."""

import itertools

from django.test import override_settings

from sessions_app.models import GenerationRun, StudySession
from studyplanner.db import run_db
from tests.base import SAMPLE_PLAN, AppTestCase
from tests.fakes import FakeProviderMixin, Reply
from tests.plans_scripts import WEEK_PLANS, ScriptedPlans, document_in, plan_json
from tests.streams import EventReader, read_all

STREAM = {"accept": "text/event-stream"}
Status = StudySession.Status


class StreamTestCase(FakeProviderMixin, AppTestCase):
    builder = "openrouter"

    def setUp(self):
        super().setUp()
        self.enterContext(override_settings(PLAN_BUILDER=self.builder, AI_RETRY_MAX_WAIT=0.01))
        self.session = self.make_session()
        self.documents = [
            self.make_document(self.session, name=name, text=f"# {name}\n\nNotes of {name}.")
            for name in ("week1.md", "week2.md", "week3.md")
        ]
        self.url = f"/sessions/{self.session.pk}/generate-plan"

    async def open_stream(self, url=None, **headers):
        await self.async_client.aforce_login(self.owner)
        return await self.async_client.get(url or self.url, headers={**STREAM, **headers})

    async def refreshed(self) -> StudySession:
        return await StudySession.objects.aget(pk=self.session.pk)


class EventSequenceTests(StreamTestCase):
    async def test_three_documents_give_the_exact_event_sequence_and_save_the_plan(self):
        self.provider.responder = ScriptedPlans()

        response = await self.open_stream()
        events, _, raw = await read_all(response)

        names = " ".join(e.event for e in events)
        self.assertRegex(
            names,
            r"^started (progress )*document_processed (progress )*document_processed "
            r"(progress )*document_processed completed$",
        )
        self.assertEqual(events[0].json["total"], 3)
        self.assertEqual(events[0].json["resumed_from"], 0)
        processed = [e.json for e in events if e.event == "document_processed"]
        self.assertEqual([(p["doc"], p["total"]) for p in processed], [(1, 3), (2, 3), (3, 3)])
        self.assertEqual([p["plan"] for p in processed], list(WEEK_PLANS.values()))
        self.assertEqual(events[-1].json["plan"], WEEK_PLANS["week3.md"])
        # Ids are "<run>.<seq>": the run of `started`, numbers rising (coalesced progress
        # events leave gaps).
        run_id = events[0].json["run"]
        self.assertEqual({e.id.rpartition(".")[0] for e in events}, {run_id})
        numbers = [int(e.id.rpartition(".")[2]) for e in events]
        self.assertEqual(numbers, sorted(set(numbers)))
        self.assertEqual(numbers[0], 1)
        self.assertTrue(raw.startswith("retry: "))

        session = await self.refreshed()
        self.assertEqual(session.status, Status.EDITING_PLAN)
        self.assertEqual(session.draft_plan, WEEK_PLANS["week3.md"])
        run = await GenerationRun.objects.aget(session=self.session)
        self.assertEqual(str(run.pk), run_id)
        self.assertEqual(run.outcome, GenerationRun.Outcome.SUCCEEDED)
        self.assertEqual(run.documents_processed, 3)
        self.assertEqual((run.prompt_tokens, run.completion_tokens), (36, 102))  # 3 calls × 12/34
        self.assertEqual(run.model, "fake/model-1")
        self.assertIsNotNone(run.finished_at)

    async def test_the_response_headers_follow_the_contract(self):
        self.provider.responder = ScriptedPlans()

        response = await self.open_stream(**{"accept-encoding": "gzip, br"})
        await read_all(response)

        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["Content-Type"].startswith("text/event-stream"))
        self.assertEqual(response["Cache-Control"], "no-cache")
        self.assertEqual(response["X-Accel-Buffering"], "no")
        self.assertFalse(response.has_header("Connection"))
        self.assertFalse(response.has_header("Content-Encoding"))

    async def test_progress_arrives_before_its_document_is_done_in_the_order_written(self):
        # About 1.5 s per document: several visible states, more than 100 ms apart.
        self.provider.responder = ScriptedPlans(chunk_size=6, delay=0.06)

        events, _, _ = await read_all(await self.open_stream())

        first_document = []
        for event in events[1:]:
            if event.event == "document_processed":
                break
            first_document.append(event)
        partial_plans = [e.json["plan"] for e in first_document if e.json["plan"]]
        self.assertGreaterEqual(len(partial_plans), 2, "the plan should grow while streaming")
        self.assertEqual(partial_plans[0][0]["title"], "Limits")
        self.assertIn(["Epsilon-delta definition"], [p[0]["subtopics"] for p in partial_plans])
        for event in first_document:
            self.assertEqual(event.json["doc"], 1)
            self.assertEqual(event.json["message"], "Reading document 1 of 3: week1.md")
        # Never the same event twice in a row.
        adjacent = itertools.pairwise(events)
        self.assertFalse([a for a, b in adjacent if (a.event, a.data) == (b.event, b.data)])

    async def test_a_ping_comment_goes_out_while_the_model_is_slow(self):
        self.provider.responder = ScriptedPlans(latency=0.3)

        with override_settings(SSE_PING_INTERVAL=0.05):
            events, comments, _ = await read_all(await self.open_stream())

        self.assertGreaterEqual(comments.count("ping"), 3)
        self.assertEqual(events[-1].event, "completed")

    async def test_x_language_reaches_the_prompt(self):
        self.provider.responder = ScriptedPlans()

        await read_all(await self.open_stream(**{"x-language": "pt-br"}))

        prompts = [r.user_prompt for r in self.provider.requests]
        self.assertEqual(len(prompts), 3)
        self.assertTrue(all("Language for every title and subtopic: pt-BR" in p for p in prompts))

    async def test_the_session_language_is_used_without_the_header(self):
        self.session.language = "de"
        await run_db(self.session.save)
        self.provider.responder = ScriptedPlans()

        await read_all(await self.open_stream())

        self.assertIn("de (Deutsch)", self.provider.requests[0].user_prompt)

    async def test_the_prompt_carries_the_current_plan_and_the_document(self):
        self.provider.responder = ScriptedPlans()

        await read_all(await self.open_stream())

        second = self.provider.requests[1].user_prompt
        self.assertIn(plan_json(WEEK_PLANS["week1.md"]), second)
        self.assertIn("Notes of week2.md.", second)
        body = self.provider.requests[1].json
        self.assertEqual(body["response_format"]["type"], "json_schema")
        self.assertTrue(body["stream"])


class HtmlFlavourTests(StreamTestCase):
    async def test_fragments_escape_plan_text(self):
        evil = [{"order_index": 1, "title": "<script>alert(1)</script>", "subtopics": ["<b>x</b>"]}]
        self.provider.responder = ScriptedPlans(dict.fromkeys(WEEK_PLANS, evil))

        events, _, raw = await read_all(await self.open_stream(self.url + "?format=html"))

        self.assertEqual(events[-1].event, "completed")
        self.assertNotIn("<script>alert(1)</script>", raw)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", raw)
        self.assertIn("&lt;b&gt;x&lt;/b&gt;", raw)

    async def test_progress_fragments_carry_the_bar_and_the_stage_message(self):
        self.provider.responder = ScriptedPlans()

        events, _, _ = await read_all(await self.open_stream(self.url + "?format=html"))

        processed = [e for e in events if e.event == "document_processed"]
        self.assertIn('<progress class="plan-progress" max="100" value="33"', processed[0].data)
        self.assertIn(
            'hx-swap-oob="innerHTML">Finished document 1 of 3: week1.md', processed[0].data
        )
        self.assertIn("Opening the editor", events[-1].data)


class RefusedBeforeTheStreamTests(StreamTestCase):
    async def test_anonymous_gets_401(self):
        response = await self.async_client.get(self.url, headers=STREAM)

        self.assertEqual(response.status_code, 401)

    async def test_another_learner_gets_404(self):
        await self.async_client.aforce_login(self.other)
        response = await self.async_client.get(self.url, headers=STREAM)

        self.assertEqual(response.status_code, 404)

    async def test_a_session_without_completed_documents_gets_409(self):
        empty = await run_db(self.make_session, title="Empty")

        response = await self.open_stream(f"/sessions/{empty.pk}/generate-plan")

        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["reason"], "no_completed_document")

    async def test_a_running_generation_gets_409(self):
        await self.session.aclaim_for_generation()

        response = await self.open_stream()

        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["reason"], "already_generating")

    async def test_editing_gets_409_and_the_plan_is_untouched(self):
        await StudySession.objects.filter(pk=self.session.pk).aupdate(
            status=Status.EDITING_PLAN, draft_plan=SAMPLE_PLAN
        )

        response = await self.open_stream()

        self.assertEqual(response.status_code, 409)
        self.assertEqual((await self.refreshed()).draft_plan, SAMPLE_PLAN)
        self.assertEqual(self.provider.requests, [])

    async def test_a_malformed_x_language_gets_400(self):
        response = await self.open_stream(**{"x-language": "not a language!"})

        self.assertEqual(response.status_code, 400)
        self.assertEqual((await self.refreshed()).status, Status.UPLOADING)


class ResumeTests(StreamTestCase):
    async def test_a_failed_run_keeps_progress_and_the_next_run_calls_the_model_only_for_the_rest(
        self,
    ):
        self.provider.enqueue(
            Reply.stream(plan_json(WEEK_PLANS["week1.md"])),
            Reply.error(401, message="No auth credentials found"),
        )

        events, _, _ = await read_all(await self.open_stream())

        self.assertEqual(events[-1].event, "error")
        self.assertFalse(events[-1].json["retryable"])
        session = await self.refreshed()
        self.assertEqual(session.status, Status.UPLOADING)
        self.assertEqual(session.draft_plan, WEEK_PLANS["week1.md"])
        self.assertEqual(session.folded_document_ids, [str(self.documents[0].pk)])

        self.provider.reset()
        self.provider.responder = ScriptedPlans()
        events, _, _ = await read_all(await self.open_stream())

        self.assertEqual(events[0].json["resumed_from"], 1)
        self.assertEqual([document_in(r) for r in self.provider.requests], ["week2.md", "week3.md"])
        self.assertIn(plan_json(WEEK_PLANS["week1.md"]), self.provider.requests[0].user_prompt)
        self.assertEqual(
            [(e.json["doc"], e.json["total"]) for e in events if e.event == "document_processed"],
            [(2, 3), (3, 3)],
        )
        self.assertEqual((await self.refreshed()).status, Status.EDITING_PLAN)
        outcomes = [r.outcome async for r in GenerationRun.objects.order_by("started_at")]
        self.assertEqual(outcomes, ["failed", "succeeded"])

    async def test_after_add_more_documents_only_the_new_one_is_sent(self):
        self.provider.responder = ScriptedPlans()
        await read_all(await self.open_stream())
        await run_db(lambda: StudySession.objects.get(pk=self.session.pk).reopen())
        edited = [
            *WEEK_PLANS["week3.md"],
            {"order_index": 4, "title": "My own topic", "subtopics": []},
        ]
        await StudySession.objects.filter(pk=self.session.pk).aupdate(draft_plan=edited)
        await run_db(self.make_document, self.session, name="week4.md", text="# Series")
        self.provider.reset()
        self.provider.responder = ScriptedPlans({"week4.md": [*edited, {"title": "Series"}]})

        events, _, _ = await read_all(await self.open_stream())

        self.assertEqual([document_in(r) for r in self.provider.requests], ["week4.md"])
        self.assertIn("My own topic", self.provider.requests[0].user_prompt)
        self.assertEqual(events[0].json, {**events[0].json, "total": 4, "resumed_from": 3})
        self.assertEqual(
            [t["title"] for t in events[-1].json["plan"]][-2:], ["My own topic", "Series"]
        )

    async def test_deleting_a_folded_document_keeps_the_plan_and_reads_only_the_rest(self):
        await StudySession.objects.filter(pk=self.session.pk).aupdate(
            draft_plan=SAMPLE_PLAN,
            folded_document_ids=[str(d.pk) for d in self.documents[:2]],
        )
        await self.documents[0].adelete()
        self.provider.responder = ScriptedPlans()

        events, _, _ = await read_all(await self.open_stream())

        self.assertEqual(events[0].json["resumed_from"], 1)
        self.assertEqual(events[0].json["total"], 2)
        self.assertEqual([document_in(r) for r in self.provider.requests], ["week3.md"])
        self.assertIn('"title": "Limits"', self.provider.requests[0].user_prompt)


class CancelTests(StreamTestCase):
    async def test_cancel_from_a_second_request_ends_the_stream_with_cancelled(self):
        self.provider.responder = ScriptedPlans(chunk_size=4, delay=0.05)
        reader = EventReader(await self.open_stream())
        await reader.until("document_processed")

        cancel = await self.async_client.post(
            f"/sessions/{self.session.pk}/cancel-generation", headers={"accept": "application/json"}
        )
        rest = await reader.until("cancelled")
        await reader.rest()

        self.assertEqual(cancel.status_code, 202)
        self.assertNotIn("completed", [e.event for e in rest])
        self.assertEqual(
            {k: rest[-1].json[k] for k in ("plan", "done", "total")},
            {"plan": WEEK_PLANS["week1.md"], "done": 1, "total": 3},
        )
        session = await self.refreshed()
        self.assertEqual(session.status, Status.UPLOADING)
        self.assertEqual(session.draft_plan, WEEK_PLANS["week1.md"])
        self.assertIsNone(session.cancel_requested_at)
        self.assertTrue(await self.wait_for(self.provider.requests[1].disconnected, within=1))
        run = await GenerationRun.objects.aget(session=self.session)
        self.assertEqual(run.outcome, GenerationRun.Outcome.CANCELLED)

    @override_settings(PLAN_HEARTBEAT_INTERVAL=0.05)
    async def test_a_cancel_flag_set_by_another_process_is_seen_on_the_heartbeat(self):
        self.provider.responder = ScriptedPlans(chunk_size=4, delay=0.05)
        reader = EventReader(await self.open_stream())
        await reader.until("document_processed")

        # Another worker's cancel view sets only the database flag.
        flagged = await run_db(
            lambda: StudySession.objects.get(pk=self.session.pk).request_cancel()
        )
        events = await reader.until("cancelled")

        self.assertTrue(flagged)
        self.assertEqual(events[-1].event, "cancelled")
        self.assertEqual((await self.refreshed()).status, Status.UPLOADING)

    @override_settings(PLAN_HEARTBEAT_INTERVAL=0.05)
    async def test_a_staff_reset_during_the_run_stops_it_without_overwriting_anything(self):
        self.provider.responder = ScriptedPlans(chunk_size=4, delay=0.05)
        reader = EventReader(await self.open_stream())
        await reader.until("document_processed")

        await run_db(lambda: StudySession.objects.get(pk=self.session.pk).reset_to_uploading())
        events = await reader.until("error")

        self.assertIn("session was reset", events[-1].json["message"])
        self.assertEqual(events[-1].json["plan"], WEEK_PLANS["week1.md"])
        session = await self.refreshed()
        self.assertEqual(session.status, Status.UPLOADING)
        self.assertEqual(session.draft_plan, WEEK_PLANS["week1.md"])  # doc 2 never saved
        run = await GenerationRun.objects.aget(session=self.session)
        self.assertEqual(run.outcome, GenerationRun.Outcome.FAILED)

    async def test_cancel_without_a_running_generation_is_409(self):
        await self.async_client.aforce_login(self.owner)

        response = await self.async_client.post(
            f"/sessions/{self.session.pk}/cancel-generation", headers={"accept": "application/json"}
        )

        self.assertEqual(response.status_code, 409)


class NonStreamingTests(StreamTestCase):
    async def test_post_generates_the_whole_plan_as_json(self):
        self.provider.responder = ScriptedPlans()
        await self.async_client.aforce_login(self.owner)

        response = await self.async_client.post(self.url, headers={"accept": "application/json"})

        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"plan": WEEK_PLANS["week3.md"]})
        self.assertEqual((await self.refreshed()).status, Status.EDITING_PLAN)

    async def test_post_reports_a_provider_failure_with_502_and_releases_the_session(self):
        self.provider.responder = lambda request: Reply.error(402, message="Insufficient credits")
        await self.async_client.aforce_login(self.owner)

        response = await self.async_client.post(self.url, headers={"accept": "application/json"})

        self.assertEqual(response.status_code, 502)
        self.assertIn("out of credit", response.json()["error"])
        self.assertEqual((await self.refreshed()).status, Status.UPLOADING)

    async def test_post_from_a_page_without_javascript_redirects_to_the_session(self):
        self.provider.responder = ScriptedPlans()
        await self.async_client.aforce_login(self.owner)

        response = await self.async_client.post(self.url, headers={"accept": "text/html"})

        self.assertEqual(response.status_code, 302)
        self.assertEqual(response["Location"], f"/sessions/{self.session.pk}/")
        self.assertEqual((await self.refreshed()).status, Status.EDITING_PLAN)

    async def test_a_refused_post_from_a_page_goes_back_with_a_message(self):
        await self.session.aclaim_for_generation()  # e.g. a double click
        await self.async_client.aforce_login(self.owner)

        response = await self.async_client.post(self.url, headers={"accept": "text/html"})

        self.assertEqual(response.status_code, 302)
        self.assertEqual(response["Location"], f"/sessions/{self.session.pk}/")

    async def test_plan_status_reports_status_progress_and_plan(self):
        await StudySession.objects.filter(pk=self.session.pk).aupdate(
            draft_plan=SAMPLE_PLAN, folded_document_ids=[str(self.documents[0].pk)]
        )
        await self.async_client.aforce_login(self.owner)

        response = await self.async_client.get(f"/sessions/{self.session.pk}/plan-status")

        body = response.json()
        self.assertEqual(body["status"], "UPLOADING")
        self.assertEqual(body["progress"], {"done": 1, "total": 3})
        self.assertEqual(body["plan"], SAMPLE_PLAN)


class OfflineStreamTests(StreamTestCase):
    builder = "offline"

    async def test_the_offline_builder_streams_the_same_events_without_any_model_call(self):
        lectures = [
            "# Limits\n\n## One-sided limits",
            "# Derivatives",
            "# Integrals\n\n## Riemann sums",
        ]
        for document, text in zip(self.documents, lectures, strict=True):
            document.content_text = text
            await run_db(document.save)

        events, _, _ = await read_all(await self.open_stream())

        self.assertEqual(events[0].event, "started")
        self.assertEqual([e.event for e in events].count("document_processed"), 3)
        self.assertEqual(events[-1].event, "completed")
        self.assertEqual(
            events[-1].json["plan"],
            [
                {"order_index": 1, "title": "Limits", "subtopics": ["One-sided limits"]},
                {"order_index": 2, "title": "Derivatives", "subtopics": []},
                {"order_index": 3, "title": "Integrals", "subtopics": ["Riemann sums"]},
            ],
        )
        self.assertEqual(self.provider.requests, [])
        run = await GenerationRun.objects.aget(session=self.session)
        self.assertEqual(run.builder, "offline")
        self.assertIsNone(run.prompt_tokens)
