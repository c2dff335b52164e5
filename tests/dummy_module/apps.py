from django.apps import AppConfig


class DummyConfig(AppConfig):
    name = "tests.dummy_module"
    label = "dummy"
    verbose_name = "Dummy module (contract test)"
