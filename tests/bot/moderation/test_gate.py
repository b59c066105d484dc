"""The moderation gate on a real store: bans, prompt filters, limits, charges, image safety."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from bot.config import ModerationSettings
from bot.job_context import JobContext, JobKind
from bot.moderation.defaults import DEFAULT_FILTERS
from bot.moderation.gate import BannedError, LimitsInForce, ModerationGate, PromptBlockedError
from bot.moderation.image_safety import SafetyReading
from bot.moderation.ratelimit import RateLimit
from bot.permissions import Actor
from bot.store.moderation import GuildSettings, ModerationStore
from pipeline.config import GenerationSettings
from pipeline.jobs import JobRecord
from pipeline.request import parse_request
from tests.request_fixtures import sd_profile

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.moderation.image_safety import NsfwChannelMode
    from bot.store.database import Database

GUILD = 1_111_111_111_111_111_111
OTHER_GUILD = 2_222_222_222_222_222_222
MODLOG = 3_333_333_333_333_333_333
MEMBER_ID = 4_444_444_444_444_444_444
MODERATOR_ID = 5_555_555_555_555_555_555
NOW = 1_800_000_000.0

MEMBER = Actor(user_id=MEMBER_ID, guild_id=GUILD, name="member", moderator=False)
MODERATOR = Actor(user_id=MODERATOR_ID, guild_id=GUILD, name="moderator", moderator=True)
SAFE = SafetyReading(unsafe=False)
UNSAFE = SafetyReading(unsafe=True, labels=("BUTTOCKS_EXPOSED",), score=0.9)


@dataclass
class RecordingPoster:
    """A mod-log poster that keeps what it was asked to post."""

    posts: list[tuple[int, int, str]] = field(default_factory=list)

    async def __call__(self, guild_id: int, channel_id: int, text: str) -> None:
        """Keep the post."""
        self.posts.append((guild_id, channel_id, text))


@dataclass
class FixedClassifier:
    """A classifier that reads the images as the readings it was given, counting its calls."""

    readings: list[SafetyReading]
    calls: int = 0

    def classify(self, images: Sequence[Image.Image]) -> list[SafetyReading]:
        """Return the fixed readings."""
        self.calls += 1
        return self.readings[: len(images)]


@pytest.fixture
def store(database: Database) -> ModerationStore:
    """Build the moderation store on a fresh, migrated database."""
    return ModerationStore(database)


@pytest.fixture
def poster() -> RecordingPoster:
    """Record what the gate posts to mod-log channels."""
    return RecordingPoster()


def gate_of(
    store: ModerationStore,
    poster: RecordingPoster,
    *,
    defaults: ModerationSettings | None = None,
    classifier: FixedClassifier | None = None,
) -> ModerationGate:
    """Build a gate at a fixed time with the given config defaults and classifier."""
    return ModerationGate(
        defaults or ModerationSettings(),
        store,
        poster,
        classifier,
        clock=lambda: NOW,
    )


@pytest.fixture
def gate(store: ModerationStore, poster: RecordingPoster) -> ModerationGate:
    """Build a gate with the config's default moderation settings."""
    return gate_of(store, poster)


async def turn_on_modlog(store: ModerationStore) -> None:
    """Send the guild's mod-log to its channel."""
    await store.update_settings(GuildSettings(GUILD, modlog_channel_id=MODLOG))


def job_in(
    *,
    guild_id: int | None = GUILD,
    nsfw_channel: bool = False,
    unsafe_images: NsfwChannelMode | None = None,
) -> JobRecord:
    """Return a job the member made in a channel of the guild."""
    request = parse_request(
        "a fox",
        settings=GenerationSettings(),
        profile=sd_profile((512, 512)),
        seed_source=lambda: 1,
    )
    context = JobContext(
        kind=JobKind.IMAGINE,
        channel_id=9,
        application_id=8,
        guild_id=guild_id,
        nsfw_channel=nsfw_channel,
        unsafe_images=unsafe_images,
    )
    return JobRecord(id="job1", owner=str(MEMBER_ID), request=request, context=context.to_stored())


def images() -> list[Image.Image]:
    """Return two distinct small images."""
    return [Image.new("RGB", (64, 64), (200, 40, 40)), Image.new("RGB", (64, 64), (40, 200, 40))]


async def test_a_banned_member_is_refused_with_the_reason(
    gate: ModerationGate, store: ModerationStore
) -> None:
    """Raise BannedError naming the ban's end and its reason."""
    await store.ban(GUILD, MEMBER_ID, until=NOW + 3600, reason="spam", banned_by=MODERATOR_ID)
    with pytest.raises(BannedError, match=rf"until <t:{int(NOW + 3600)}:f>\. Reason: spam"):
        await gate.refuse_if_banned(MEMBER)


async def test_a_permanent_ban_says_until_lifted(
    gate: ModerationGate, store: ModerationStore
) -> None:
    """Tell a member banned with no end that a moderator must lift it."""
    await store.ban(GUILD, MEMBER_ID, until=None, reason="", banned_by=MODERATOR_ID)
    with pytest.raises(BannedError, match="until a moderator lifts it"):
        await gate.refuse_if_banned(MEMBER)


async def test_an_expired_ban_lets_the_member_through(
    gate: ModerationGate, store: ModerationStore
) -> None:
    """Raise nothing once the ban's end has passed on the gate's clock."""
    await store.ban(GUILD, MEMBER_ID, until=NOW - 1, reason="spam", banned_by=MODERATOR_ID)
    await gate.refuse_if_banned(MEMBER)


async def test_a_ban_elsewhere_does_not_refuse(
    gate: ModerationGate, store: ModerationStore
) -> None:
    """Let a member banned in another guild through in this one, and in direct messages."""
    await store.ban(OTHER_GUILD, MEMBER_ID, until=None, reason="spam", banned_by=MODERATOR_ID)
    await gate.refuse_if_banned(MEMBER)
    await gate.refuse_if_banned(Actor(MEMBER_ID, None, "member", moderator=False))


async def test_a_blocked_prompt_raises(gate: ModerationGate, store: ModerationStore) -> None:
    """Raise PromptBlockedError for a prompt matching a blocking filter."""
    await store.add_filter(GUILD, "lava", "word", "block", MODERATOR_ID)
    with pytest.raises(PromptBlockedError, match="matches this server's filters"):
        await gate.screen_prompt(MEMBER, ["a river of lava", "blurry"])


async def test_a_blocked_prompt_is_audited(gate: ModerationGate, store: ModerationStore) -> None:
    """Record a block entry by the member naming the filter and the whole prompt."""
    saved = await store.add_filter(GUILD, "lava", "word", "block", MODERATOR_ID)
    with pytest.raises(PromptBlockedError):
        await gate.screen_prompt(MEMBER, ["a river of lava", "", "blurry"])
    [entry] = await store.audit(GUILD)
    assert (entry.action, entry.actor_id) == ("block", MEMBER_ID)
    assert entry.subject == f"word filter #{saved.id} (`lava`)"
    assert entry.detail == "a river of lava | blurry"


async def test_a_blocked_prompt_is_posted_to_the_modlog(
    gate: ModerationGate, store: ModerationStore, poster: RecordingPoster
) -> None:
    """Post the block, the member and the prompt to the guild's mod-log channel."""
    await turn_on_modlog(store)
    await store.add_filter(GUILD, "lava", "word", "block", MODERATOR_ID)
    with pytest.raises(PromptBlockedError):
        await gate.screen_prompt(MEMBER, ["a river of lava"])
    [(guild_id, channel_id, text)] = poster.posts
    assert (guild_id, channel_id) == (GUILD, MODLOG)
    assert text.startswith(f"⛔ Blocked a prompt by <@{MEMBER_ID}>")
    assert "a river of lava" in text


async def test_nothing_is_posted_without_a_modlog_channel(
    gate: ModerationGate, store: ModerationStore, poster: RecordingPoster
) -> None:
    """Post nothing when the guild chose no mod-log channel, yet still audit the block."""
    await store.add_filter(GUILD, "lava", "word", "block", MODERATOR_ID)
    with pytest.raises(PromptBlockedError):
        await gate.screen_prompt(MEMBER, ["a river of lava"])
    assert poster.posts == []
    assert [entry.action for entry in await store.audit(GUILD)] == ["block"]


async def test_a_flagged_prompt_passes_but_is_recorded(
    gate: ModerationGate, store: ModerationStore, poster: RecordingPoster
) -> None:
    """Raise nothing for a flagging filter, but audit a flag and post it to the mod-log."""
    await turn_on_modlog(store)
    await store.add_filter(GUILD, "ash", "word", "flag", MODERATOR_ID)
    await gate.screen_prompt(MEMBER, ["a cloud of ash"])
    [entry] = await store.audit(GUILD)
    assert (entry.action, entry.actor_id, entry.detail) == ("flag", MEMBER_ID, "a cloud of ash")
    [(_, _, text)] = poster.posts
    assert text.startswith(f"🚩 Flagged a prompt by <@{MEMBER_ID}>")


async def test_a_clean_prompt_records_nothing(
    gate: ModerationGate, store: ModerationStore, poster: RecordingPoster
) -> None:
    """Neither raise, audit nor post for a prompt no filter matches."""
    await turn_on_modlog(store)
    await store.add_filter(GUILD, "lava", "word", "block", MODERATOR_ID)
    await gate.screen_prompt(MEMBER, ["a lavender field"])
    assert await store.audit(GUILD) == []
    assert poster.posts == []


async def test_another_guilds_filter_does_not_apply(
    gate: ModerationGate, store: ModerationStore
) -> None:
    """Let through a prompt that only another guild's filter blocks."""
    await store.add_filter(OTHER_GUILD, "lava", "word", "block", MODERATOR_ID)
    await gate.screen_prompt(MEMBER, ["a river of lava"])


async def test_a_built_in_block_names_its_class(
    gate: ModerationGate, store: ModerationStore
) -> None:
    """Tell the member the class of the built-in filter that blocked them."""
    await store.update_settings(GuildSettings(GUILD, default_filters=True))
    with pytest.raises(PromptBlockedError, match=r"\(graphic violence\)"):
        await gate.screen_prompt(MEMBER, ["a gory battlefield"])


async def test_filters_leave_out_the_built_in_list_by_default(
    gate: ModerationGate, store: ModerationStore
) -> None:
    """Return only the guild's own filters while the built-in list is off."""
    own = await store.add_filter(GUILD, "lava", "word", "block", MODERATOR_ID)
    assert await gate.filters(GUILD) == [own]


async def test_filters_include_the_built_in_list_when_on(
    gate: ModerationGate, store: ModerationStore
) -> None:
    """Return the guild's own filters followed by the built-in list once it is switched on."""
    own = await store.add_filter(GUILD, "lava", "word", "block", MODERATOR_ID)
    await store.update_settings(GuildSettings(GUILD, default_filters=True))
    assert await gate.filters(GUILD) == [own, *DEFAULT_FILTERS]


async def test_limits_use_the_guilds_own_settings(
    gate: ModerationGate, store: ModerationStore
) -> None:
    """Apply the rates and bursts the guild chose over the config's."""
    await store.update_settings(
        GuildSettings(
            GUILD, user_per_minute=2.0, user_burst=3, guild_per_minute=30.0, guild_burst=40
        )
    )
    assert await gate.limits(GUILD) == LimitsInForce(
        member=RateLimit(2.0, 3), guild=RateLimit(30.0, 40), exempt_moderators=True
    )


async def test_limits_default_to_the_config(
    store: ModerationStore, poster: RecordingPoster
) -> None:
    """Apply the config's limits to a guild that chose none."""
    defaults = ModerationSettings(
        user_per_minute=4.0,
        user_burst=2,
        guild_per_minute=12.0,
        guild_burst=7,
        exempt_moderators=False,
    )
    gate = gate_of(store, poster, defaults=defaults)
    assert await gate.limits(GUILD) == LimitsInForce(
        member=RateLimit(4.0, 2), guild=RateLimit(12.0, 7), exempt_moderators=False
    )


async def test_limits_have_no_server_budget_by_default(gate: ModerationGate) -> None:
    """Give the server no shared budget when neither it nor the config sets a rate."""
    assert (await gate.limits(GUILD)).guild is None


async def test_limits_fill_unset_settings_from_the_config(
    gate: ModerationGate, store: ModerationStore
) -> None:
    """Take each setting the guild left unset from the config, one by one."""
    await store.update_settings(GuildSettings(GUILD, user_burst=9, guild_per_minute=30.0))
    defaults = ModerationSettings()
    limits = await gate.limits(GUILD)
    assert limits.member == RateLimit(defaults.user_per_minute, 9)
    assert limits.guild == RateLimit(30.0, defaults.guild_burst)


async def test_exempt_moderators_are_charged_nothing(gate: ModerationGate) -> None:
    """Return no charges for a moderator while the config exempts them."""
    assert await gate.rate_charges(MODERATOR) == ()


async def test_moderators_are_charged_when_not_exempt(
    store: ModerationStore, poster: RecordingPoster
) -> None:
    """Charge a moderator like a member when the config does not exempt them."""
    gate = gate_of(store, poster, defaults=ModerationSettings(exempt_moderators=False))
    [charge] = await gate.rate_charges(MODERATOR)
    assert charge.key == f"user:{GUILD}:{MODERATOR_ID}"


async def test_a_member_is_charged_their_own_limit(gate: ModerationGate) -> None:
    """Return one charge against the member's allowance in this guild."""
    [charge] = await gate.rate_charges(MEMBER)
    assert charge.key == f"user:{GUILD}:{MEMBER_ID}"
    assert charge.limit == (await gate.limits(GUILD)).member
    assert "faster than this server allows" in charge.refusal


async def test_a_guild_budget_adds_a_guild_charge(
    gate: ModerationGate, store: ModerationStore
) -> None:
    """Charge the guild's shared budget too when the guild has one."""
    await store.update_settings(GuildSettings(GUILD, guild_per_minute=30.0, guild_burst=40))
    member, guild = await gate.rate_charges(MEMBER)
    assert member.key == f"user:{GUILD}:{MEMBER_ID}"
    assert (guild.key, guild.limit) == (f"guild:{GUILD}", RateLimit(30.0, 40))
    assert "used its image budget" in guild.refusal


async def test_direct_messages_are_charged_nothing(gate: ModerationGate) -> None:
    """Return no charges outside a guild."""
    assert await gate.rate_charges(Actor(MEMBER_ID, None, "member", moderator=False)) == ()


async def test_an_unsafe_image_is_withheld_outside_nsfw_channels(
    store: ModerationStore, poster: RecordingPoster
) -> None:
    """Replace only the unsafe image with a placeholder, shown without a spoiler."""
    gate = gate_of(store, poster, classifier=FixedClassifier([SAFE, UNSAFE]))
    originals = images()
    screened = await gate.screen_images(job_in(), originals)
    assert screened.withheld == (1,)
    assert screened.spoiler is False
    assert screened.images[0] is originals[0]
    assert screened.images[1].size == originals[1].size
    assert screened.images[1].tobytes() != originals[1].tobytes()


async def test_a_withheld_image_is_audited(store: ModerationStore, poster: RecordingPoster) -> None:
    """Record a withheld entry for the job's owner naming the job and the image."""
    gate = gate_of(store, poster, classifier=FixedClassifier([SAFE, UNSAFE]))
    await gate.screen_images(job_in(), images())
    [entry] = await store.audit(GUILD)
    assert (entry.action, entry.actor_id, entry.subject) == ("withheld", MEMBER_ID, "job1")
    assert entry.detail == "job job1: image(s) 2"


async def test_a_withheld_image_is_posted_to_the_modlog(
    store: ModerationStore, poster: RecordingPoster
) -> None:
    """Tell the mod-log how many images of which job were withheld."""
    await turn_on_modlog(store)
    gate = gate_of(store, poster, classifier=FixedClassifier([UNSAFE, UNSAFE]))
    await gate.screen_images(job_in(), images())
    [(guild_id, channel_id, text)] = poster.posts
    assert (guild_id, channel_id) == (GUILD, MODLOG)
    assert text.startswith("🙈 Withheld 2 image(s) of job `job1`")


async def test_unsafe_images_are_spoilered_in_nsfw_channels(
    store: ModerationStore, poster: RecordingPoster
) -> None:
    """Show every image, as a spoiler, in an NSFW channel, recording nothing."""
    gate = gate_of(store, poster, classifier=FixedClassifier([SAFE, UNSAFE]))
    originals = images()
    screened = await gate.screen_images(job_in(nsfw_channel=True), originals)
    assert (screened.images, screened.withheld, screened.spoiler) == (originals, (), True)
    assert await store.audit(GUILD) == []


async def test_the_channels_recorded_policy_beats_the_configs(
    store: ModerationStore, poster: RecordingPoster
) -> None:
    """Withhold, or post as is, in an NSFW channel whose job recorded that choice."""
    gate = gate_of(store, poster, classifier=FixedClassifier([SAFE, UNSAFE]))
    withheld = await gate.screen_images(
        job_in(nsfw_channel=True, unsafe_images="withhold"), images()
    )
    as_is = await gate.screen_images(job_in(nsfw_channel=True, unsafe_images="as_is"), images())
    assert (withheld.withheld, withheld.spoiler) == ((1,), False)
    assert (as_is.withheld, as_is.spoiler) == ((), False)


async def test_no_policy_shows_unsafe_images_outside_nsfw_channels(
    store: ModerationStore, poster: RecordingPoster
) -> None:
    """Withhold an unsafe image outside NSFW channels whatever the job recorded."""
    gate = gate_of(store, poster, classifier=FixedClassifier([SAFE, UNSAFE]))
    screened = await gate.screen_images(job_in(unsafe_images="as_is"), images())
    assert screened.withheld == (1,)


async def test_safe_images_are_posted_as_they_are(
    store: ModerationStore, poster: RecordingPoster
) -> None:
    """Show safe images unchanged and without a spoiler."""
    gate = gate_of(store, poster, classifier=FixedClassifier([SAFE, SAFE]))
    originals = images()
    screened = await gate.screen_images(job_in(), originals)
    assert (screened.images, screened.withheld, screened.spoiler) == (originals, (), False)


async def test_images_the_model_flagged_are_withheld(
    store: ModerationStore, poster: RecordingPoster
) -> None:
    """Withhold an image the model's own safety checker flagged, whatever the classifier read."""
    gate = gate_of(store, poster, classifier=FixedClassifier([SAFE, SAFE]))
    screened = await gate.screen_images(job_in(), images(), flagged=[True, False])
    assert screened.withheld == (0,)


async def test_every_image_passes_when_the_check_is_off(
    store: ModerationStore, poster: RecordingPoster
) -> None:
    """Show every image unchanged, without classifying, when the config turns the check off."""
    classifier = FixedClassifier([UNSAFE, UNSAFE])
    gate = gate_of(
        store, poster, defaults=ModerationSettings(image_check=False), classifier=classifier
    )
    originals = images()
    screened = await gate.screen_images(job_in(), originals, flagged=[True, True])
    assert (screened.images, screened.withheld, screened.spoiler) == (originals, (), False)
    assert classifier.calls == 0
    assert await store.audit(GUILD) == []
