import unittest

from django.db import connection
from django.test import Client, override_settings

from quotas.models import Kind, QuotaUsage
from quotas.service import QuotaExceeded, consume
from tests.base import AppTransactionTestCase, run_at_once
from tests.fakes import FakeProviderMixin
from tests.plans_scripts import ScriptedPlans


@unittest.skipUnless(
    connection.vendor == "postgresql", "needs PostgreSQL (run with DATABASE_URL=postgres://...)"
)
class ConcurrentQuotaTests(FakeProviderMixin, AppTransactionTestCase):
    def setUp(self):
        super().setUp()
        self.provider.responder = ScriptedPlans()
        self.enterContext(
            override_settings(PLAN_BUILDER="openrouter", QUOTA_AI_PLAN_RUNS_PER_DAY=3)
        )
        consume(self.owner, Kind.PLAN)
        consume(self.owner, Kind.PLAN)  # one unit left

    def test_with_one_unit_left_ten_simultaneous_starts_give_one_stream_and_nine_429s(self):
        urls, clients = [], []
        for _ in range(10):
            session = self.make_session()
            self.make_document(session, name="week1.md", text="# week1.md\n\nNotes.")
            urls.append(f"/sessions/{session.pk}/generate-plan")
            client = Client()
            client.force_login(self.owner)
            clients.append(client)

        responses = run_at_once(
            [
                lambda c=c, u=u: c.get(u, headers={"accept": "text/event-stream"})
                for c, u in zip(clients, urls, strict=True)
            ]
        )

        statuses = sorted(getattr(r, "status_code", r) for r in responses)
        self.assertEqual(statuses, [200] + [429] * 9, responses)
        refused = [r.json() for r in responses if r.status_code == 429]
        self.assertTrue(all((b["limit"], b["used"]) == (3, 3) for b in refused))
        self.assertEqual(QuotaUsage.objects.get(user=self.owner, kind=Kind.PLAN).used, 3)

    def test_ten_simultaneous_consumes_of_the_last_unit_grant_exactly_one(self):
        results = run_at_once([lambda: consume(self.owner, Kind.PLAN) for _ in range(10)])

        granted = [r for r in results if not isinstance(r, Exception)]
        refused = [r for r in results if isinstance(r, QuotaExceeded)]
        self.assertEqual((len(granted), len(refused)), (1, 9), results)
