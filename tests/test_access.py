"""Ownership and authentication on every session URL (SPEC §6)."""

from django.test import Client
from django.urls import URLPattern, get_resolver, reverse

from plans.models import PlanVersion
from tests.base import AppTestCase


def session_scoped_urls(session, document) -> list[str]:
    """Every URL that names a session, found from the URLconf so new views are covered too."""
    from questions.models import Question

    document.rebuild_passages()
    question = Question.objects.create(session=session, text="Why?", builder="offline")
    version = PlanVersion.objects.create(session=session, source=PlanVersion.Source.EDIT)
    values = {
        "pk": session.pk,
        "document_pk": document.pk,
        "question_pk": question.pk,
        "passage_pk": document.passages.first().pk,
        "version_pk": version.pk,
    }
    urls = []
    for namespace, (_prefix, resolver) in get_resolver().namespace_dict.items():
        if namespace in ("admin", "monitoring"):  # staff pages (test_health_dashboard.py)
            continue
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLPattern) and "pk" in pattern.pattern.converters:
                kwargs = {name: values[name] for name in pattern.pattern.converters}
                urls.append(reverse(f"{namespace}:{pattern.name}", kwargs=kwargs))
    return urls


class OwnershipTests(AppTestCase):
    def setUp(self):
        self.session = self.make_session()
        self.document = self.make_document(self.session)
        self.urls = session_scoped_urls(self.session, self.document)

    def test_the_url_walk_finds_the_session_urls(self):
        self.assertIn(f"/sessions/{self.session.pk}/", self.urls)

    def test_another_learner_gets_404_on_every_session_url(self):
        # The owner probes each URL on a throwaway session to learn which methods it takes
        # (a method a view doesn't take is 405 for everyone, which reveals nothing).
        probe_session = self.make_session()
        probe_urls = session_scoped_urls(probe_session, self.make_document(probe_session))
        checked = 0
        for url, probe_url in zip(self.urls, probe_urls, strict=True):
            for method in ("get", "post"):
                self.client.force_login(self.owner)
                if getattr(self.client, method)(probe_url).status_code == 405:
                    continue
                self.client.force_login(self.other)
                with self.subTest(url=url, method=method):
                    response = getattr(self.client, method)(url)
                    self.assertEqual(response.status_code, 404)
                    checked += 1
        self.assertGreaterEqual(checked, len(self.urls))

    def test_another_learner_gets_404_in_json_too(self):
        self.client.force_login(self.other)
        response = self.client.get(self.urls[0], headers={"accept": "application/json"})

        self.assertEqual(response.status_code, 404)
        self.assertEqual(response.json(), {"error": "Not found."})

    def test_the_owner_is_not_refused(self):
        self.client.force_login(self.owner)
        response = self.client.get(f"/sessions/{self.session.pk}/")

        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Calculus I")

    def test_anonymous_page_requests_redirect_to_login(self):
        for url in [*self.urls, "/sessions/"]:
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 302)
                self.assertTrue(response["Location"].startswith("/accounts/login/?next="))

    def test_anonymous_json_and_event_stream_requests_get_401(self):
        for accept in ("application/json", "text/event-stream"):
            for url in [*self.urls, "/sessions/"]:
                with self.subTest(url=url, accept=accept):
                    response = self.client.get(url, headers={"accept": accept})
                    self.assertEqual(response.status_code, 401)
                    self.assertIn("log in", response.json()["error"])

    def test_unknown_session_is_404(self):
        self.client.force_login(self.owner)
        response = self.client.get("/sessions/00000000-0000-0000-0000-000000000000/")

        self.assertEqual(response.status_code, 404)

    def test_anonymous_htmx_requests_send_the_whole_page_to_login(self):
        response = self.client.get(self.urls[0], headers={"hx-request": "true"})

        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["HX-Redirect"].startswith("/accounts/login/?next="))


class CsrfTests(AppTestCase):
    def test_a_post_without_the_csrf_token_is_refused(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.owner)
        session = self.make_session()

        page = client.post(f"/sessions/{session.pk}/reopen")
        api = client.post("/sessions/", {"title": "x"}, headers={"accept": "application/json"})

        self.assertEqual(page.status_code, 403)
        self.assertContains(page, "Please try again", status_code=403)
        self.assertEqual(api.status_code, 403)
        self.assertIn("X-CSRFToken", api.json()["error"])


class AdminAccessTests(AppTestCase):
    def test_learners_cannot_open_the_admin(self):
        self.client.force_login(self.owner)
        response = self.client.get("/admin/sessions_app/studysession/")

        self.assertEqual(response.status_code, 302)
        self.assertIn("/admin/login/", response["Location"])

    def test_staff_can_open_the_admin(self):
        self.client.force_login(self.staff)
        response = self.client.get("/admin/sessions_app/studysession/")

        self.assertEqual(response.status_code, 200)
