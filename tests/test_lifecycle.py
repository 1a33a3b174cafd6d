"""devdb.lifecycle: clone names, identifier rules, allowed state moves and the state-since format."""

from datetime import date, datetime, timedelta, timezone

import pytest

from devdb import lifecycle
from devdb.lifecycle import ABORTED, CONNECTED, CREATED, READY, STATES

# --- names ---------------------------------------------------------------------------------------


def test_clone_name_is_prefix_dash_utc_date():
    assert lifecycle.clone_name("dev", date(2026, 11, 22)) == "dev-20261122"


def test_clone_name_zero_pads_month_and_day():
    assert lifecycle.clone_name("qa-eu", date(2027, 1, 5)) == "qa-eu-20270105"


def test_instance_name_is_cluster_dash_one():
    assert lifecycle.instance_name("dev-20261122") == "dev-20261122-1"


def test_utc_day_uses_utc_not_local_date():
    late_evening_in_new_york = datetime(2026, 11, 22, 22, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert lifecycle.utc_day(late_evening_in_new_york) == date(2026, 11, 23)


def test_clone_day_reads_the_date_back_from_the_name():
    assert lifecycle.clone_day("dev-20261122", "dev") == date(2026, 11, 22)


def test_clone_day_works_for_prefixes_with_hyphens():
    assert lifecycle.clone_day("qa-eu-west-20270105", "qa-eu-west") == date(2027, 1, 5)


@pytest.mark.parametrize("cluster_id", [
    "prod-aurora",          # not a clone name at all
    "qa-20261122",          # another prefix
    "devx-20261122",        # a prefix that merely starts the same
    "dev-2026112",          # seven digits
    "dev-202611221",        # nine digits
    "dev-20261322",         # month 13
    "dev-20260230",         # 30 February
    "dev-20261122-1",       # the instance, not the cluster
    "dev20261122",          # no hyphen
])
def test_clone_day_is_none_for_names_that_are_not_prefix_dash_date(cluster_id):
    assert lifecycle.clone_day(cluster_id, "dev") is None


def test_clone_name_and_clone_day_round_trip():
    day = date(2028, 2, 29)
    assert lifecycle.clone_day(lifecycle.clone_name("dev", day), "dev") == day


# --- identifiers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "a",
    "dev",
    "prod-aurora",
    "Dev2-Aurora-3",
    "a" * 63,
    "a1-b2-c3",
])
def test_valid_identifiers_have_no_problem(value):
    assert lifecycle.identifier_problem(value) is None


@pytest.mark.parametrize("value", ["", None, 42, ["dev"]])
def test_identifier_must_be_a_non_empty_string(value):
    assert lifecycle.identifier_problem(value) == "must be a non-empty string"


def test_identifier_of_64_characters_is_refused():
    assert "at most 63" in lifecycle.identifier_problem("a" * 64)


def test_identifier_max_length_can_be_lowered_for_prefixes():
    assert lifecycle.identifier_problem("a" * 54, 54) is None
    assert "at most 54" in lifecycle.identifier_problem("a" * 55, 54)


@pytest.mark.parametrize("value", ["1dev", "-dev", "_dev"])
def test_identifier_must_start_with_a_letter(value):
    assert "start with a letter" in lifecycle.identifier_problem(value)


@pytest.mark.parametrize("value", ["dev_db", "dev.db", "dev db", "dév", "dev/1", "dev:1"])
def test_identifier_holds_only_letters_digits_and_hyphens(value):
    assert "only letters, digits and hyphens" in lifecycle.identifier_problem(value)


@pytest.mark.parametrize("value", ["dev--db", "a--", "dev---x"])
def test_identifier_with_two_consecutive_hyphens_is_refused(value):
    assert lifecycle.identifier_problem(value) == "must not contain two consecutive hyphens"


@pytest.mark.parametrize("value", ["dev-", "a-b-"])
def test_identifier_with_trailing_hyphen_is_refused(value):
    assert lifecycle.identifier_problem(value) == "must not end with a hyphen"


def test_longest_prefix_makes_a_63_character_writer_name():
    longest = lifecycle.PREFIX_MAX
    assert longest == 52
    name = lifecycle.instance_name(lifecycle.clone_name("p" * longest, date(2026, 11, 22)))
    assert len(name) == 63
    assert lifecycle.identifier_problem(name) is None
    assert lifecycle.identifier_problem(lifecycle.instance_name(lifecycle.clone_name("p" * (longest + 1), date(2026, 11, 22))))


# --- transitions ---------------------------------------------------------------------------------

ALLOWED = {(CREATED, READY), (READY, CONNECTED), (CONNECTED, ABORTED), (CREATED, ABORTED), (READY, ABORTED)}
ALL_MOVES = [(old, new) for old in STATES for new in STATES if old != new]


@pytest.mark.parametrize("old,new", sorted(ALLOWED))
def test_forward_moves_of_the_daily_routine_are_allowed(old, new):
    assert lifecycle.can_move(old, new)
    lifecycle.check_move("dev-20261122", old, new)  # does not raise


@pytest.mark.parametrize("old,new", [m for m in ALL_MOVES if m not in ALLOWED])
def test_every_other_move_is_refused_without_rollback(old, new):
    assert not lifecycle.can_move(old, new)
    with pytest.raises(lifecycle.TransitionError, match=f"dev-20261122: a clone cannot move from '{old}' to '{new}'"):
        lifecycle.check_move("dev-20261122", old, new)


@pytest.mark.parametrize("old", [READY, ABORTED])
def test_rollback_moves_a_ready_or_aborted_clone_to_connected(old):
    assert lifecycle.can_move(old, CONNECTED, rollback=True)
    lifecycle.check_move("dev-20261122", old, CONNECTED, rollback=True)


def test_aborted_to_connected_needs_an_explicit_rollback():
    assert not lifecycle.can_move(ABORTED, CONNECTED)
    assert not lifecycle.can_move(ABORTED, CONNECTED, rollback=False)


def test_rollback_cannot_connect_a_clone_that_never_got_ready():
    assert not lifecycle.can_move(CREATED, CONNECTED, rollback=True)
    with pytest.raises(lifecycle.TransitionError):
        lifecycle.check_move("dev-20261122", CREATED, CONNECTED, rollback=True)


@pytest.mark.parametrize("old,new", [(ABORTED, READY), (ABORTED, CREATED), (CONNECTED, READY),
                                     (CONNECTED, CREATED), (READY, CREATED)])
def test_rollback_only_ever_leads_to_connected(old, new):
    assert not lifecycle.can_move(old, new, rollback=True)


def test_aborted_is_terminal():
    assert [new for new in STATES if new != ABORTED and lifecycle.can_move(ABORTED, new)] == []


@pytest.mark.parametrize("state", STATES)
def test_staying_in_the_same_state_is_not_a_move(state):
    assert lifecycle.can_move(state, state)


@pytest.mark.parametrize("old", ["", "deleted", "bogus"])
def test_unknown_or_missing_state_cannot_move_anywhere(old):
    assert not any(lifecycle.can_move(old, new) for new in STATES)


# --- state-since ---------------------------------------------------------------------------------


def test_format_time_is_iso8601_utc_with_z_to_the_second():
    moment = datetime(2026, 11, 22, 5, 0, 3, 987654, tzinfo=timezone.utc)
    assert lifecycle.format_time(moment) == "2026-11-22T05:00:03Z"


def test_format_time_converts_other_zones_to_utc():
    paris = datetime(2026, 11, 22, 6, 0, 3, tzinfo=timezone(timedelta(hours=1)))
    assert lifecycle.format_time(paris) == "2026-11-22T05:00:03Z"


def test_parse_time_reads_the_tag_format_as_aware_utc():
    moment = lifecycle.parse_time("2026-11-22T05:00:03Z")
    assert moment == datetime(2026, 11, 22, 5, 0, 3, tzinfo=timezone.utc)
    assert moment.utcoffset() == timedelta(0)


def test_parse_time_treats_a_naive_time_as_utc():
    assert lifecycle.parse_time("2026-11-22T05:00:03") == datetime(2026, 11, 22, 5, 0, 3, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", [None, "", "yesterday", "2026-13-22T05:00:03Z", "22/11/2026"])
def test_parse_time_returns_none_for_missing_or_malformed_tags(text):
    assert lifecycle.parse_time(text) is None


def test_format_then_parse_round_trips_to_the_second():
    moment = datetime(2026, 11, 22, 5, 0, 3, tzinfo=timezone.utc)
    assert lifecycle.parse_time(lifecycle.format_time(moment)) == moment


# --- tags ----------------------------------------------------------------------------------------


def test_clone_tags_carry_the_five_devdb_tags():
    since = datetime(2026, 11, 22, 5, 0, 3, tzinfo=timezone.utc)
    tags = lifecycle.clone_tags("dev", "prod-aurora", CREATED, since)
    assert tags == {
        "devdb:managed-by": "django-devdb",
        "devdb:target": "dev",
        "devdb:state": "created",
        "devdb:state-since": "2026-11-22T05:00:03Z",
        "devdb:source": "prod-aurora",
    }


def test_extra_tags_cannot_override_the_devdb_tags():
    since = datetime(2026, 11, 22, 5, 0, 3, tzinfo=timezone.utc)
    tags = lifecycle.clone_tags("dev", "prod-aurora", CREATED, since,
                                {"team": "qa", "devdb:managed-by": "someone-else", "devdb:state": "connected"})
    assert tags["team"] == "qa"
    assert tags["devdb:managed-by"] == "django-devdb"
    assert tags["devdb:state"] == "created"


def test_is_ours_needs_both_the_managed_by_and_the_target_tag():
    assert lifecycle.is_ours({"devdb:managed-by": "django-devdb", "devdb:target": "dev"}, "dev")
    assert not lifecycle.is_ours({"devdb:managed-by": "django-devdb", "devdb:target": "qa"}, "dev")
    assert not lifecycle.is_ours({"devdb:target": "dev"}, "dev")
    assert not lifecycle.is_ours({"devdb:managed-by": "aurora-echo", "devdb:target": "dev"}, "dev")


def test_tag_list_and_tag_dict_are_inverse():
    tags = {"devdb:state": "ready", "team": "qa"}
    assert lifecycle.tag_list(tags) == [{"Key": "devdb:state", "Value": "ready"}, {"Key": "team", "Value": "qa"}]
    assert lifecycle.tag_dict(lifecycle.tag_list(tags)) == tags
    assert lifecycle.tag_dict(None) == {}
