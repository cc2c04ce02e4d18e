import unittest

from django.db import connection

from sessions_app.models import GenerationRefused, StudySession
from tests.base import AppTransactionTestCase, run_at_once


@unittest.skipUnless(
    connection.vendor == "postgresql", "needs PostgreSQL (run with DATABASE_URL=postgres://...)"
)
class ConcurrentClaimTests(AppTransactionTestCase):
    def test_exactly_one_of_ten_simultaneous_claims_wins(self):
        session = self.make_session()
        self.make_document(session)
        contenders = [StudySession.objects.get(pk=session.pk) for _ in range(10)]

        def claim(mine: StudySession):
            try:
                mine.claim_for_generation()
            except GenerationRefused as refused:
                return refused.reason
            return f"won:{mine.generation_token}"

        outcomes = run_at_once([lambda mine=mine: claim(mine) for mine in contenders])

        winners = [o for o in outcomes if str(o).startswith("won:")]
        self.assertEqual(len(winners), 1, outcomes)
        self.assertEqual(outcomes.count("already_generating"), 9, outcomes)
        session.refresh_from_db()
        self.assertEqual(f"won:{session.generation_token}", winners[0])
