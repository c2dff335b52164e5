from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


class PlatformConfig(AppConfig):
    name = "crm.platform"
    label = "platform"
    verbose_name = _("Platform")

    def ready(self) -> None:
        from crm.platform import checks, registry  # noqa: F401  (registers the system check)

        if not registry.registry.closed:
            registry.discover(app.name for app in apps.get_app_configs())

        # Error reporting for every process that loads Django (web, Celery worker/beat, commands).
        from django.conf import settings

        from crm.platform.logging import sentry_init

        sentry_init(settings.SENTRY_DSN, settings.SENTRY_ENVIRONMENT, settings.SENTRY_RELEASE)
