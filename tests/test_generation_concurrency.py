import asyncio
import json
import unittest

from django.db import connection

from sessions_app.models import StudySession
from tests.plans_scripts import ScriptedPlans
from tests.test_stream_disconnect import AsgiStreamTestCase


@unittest.skipUnless(
    connection.vendor == "postgresql", "needs PostgreSQL (run with DATABASE_URL=postgres://...)"
)
class ConcurrentStartTests(AsgiStreamTestCase):
    """Ten requests at once through the ASGI application: one run, nine 409s. (The database's
    own race between threads is tested on the claim itself: test_claim_concurrency.)"""

    async def test_ten_simultaneous_starts_give_exactly_one_stream_and_nine_409s(self):
        self.provider.responder = ScriptedPlans(latency=5)

        opened = await asyncio.gather(*(self.open() for _ in range(10)))

        statuses = sorted(start["status"] for _, start in opened)
        self.assertEqual(statuses, [200] + [409] * 9)
        refused = []
        for communicator, start in opened:
            if start["status"] == 409:
                body = await communicator.receive_output(timeout=5)
                refused.append(json.loads(body["body"]))
            else:
                headers = dict(start["headers"])
                self.assertTrue(headers[b"Content-Type"].startswith(b"text/event-stream"))
        self.assertTrue(all(body["reason"] == "already_generating" for body in refused))
        session = await self.refreshed()
        self.assertEqual(session.status, StudySession.Status.GENERATING_PLAN)
        for communicator, _ in opened:
            await communicator.send_input({"type": "http.disconnect"})
