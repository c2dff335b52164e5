from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .fake_yunpian import FakeYunpian, fake_yunpian


@pytest.fixture
def yunpian(settings: Any) -> Iterator[FakeYunpian]:
    with fake_yunpian() as fake:
        settings.SMS_API_URL = fake.url
        settings.SMS_API_KEY = "test-api-key"
        settings.SMS_SIGN_NAME = "阿尔法"
        yield fake
