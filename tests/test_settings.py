"""Settings are read at import time, so each case runs in a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parent.parent

PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
    "ENGINE": db["ENGINE"], "NAME": db["NAME"], "CONN_MAX_AGE": db["CONN_MAX_AGE"],
    "OPTIONS": db.get("OPTIONS", {}),
    "PLAN_STALE_AFTER": settings.PLAN_STALE_AFTER, "MAX_UPLOAD_MB": settings.MAX_UPLOAD_MB,
    "OPENROUTER_BASE_URL": settings.OPENROUTER_BASE_URL, "PLAN_BUILDER": settings.PLAN_BUILDER,
}))
"""


def run_settings(**env_vars):
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DEBUG",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "PLAN_BUILDER",
            "PLAN_HEARTBEAT_INTERVAL",
            "PLAN_STALE_AFTER",
        }
    }
    env.update(ENV_FILE=os.devnull, DJANGO_SETTINGS_MODULE="studyplanner.settings", **env_vars)
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=env, capture_output=True, text=True
    )


class ProductionSettingsTests(SimpleTestCase):
    def test_debug_false_without_secret_key_refuses_to_start(self):
        result = run_settings(DEBUG="False", ALLOWED_HOSTS="plans.example.org")

        self.assertNotEqual(result.returncode, 0)
        self.assertIn("ImproperlyConfigured", result.stderr)
        self.assertIn("DEBUG=False needs SECRET_KEY set", result.stderr)

    def test_debug_false_without_allowed_hosts_refuses_to_start(self):
        result = run_settings(DEBUG="False", SECRET_KEY="s" * 50)

        self.assertNotEqual(result.returncode, 0)
        self.assertIn("needs ALLOWED_HOSTS set", result.stderr)

    def test_production_turns_on_secure_cookies_and_hsts(self):
        result = run_settings(DEBUG="False", SECRET_KEY="s" * 50, ALLOWED_HOSTS="plans.example.org")

        self.assertEqual(result.returncode, 0, result.stderr)
        values = json.loads(result.stdout)
        self.assertFalse(values["DEBUG"])
        self.assertTrue(values["SESSION_COOKIE_SECURE"])
        self.assertTrue(values["CSRF_COOKIE_SECURE"])
        self.assertGreater(values["SECURE_HSTS_SECONDS"], 0)


class LocalDefaultsTests(SimpleTestCase):
    def test_defaults_give_a_working_local_setup_on_sqlite(self):
        result = run_settings()

        self.assertEqual(result.returncode, 0, result.stderr)
        values = json.loads(result.stdout)
        self.assertTrue(values["DEBUG"])
        self.assertEqual(values["ENGINE"], "django.db.backends.sqlite3")
        self.assertEqual(values["NAME"], str(ROOT / "db.sqlite3"))
        self.assertEqual(values["PLAN_STALE_AFTER"], 120)
        self.assertEqual(values["MAX_UPLOAD_MB"], 20)
        self.assertEqual(values["OPENROUTER_BASE_URL"], "https://openrouter.ai/api/v1")
        self.assertEqual(values["PLAN_BUILDER"], "auto")

    def test_postgres_url_uses_the_native_pool_without_persistent_connections(self):
        result = run_settings(DATABASE_URL="postgres://user@db.example.org:5432/plans")

        self.assertEqual(result.returncode, 0, result.stderr)
        values = json.loads(result.stdout)
        self.assertEqual(values["ENGINE"], "django.db.backends.postgresql")
        self.assertEqual(values["CONN_MAX_AGE"], 0)
        self.assertIn("pool", values["OPTIONS"])
        self.assertGreaterEqual(values["OPTIONS"]["pool"]["max_size"], 1)

    def test_the_pool_leaves_one_of_db_pool_max_size_to_the_notify_listener(self):
        for given, pool in (("8", 7), ("2", 1), ("1", 1)):
            with self.subTest(DB_POOL_MAX_SIZE=given):
                result = run_settings(
                    DATABASE_URL="postgres://user@db.example.org:5432/plans",
                    DB_POOL_MAX_SIZE=given,
                    DB_POOL_MIN_SIZE="4",
                )

                self.assertEqual(result.returncode, 0, result.stderr)
                options = json.loads(result.stdout)["OPTIONS"]["pool"]
                self.assertEqual(options["max_size"], pool)
                self.assertLessEqual(options["min_size"], pool)

    def test_a_heartbeat_too_slow_for_the_stale_limit_is_refused(self):
        result = run_settings(PLAN_HEARTBEAT_INTERVAL="60", PLAN_STALE_AFTER="120")

        self.assertNotEqual(result.returncode, 0)
        self.assertIn("at most a third of PLAN_STALE_AFTER", result.stderr)

    def test_an_unknown_plan_builder_is_refused(self):
        result = run_settings(PLAN_BUILDER="magic")

        self.assertNotEqual(result.returncode, 0)
        self.assertIn("PLAN_BUILDER must be auto, openrouter or offline", result.stderr)


GC_AFTER_STARTUP = """
import asyncio, gc, json
from studyplanner.asgi import application

async def startup():
    sent, messages = [], [{"type": "lifespan.startup"}]
    async def receive():
        return messages.pop(0) if messages else await asyncio.Event().wait()
    async def send(message):
        sent.append(message["type"])
        raise SystemExit  # startup is complete: stop the lifespan loop here
    try:
        await application({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    except SystemExit:
        pass
    return sent

sent = asyncio.run(startup())
print(json.dumps({"sent": sent, "gen0": gc.get_threshold()[0], "frozen": gc.get_freeze_count()}))
"""


class GarbageCollectorTests(SimpleTestCase):
    def gc_after_startup(self, **env_vars) -> dict:
        env = {**os.environ, "ENV_FILE": os.devnull, **env_vars}
        env["DJANGO_SETTINGS_MODULE"] = "studyplanner.settings"
        result = subprocess.run(
            [sys.executable, "-c", GC_AFTER_STARTUP],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout.strip().splitlines()[-1])

    def test_by_default_a_worker_freezes_its_start_up_and_spaces_young_collections(self):
        tuned = self.gc_after_startup()

        self.assertEqual(tuned["sent"], ["lifespan.startup.complete"])
        self.assertEqual(tuned["gen0"], 5000)
        self.assertGreater(tuned["frozen"], 10_000)  # Django, the URL conf, the apps

    def test_both_can_be_switched_off(self):
        untouched = self.gc_after_startup(GC_FREEZE="false", GC_GEN0_THRESHOLD="0")

        self.assertEqual(untouched["gen0"], 700)
        self.assertEqual(untouched["frozen"], 0)
