"""Placeholder: routes are added by the events work in progress."""

from __future__ import annotations

ROUTES: list[object] = []
