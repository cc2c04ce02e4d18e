import threading
import unittest

from django.db import connection, connections
from django.test import Client

from sessions_app.models import StudySession
from tests.base import AppTransactionTestCase


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
        barrier = threading.Barrier(len(clients), timeout=30)
        results: list = []
        lock = threading.Lock()

        def start(client: Client):
            try:
                connection.ensure_connection()
                barrier.wait()
                response = client.get(url, headers={"accept": "text/event-stream"})
                result = (response.status_code, response.get("Content-Type", ""), response)
            except Exception as error:
                result = (None, repr(error), None)
            finally:
                connections.close_all()
            with lock:
                results.append(result)

        threads = [threading.Thread(target=start, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        statuses = sorted(status for status, _, _ in results)
        self.assertEqual(statuses, [200] + [409] * 9, results)
        [stream] = [r for r in results if r[0] == 200]
        self.assertTrue(stream[1].startswith("text/event-stream"))
        refused = [r[2].json() for r in results if r[0] == 409]
        self.assertTrue(all(body["reason"] == "already_generating" for body in refused))
        session.refresh_from_db()
        self.assertEqual(session.status, StudySession.Status.GENERATING_PLAN)
