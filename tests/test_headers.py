"""Production headers (issue 12): a Content-Security-Policy without inline script, Vary:
Accept on URLs that answer pages and JSON, Cache-Control: private, no-store on personal
pages and JSON, HSTS includeSubDomains behind a setting. (The browser suite checks that the
pages raise no CSP violation in Chromium.)"""

import json
import os
import subprocess
import sys
from pathlib import Path

from csp.middleware import CSPMiddleware
from django.test import RequestFactory, SimpleTestCase

from studyplanner.errors import server_error
from tests.base import AppTestCase

ROOT = Path(__file__).resolve().parent.parent

JSON = {"accept": "application/json"}


class ContentSecurityPolicyTests(AppTestCase):
    def test_pages_get_a_policy_that_allows_only_our_own_scripts(self):
        response = self.client.get("/accounts/login/")

        policy = dict(
            part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
        )
        self.assertEqual(policy["script-src"], "'self'")
        self.assertEqual(policy["default-src"], "'self'")
        self.assertEqual(policy["object-src"], "'none'")
        self.assertEqual(policy["frame-ancestors"], "'none'")
        self.assertNotIn("unsafe-inline", response["Content-Security-Policy"])
        self.assertNotIn("unsafe-eval", response["Content-Security-Policy"])

    def test_no_page_carries_an_inline_script(self):
        self.client.force_login(self.owner)
        session = self.make_session()
        self.make_document(session)
        for url in ("/accounts/login/", "/sessions/", f"/sessions/{session.pk}/"):
            with self.subTest(url=url):
                html = self.client.get(url).content.decode()
                scripts = html.count("<script")
                self.assertEqual(scripts, html.count("<script src="), url)

    def test_the_500_page_s_inline_style_carries_the_response_nonce(self):
        request = RequestFactory().get("/")
        middleware = CSPMiddleware(lambda request: server_error(request))
        response = middleware(request)

        nonce = request._csp_nonce
        self.assertIn(f'<style nonce="{nonce}">', response.content.decode())
        self.assertIn(f"'nonce-{nonce}'", response["Content-Security-Policy"])


class CachingHeaderTests(AppTestCase):
    def test_negotiated_urls_vary_on_accept(self):
        self.client.force_login(self.owner)
        session = self.make_session()
        for url in ("/sessions/", f"/sessions/{session.pk}/", "/accounts/login/"):
            with self.subTest(url=url):
                vary = self.client.get(url)["Vary"]
                self.assertIn("Accept", [v.strip() for v in vary.split(",")])

    def test_authenticated_pages_and_json_are_private_and_not_stored(self):
        self.client.force_login(self.owner)
        for headers in ({}, JSON):
            with self.subTest(headers=headers):
                cache_control = self.client.get("/sessions/", headers=headers)["Cache-Control"]
                self.assertEqual(
                    sorted(v.strip() for v in cache_control.split(",")), ["no-store", "private"]
                )

    def test_anonymous_json_errors_are_private_too(self):
        response = self.client.get("/sessions/", headers=JSON)

        self.assertEqual(response.status_code, 401)
        self.assertIn("no-store", response["Cache-Control"])


class HstsSettingTests(SimpleTestCase):
    """Settings are read at import: each case runs in a fresh interpreter."""

    def hsts(self, **env) -> list:
        script = (
            "import json, django; from django.conf import settings; django.setup(); "
            "print(json.dumps([settings.SECURE_HSTS_SECONDS, "
            "settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, settings.SECURE_HSTS_PRELOAD]))"
        )
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"}
        }
        environment.update(
            ENV_FILE=os.devnull,
            DJANGO_SETTINGS_MODULE="studyplanner.settings",
            DEBUG="False",
            SECRET_KEY="x" * 50,
            ALLOWED_HOSTS="plans.example.org",
            **env,
        )
        output = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
        )
        self.assertEqual(output.returncode, 0, output.stderr)
        return json.loads(output.stdout)

    def test_include_subdomains_is_off_unless_asked_for(self):
        self.assertEqual(self.hsts(), [31536000, False, False])

    def test_include_subdomains_and_preload_follow_their_settings(self):
        self.assertEqual(
            self.hsts(SECURE_HSTS_INCLUDE_SUBDOMAINS="True", SECURE_HSTS_PRELOAD="True"),
            [31536000, True, True],
        )
