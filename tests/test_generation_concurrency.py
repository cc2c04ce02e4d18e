import unittest

from django.db import connection
from django.test import Client

from sessions_app.models import StudySession
from tests.base import AppTransactionTestCase, run_at_once


@unittest.skipUnless(
    connection.vendor == "postgresql", "needs PostgreSQL (run with DATABASE_URL=postgres://...)"
)
class ConcurrentStartTests(AppTransactionTestCase):
    def test_ten_simultaneous_starts_give_exactly_one_stream_and_nine_409s(self):
        session = self.make_session()
        self.make_document(session)
        url = f"/sessions/{session.pk}/generate-plan"
        clients = []
        for _ in range(10):
            client = Client()
            client.force_login(self.owner)
            clients.append(client)

        responses = run_at_once(
            [lambda c=c: c.get(url, headers={"accept": "text/event-stream"}) for c in clients]
        )

        statuses = sorted(getattr(r, "status_code", r) for r in responses)
        self.assertEqual(statuses, [200] + [409] * 9, responses)
        [stream] = [r for r in responses if r.status_code == 200]
        self.assertTrue(stream["Content-Type"].startswith("text/event-stream"))
        refused = [r.json() for r in responses if r.status_code == 409]
        self.assertTrue(all(body["reason"] == "already_generating" for body in refused))
        session.refresh_from_db()
        self.assertEqual(session.status, StudySession.Status.GENERATING_PLAN)
