"""Placeholder: routes are added by the inventory work in progress."""

from __future__ import annotations

ROUTES: list[object] = []
