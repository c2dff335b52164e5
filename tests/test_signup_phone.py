"""Signup's phone rule: a +86 number must be a real mainland mobile or landline (issue 13, section 3)."""

from __future__ import annotations

import pytest

from crm.tenants.services import PHONE_RE, normalise_phone


@pytest.mark.parametrize(
    "phone",
    [
        "13800138000",
        "+8613800138000",
        "+86 138 0013 8000",
        "8613800138000",
        "+86 10 6552 9988",  # Beijing landline
        "+86 21 5888 1234",  # Shanghai landline
        "+86 755 8888 9999",  # Shenzhen landline
        "+86-571-8765432",  # a 7-digit local number
        "+1 415 555 0100",
        "+44 20 7946 0958",
    ],
)
def test_valid_numbers_pass(phone: str) -> None:
    assert PHONE_RE.match(normalise_phone(phone))


@pytest.mark.parametrize(
    "phone",
    [
        "+86 138-0000-000",  # a mobile one digit short: accepted as "international" before
        "+86 138 0000 00000",  # one digit too many
        "+86 12 3456 7890",  # 12 is no mobile prefix and no area code
        "+86 0755 8888 9999",  # landline with its trunk 0 after +86
        "1380013800",
        "23800138000",
        "+0 123 4567",
        "abc",
    ],
)
def test_invalid_numbers_are_refused(phone: str) -> None:
    assert not PHONE_RE.match(normalise_phone(phone))
