"""Soak the real bot: hundreds of members, thousands of jobs, Discord's bad days, restarts.

``python -m bot`` runs as a real process on the project's Discord emulator with the built-in
tiny model (64×64, 4 steps) and the image check off, so the CPU goes to generation. Members
send ``/imagine`` at a bounded, seeded rate, press U1–U4, V1–V4, 🔄 and 🗑️ on results, cancel
through ``/queue``; a moderator bans and unbans; the emulator injects 503 outages, 429 bursts,
dropped answers, gateway cuts and one expiry of every token; the bot gets SIGTERM and kill -9
and restarts on the same data. Then the faults end, the queue and outbox drain, the bot
restarts cleanly, and every accepted job is counted by the messages showing its outcome::

    python benchmarks/soak.py [--minutes 10] [--seed 1] [--members 200] [--rate 1.5]

Progress is printed every 30 s. The choices (who does what, which button, the fault schedule)
follow ``--seed``, the timings the machine. Restarts all come in the first half: the memory
growth judged is that of the process that runs the second half, after its warm-up: of what it
keeps between batches and once drained (see ``benchmarks/soak_memory.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.soak_memory import kept_growth, memory_lines
from benchmarks.soak_support import (
    BotProcess,
    Sent,
    case_lines,
    counts,
    job_lines,
    job_rows,
    log_lines,
    queue_view,
    shown_outcomes,
    tally,
)
from tests.fakediscord.emulator import DiscordEmulator
from tests.fakediscord.invoke import InvocationError
from tests.fakediscord.models import MANAGE_MESSAGES

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

    from benchmarks.soak_support import JobRow, Life
    from tests.fakediscord.models import MemberRecord

PROGRESS_EVERY = 30.0
SAMPLE_EVERY = 2.0
BUTTONS = {"u": "upscale", "v": "vary", "vary": "vary", "r": "reroll", "d": "delete"}
COLOURS = ("red", "blue", "green", "yellow", "purple", "orange", "white", "black")
SHAPES = ("circle", "square", "triangle", "star", "ring", "cross")
SETUP = (
    "Easel soak: {a.minutes:g} min, seed {a.seed}, {a.members} members + 1 moderator, {a.rate:g}"
    " actions/s (65 % one /imagine, 5 % a burst of 3-12 then often /queue + cancel, 25 % a "
    "button on a recent result, 5 % /queue + cancel)\nbot: `python -m bot` as a real process, "
    "models/easel-tiny 64×64, 4 steps, Euler, 1 CPU thread; moderation.image_check: false (the "
    "CPU goes to generation); limits 30 jobs/min per member (burst 10), 20 queued each, 2000 "
    "pending"
)
# Answers dropped in turn: the defer, an edit (progress or result), a follow-up; a channel
# post's answer is dropped when the tokens expire (only then does the bot post).
DROPPED = ("POST /interactions/*/callback", "PATCH /webhooks/*", "POST /webhooks/*")


class Traffic:
    """The members: /imagine, button presses, /queue cancels, at a seeded random rate."""

    def __init__(
        self, emulator: DiscordEmulator, members: list[MemberRecord], rng: random.Random
    ) -> None:
        self.emulator = emulator
        self.members = members
        self.by_id = {member.user.id: member for member in members}
        self.rng = rng
        self.later = random.Random(rng.random())  # for choices made inside tasks
        self.sent: list[Sent] = []
        self.skipped = 0
        self.last_burst: MemberRecord | None = None
        self.during: Callable[[], str] = str  # what is going on; the chaos sets it
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, rate: float, until: float) -> None:
        """Act until ``until`` (monotonic); nobody acts while the bot is away."""
        while (wait := self.rng.expovariate(rate)) < until - time.monotonic():
            await asyncio.sleep(wait)
            roll, member = self.rng.random(), self.rng.choice(self.members)
            if not self.emulator.gateway.ready():
                self.skipped += 1
            elif roll < 0.65:
                await self.imagine(member)
            elif roll < 0.70:  # a burst: a queue to cancel from or ban, and the rate limit
                self.last_burst = member
                for _ in range(self.rng.randint(3, 12)):
                    await self.imagine(member)
                if self.rng.random() < 0.6:
                    self._spawn(self.queue_and_cancel(member))
            elif roll < 0.95:
                await self.press(member)
            else:
                self._spawn(self.queue_and_cancel(member))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a slower action (one that waits for answers) in the background."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the cancels still in flight."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def imagine(self, member: MemberRecord) -> None:
        """Ask for a grid of a coloured shape."""
        colour, ground = self.rng.sample(COLOURS, 2)
        prompt = f"a {colour} {self.rng.choice(SHAPES)} on a {ground} background"
        prompt += f" --seed {self.rng.randrange(10**6)}" if self.rng.random() < 0.5 else ""
        record = await self.emulator.invoke_slash("imagine", {"prompt": prompt}, user=member)
        self.sent.append(Sent("imagine", record, self.during()))

    async def press(self, member: MemberRecord) -> None:
        """Press a button on a recent result, mostly as its owner."""
        live = (m for m in reversed(self.emulator.messages) if not m.deleted and m.attachments)
        results = list(itertools.islice((m for m in live if m.custom_ids()), 40))
        if not results:
            return
        message = self.rng.choice(results)
        ids = [c for c in message.custom_ids() if c.startswith("easel:")]
        weights = [0.25 if c.split(":")[1] == "d" else 1.0 for c in ids]
        custom_id = self.rng.choices(ids, weights)[0]
        owner = re.search(r"<@(\d+)>", message.content)
        if owner and self.rng.random() < 0.8:
            member = self.by_id.get(int(owner[1]), member)
        with contextlib.suppress(InvocationError):  # deleted meanwhile
            record = await self.emulator.click(message, custom_id, user=member)
            self.sent.append(Sent(BUTTONS[custom_id.split(":")[1]], record, self.during()))

    async def queue_and_cancel(self, member: MemberRecord) -> None:
        """Open /queue as the member and cancel one of the jobs it lists."""
        await asyncio.sleep(1.0)  # a burst's jobs are stored by then; /queue lists stored jobs
        record = await self.emulator.invoke_slash("queue", user=member)
        self.sent.append(Sent("queue", record, self.during()))
        with contextlib.suppress(TimeoutError, InvocationError):
            await record.wait_for_response(timeout=30)
            listing = await record.wait_for_original(timeout=5)
            cancels = [c for c in listing.custom_ids() if c.startswith("easel:c:")]
            if cancels:
                click = await self.emulator.click(listing, self.later.choice(cancels), user=member)
                self.sent.append(Sent("cancel", click, self.during()))


@dataclass(frozen=True)
class Event:
    """A fault, restart or moderator action, ``at`` seconds into the run."""

    at: float
    name: str
    seconds: float = 0.0  # how long an outage or a 429 burst lasts


def schedule(duration: float, rng: random.Random) -> list[Event]:
    """Plan the run's bad moments: restarts in the first half, outages and bursts around them."""
    outage = max(20.0, rng.uniform(30, 90) * min(1.0, duration / 600))
    burst = max(10.0, 0.06 * duration)
    plan = [(0.08, "cut", 0.0), (0.12, "SIGTERM", 0.0), (0.16, "ban", 0.0)]
    plan += [(0.20, "429", burst), (0.22, "unban", 0.0), (0.30, "kill -9", 0.0)]
    plan += [(0.40, "SIGTERM", 0.0), (0.50, "kill -9", 0.0), (0.56, "cut", 0.0)]
    plan += [(0.60, "outage", outage), (0.70, "ban", 0.0), (0.76, "unban", 0.0)]
    plan += [(0.80, "429", burst), (0.90, "expire", 0.0), (0.94, "cut", 0.0)]
    plan += [(0.05 + 0.06 * i, "drop", 0.0) for i in range(15)]
    events = (Event(share * duration, name, seconds) for share, name, seconds in plan)
    return sorted(events, key=lambda event: event.at)


class Chaos:
    """Carry out the schedule: faults on the emulator, restarts of the bot, bans."""

    def __init__(
        self, emulator: DiscordEmulator, bot: BotProcess, traffic: Traffic, moderator: MemberRecord
    ) -> None:
        self.emulator, self.bot, self.traffic, self.moderator = emulator, bot, traffic, moderator
        self.outage_until = 0.0
        self.burst_until = 0.0
        self.restarting = False
        self.stopping = False
        self.running: asyncio.Task[None] | None = None
        self.done: list[str] = []
        self._banned: MemberRecord | None = None
        self._drops = 0

    def during(self) -> str:
        """Say which faults and restarts are in progress now."""
        now = self.emulator.clock.now()
        states = [("outage", now < self.outage_until), ("429", now < self.burst_until)]
        return "+".join(name for name, on in [*states, ("restart", self.restarting)] if on)

    async def run(self, events: list[Event], started: float) -> None:
        """Fire each event at its time (restarts wait for an outage to end), until stopped."""
        for event in events:
            await asyncio.sleep(max(0.0, started + event.at - time.monotonic()))
            if event.name in ("SIGTERM", "kill -9"):
                await asyncio.sleep(max(0.0, self.outage_until + 2 - self.emulator.clock.now()))
            if self.stopping:
                return
            await self.fire(event)

    async def fire(self, event: Event) -> None:
        """Carry out one event."""
        emulator = self.emulator
        if event.name == "outage":
            emulator.outage(event.seconds, 503, routes="*")
            self.outage_until = emulator.clock.now() + event.seconds
        elif event.name == "429":
            emulator.rate_limit(0.3, 0.05, seed=len(self.done))
            self.burst_until = emulator.clock.now() + event.seconds
            asyncio.get_running_loop().call_later(event.seconds, emulator.end_rate_limit)
        elif event.name == "drop":
            method, path = DROPPED[self._drops % len(DROPPED)].split(" ")
            self._drops += 1
            emulator.drop_answer_of(method, path, count=1)
        elif event.name == "expire":  # every token issued so far dies: results go to the channel
            emulator.clock.advance(15 * 60 + 1)
            emulator.drop_answer_of("POST", "/channels/*/messages", count=1)
        elif event.name == "cut":
            with contextlib.suppress(RuntimeError):  # not connected just now
                emulator.cut_gateway()
        elif event.name in ("ban", "unban"):
            await self.moderate(event.name)
        else:
            self.restarting = True
            await self.bot.stop(event.name)
            await self.bot.start()
            self.restarting = False
        self.done.append(event.name if not event.seconds else f"{event.name} {event.seconds:.0f} s")

    async def moderate(self, action: str) -> None:
        """Ban the member who last sent a burst (cancelling their waiting jobs), or unban."""
        if action == "ban":
            self._banned = self.traffic.last_burst
        if self._banned is None or not self.emulator.gateway.ready():
            return
        options = {"user": self._banned}
        record = await self.emulator.invoke_slash(action, options, user=self.moderator)
        self.traffic.sent.append(Sent(action, record, self.during()))
        await asyncio.sleep(1.0)
        await self.traffic.imagine(self._banned)  # refused while banned, accepted once lifted


async def watch(bot: BotProcess, traffic: Traffic, chaos: Chaos, started: float) -> None:
    """Sample the bot's memory every few seconds and print a progress line every 30 s."""
    next_line = started + PROGRESS_EVERY
    while True:
        await asyncio.sleep(SAMPLE_EVERY)
        bot.sample()
        if time.monotonic() < next_line:
            continue
        next_line += PROGRESS_EVERY
        view = await asyncio.to_thread(queue_view, bot.database)
        samples = bot.lives[-1].samples if bot.process is not None else []
        rss = f"{samples[-1][1] / 1024:.0f} MiB" if samples else "down"
        print(
            f"[{time.monotonic() - started:5.0f} s] accepted {view.jobs if view else 0} · "
            f"delivered {view.delivered if view else 0} · queue {view.unfinished if view else 0}"
            f" · interactions {len(traffic.sent)} · bot {rss} · {chaos.during() or 'calm'}",
            flush=True,
        )


@dataclass(frozen=True)
class Ending:
    """How the run ended: the process judged for memory, its RSS then, the drains, the jobs."""

    judged: Life
    rss_at_end: int
    traffic_ended: float  # monotonic, when the judged process's last sample was taken
    drained: float  # seconds the judged process took to drain once the faults ended
    redrained: float  # seconds the bot took to drain again after the final clean restart
    rows: list[JobRow]


async def finish(chaos: Chaos, started: float) -> Ending:
    """End the faults, let the bot drain, restart it cleanly, drain again, read the jobs."""
    emulator, bot = chaos.emulator, chaos.bot
    chaos.stopping = True
    if chaos.running is not None:
        await chaos.running
    bot.sample()
    judged = bot.lives[-1]
    traffic_ended, rss_at_end = judged.samples[-1]
    emulator.end_outage()
    emulator.end_rate_limit()
    emulator.end_dropped_answers()  # none may linger
    await chaos.traffic.settle()
    print(f"[{time.monotonic() - started:5.0f} s] traffic and faults ended; draining", flush=True)
    drained = await bot.drain()
    bot.sample()
    print(f"[{time.monotonic() - started:5.0f} s] drained; clean restart", flush=True)
    await bot.stop("SIGTERM")
    await bot.start()
    redrained = await bot.drain()
    rows = await asyncio.to_thread(job_rows, bot.database)
    await bot.stop("SIGTERM")
    return Ending(judged, rss_at_end, traffic_ended, drained, redrained, rows)


async def soak(arguments: argparse.Namespace, folder: Path) -> None:
    """Run the soak, then print its figures against the goals."""
    rng = random.Random(arguments.seed)
    duration = arguments.minutes * 60.0
    emulator = DiscordEmulator()
    bot = BotProcess(emulator, folder)
    await emulator.start()
    try:
        members = [emulator.create_member(f"member{i}") for i in range(arguments.members)]
        moderator = emulator.create_member("moderator", permissions=MANAGE_MESSAGES)
        traffic = Traffic(emulator, members, rng)
        chaos = Chaos(emulator, bot, traffic, moderator)
        traffic.during = chaos.during
        print(SETUP.format(a=arguments), flush=True)
        await bot.start()
        await emulator.state.notifier.wait_for(
            lambda: True if emulator.global_commands else None, timeout=60, what="the sync"
        )
        started = time.monotonic()
        events = schedule(duration, rng)
        chaos.running = asyncio.create_task(chaos.run(events, started))
        watching = asyncio.create_task(watch(bot, traffic, chaos, started))
        await traffic.run(arguments.rate, started + duration)
        ending = await finish(chaos, started)
        watching.cancel()
        report(arguments, chaos, ending)
    finally:
        if bot.process is not None:  # the soak itself failed: leave no bot behind
            bot.process.kill()
        await emulator.stop()


def report(arguments: argparse.Namespace, chaos: Chaos, ending: Ending) -> None:
    """Print the figures, the goals next to them, and the cases behind a missed goal."""
    emulator, bot, sent = chaos.emulator, chaos.bot, chaos.traffic.sent
    result = tally(sent, emulator.messages, ending.rows)
    warm_up = max(20.0, 3 * arguments.minutes)
    grew = kept_growth(ending.judged, warm_up, ending.traffic_ended)
    kinds, faults = Counter(i.kind for i in sent), Counter(str(f.kind) for f in emulator.faults)
    away = chaos.traffic.skipped
    events = ", ".join(event for event in chaos.done if event != "drop")
    drops = f"{chaos.done.count('drop')} answer drops armed in turn on {', '.join(DROPPED)}"
    goals: list[tuple[str, bool, object]] = [("0 lost", not result.lost, result.lost)]
    goals += [("0 twice", not result.twice, len(result.twice))]
    goals += [("memory growth < 10 %", grew < 10, f"{grew:+.1f} %")]
    drained = f"{ending.drained:.0f} s after the traffic and faults ended, {ending.redrained:.0f}"
    lines = [
        f"\ninteractions sent: {len(sent)} ({counts(kinds)}); {away} not sent (bot away)",
        f"events in order: {events}; {drops}",
        f"faults injected (requests refused or cut): {counts(faults)}",
        f"drained {drained} s after the final clean restart",
        *job_lines(result),
        *memory_lines(bot.lives, ending.judged, ending.rss_at_end, warm_up, ending.traffic_ended),
        *log_lines(bot.folder),
        "goals: " + "; ".join(f"{g} {'met' if ok else 'MISSED'} ({n})" for g, ok, n in goals),
    ]
    cases = case_lines(result, shown_outcomes(emulator.messages), bot.lives)
    print("\n".join(lines + (["cases to investigate:", *cases] if cases else [])), flush=True)


def main() -> None:
    """Parse the command line and run the soak in a fresh folder."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the run")
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--rate", type=float, default=1.5, help="member actions per second")
    parser.add_argument("--keep", type=Path, help="a new folder to keep the data and logs in")
    arguments = parser.parse_args()
    began = time.monotonic()
    if arguments.keep is not None:
        arguments.keep.mkdir(parents=True)
        asyncio.run(soak(arguments, arguments.keep.resolve()))
    else:
        with tempfile.TemporaryDirectory(prefix="easel-soak-") as folder:
            asyncio.run(soak(arguments, Path(folder)))
    print(f"wall time {(time.monotonic() - began) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
