from .base import *  # noqa: F403
from .base import env

# `make run` shows the app's own error pages (403/404/500 in the shell, translated) like production does;
# a developer who wants Django's debug pages sets DJANGO_DEBUG=1.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Without DEBUG, runserver serves no static files: whitenoise serves them from the source folders instead
# (no collectstatic in development), re-reading them when they change.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Webhook receivers on this machine (local tools, the tests' receiver).
WEBHOOKS_ALLOW_HTTP = True
WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
