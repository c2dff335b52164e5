"""Django messages its bundled zh_Hans catalogue does not translate (Django 5.2), so that `make messages`
extracts them into our catalogue, where the zh-Hans translation lives (LOCALE_PATHS wins over Django's own).

Django 5.2 changed MinimumLengthValidator's error to a new message ("%d" instead of "%(min_length)d"); the
Chinese signup showed it in English.
"""

from __future__ import annotations

from django.utils.translation import ngettext


def untranslated_in_django(n: int = 1) -> list[str]:
    return [
        ngettext(
            "This password is too short. It must contain at least %d character.",
            "This password is too short. It must contain at least %d characters.",
            n,
        )
        % n,
    ]
