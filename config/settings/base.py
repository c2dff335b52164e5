"""Settings shared by every environment. All environment reading happens here, once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-insecure-key-change-me-0123456789abcdefghijklmnopqrstuv")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Tenants live at <slug>.<BASE_DOMAIN>; the public site and operator console at BASE_DOMAIN itself.
BASE_DOMAIN = env("CRM_BASE_DOMAIN", default="localhost")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}", "127.0.0.1"])
SITE_SCHEME = env("CRM_SITE_SCHEME", default="http")
SITE_PORT = env("CRM_SITE_PORT", default="8000")

SHARED_APPS = [
    "django_tenants",
    "crm.tenants",
    "crm.platform",
    "crm.billing",
    "crm.tenants.accounts",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "axes",
    "crm.tenants.accounts",
    "crm.kernel",
    "crm.modules.core",
    "crm.modules.webhooks",
    "crm.modules.sales",
    "crm.modules.inventory",
    "crm.modules.purchasing",
    "crm.modules.messaging",
    "crm.modules.project",
    "crm.modules.service",
    "crm.modules.trade",
    "crm.modules.production",
    "crm.modules.retail",
    "crm.modules.volume",
    "crm.modules.distribution",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]
# Extra apps (the contract test's dummy module) are appended by test settings.

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
# Schema that new tenants are cloned from (kept migrated by migrate_schemas like any tenant).
CRM_TEMPLATE_SCHEMA = "tpl_template"
CRM_POOL_SIZE = env.int("CRM_POOL_SIZE", default=3)
CRM_POOL_LOW_WATER = env.int("CRM_POOL_LOW_WATER", default=2)
# Signup attempts per client address per hour (public signup form; stops scripted abuse).
CRM_SIGNUP_LIMIT_PER_HOUR = env.int("CRM_SIGNUP_LIMIT_PER_HOUR", default=10)
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False

MIDDLEWARE = [
    "django_tenants.middleware.main.TenantMainMiddleware",
    "crm.kernel.tenant_time.TenantTimeZoneMiddleware",  # the workspace's time zone for the whole request
    "crm.platform.middleware.RequestLogContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "crm.platform.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "crm.platform.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "crm.platform.middleware.TenantStatusMiddleware",
    "crm.platform.middleware.ModuleGateMiddleware",
    "axes.middleware.AxesMiddleware",
    # After the gates: a refused request (suspended, module off) is never remembered as an answer.
    "crm.api.idempotency.IdempotencyMiddleware",
    "crm.api.throttling.RateLimitHeadersMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.platform.context_processors.workspace",
                "crm.billing.context_processors.billing_banner",
                "crm.kernel.context_processors.notices",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:54329/crm")}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
# Persistent connections are checked before a request reuses them: after a database restart or failover the
# first request reconnects instead of failing on a dead connection (deploy/docs/runbook.md, "Database").
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=True)
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:63799/0")
CACHES = {
    "default": {
        # Short timeouts, errors as misses, a breaker (crm/platform/cache.py): Redis down never fails a page.
        "BACKEND": "crm.platform.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        # Every cache key carries the schema name (django-tenants' key function): no cross-tenant hits.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="crm"),
        "OPTIONS": {
            "socket_connect_timeout": env.float("CACHE_SOCKET_TIMEOUT", default=0.25),
            "socket_timeout": env.float("CACHE_SOCKET_TIMEOUT", default=0.25),
        },
    }
}
# Sessions in the database (Django's default, stated here on purpose): a Redis outage logs nobody out.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Login lockout counters in the database too (axes' default handler): lockout holds while Redis is away.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "crm.tenants.accounts.backends.EmailBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "core:home"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 2
SESSION_COOKIE_AGE = 60 * 60 * 24 * 14

# Lockout after repeated failures (django-axes). Its tables live in every schema, so counts are per tenant.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "crm.tenants.accounts.backends.axes_username"
AXES_LOCKOUT_CALLABLE = "crm.tenants.accounts.views.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Lockout is per account on purpose (an attacker rotating addresses still locks the account).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
# Operators must set up a TOTP second factor before using the console (prod.py forces it on).
OPERATOR_2FA_REQUIRED = env.bool("OPERATOR_2FA_REQUIRED", default=False)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
DEFAULT_CURRENCY = "CNY"

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("CRM_MEDIA_ROOT", default=str(BASE_DIR / ".data" / "media")))
MEDIA_URL = "/media/"

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="CRM <noreply@crm.localhost>")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "crm.api.pagination.Pagination",
    # Every list: ?updated_since= / ?created_since= (ISO 8601) and ?ordering= (crm/api/filters.py).
    "DEFAULT_FILTER_BACKENDS": ["crm.api.filters.ChangedSinceFilter", "crm.api.filters.SafeOrderingFilter"],
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["crm.api.throttling.TenantRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"tenant": env("API_TENANT_RATE", default="6000/hour")},
    "EXCEPTION_HANDLER": "crm.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CRM API",
    "DESCRIPTION": "Tenant API. Authenticate with a session or an API key: `Authorization: Api-Key <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI assets are served by the app itself (no CDN at run time).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two choice sets share the field name "role": every role (users) and the roles one may grant.
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "crm.platform.permissions.role_choices",
        "GrantableRoleEnum": "crm.platform.permissions.tenant_role_choices",
        # Import job status appears in two components (job and upload preview): name it explicitly.
        "ImportJobStatusEnum": "crm.modules.core.models.ImportJob.Status",
        # service module: agreements and service orders both have a status.
        "ServiceAgreementStatusEnum": "crm.modules.service.models.Agreement.Status",
        "ServiceOrderStatusEnum": "crm.modules.service.models.ServiceOrder.Status",
        # sales receivables: a receipt is posted or reversed.
        "ReceiptStateEnum": "crm.modules.sales.models.Receipt.State",
        "QuoteStateEnum": "crm.modules.sales.models.Quote.State",
        "ContractStateEnum": "crm.modules.sales.models.Contract.State",
        # a customer's receipt and a payment to a supplier both have a method.
        "ReceiptMethodEnum": "crm.modules.sales.models.Receipt.Method",
        "SupplierPaymentMethodEnum": "crm.modules.purchasing.models.SupplierPayment.Method",
    },
    # Every operation documents the one error shape (crm/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm.api.schema.add_error_responses",
        "crm.api.idempotency.document_header",
    ],
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
# A worker killed mid-task (OOM, SIGKILL, node lost): the message goes back to the queue instead of being
# acknowledged and lost. Tasks are idempotent, so a second delivery is safe.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per pool process: a long import does not hold other messages hostage.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis redelivers an unacknowledged message after this long; longer than the longest job (a 100k-row
# import takes about a minute) so a running job is not handed to a second worker.
# Socket timeouts: a hung broker (not just a dead one) fails a dispatch after seconds, not never.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    # A publish with the broker away: one quick retry, not kombu's 2 s back-off (the request waits for it).
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
}
# Broker down: a dispatch fails fast and stays in platform_pendingdispatch for the sweeper to resend.
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
CELERY_TASK_PUBLISH_RETRY = False
# Seconds without a heartbeat after which a running job counts as interrupted, and how often it is requeued.
CRM_JOB_STALE_SECONDS = env.int("CRM_JOB_STALE_SECONDS", default=120)
CRM_JOB_MAX_ATTEMPTS = 3
# Long jobs with heartbeat fields (crm.platform.jobs) and the task that runs each.
CRM_HEARTBEAT_JOBS = {
    "core.ImportJob": "crm.modules.core.tasks.import_run",
    "retail.CareRun": "crm.modules.retail.tasks.care_resume",
}
# Jobs whose rows live in the public schema (swept there once, not per tenant).
CRM_PUBLIC_HEARTBEAT_JOBS = {
    "tenants.RestoreJob": "crm.tenants.tasks.workspace_restore",
    "tenants.ExportJob": "crm.billing.tasks.workspace_export",
    "billing.InvoiceRun": "crm.billing.tasks.invoice_run",
    "tenants.MigrationRun": "crm.tenants.tasks.migration_run",
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = TIME_ZONE
# Keep our LOGGING (tenant on every line) in the worker instead of Celery's own root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "refill-schema-pool": {"task": "crm.tenants.tasks.refill_pool", "schedule": 120.0},
    # Billing: each task is idempotent, so running more often than needed is harmless.
    "billing-monthly-invoices": {"task": "crm.billing.tasks.generate_monthly_invoices", "schedule": 3600.0},
    "billing-dunning": {"task": "crm.billing.tasks.run_dunning", "schedule": 3600.0},
    "billing-retry-webhooks": {"task": "crm.billing.tasks.retry_webhooks", "schedule": 300.0},
    "api-idempotency-purge": {"task": "crm.platform.tasks.idempotency_purge", "schedule": 3600.0},
    # Faults: resend dispatches the broker refused; requeue or fail long jobs whose heartbeat stopped.
    "platform-dispatch-sweep": {"task": "crm.platform.tasks.dispatch_sweep", "schedule": 30.0},
    "platform-jobs-sweep": {"task": "crm.platform.tasks.jobs_sweep", "schedule": 60.0},
}

# Billing. No STRIPE_SECRET_KEY: offline mode (ledger invoices marked manual, paid by operators).
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")

CSP_REPORT_ONLY = env.bool("CSP_REPORT_ONLY", default=False)

# Outbound webhooks (crm/modules/webhooks). In production endpoints must be https:// public addresses;
# development and tests allow http:// and loopback receivers.
WEBHOOKS_ALLOW_HTTP = env.bool("WEBHOOKS_ALLOW_HTTP", default=False)
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", default=False)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_DISABLE_AFTER = env.int("WEBHOOK_DISABLE_AFTER", default=15)
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")  # empty: Stripe's own; tests point it at a fake
BILLING_DUE_DAYS = env.int("BILLING_DUE_DAYS", default=7)  # manual invoices: days after the period end
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=7)  # past_due -> read-only after this
# A cancelled or suspended workspace keeps its data this long before an operator may close it (with export).
BILLING_RETENTION_DAYS = env.int("BILLING_RETENTION_DAYS", default=90)

SENTRY_DSN = env("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT", default="development")
SENTRY_RELEASE = env("SENTRY_RELEASE", default=None)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"tenant": {"()": "crm.platform.logging.TenantLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [tenant=%(tenant)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["tenant"], "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
X_FRAME_OPTIONS = "DENY"

# Member care SMS (Yunpian API v2 wire format, crm/modules/messaging/providers.py). Empty URL: SMS messages
# are recorded as failed with the reason, never silently dropped.
SMS_API_URL = env("SMS_API_URL", default="")
SMS_API_KEY = env("SMS_API_KEY", default="")
SMS_SIGN_NAME = env("SMS_SIGN_NAME", default="")
