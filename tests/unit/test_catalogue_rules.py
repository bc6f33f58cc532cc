"""Catalogue and lineup rules, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from engine.catalogue import (
    Event,
    EventChanges,
    EventQuery,
    LineupEntry,
    NewEvent,
    SaleChanges,
    SaleWindow,
    WaitingRoom,
    WaitingRoomChanges,
    after_start,
    can_see,
    check_moment,
    check_sale_window,
    checked_event_changes,
    checked_new_event,
    checked_query,
    merged_sale,
    partner_scope,
    start_key,
)
from engine.errors import InvalidInput, PermissionDenied
from engine.inventory import EventAccess
from engine.lineup import (
    Attraction,
    AttractionChanges,
    LineupKey,
    NewAttraction,
    after_lineup_key,
    checked_attraction_changes,
    checked_new_attraction,
    lineup_key,
    may_edit,
)
from engine.pagination import encode_cursor
from engine.principal import Principal
from engine.store.pg_catalogue import like_pattern

START = datetime(2031, 5, 1, 20, 0, tzinfo=UTC)
OWNER = Principal(user_id=7, role="partner", partner_id=7)
OTHER_PARTNER = Principal(user_id=8, role="partner", partner_id=8)
OWNERS_STAFF = Principal(user_id=9, role="staff", partner_id=7)
CUSTOMER = Principal(user_id=10, role="customer")


def event(**fields: object) -> Event:
    base: dict[str, object] = {
        "id": 1,
        "partner_id": 7,
        "name": "Show",
        "description": "",
        "venue": "Hall",
        "starts_at": START,
        "ends_at": START + timedelta(hours=3),
        "cover_image_url": None,
        "status": "draft",
        "sale": None,
    }
    return Event(**{**base, **fields})  # type: ignore[arg-type]


def field_of(error: pytest.ExceptionInfo[InvalidInput]) -> object:
    return error.value.extra["field"]


# --- moments ---


def test_moments_need_an_offset_and_a_sane_year() -> None:
    check_moment("starts_at", START)
    check_moment("starts_at", datetime(2031, 5, 1, 17, tzinfo=timezone(timedelta(hours=-3))))
    for bad in (
        datetime(2031, 5, 1, 20, 0),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
        datetime(1899, 12, 31, tzinfo=UTC),
        datetime(9999, 12, 31, tzinfo=timezone(timedelta(hours=-5))),
    ):
        with pytest.raises(InvalidInput) as error:
            check_moment("starts_at", bad)
        assert field_of(error) == "starts_at"


# --- events ---


def test_new_event_is_trimmed_and_may_end_when_it_starts() -> None:
    new = checked_new_event(NewEvent(name="  Show ", venue=" Hall", starts_at=START, ends_at=START))
    assert (new.name, new.venue) == ("Show", "Hall")


@pytest.mark.parametrize(
    ("new", "field"),
    [
        (NewEvent(name=" ", venue="Hall", starts_at=START), "name"),
        (NewEvent(name="Show", venue="\t", starts_at=START), "venue"),
        (NewEvent("Show", "Hall", START, ends_at=START - timedelta(seconds=1)), "ends_at"),
        (NewEvent("Show", "Hall", START.replace(tzinfo=None)), "starts_at"),
        (NewEvent("Show", "Hall", START, ends_at=START.replace(tzinfo=None)), "ends_at"),
    ],
)
def test_new_event_refusals_name_the_field(new: NewEvent, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        checked_new_event(new)
    assert field_of(error) == field


def test_event_changes_are_checked_against_the_current_event() -> None:
    current = event()
    # moving the start past the current end is refused, moving both together is fine
    with pytest.raises(InvalidInput) as error:
        checked_event_changes(current, EventChanges(starts_at=START + timedelta(hours=4)))
    assert field_of(error) == "ends_at"
    moved = EventChanges(starts_at=START + timedelta(days=1), ends_at=START + timedelta(days=2))
    assert checked_event_changes(current, moved) == moved
    assert checked_event_changes(current, EventChanges(ends_at=None)) == EventChanges(ends_at=None)
    trimmed = checked_event_changes(current, EventChanges(name=" New "))
    assert trimmed == EventChanges(name="New")
    assert trimmed.venue is msgspec.UNSET
    with pytest.raises(InvalidInput):
        checked_event_changes(current, EventChanges(venue=""))


def test_drafts_are_seen_by_their_owner_only_cancelled_by_everyone() -> None:
    draft = EventAccess(1, 7, "draft")
    assert can_see(draft, OWNER)
    for viewer in (None, OTHER_PARTNER, OWNERS_STAFF, CUSTOMER):
        assert not can_see(draft, viewer)
    for status in ("published", "cancelled"):
        assert can_see(EventAccess(1, 7, status), None)


# --- sale windows ---


def window(**fields: object) -> SaleWindow:
    return SaleWindow(**{"starts_at": START, "ends_at": START + timedelta(days=1), **fields})  # type: ignore[arg-type]


def test_sale_window_must_end_after_it_starts() -> None:
    check_sale_window(window())
    for ends in (START, START - timedelta(seconds=1)):
        with pytest.raises(InvalidInput) as error:
            check_sale_window(window(ends_at=ends))
        assert field_of(error) == "ends_at"


def test_enabled_waiting_room_needs_a_rate_and_a_cap() -> None:
    check_sale_window(window(waiting_room=WaitingRoom(enabled=False)))
    check_sale_window(window(waiting_room=WaitingRoom(True, admit_per_minute=5, max_active=9)))
    for room, field in (
        (WaitingRoom(enabled=True), "waiting_room.admit_per_minute"),
        (WaitingRoom(enabled=True, admit_per_minute=5), "waiting_room.max_active"),
        (WaitingRoom(enabled=True, max_active=5), "waiting_room.admit_per_minute"),
    ):
        with pytest.raises(InvalidInput) as error:
            check_sale_window(window(waiting_room=room))
        assert field_of(error) == field


def test_merged_sale_changes_only_what_is_set() -> None:
    room = WaitingRoom(enabled=True, admit_per_minute=5, max_active=9)
    current = window(hold_seconds=60, waiting_room=room)
    assert merged_sale(current, SaleChanges()) == current
    paused = merged_sale(current, SaleChanges(waiting_room=WaitingRoomChanges(paused=True)))
    assert paused == window(hold_seconds=60, waiting_room=WaitingRoom(True, 5, 9, paused=True))
    closed = merged_sale(current, SaleChanges(ends_at=START + timedelta(hours=1)))
    assert closed.ends_at == START + timedelta(hours=1)
    assert closed.waiting_room == room
    cleared = merged_sale(current, SaleChanges(waiting_room=WaitingRoomChanges(max_active=None)))
    with pytest.raises(InvalidInput):
        check_sale_window(cleared)
    assert current.waiting_room == room  # the current window is left as it was


# --- lists ---


def test_start_cursor_round_trips() -> None:
    first = event(id=42, starts_at=datetime(2031, 5, 1, 17, tzinfo=timezone(timedelta(hours=-3))))
    assert after_start(None) is None
    assert after_start(encode_cursor(*start_key(first))) == (first.starts_at, 42)


@pytest.mark.parametrize(
    "key",
    [
        ("not a date", 1),
        ("2031-05-01T20:00:00", 1),  # no offset
        ("2031-05-01T20:00:00+00:00", "1"),
        ("2031-05-01T20:00:00+00:00", 2**63),
        ("2031-05-01T20:00:00+00:00", -1),
        ("2031-05-01T20:00:00+00:00", True),
        (None, 1),
        (5, 1),
    ],
)
def test_tampered_start_cursors_are_refused(key: tuple[object, object]) -> None:
    with pytest.raises(InvalidInput) as error:
        after_start(encode_cursor(*key))
    assert field_of(error) == "cursor"


def test_query_text_is_trimmed_and_dates_ordered() -> None:
    assert checked_query(EventQuery(text="  ")).text is None
    assert checked_query(EventQuery(text=" rock ")).text == "rock"
    with pytest.raises(InvalidInput) as error:
        checked_query(EventQuery(starts_from=START, starts_to=START - timedelta(seconds=1)))
    assert field_of(error) == "from"
    with pytest.raises(InvalidInput) as error:
        checked_query(EventQuery(starts_to=START.replace(tzinfo=None)))
    assert field_of(error) == "to"


def test_like_pattern_matches_wildcards_literally() -> None:
    assert like_pattern("rock") == "%rock%"
    assert like_pattern("100%_\\") == "%100\\%\\_\\\\%"


# --- lineup ---


def test_attraction_names_are_trimmed_and_blank_genres_dropped() -> None:
    assert checked_new_attraction(NewAttraction(" Band ", " ")) == NewAttraction("Band", None)
    assert checked_attraction_changes(AttractionChanges(genre=" jazz")) == AttractionChanges(
        genre="jazz"
    )
    assert checked_attraction_changes(AttractionChanges()) == AttractionChanges()
    with pytest.raises(InvalidInput):
        checked_attraction_changes(AttractionChanges(name="  "))


def test_only_the_creating_partner_may_edit_an_attraction() -> None:
    attraction = Attraction(id=1, partner_id=7, name="Band", genre=None, created_at=START)
    assert may_edit(attraction, OWNER)
    assert not may_edit(attraction, OTHER_PARTNER)
    assert not may_edit(attraction, OWNERS_STAFF)


def test_lineup_cursor_round_trips_with_and_without_a_time() -> None:
    timed = LineupEntry(attraction_id=3, name="A", genre=None, performs_at=START)
    untimed = LineupEntry(attraction_id=4, name="B", genre=None, performs_at=None)
    assert after_lineup_key(encode_cursor(*lineup_key(timed))) == LineupKey(START, 3)
    assert after_lineup_key(encode_cursor(*lineup_key(untimed))) == LineupKey(None, 4)
    for key in (("2031-05-01T20:00:00", 1), (None, "4"), ("x", 1), (None, -1)):
        with pytest.raises(InvalidInput):
            after_lineup_key(encode_cursor(*key))


def test_new_events_and_attractions_belong_to_the_partner_creating_them() -> None:
    assert partner_scope(OWNER) == 7
    for principal in (OWNERS_STAFF, CUSTOMER):
        with pytest.raises(PermissionDenied):
            partner_scope(principal)
