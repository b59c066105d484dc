"""The job context: its stored form, contexts stored by the previous release, token lifetime."""

from __future__ import annotations

import json
from typing import Any

from bot.job_context import DEFAULT_UPLOAD_LIMIT, JobContext, JobKind, stored_rate_charges
from bot.moderation.ratelimit import RateCharge, RateLimit
from pipeline.config import GenerationSettings
from pipeline.jobs import JobRecord
from pipeline.request import parse_request
from tests.request_fixtures import sd_profile

# Larger than JSON's safe integers (2**53), as Discord's snowflakes are.
GUILD = 1_111_111_111_111_111_111
CHANNEL = 2_222_222_222_222_222_222
APPLICATION = 3_333_333_333_333_333_333
MESSAGE = 4_444_444_444_444_444_444
PRESSED = 5_555_555_555_555_555_555
ISSUED = 10_000.0

MEMBER_CHARGE = RateCharge("user:1:2", RateLimit(per_minute=6.0, burst=5), "Too fast")
GUILD_CHARGE = RateCharge("guild:1", RateLimit(per_minute=30.0, burst=20), "Server budget")

PREVIOUS_RELEASE: dict[str, Any] = {
    "kind": "variation",
    "guild_id": str(GUILD),
    "channel_id": str(CHANNEL),
    "application_id": str(APPLICATION),
    "token": "interaction-token",
    "token_issued_at": ISSUED,
    "message_id": str(MESSAGE),
    "upload_limit": 25 * 1024 * 1024,
    "nsfw_channel": True,
    "rate_limits": [
        {"key": "user:1:2", "per_minute": 6.0, "burst": 5, "refusal": "Too fast"},
        {"key": "guild:1", "per_minute": 30, "burst": 20, "refusal": "Server budget"},
    ],
    "source_job": "abc123",
    "reply_to": str(PRESSED),
    "source_index": 2,
    "strength": "subtle",
}


def full_context() -> JobContext:
    """Return a context with every field set away from its default."""
    return JobContext(
        kind=JobKind.VARIATION,
        channel_id=CHANNEL,
        application_id=APPLICATION,
        guild_id=GUILD,
        token="interaction-token",
        token_issued_at=ISSUED,
        message_id=MESSAGE,
        reply_to=PRESSED,
        upload_limit=25 * 1024 * 1024,
        nsfw_channel=True,
        rate_charges=(MEMBER_CHARGE, GUILD_CHARGE),
        source_job="abc123",
        source_index=2,
        strength="strong",
        unsafe_images="as_is",
    )


def minimal_context(**fields: Any) -> JobContext:
    """Return a direct-message context with only the required fields and ``fields``."""
    return JobContext(
        kind=JobKind.IMAGINE, channel_id=CHANNEL, application_id=APPLICATION, **fields
    )


def test_every_field_survives_a_round_trip() -> None:
    """Read back from the stored form the context that was stored."""
    context = full_context()
    assert JobContext.from_stored(context.to_stored()) == context


def test_every_field_survives_a_round_trip_through_json() -> None:
    """Read back the same context after its stored form went through JSON, as in the database."""
    context = full_context()
    assert JobContext.from_stored(json.loads(json.dumps(context.to_stored()))) == context


def test_a_minimal_context_survives_a_round_trip() -> None:
    """Read back a context whose optional fields are all unset."""
    context = minimal_context()
    assert JobContext.from_stored(context.to_stored()) == context


def test_ids_are_stored_as_strings() -> None:
    """Store snowflakes as strings, so JSON readers that use doubles keep them exact."""
    stored = full_context().to_stored()
    ids = (stored["guild_id"], stored["channel_id"], stored["application_id"], stored["reply_to"])
    assert ids == (str(GUILD), str(CHANNEL), str(APPLICATION), str(PRESSED))
    assert stored["message_id"] == str(MESSAGE)


def test_a_context_stored_by_the_previous_release_reads_back() -> None:
    """Read every field of a context in the previous release's stored form."""
    assert JobContext.from_stored(PREVIOUS_RELEASE) == JobContext(
        kind=JobKind.VARIATION,
        channel_id=CHANNEL,
        application_id=APPLICATION,
        guild_id=GUILD,
        token="interaction-token",
        token_issued_at=ISSUED,
        message_id=MESSAGE,
        reply_to=PRESSED,
        upload_limit=25 * 1024 * 1024,
        nsfw_channel=True,
        rate_charges=(MEMBER_CHARGE, GUILD_CHARGE),
        source_job="abc123",
        source_index=2,
        strength="subtle",
    )


def test_the_stored_form_keeps_the_previous_release_keys() -> None:
    """Write the same keys the previous release wrote, so an older Easel can read them."""
    stored = full_context().to_stored()
    assert set(stored) == {*PREVIOUS_RELEASE, "unsafe_images"}  # an older Easel ignores it


def test_the_channels_image_policy_is_stored_only_when_chosen() -> None:
    """Leave the image-safety policy out of a context whose channel chose none."""
    assert "unsafe_images" not in minimal_context().to_stored()
    assert minimal_context(unsafe_images="withhold").to_stored()["unsafe_images"] == "withhold"


def test_an_unknown_image_policy_falls_back_to_the_configs() -> None:
    """Read a policy this Easel does not know as none, so the config's applies."""
    stored = {**minimal_context().to_stored(), "unsafe_images": "blur"}
    assert JobContext.from_stored(stored).unsafe_images is None


def test_missing_optional_keys_get_defaults() -> None:
    """Fill every optional field with its default when only the required keys are stored."""
    context = JobContext.from_stored(
        {"channel_id": str(CHANNEL), "application_id": str(APPLICATION)}
    )
    assert context == minimal_context()
    assert (context.kind, context.upload_limit) == (JobKind.IMAGINE, DEFAULT_UPLOAD_LIMIT)


def test_ids_stored_as_numbers_read_back() -> None:
    """Accept ids stored as JSON numbers as well as strings."""
    context = JobContext.from_stored(
        {"channel_id": 12, "application_id": 34, "guild_id": 56, "message_id": 78}
    )
    assert (context.channel_id, context.application_id, context.guild_id) == (12, 34, 56)
    assert context.message_id == 78


def test_of_reads_the_context_of_a_job() -> None:
    """Read the context stored with a job record."""
    request = parse_request(
        "a fox",
        settings=GenerationSettings(),
        profile=sd_profile((512, 512)),
        seed_source=lambda: 1,
    )
    job = JobRecord(id="j1", owner="42", request=request, context=full_context().to_stored())
    assert JobContext.of(job) == full_context()


def test_stored_rate_charges_reads_only_the_charges() -> None:
    """Read the charges of a stored context without reading the rest."""
    assert stored_rate_charges(PREVIOUS_RELEASE) == (MEMBER_CHARGE, GUILD_CHARGE)


def test_a_context_from_elsewhere_has_no_rate_charges() -> None:
    """Read no charges from a context that names none (a job from the CLI)."""
    assert stored_rate_charges({}) == ()


def test_the_token_is_usable_within_fourteen_minutes() -> None:
    """Call the token usable until a minute before its fifteen-minute lifetime ends."""
    context = minimal_context(token="t", token_issued_at=ISSUED, message_id=MESSAGE)
    assert context.token_usable(ISSUED)
    assert context.token_usable(ISSUED + 14 * 60 - 1)


def test_the_token_is_not_usable_after_fourteen_minutes() -> None:
    """Call the token unusable once less than the safety minute of its life is left."""
    context = minimal_context(token="t", token_issued_at=ISSUED, message_id=MESSAGE)
    assert not context.token_usable(ISSUED + 14 * 60)
    assert not context.token_usable(ISSUED + 60 * 60)


def test_a_token_without_its_message_is_not_usable() -> None:
    """Call the token unusable when there is no message of it to edit."""
    context = minimal_context(token="t", token_issued_at=ISSUED)
    assert not context.token_usable(ISSUED)


def test_a_missing_token_is_not_usable() -> None:
    """Call the token unusable when none was stored."""
    context = minimal_context(token_issued_at=ISSUED, message_id=MESSAGE)
    assert not context.token_usable(ISSUED)
