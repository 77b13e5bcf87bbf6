"""Every area on a day with no rows at all: no findings, no crash (an absent file means "no rows")."""

from __future__ import annotations

import datetime as dt

import pytest

from hypercare.areas import AREAS
from hypercare.ruleset import load_ruleset
from hypercare.snapshot import Snapshot

RULES = load_ruleset()
DAY = dt.date(2026, 11, 4)


@pytest.mark.parametrize("area", list(AREAS))
def test_an_area_on_an_empty_snapshot_finds_nothing(area):
    result = AREAS[area](Snapshot.from_frames(DAY, {}), DAY, RULES)
    assert result.findings.is_empty()
