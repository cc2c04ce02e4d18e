"""How long the health dashboard (SPEC §17) takes with a big run history. By hand, not in CI:

    .venv/bin/python bench/dashboard.py                      # SQLite, in a temporary file
    .venv/bin/python bench/dashboard.py --database-url postgres://postgres@127.0.0.1:5432/sp_bench

It migrates a fresh database (for PostgreSQL, the named one is dropped and created again),
writes --runs generation runs spread over the last --days days (default 10: most of them in
the 7-day window, the worst case) (outcomes, models, durations,
first events, tokens, costs and a handful of error messages, mixed as in real use), then
renders GET /admin/health/ as staff --repeat times and prints each time and the queries used.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ERRORS = [
    "HTTP 429: rate limited by the provider",
    "The AI provider took too long to answer.",
    "HTTP 502: Bad Gateway",
    "The model's answer could not be turned into a study plan.",
    "The session was reset or taken over by another worker.",
    "HTTP 401: invalid API key",
]


def fresh_database(url: str | None) -> str:
    if url is None:
        return "sqlite:///" + str(Path(tempfile.mkdtemp(prefix="dashboard-bench-")) / "db.sqlite3")
    import psycopg

    name = urlparse(url).path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return url


def fill(runs: int, days: float) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from sessions_app.models import GenerationRun, StudySession

    rng = random.Random(15)
    owner = get_user_model().objects.create_user("bench-owner")
    sessions = StudySession.objects.bulk_create(
        [StudySession(owner=owner, title=f"Course {n}") for n in range(200)]
    )
    now = timezone.now()
    started_at = GenerationRun._meta.get_field("started_at")
    started_at.auto_now_add = False  # the history is back-dated
    batch = []
    for n in range(runs):
        started = now - timedelta(seconds=rng.uniform(0, days * 86400))
        outcome = rng.choices(["succeeded", "failed", "cancelled"], [80, 15, 5])[0]
        seconds = rng.lognormvariate(3.5, 0.6)
        batch.append(
            GenerationRun(
                session=sessions[n % len(sessions)],
                started_at=started,
                finished_at=started + timedelta(seconds=seconds),
                first_event_at=started + timedelta(seconds=rng.lognormvariate(0.5, 0.5)),
                outcome=outcome,
                builder="openrouter",
                model=rng.choice(["openai/gpt-4o-mini", "anthropic/claude-3.5-haiku"]),
                documents_total=3,
                documents_processed=3 if outcome == "succeeded" else rng.randint(0, 2),
                prompt_tokens=rng.randint(2000, 30000),
                completion_tokens=rng.randint(200, 3000),
                cost=Decimal(rng.randint(10, 5000)) / Decimal(1_000_000),
                error=rng.choice(ERRORS) if outcome == "failed" else "",
            )
        )
        if len(batch) == 5000:
            GenerationRun.objects.bulk_create(batch)
            batch = []
    GenerationRun.objects.bulk_create(batch)
    started_at.auto_now_add = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = fresh_database(args.database_url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyplanner.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    began = time.perf_counter()
    fill(args.runs, args.days)
    print(
        f"{connection.vendor}: wrote {args.runs} runs over {args.days:g} days "
        f"in {time.perf_counter() - began:.1f} s"
    )

    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.create_user("bench-staff", is_staff=True))
    times = []
    for _ in range(args.repeat):
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            response = client.get("/admin/health/")
            times.append(time.perf_counter() - began)
        assert response.status_code == 200, response.status_code
    print(
        f"GET /admin/health/: median {statistics.median(times) * 1000:.0f} ms, "
        f"each {', '.join(f'{t * 1000:.0f}' for t in times)} ms, {len(queries)} queries"
    )


if __name__ == "__main__":
    main()
