"""Plan history (SPEC §3): every saved plan is a version; restore, rebuild, undo; deleting a
document keeps the plan; nothing dropped silently (SPEC §5)."""

import json
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models.signals import pre_save
from django.test import override_settings
from markdown_it import MarkdownIt

from plans.history import record_version
from plans.models import VERSIONS_KEPT, PlanVersion
from sessions_app.models import Document, StudySession
from tests.base import SAMPLE_PLAN, AppTestCase
from tests.fakes import FakeProviderMixin, Reply
from tests.plans_scripts import ScriptedPlans, document_in, plan_json
from tests.streams import read_all

JSON = {"accept": "application/json"}
HTMX = {"hx-request": "true"}


def editor_form(plan, action="save"):
    data = {"topic": [], "action": action}
    for n, topic in enumerate(plan):
        data["topic"].append(str(n))
        data[f"t{n}-title"] = topic["title"]
        data[f"t{n}-sub"] = [*topic["subtopics"], ""]
    data["topic"].append("new")
    data["tnew-title"] = ""
    data["tnew-sub"] = [""]
    return data


class HistoryTestCase(AppTestCase):
    def setUp(self):
        self.client.force_login(self.owner)

    def editing_session(self, plan=SAMPLE_PLAN, **fields):
        return self.make_session(status=StudySession.Status.EDITING_PLAN, draft_plan=plan, **fields)

    def versions(self, session):
        return list(session.plan_versions.order_by("created_at"))


@override_settings(PLAN_BUILDER="offline")
class VersionsFromGenerationTests(HistoryTestCase):
    def test_each_document_folded_in_becomes_a_version_named_after_it(self):
        session = self.make_session()
        self.make_document(session, name="week1.md", text="# Limits\n\n## One-sided limits\n")
        self.make_document(session, name="week2.md", text="# Series\n\n## Ratio test\n")

        response = self.client.post(f"/sessions/{session.pk}/generate-plan", headers=JSON)

        self.assertEqual(response.status_code, 200)
        versions = self.versions(session)
        self.assertEqual([v.source for v in versions], ["document", "document"])
        self.assertEqual([v.label for v in versions], ["week1.md", "week2.md"])
        session.refresh_from_db()
        self.assertEqual(versions[-1].plan, session.draft_plan)
        self.assertEqual(versions[-1].folded_document_ids, session.folded_document_ids)


class VersionsFromEditsTests(HistoryTestCase):
    def test_a_form_save_and_a_json_save_each_add_a_version_and_an_unchanged_save_none(self):
        session = self.editing_session()
        url = f"/sessions/{session.pk}/plan"
        renamed = [{**SAMPLE_PLAN[0], "title": "Limits and continuity"}, SAMPLE_PLAN[1]]

        self.client.post(url, editor_form(renamed))
        self.client.post(url, editor_form(renamed))  # nothing changed
        self.client.post(
            url, json.dumps({"plan": SAMPLE_PLAN}), content_type="application/json", headers=JSON
        )

        versions = self.versions(session)
        self.assertEqual([v.source for v in versions], ["edit", "edit"])
        self.assertEqual(versions[0].plan[0]["title"], "Limits and continuity")
        self.assertEqual(versions[1].plan, SAMPLE_PLAN)

    def test_only_the_newest_versions_are_kept(self):
        session = self.editing_session()
        for n in range(VERSIONS_KEPT + 5):
            plan = [{"order_index": 1, "title": f"Topic {n}", "subtopics": []}]
            self.client.post(f"/sessions/{session.pk}/plan", editor_form(plan))

        titles = [v.plan[0]["title"] for v in self.versions(session)]
        self.assertEqual(len(titles), VERSIONS_KEPT)
        self.assertEqual(titles[0], "Topic 5")
        self.assertEqual(titles[-1], f"Topic {VERSIONS_KEPT + 4}")


class RestoreTests(HistoryTestCase):
    def test_the_history_page_lists_versions_with_a_preview_and_restore(self):
        session = self.editing_session()
        self.client.post(f"/sessions/{session.pk}/plan", editor_form(SAMPLE_PLAN[:1]))
        self.client.post(f"/sessions/{session.pk}/plan", editor_form(SAMPLE_PLAN))

        page = self.client.get(f"/sessions/{session.pk}/plan/history")

        self.assertContains(page, "Your edit", count=2)
        self.assertContains(page, '<li class="card version">', count=2)
        self.assertContains(page, "1 topic,")
        self.assertContains(page, "2 topics,")
        self.assertContains(page, "Restore")
        self.assertContains(page, "Epsilon-delta definition")  # the preview

    def test_restoring_a_version_makes_it_the_plan_and_is_itself_a_new_version(self):
        session = self.editing_session()
        url = f"/sessions/{session.pk}/plan"
        self.client.post(url, editor_form(SAMPLE_PLAN[:1]))  # delete "Derivatives"…
        self.client.post(url, editor_form(SAMPLE_PLAN[1:]))  # …then keep only it
        first = self.versions(session)[0]

        response = self.client.post(f"/sessions/{session.pk}/plan/history/{first.pk}/restore")

        self.assertRedirects(response, f"/sessions/{session.pk}/", fetch_redirect_response=False)
        session.refresh_from_db()
        self.assertEqual(session.draft_plan, SAMPLE_PLAN[:1])
        versions = self.versions(session)
        self.assertEqual([v.source for v in versions], ["edit", "edit", "restore"])
        self.assertEqual(session.status, StudySession.Status.EDITING_PLAN)

    def test_after_restoring_a_version_with_fewer_documents_the_editor_says_how_to_add_the_rest(
        self,
    ):
        session = self.editing_session()
        first = self.make_document(session, name="week1.md")
        self.make_document(session, name="week2.md")
        older = record_version(
            session,
            SAMPLE_PLAN[:1],
            PlanVersion.Source.DOCUMENT,
            label="week1.md",
            folded_document_ids=[str(first.pk)],
        )

        page = self.client.post(
            f"/sessions/{session.pk}/plan/history/{older.pk}/restore", follow=True
        )

        self.assertContains(page, 'id="plan-editor"')
        self.assertContains(page, "1 of your 2 documents isn’t in this plan")
        self.assertContains(page, "Add more documents")

    def test_another_users_version_is_404(self):
        session = self.editing_session()
        self.client.post(f"/sessions/{session.pk}/plan", editor_form(SAMPLE_PLAN[:1]))
        version = session.plan_versions.get()
        self.client.force_login(self.other)

        response = self.client.post(f"/sessions/{session.pk}/plan/history/{version.pk}/restore")

        self.assertEqual(response.status_code, 404)

    def test_a_version_of_another_session_is_404_through_my_own_session(self):
        theirs = self.editing_session(owner=self.other)
        version = record_version(theirs, SAMPLE_PLAN, PlanVersion.Source.EDIT)
        mine = self.editing_session(plan=SAMPLE_PLAN[:1])

        response = self.client.post(f"/sessions/{mine.pk}/plan/history/{version.pk}/restore")

        self.assertEqual(response.status_code, 404)
        mine.refresh_from_db()
        self.assertEqual(mine.draft_plan, SAMPLE_PLAN[:1])


class DeleteDocumentTests(HistoryTestCase):
    def test_deleting_a_document_in_the_plan_keeps_the_plan_and_says_its_topics_stay(self):
        session = self.make_session(draft_plan=SAMPLE_PLAN)
        first = self.make_document(session, name="week1.md")
        second = self.make_document(session, name="week2.md")
        session.folded_document_ids = [str(first.pk), str(second.pk)]
        session.save()

        response = self.client.post(
            f"/sessions/{session.pk}/documents/{first.pk}/delete", follow=True
        )

        session.refresh_from_db()
        self.assertEqual(session.draft_plan, SAMPLE_PLAN)
        self.assertEqual(session.folded_document_ids, [str(second.pk)])
        self.assertContains(response, "Its topics stay in the plan until you edit them")
        self.assertContains(response, "The document is in the plan")
        self.assertContains(response, "Back to the editor")
        self.assertContains(response, "Rebuild the plan from the remaining documents")

    @override_settings(PLAN_BUILDER="offline")
    def test_back_to_the_editor_calls_no_builder_and_keeps_the_plan(self):
        session = self.make_session(draft_plan=SAMPLE_PLAN)
        kept = self.make_document(session, name="week2.md", text="# Series\n")
        session.folded_document_ids = [str(kept.pk)]
        session.save()

        self.client.post(f"/sessions/{session.pk}/generate-plan")

        session.refresh_from_db()
        self.assertEqual(session.status, StudySession.Status.EDITING_PLAN)
        self.assertEqual(session.draft_plan, SAMPLE_PLAN)


class RebuildTests(HistoryTestCase):
    def test_rebuild_asks_first_and_says_the_current_plan_stays_in_history(self):
        session = self.editing_session()
        self.make_document(session, name="week1.md")

        page = self.client.get(f"/sessions/{session.pk}/plan/rebuild")

        self.assertContains(page, "Your current plan stays in History")
        self.assertContains(page, "week1.md")
        session.refresh_from_db()
        self.assertEqual(session.draft_plan, SAMPLE_PLAN)  # a GET changes nothing

    def test_rebuild_empties_the_plan_and_undo_restores_it_with_its_progress(self):
        session = self.editing_session()
        document = self.make_document(session, name="week1.md")
        session.folded_document_ids = [str(document.pk)]
        session.save()

        self.client.post(f"/sessions/{session.pk}/plan/rebuild")

        session.refresh_from_db()
        self.assertEqual(
            (session.status, session.draft_plan, session.folded_document_ids),
            (StudySession.Status.UPLOADING, [], []),
        )
        page = self.client.get(f"/sessions/{session.pk}/")
        self.assertContains(page, "Undo: keep the previous plan")
        before = session.plan_versions.get(source=PlanVersion.Source.REBUILD)
        self.assertEqual(before.plan, SAMPLE_PLAN)

        self.client.post(f"/sessions/{session.pk}/plan/history/{before.pk}/restore")

        session.refresh_from_db()
        self.assertEqual(session.draft_plan, SAMPLE_PLAN)
        self.assertEqual(session.folded_document_ids, [str(document.pk)])

    def test_rebuild_is_refused_while_generating(self):
        session = self.make_session(status=StudySession.Status.GENERATING_PLAN)
        session.generation_heartbeat_at = session.created_at
        session.save()

        response = self.client.post(f"/sessions/{session.pk}/plan/rebuild", headers=JSON)

        self.assertEqual(response.status_code, 409)

    def test_a_refused_rebuild_keeps_no_version(self):
        session = self.make_session(
            status=StudySession.Status.GENERATING_PLAN, draft_plan=SAMPLE_PLAN
        )
        session.generation_heartbeat_at = session.created_at
        session.save()

        self.client.post(f"/sessions/{session.pk}/plan/rebuild", headers=JSON)

        self.assertFalse(session.plan_versions.exists())

    def test_a_double_submitted_rebuild_leaves_undo_restoring_the_plan_with_topics(self):
        session = self.editing_session()
        self.make_document(session, name="week1.md")
        url = f"/sessions/{session.pk}/plan/rebuild"

        self.client.post(url)
        self.client.post(url)  # the button clicked twice, or Back and submit again

        rebuilds = session.plan_versions.filter(source=PlanVersion.Source.REBUILD)
        self.assertEqual([v.plan for v in rebuilds], [SAMPLE_PLAN])
        page = self.client.get(f"/sessions/{session.pk}/")
        self.assertContains(page, "Your previous plan (2 topics)")


class UndoDeleteTopicTests(HistoryTestCase):
    def test_deleting_a_topic_offers_undo_which_puts_it_back_in_its_place(self):
        session = self.editing_session()
        url = f"/sessions/{session.pk}/plan"

        deleted = self.client.post(url, editor_form(SAMPLE_PLAN, "delete:0"), headers=HTMX)

        self.assertEqual(deleted.status_code, 200)
        html = deleted.content.decode()
        self.assertIn("Deleted “Limits”", html)
        self.assertIn('value="undo-delete"', html)
        session.refresh_from_db()
        self.assertEqual([t["title"] for t in session.draft_plan], ["Derivatives"])

        # What the page posts next: the rendered form, with the Undo button's action.
        data = editor_form(session.plan, "undo-delete")
        data.update(
            {
                "undo-title": "Limits",
                "undo-position": "0",
                "undo-sub": SAMPLE_PLAN[0]["subtopics"],
            }
        )
        undone = self.client.post(url, data, headers=HTMX)

        self.assertEqual(undone.status_code, 200)
        session.refresh_from_db()
        self.assertEqual(session.draft_plan, SAMPLE_PLAN)
        self.assertNotIn('value="undo-delete"', undone.content.decode())


class InvalidHtmxSaveTests(HistoryTestCase):
    def test_an_invalid_htmx_save_is_a_422_fragment_swapped_in_place_with_blank_rows_blank(self):
        session = self.editing_session()
        data = editor_form([SAMPLE_PLAN[0], {**SAMPLE_PLAN[1], "title": "LIMITS"}])

        response = self.client.post(f"/sessions/{session.pk}/plan", data, headers=HTMX)

        # 422, not 400: django-htmx's DEBUG handler replaces the whole page on 400/403/404/500;
        # base.html's htmx responseHandling swaps 422 like a success.
        self.assertEqual(response.status_code, 422)
        self.assertNotIn("HX-Retarget", response.headers)
        self.assertNotIn("HX-Refresh", response.headers)
        html = response.content.decode()
        self.assertTrue(html.lstrip().startswith('<section id="plan-editor"'))
        self.assertIn("topic 1 already has this title", html)
        # Each topic's only blank subtopic field is its "Add a subtopic…" row: no empty
        # subtopic (with a Remove button) was made from the blank row that was posted.
        self.assertEqual(html.count('value="delete-sub:'), 3)
        self.assertEqual(html.count("></textarea>"), 2 + 2)  # 2 add-rows + the new-topic row
        page = self.client.get(f"/sessions/{session.pk}/")
        self.assertIn('"code": "422", "swap": true', page.content.decode())


class DroppedTitlesTests(FakeProviderMixin, HistoryTestCase):
    """A fold over the bounds: the model is asked to merge; what it still leaves over is
    cut, reported in the event and kept with the version, and the page says so."""

    def setUp(self):
        super().setUp()
        self.enterContext(override_settings(PLAN_BUILDER="openrouter", AI_RETRY_MAX_WAIT=0.01))

    async def test_what_the_model_still_puts_over_the_bounds_is_reported_as_dropped(self):
        too_many = [{"title": f"Topic {n}", "subtopics": [f"Idea {n}"]} for n in range(62)]
        self.provider.responder = lambda request: Reply.answer(request, plan_json(too_many))
        session = await StudySession.objects.acreate(owner=self.owner, title="Big")
        await Document.objects.acreate(
            session=session,
            original_name="big.md",
            content_text="# Big\n\nText.",
            status=Document.Status.COMPLETED,
            position=1,
        )
        await self.async_client.aforce_login(self.owner)

        response = await self.async_client.get(
            f"/sessions/{session.pk}/generate-plan", headers={"accept": "text/event-stream"}
        )
        events, _, _ = await read_all(response)

        self.assertEqual(len(self.provider.requests), 2)  # the answer, then the repair
        self.assertIn("Merge related topics", self.provider.requests[1].user_prompt)
        self.assertIn("big.md", document_in(self.provider.requests[0]))
        processed = [e.json for e in events if e.event == "document_processed"]
        self.assertEqual(processed[0]["dropped"], ["Topic 60", "Topic 61"])
        self.assertEqual(len(processed[0]["plan"]), 60)
        version = await session.plan_versions.aget()
        self.assertEqual(version.dropped, ["Topic 60", "Topic 61"])
        page = await self.async_client.get(f"/sessions/{session.pk}/")
        self.assertContains(page, "in plan · 2 left out")
        self.assertNotContains(page, "✓ in plan")

    def test_a_near_full_plan_asks_the_model_to_merge(self):
        plan = [{"order_index": n + 1, "title": f"Topic {n}", "subtopics": []} for n in range(55)]
        self.provider.responder = ScriptedPlans({"more.md": plan})
        session = self.make_session(draft_plan=plan)
        self.make_document(session, name="more.md")

        self.client.post(f"/sessions/{session.pk}/generate-plan", headers=JSON)

        self.assertIn("The plan has 55 topics (limit 60)", self.provider.requests[0].user_prompt)


class LeftOutNoteTests(HistoryTestCase):
    def test_a_later_fold_of_the_document_that_left_nothing_out_clears_the_note(self):
        session = self.editing_session()
        document = self.make_document(session, name="big.md")
        folded = [str(document.pk)]
        StudySession.objects.filter(pk=session.pk).update(folded_document_ids=folded)
        first = record_version(
            session,
            SAMPLE_PLAN,
            "document",
            label="big.md",
            dropped=["Topic 61"],
            document_id=document.pk,
            folded_document_ids=folded,
        )
        PlanVersion.objects.filter(pk=first.pk).update(
            created_at=first.created_at - timedelta(minutes=5)
        )
        # Rebuilt since: the same document folded in again with nothing left out.
        record_version(
            session,
            SAMPLE_PLAN,
            "document",
            label="big.md",
            document_id=document.pk,
            folded_document_ids=folded,
        )

        page = self.client.get(f"/sessions/{session.pk}/")

        self.assertContains(page, "✓ in plan")
        self.assertNotContains(page, "left out")


class ExportTests(HistoryTestCase):
    def test_markdown_export_is_a_download_of_the_plan(self):
        session = self.editing_session(title="Calculus <I>")

        response = self.client.get(f"/sessions/{session.pk}/plan.md")

        self.assertEqual(response["Content-Type"], "text/markdown; charset=utf-8")
        self.assertIn('attachment; filename="calculus-i.md"', response["Content-Disposition"])
        self.assertEqual(
            response.content.decode(),
            "# Calculus \\<I\\>\n\n## 1. Limits\n\n- Epsilon-delta definition\n- One-sided limits\n"
            "\n## 2. Derivatives\n\n- Product rule\n",
        )

    def test_markdown_export_renders_back_to_the_plan_text_in_a_markdown_viewer(self):
        # Unescaped, a viewer swallowed "<stdio.h>", bolded "__init__" and italicised "*args".
        plan = [
            {
                "order_index": 1,
                "title": "Files with <stdio.h>",
                "subtopics": ["fopen() & fclose()"],
            },
            {"order_index": 2, "title": "__init__ and *args", "subtopics": ["[optional] `code`"]},
            {
                "order_index": 3,
                "title": "Back\\slash",
                "subtopics": ["1. Not a list", "# Nor a heading"],
            },
        ]
        session = self.editing_session(plan=plan, title="C <and> Python_3")

        exported = self.client.get(f"/sessions/{session.pk}/plan.md").content.decode()

        tokens = MarkdownIt("commonmark").parse(exported)
        # What a viewer shows as plain text: markup (tags, emphasis, code) is not text.
        rendered = [
            "".join(child.content for child in token.children if child.type == "text")
            for token in tokens
            if token.type == "inline"
        ]
        self.assertEqual(rendered[0], "C <and> Python_3")
        self.assertEqual(
            rendered[1:],
            [text for t in plan for text in [f"{t['order_index']}. {t['title']}", *t["subtopics"]]],
        )
        kinds = [t.type for t in tokens]
        self.assertEqual((kinds.count("heading_open"), kinds.count("list_item_open")), (4, 4))

    def test_the_study_view_is_read_only_and_escapes_plan_text(self):
        plan = [{"order_index": 1, "title": "<script>x</script>", "subtopics": ["a & b"]}]
        session = self.editing_session(plan=plan)

        page = self.client.get(f"/sessions/{session.pk}/plan/study")

        self.assertContains(page, "&lt;script&gt;x&lt;/script&gt;")
        self.assertContains(page, "a &amp; b")
        self.assertNotContains(page, "<textarea")
        self.assertNotContains(page, "<script>x")

    def test_exporting_a_session_without_a_plan_is_a_404_page_or_json(self):
        session = self.make_session()
        url = f"/sessions/{session.pk}/plan.md"

        page = self.client.get(url)
        api = self.client.get(url, headers=JSON)

        self.assertContains(page, "<html", status_code=404)
        self.assertEqual(api.status_code, 404)
        self.assertEqual(api.json()["error"], "This session has no plan yet.")

    def test_another_users_export_is_404(self):
        session = self.editing_session()
        self.client.force_login(self.other)

        self.assertEqual(self.client.get(f"/sessions/{session.pk}/plan.md").status_code, 404)
        self.assertEqual(self.client.get(f"/sessions/{session.pk}/plan/study").status_code, 404)


class SessionSettingsAndDownloadTests(HistoryTestCase):
    def test_the_owner_renames_the_session_and_changes_its_language_on_the_page(self):
        session = self.make_session()

        response = self.client.post(
            f"/sessions/{session.pk}/edit", {"edit-title": " Algebra II ", "edit-language": "de"}
        )

        self.assertRedirects(response, f"/sessions/{session.pk}/", fetch_redirect_response=False)
        session.refresh_from_db()
        self.assertEqual((session.title, session.language), ("Algebra II", "de"))

    def test_an_invalid_language_is_a_400_with_the_reason_and_changes_nothing(self):
        session = self.make_session()

        response = self.client.post(
            f"/sessions/{session.pk}/edit", {"edit-title": "Algebra", "edit-language": "!!"}
        )

        self.assertContains(response, "Use a language code", status_code=400)
        session.refresh_from_db()
        self.assertEqual((session.title, session.language), ("Calculus I", "en"))

    def test_a_json_title_that_is_not_text_is_400_and_changes_nothing(self):
        session = self.make_session()

        response = self.client.post(
            f"/sessions/{session.pk}/edit",
            json.dumps({"title": ["Algebra"], "language": "de"}),
            content_type="application/json",
            headers=JSON,
        )

        self.assertEqual(response.status_code, 400)
        session.refresh_from_db()
        self.assertEqual((session.title, session.language), ("Calculus I", "en"))

    def test_a_rename_only_writes_the_title_and_language_never_an_older_plan(self):
        # The generation saves progress from another request meanwhile: a rename that
        # saved every field of the session it had loaded put the older plan back.
        session = self.make_session(draft_plan=SAMPLE_PLAN[:1])

        def progress_saved_meanwhile(sender, instance, **kwargs):
            StudySession.objects.filter(pk=instance.pk).update(draft_plan=SAMPLE_PLAN)

        pre_save.connect(progress_saved_meanwhile, sender=StudySession)
        self.addCleanup(pre_save.disconnect, progress_saved_meanwhile, sender=StudySession)

        self.client.post(
            f"/sessions/{session.pk}/edit", {"edit-title": "Algebra II", "edit-language": "de"}
        )

        session.refresh_from_db()
        self.assertEqual((session.title, session.draft_plan), ("Algebra II", SAMPLE_PLAN))

    def test_the_owner_downloads_an_uploaded_file_and_others_get_404(self):
        session = self.make_session()
        upload = SimpleUploadedFile("notes.md", b"# Limits\n", content_type="text/markdown")
        self.client.post(f"/sessions/{session.pk}/documents", {"file": upload})
        document = session.documents.get()
        url = f"/sessions/{session.pk}/documents/{document.pk}/file"
        self.addCleanup(document.file.delete, save=False)

        response = self.client.get(url)

        self.assertEqual(b"".join(response.streaming_content), b"# Limits\n")
        self.assertIn('attachment; filename="notes.md"', response["Content-Disposition"])
        self.client.force_login(self.other)
        self.assertEqual(self.client.get(url).status_code, 404)
        # Nor through a session of their own with the owner's document id.
        theirs = self.make_session(owner=self.other)
        response = self.client.get(f"/sessions/{theirs.pk}/documents/{document.pk}/file")
        self.assertEqual(response.status_code, 404)
