"""The shipped catalogues: zh-Hans translates every message, and the compiled .mo files in the repository are
the ones their .po files make (a forgotten `make messages` / compile shows up here, not in front of users)."""

from __future__ import annotations

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parent.parent / "locale"
CATALOGUES = sorted(LOCALE.glob("*/LC_MESSAGES/django.po"))


def _msgfmt() -> str:
    path = shutil.which("msgfmt")
    if path is None:
        pytest.fail("msgfmt (Debian package gettext) is missing: `make test` installs it")
    return path


def test_both_languages_are_shipped() -> None:
    assert {po.parent.parent.name for po in CATALOGUES} >= {"zh_Hans", "en"}


def test_chinese_catalogue_is_complete() -> None:
    # Given the zh-Hans catalogue, when msgfmt counts it, then nothing is untranslated or fuzzy
    po = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        [_msgfmt(), "--check", "--statistics", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    stats = result.stderr.strip().splitlines()[-1]
    assert "translated" in stats
    assert "untranslated" not in stats and "fuzzy" not in stats, stats


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parent.parent.name)
def test_compiled_catalogue_is_up_to_date(po: Path, tmp_path: Path) -> None:
    # Given the .po, when it is compiled afresh, then the committed .mo holds the same messages
    fresh = tmp_path / "django.mo"
    subprocess.run([_msgfmt(), "-o", str(fresh), str(po)], check=True, capture_output=True)
    with fresh.open("rb") as a, po.with_suffix(".mo").open("rb") as b:
        expected, shipped = gettext.GNUTranslations(a), gettext.GNUTranslations(b)
    assert shipped._catalog == expected._catalog  # type: ignore[attr-defined]
