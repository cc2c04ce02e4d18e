from django.contrib.auth import get_user_model

from tests.base import AppTestCase

User = get_user_model()


class SignUpTests(AppTestCase):
    def test_sign_up_creates_the_account_and_logs_in(self):
        response = self.client.post(
            "/accounts/signup/",
            {
                "username": "newlearner",
                "password1": "a-long-unusual-pass-83",
                "password2": "a-long-unusual-pass-83",
            },
        )

        self.assertRedirects(response, "/sessions/")
        self.assertTrue(User.objects.filter(username="newlearner").exists())
        self.assertEqual(self.client.get("/sessions/").status_code, 200)

    def test_sign_up_with_mismatched_passwords_shows_the_error(self):
        response = self.client.post(
            "/accounts/signup/",
            {
                "username": "newlearner",
                "password1": "a-long-unusual-pass-83",
                "password2": "different-pass-83",
            },
        )

        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "password fields", status_code=400)
        self.assertFalse(User.objects.filter(username="newlearner").exists())

    def test_taken_user_name_is_refused_case_insensitively(self):
        response = self.client.post(
            "/accounts/signup/",
            {
                "username": "OWNER",
                "password1": "a-long-unusual-pass-83",
                "password2": "a-long-unusual-pass-83",
            },
        )

        self.assertEqual(response.status_code, 400)
        self.assertEqual(User.objects.filter(username__iexact="owner").count(), 1)


class LoginLogoutTests(AppTestCase):
    def test_log_in_with_the_password_then_log_out(self):
        User.objects.create_user("ada", password="correct-horse-battery-9")

        login = self.client.post(
            "/accounts/login/", {"username": "ada", "password": "correct-horse-battery-9"}
        )
        self.assertRedirects(login, "/sessions/")

        logout = self.client.post("/accounts/logout/")
        self.assertRedirects(logout, "/accounts/login/")
        self.assertEqual(self.client.get("/sessions/").status_code, 302)

    def test_wrong_password_is_refused_with_a_message(self):
        User.objects.create_user("ada", password="correct-horse-battery-9")

        response = self.client.post("/accounts/login/", {"username": "ada", "password": "nope"})

        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Please enter a correct username and password")

    def test_the_login_page_renders(self):
        response = self.client.get("/accounts/login/")

        self.assertContains(response, "Log in")
        self.assertContains(response, 'name="csrfmiddlewaretoken"')
