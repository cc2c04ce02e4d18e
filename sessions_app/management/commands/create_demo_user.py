import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create (or reset) the local demo learner account and print its login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", help="default: a new random password each time")
        parser.add_argument(
            "--site", default="http://127.0.0.1:8000", help="where the app is served"
        )

    def handle(self, *args, username, password, site, **options):
        password = password or secrets.token_urlsafe(9)
        user, created = get_user_model().objects.get_or_create(username=username)
        user.set_password(password)
        user.is_active = True
        user.save()
        verb = "Created" if created else "Reset"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} the demo learner account.\n"
                f"    user name: {username}\n"
                f"    password:  {password}\n"
                f"    log in at  {site.rstrip('/')}/accounts/login/"
            )
        )
