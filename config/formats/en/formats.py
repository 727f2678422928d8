"""English formats for what Django itself formats (the admin's read-only times, lists
of other apps' records): a time names its zone, the one the page reads in (a
milestone's page: its agreement's), as "2026-12-07 13:33 JST". Django's own "Dec. 7,
2026, 1:33 p.m." named none (FORMAT_MODULE_PATH in config/settings.py)."""

DATETIME_FORMAT = "Y-m-d H:i T"
