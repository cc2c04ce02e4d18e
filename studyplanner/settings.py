"""Settings, read from the environment (or an optional `.env` file beside manage.py).

Every setting has a safe local default so `make run` works on a fresh machine; with
DEBUG=False the app refuses to start until SECRET_KEY and ALLOWED_HOSTS are set.
The README lists every setting with its default.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

_DEV_SECRET_KEY = "django-insecure-local-development-only-do-not-deploy"
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not DEBUG:
    missing = [
        name
        for name, value in [("SECRET_KEY", SECRET_KEY), ("ALLOWED_HOSTS", ALLOWED_HOSTS)]
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(
            f"DEBUG=False needs {' and '.join(missing)} set in the environment "
            "(for example SECRET_KEY=$(python -c "
            "'import secrets; print(secrets.token_urlsafe(50))') "
            "ALLOWED_HOSTS=plans.example.org). Refusing to start."
        )
else:
    SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["localhost", "127.0.0.1", "[::1]"]

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "csp",
    "sessions_app",
    "plans",
    "questions",
    "quotas",
    "monitoring",
]

# Django's (and django-csp's) middleware, its hooks called on the event loop for async
# requests (no thread hop each; issue 16): studyplanner/middleware.py. django-htmx's and
# django-axes' are async already.
MIDDLEWARE = [
    "studyplanner.middleware.SecurityMiddleware",
    # Issue 12: Content-Security-Policy (with a per-response nonce) and, for every answer,
    # Vary: Accept plus Cache-Control: private, no-store for personal pages and JSON.
    "studyplanner.middleware.CSPMiddleware",
    "studyplanner.middleware.PrivateNegotiatedResponses",
    "studyplanner.middleware.SessionMiddleware",
    "studyplanner.middleware.CommonMiddleware",
    "studyplanner.middleware.CsrfViewMiddleware",
    "studyplanner.middleware.AuthenticationMiddleware",
    "studyplanner.middleware.MessageMiddleware",
    "studyplanner.middleware.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Issue 12: turns a locked-out login into the "try again later" page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "studyplanner.urls"
ASGI_APPLICATION = "studyplanner.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "builtins": [
                "django_htmx.templatetags.django_htmx",
                "template_partials.templatetags.partials",
            ],
        },
    },
]


def _database(url: str) -> dict:
    config = env.db_url_config(url)
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        name = config.get("NAME") or "db.sqlite3"
        if name != ":memory:" and not Path(name).is_absolute():
            config["NAME"] = str(BASE_DIR / name)
        # Streams write progress while pages read: WAL lets readers and the writer overlap,
        # IMMEDIATE takes the write lock up front instead of failing mid-transaction.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            **config.get("OPTIONS", {}),
        }
    elif engine in ("django.db.backends.postgresql", "django.db.backends.postgis"):
        # Django's native psycopg 3 pool: N open streams must not need N connections.
        # The pool requires persistent connections to be off.
        config["CONN_MAX_AGE"] = 0
        # Issue 12: Django gives the pool psycopg's `check=ConnectionPool.check_connection`
        # when health checks are on: each connection is tested (one round trip) as it is
        # handed out, so after a PostgreSQL restart a dead one is replaced instead of
        # failing a request with a 500.
        config["CONN_HEALTH_CHECKS"] = env.bool("DB_HEALTH_CHECKS", default=True)
        # DB_POOL_MAX_SIZE is every connection a worker opens (SPEC §13: "at most the pool's
        # size"): one of them is plans.relay's LISTEN connection, the pool has the rest.
        max_size = max(1, env.int("DB_POOL_MAX_SIZE", default=10) - 1)
        config["OPTIONS"] = {
            "pool": {
                "min_size": min(max_size, env.int("DB_POOL_MIN_SIZE", default=2)),
                "max_size": max_size,
                "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
            },
            **config.get("OPTIONS", {}),
        }
    return config


DATABASE_URL = env.str("DATABASE_URL", default="sqlite:///db.sqlite3")
DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Issue 12 (abuse limits): django-axes counts failed log-ins in the database (shared by every
# worker and machine, no cache server) and locks out an IP address or an account after
# LOGIN_FAILURE_LIMIT failures for LOGIN_COOLOFF_MINUTES; a success resets the count.
# Behind a proxy, run uvicorn with --proxy-headers so REMOTE_ADDR is the client's address.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # either one locks
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "sessions_app.views.locked_out"
AXES_VERBOSE = False
# Sign-ups (any POST, accepted or not) per IP address within the window: account creation
# and user-name probing both cost an attempt.
SIGNUP_MAX_PER_IP = env.int("SIGNUP_MAX_PER_IP", default=10)
SIGNUP_WINDOW_MINUTES = env.float("SIGNUP_WINDOW_MINUTES", default=60)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "sessions:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# The ASGI app serves /static/ itself unless a proxy in front does it (see README).
SERVE_STATIC = env.bool("SERVE_STATIC", default=True)

MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = "media/"

# --- Security (production: DEBUG=False) -----------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "studyplanner.errors.csrf_failure"
# Issue 12: what pages may load. Scripts only from our own static files (htmx and its SSE
# extension come from django-htmx's); no inline script, handler or eval; inline styles
# only with the response's nonce (the standalone 500 page).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    # Issue 12: only when every subdomain serves HTTPS (the browser enforces it on all).
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
    if env.bool("BEHIND_TLS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Study Planner -----------------------------------------------------------------------
OPENROUTER_API_KEY = env.str("OPENROUTER_API_KEY", default="")
OPENROUTER_BASE_URL = env.str("OPENROUTER_BASE_URL", default="https://openrouter.ai/api/v1")
MODEL_PLAN = env.str("MODEL_PLAN", default="openai/gpt-4o-mini")
MODEL_CHUNKING = env.str("MODEL_CHUNKING", default="openai/gpt-4o-mini")
MODEL_CHAT = env.str("MODEL_CHAT", default="openai/gpt-4o-mini")
MODEL_SUMMARY = env.str("MODEL_SUMMARY", default="openai/gpt-4o-mini")
# Sent to OpenRouter as HTTP-Referer and X-OpenRouter-Title (app attribution).
AI_APP_URL = env.str("AI_APP_URL", default="http://localhost:8000")
AI_APP_TITLE = env.str("AI_APP_TITLE", default="Study Planner")
AI_CONNECT_TIMEOUT = env.float("AI_CONNECT_TIMEOUT", default=10.0)
# The longest silence allowed between two upstream chunks; a stream that keeps producing
# has no total time limit.
AI_READ_TIMEOUT = env.float("AI_READ_TIMEOUT", default=60.0)
AI_MAX_RETRIES = env.int("AI_MAX_RETRIES", default=3)
AI_RETRY_MAX_WAIT = env.float("AI_RETRY_MAX_WAIT", default=30.0)
# aiohttp's connection pool costs a fraction of httpx's at hundreds of streams (bench/).
AI_HTTP_TRANSPORT = env.str("AI_HTTP_TRANSPORT", default="aiohttp")
if AI_HTTP_TRANSPORT not in ("httpx", "aiohttp"):
    raise ImproperlyConfigured(
        f"AI_HTTP_TRANSPORT must be httpx or aiohttp, not {AI_HTTP_TRANSPORT!r}."
    )
AI_MAX_CONNECTIONS = env.int("AI_MAX_CONNECTIONS", default=500)

PLAN_BUILDER = env.str("PLAN_BUILDER", default="auto")
if PLAN_BUILDER not in ("auto", "openrouter", "offline"):
    raise ImproperlyConfigured(
        f"PLAN_BUILDER must be auto, openrouter or offline, not {PLAN_BUILDER!r}."
    )
PLAN_MAX_INPUT_TOKENS = env.int("PLAN_MAX_INPUT_TOKENS", default=16000)
PLAN_STALE_AFTER = env.int("PLAN_STALE_AFTER", default=120)
PLAN_HEARTBEAT_INTERVAL = env.float("PLAN_HEARTBEAT_INTERVAL", default=5.0)
SSE_PING_INTERVAL = env.float("SSE_PING_INTERVAL", default=15.0)
if not 0 < PLAN_HEARTBEAT_INTERVAL * 3 <= PLAN_STALE_AFTER:
    raise ImproperlyConfigured(
        f"PLAN_HEARTBEAT_INTERVAL ({PLAN_HEARTBEAT_INTERVAL} s) must be positive and at most a "
        f"third of PLAN_STALE_AFTER ({PLAN_STALE_AFTER} s), or live generations would look "
        "abandoned and be taken over."
    )

# Issue 10, resumable generation (SPEC §7): a run with nobody watching goes on this long
# (0: it stops as soon as the last watcher leaves); a watcher whose sends stay blocked this
# long (a client that stopped reading) is detached.
PLAN_DETACHED_GRACE = env.float("PLAN_DETACHED_GRACE", default=30.0)
SSE_SEND_TIMEOUT = env.float("SSE_SEND_TIMEOUT", default=30.0)

MAX_UPLOAD_MB = env.int("MAX_UPLOAD_MB", default=20)
MAX_FILES_PER_SESSION = env.int("MAX_FILES_PER_SESSION", default=50)
MAX_PDF_PAGES = env.int("MAX_PDF_PAGES", default=1000)
MAX_DOCUMENT_CHARS = env.int("MAX_DOCUMENT_CHARS", default=2_000_000)
DOCX_MAX_UNCOMPRESSED_MB = env.int("DOCX_MAX_UNCOMPRESSED_MB", default=200)
DOCX_MAX_COMPRESSION_RATIO = env.int("DOCX_MAX_COMPRESSION_RATIO", default=100)
# Issue 12 (limits that hold under concurrency): failed files a session keeps before it
# refuses more uploads (their stored files are removed), and sessions per account.
MAX_FAILED_FILES_PER_SESSION = env.int("MAX_FAILED_FILES_PER_SESSION", default=50)
MAX_SESSIONS_PER_USER = env.int("MAX_SESSIONS_PER_USER", default=200)
# Issue 12 (extraction as bounded background work): each document is read by a task on the
# queue (django-tasks, database backend: no server of its own), in a child process killed
# past EXTRACTION_TIMEOUT seconds of wall-clock time or EXTRACTION_MAX_MEMORY_MB of address
# space. EXTRACTION_WORKER_IN_PROCESS runs one queue worker inside each web process (so
# `make run` is one command); production turns it off and runs `manage.py extraction_worker`
# processes (README "Security"). A document whose worker died is queued again after
# EXTRACTION_TIMEOUT + EXTRACTION_STALE_GRACE seconds, at most EXTRACTION_MAX_ATTEMPTS times.
EXTRACTION_TIMEOUT = env.float("EXTRACTION_TIMEOUT", default=60.0)
EXTRACTION_MAX_MEMORY_MB = env.int("EXTRACTION_MAX_MEMORY_MB", default=512)
EXTRACTION_WORKER_IN_PROCESS = env.bool("EXTRACTION_WORKER_IN_PROCESS", default=True)
EXTRACTION_STALE_GRACE = env.float("EXTRACTION_STALE_GRACE", default=30.0)
EXTRACTION_MAX_ATTEMPTS = env.int("EXTRACTION_MAX_ATTEMPTS", default=3)
# Caps on the work itself, whatever the text it yields: paragraphs and tables in a DOCX,
# decompressed content-stream bytes per PDF page and for the whole PDF.
DOCX_MAX_PARAGRAPHS = env.int("DOCX_MAX_PARAGRAPHS", default=200_000)
PDF_MAX_PAGE_CONTENT_KB = env.int("PDF_MAX_PAGE_CONTENT_KB", default=1024)
PDF_MAX_CONTENT_MB = env.int("PDF_MAX_CONTENT_MB", default=32)
TASKS = {
    "default": {
        "BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
    }
}

# --- Ask your documents (issue 14, SPEC §15) ---------------------------------------------
# auto: the model (MODEL_CHAT) when OPENROUTER_API_KEY is set, else the offline extractive
# answer; openrouter or offline force one.
QUESTION_BUILDER = env.str("QUESTION_BUILDER", default="auto")
if QUESTION_BUILDER not in ("auto", "openrouter", "offline"):
    raise ImproperlyConfigured(
        f"QUESTION_BUILDER must be auto, openrouter or offline, not {QUESTION_BUILDER!r}."
    )
QUESTION_SOURCES = env.int("QUESTION_SOURCES", default=5)  # passages sent as `sources`
QUESTION_MAX_CHARS = 1000  # longer questions get 400 (SPEC §15)

FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Django's own cap on files in one request (a 400); the per-session limit is checked per file.
DATA_UPLOAD_MAX_NUMBER_FILES = max(100, MAX_FILES_PER_SESSION)
# The plan editor posts a field per topic and subtopic: a full plan (60 × 30) must fit.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2500

# --- Quotas and monitoring (issue 15, SPEC §16, §17) ----------------------------------------
# AI work each user may start per UTC day; 0 = unlimited. Staff set a user's own in the admin.
QUOTA_AI_PLAN_RUNS_PER_DAY = env.int("QUOTA_AI_PLAN_RUNS_PER_DAY", default=0)
QUOTA_AI_QUESTIONS_PER_DAY = env.int("QUOTA_AI_QUESTIONS_PER_DAY", default=0)
# GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset: 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Several workers: the same empty directory for all, set in the environment before start
# (prometheus-client reads the variable itself); /metrics adds up every worker's files.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per AI request at INFO is noise; failures are logged by the AI client.
        "httpx": {"level": "WARNING"},
        # pypdf logs every oddity of a broken file; the outcome is recorded on the document.
        "pypdf": {"level": "CRITICAL"},
        # Issue 12: a line per task state at INFO is noise; failures are logged.
        "django_tasks": {"level": "WARNING"},
        # django-axes logs every log-in at INFO; lockouts come at WARNING.
        "axes": {"level": "WARNING"},
    },
}

# Issue 16: the worker's garbage collector. GC_FREEZE moves everything alive after start-up
# (Django, the URL conf, templates' code) out of the collector's sight, so full collections
# don't walk it again; GC_GEN0_THRESHOLD (0: Python's default, 700) sets how many new
# objects trigger a young collection. On by default: better p95/lone and CPU in 6 of 7
# paired benchmark rounds (README "Performance (issue 16)").
GC_FREEZE = env.bool("GC_FREEZE", default=True)
GC_GEN0_THRESHOLD = env.int("GC_GEN0_THRESHOLD", default=5000)

# `python manage.py test` applies the same test-wide settings as pytest (tests/conftest.py).
TEST_RUNNER = "tests.runner.TestRunner"
