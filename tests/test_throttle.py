"""Abuse limits on accounts (issue 12): failed log-ins lock out an IP address or an account
(django-axes, counted in the database); sign-up attempts are limited per IP address."""

from django.contrib.auth import get_user_model
from django.test import override_settings

from tests.base import AppTestCase

User = get_user_model()
PASSWORD = "correct-horse-battery-9"


@override_settings(AXES_FAILURE_LIMIT=3)
class LoginThrottleTests(AppTestCase):
    def setUp(self):
        User.objects.create_user("ada", password=PASSWORD)

    def log_in(self, username="ada", password=PASSWORD, ip="10.0.0.1"):
        return self.client.post(
            "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
        )

    def test_after_too_many_wrong_passwords_even_the_right_one_is_refused(self):
        for _ in range(3):
            self.log_in(password="wrong")

        response = self.log_in()

        self.assertEqual(response.status_code, 429)
        self.assertContains(response, "logging in is paused for 15 minutes", status_code=429)
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_the_account_is_locked_whatever_the_address(self):
        for n in range(3):
            self.log_in(password="wrong", ip=f"10.0.1.{n}")

        self.assertEqual(self.log_in(ip="10.0.2.9").status_code, 429)

    def test_the_address_is_locked_whatever_the_account(self):
        for n in range(3):
            self.log_in(username=f"guess{n}", password="wrong", ip="10.0.3.3")

        self.assertEqual(self.log_in(ip="10.0.3.3").status_code, 429)
        self.assertEqual(self.log_in(ip="10.0.3.4").status_code, 302)  # elsewhere: fine

    def test_fewer_failures_than_the_limit_do_not_lock_and_a_success_resets_them(self):
        self.log_in(password="wrong")
        self.log_in(password="wrong")
        self.assertEqual(self.log_in().status_code, 302)
        self.client.post("/accounts/logout/")

        self.log_in(password="wrong")
        self.log_in(password="wrong")

        self.assertEqual(self.log_in().status_code, 302)

    def test_api_clients_get_json(self):
        for _ in range(3):
            self.log_in(password="wrong")

        response = self.client.post(
            "/accounts/login/",
            {"username": "ada", "password": PASSWORD},
            headers={"accept": "application/json"},
            REMOTE_ADDR="10.0.0.1",
        )

        self.assertEqual(response.status_code, 429)
        self.assertIn("Too many failed log-ins", response.json()["error"])


@override_settings(SIGNUP_MAX_PER_IP=3)
class SignUpThrottleTests(AppTestCase):
    def sign_up(self, username, ip="10.1.0.1"):
        password = "a-long-unusual-pass-83"
        return self.client.post(
            "/accounts/signup/",
            {"username": username, "password1": password, "password2": password},
            REMOTE_ADDR=ip,
        )

    def test_sign_up_attempts_past_the_limit_are_refused_with_a_clear_message(self):
        for name in ("owner", "other", "staff"):  # probing existing names costs attempts
            self.assertEqual(self.sign_up(name).status_code, 400)

        response = self.sign_up("newlearner")

        self.assertContains(
            response, "Too many sign-up attempts from your network", status_code=429
        )
        self.assertFalse(User.objects.filter(username="newlearner").exists())

    def test_another_address_can_still_sign_up(self):
        for name in ("owner", "other", "staff"):
            self.sign_up(name)

        response = self.sign_up("newlearner", ip="10.1.0.2")

        self.assertEqual(response.status_code, 302)
        self.assertTrue(User.objects.filter(username="newlearner").exists())
