"""Placeholder: routes are added by the lineup work in progress."""

from __future__ import annotations

ROUTES: list[object] = []
