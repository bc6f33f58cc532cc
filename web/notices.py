"""The one-line confirmations a page shows after a change (`?done=<key>` after a redirect):
fixed texts chosen by key, so a link cannot make a page say anything else."""

from __future__ import annotations

NOTICES = {
    "created": "Event created. Add seats or ticket types, then publish it.",
    "saved": "Changes saved.",
    "published": "Event published: it is listed for customers.",
    "cancelled": "Event cancelled: its sale is stopped.",
    "seats": "Seats added.",
    "seat_removed": "Seat removed.",
    "seat_saved": "Seat saved.",
    "type_added": "Ticket type added.",
    "type_saved": "Ticket type saved.",
    "type_removed": "Ticket type removed.",
    "lineup_added": "Added to the lineup.",
    "lineup_removed": "Removed from the lineup.",
    "sale_opened": "On-sale window saved.",
    "paused": "Waiting room paused: nobody new is admitted.",
    "resumed": "Waiting room resumed.",
    "rate": "Admission rate changed.",
    "closed": "Sale closed.",
    "staff_added": "Staff account created.",
    "staff_disabled": "Staff account disabled: its sessions and tokens stop working.",
    "deleted": "Event deleted.",
    "archived": "Event archived: its orders stay readable by their customers.",
}


def notice(key: str | None) -> str | None:
    return NOTICES.get(key or "")
