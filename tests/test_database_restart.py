"""A PostgreSQL restart costs no request a 500 (SPEC §12): the pool checks each connection
when it hands it out (CONN_HEALTH_CHECKS, which Django 5.2 turns into psycopg_pool's
`check=ConnectionPool.check_connection`). Runs in the PostgreSQL pass against a private
cluster that the test restarts (never the shared server)."""

import unittest

from django.conf import settings
from django.db import OperationalError, connection
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import TransactionTestCase

from studyplanner.settings import _database
from tests import pg_cluster

ON_POSTGRESQL = connection.vendor == "postgresql"


@unittest.skipUnless(ON_POSTGRESQL, "restarting a database needs the PostgreSQL pass")
class DatabaseRestartTests(TransactionTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        pg_cluster.require()
        cls.cluster = pg_cluster.PrivateCluster()
        cls.cluster.start()
        cls.cluster.create_database("restart_test")

    @classmethod
    def tearDownClass(cls):
        cls.cluster.destroy()
        super().tearDownClass()

    def wrapper(self, alias: str, settings_dict: dict) -> DatabaseWrapper:
        settings_dict = {**settings.DATABASES["default"], **settings_dict}
        for key, value in {"TIME_ZONE": None, "AUTOCOMMIT": True, "ATOMIC_REQUESTS": False}.items():
            settings_dict.setdefault(key, value)
        wrapper = DatabaseWrapper(settings_dict, alias=alias)
        self.addCleanup(wrapper.close_pool)
        return wrapper

    def requests_after_a_restart(self, wrapper: DatabaseWrapper, count: int) -> list:
        """Warm the pool, restart PostgreSQL, then `count` request-like checkouts: each
        connects, queries and hands its connection back. Returns the errors."""
        for _ in range(3):
            wrapper.ensure_connection()
            with wrapper.cursor() as cursor:
                cursor.execute("SELECT 1")
            wrapper.close()
        self.cluster.restart()
        errors = []
        for _ in range(count):
            try:
                wrapper.ensure_connection()
                with wrapper.cursor() as cursor:
                    cursor.execute("SELECT 1")
            except OperationalError as error:
                errors.append(error)
            finally:
                wrapper.close()
        return errors

    def test_no_request_fails_after_postgresql_restarts(self):
        config = _database(self.cluster.url("restart_test"))
        config["OPTIONS"]["pool"].update(min_size=4, max_size=4)

        errors = self.requests_after_a_restart(self.wrapper("restart_checked", config), 15)

        self.assertEqual(errors, [])

    def test_without_the_checkout_check_the_dead_connections_fail(self):
        # The control: the same pool without the check hands out the dead connections.
        config = _database(self.cluster.url("restart_test"))
        config["OPTIONS"]["pool"].update(min_size=4, max_size=4)
        config["CONN_HEALTH_CHECKS"] = False

        errors = self.requests_after_a_restart(self.wrapper("restart_unchecked", config), 15)

        self.assertGreater(len(errors), 0)
