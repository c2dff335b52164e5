from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VolumeConfig(AppConfig):
    name = "crm.modules.volume"
    label = "volume"
    verbose_name = _("Volume sales")
