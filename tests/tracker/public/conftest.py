from __future__ import annotations

import datetime as dt

import pytest
import time_machine

NOW = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)  # 12:00 in Tokyo
EVIDENCE = "https://www.meti.go.jp/english/press/ministerial.html"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
