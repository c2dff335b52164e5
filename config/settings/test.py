import os

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, INSTALLED_APPS, TENANT_APPS, env

# A test run is a slot (CRM_TEST_SLOT, for runs side by side) and, under pytest-xdist, a worker of that run
# (gw0, gw1...). Each slot and worker has its own test database (pytest-django adds the _gwN suffix to the
# name below), its own Redis database and its own media folder: schema names (alpha, beta) repeat across them.
TEST_SLOT = env.int("CRM_TEST_SLOT", default=0)
TEST_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)

# The module contract test registers a dummy module next to the real ones.
TENANT_APPS = [*TENANT_APPS, "tests.dummy_module"]
INSTALLED_APPS = [*INSTALLED_APPS, "tests.dummy_module"]
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)  # a fault test's worker: off
CELERY_TASK_EAGER_PROPAGATES = True
CRM_POOL_SIZE = 1
CACHES = {
    "default": {
        "BACKEND": "crm.platform.cache.ResilientRedisCache",
        # Separate Redis database (and test DB name below) per parallel test run: CRM_TEST_SLOT.
        "LOCATION": env("REDIS_URL", default="redis://127.0.0.1:63799/0").rsplit("/", 1)[0]
        + f"/{1 + TEST_SLOT + 8 * TEST_WORKER}",
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": "crmtest",
    }
}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATABASES["default"]["TEST"] = {"NAME": f"test_crm{TEST_SLOT or ''}"}
MEDIA_ROOT = BASE_DIR / ".data" / f"test-media-{TEST_SLOT}-{TEST_WORKER}"

# Webhook receivers on this machine (local tools, the tests' receiver).
WEBHOOKS_ALLOW_HTTP = True
WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
