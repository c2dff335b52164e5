"""The dummy module's data: one small owned model pointing at a customer (the customer-link test)."""

from django.conf import settings
from django.db import models


class DummyNote(models.Model):
    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.CharField(max_length=200, blank=True)
    done = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.text
