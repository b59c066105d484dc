"""The soak's instruments: the bot as a process, its database read only, the tally, the figures.

What each accepted job's owner was shown comes from the emulator's messages (every version of
every one, deleted ones included), cross-checked with what the bot believes (its SQLite
database, read only). Used by ``benchmarks/soak.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sqlite3
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tests.bot.process import start_bot
from tests.fakediscord.interactions import DEFERRED_CHANNEL_MESSAGE
from tests.fakediscord.models import walk_components

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tests.fakediscord.emulator import DiscordEmulator
    from tests.fakediscord.interactions import InteractionRecord
    from tests.fakediscord.models import MessageRecord, MessageVersion

MODEL = Path(__file__).resolve().parents[1] / "models" / "easel-tiny"
CONFIG = """data_dir: data
model: {{path: {model}, device: cpu, cpu_threads: 1}}
generation: {{steps: 4, sampler: Euler}}
queue: {{gather_ms: 5, max_jobs_per_user: 20, max_pending: 2000, shutdown_grace: 5}}
moderation: {{user_per_minute: 30, user_burst: 10, image_check: false}}
storage: {{backup_every_hours: 0}}
"""
DRAIN_TIMEOUT = 600.0
JOB_KINDS = frozenset({"imagine", "upscale", "vary", "reroll"})
MARKER = re.compile(r"job `([0-9a-z]+)`")  # bot/messages.py:job_marker, in every final text
FAILED, CANCELED = "❌ This job failed", "🚫 Canceled:"
REFUSALS = {  # the words of bot/moderation, pipeline/scheduler and bot/in_flight, by label
    "rate limit": ("faster than this server allows", "image budget"),
    "banned": ("you are banned",),
    "queue full": ("jobs queued or running", "the queue is full"),
    "restarting": ("restarting",),
    "image gone": ("no longer available",),
    "apology (internal error)": ("something went wrong",),
}


@dataclass
class Life:
    """One bot process: when it was ready, its memory over time, and how it ended."""

    number: int
    pid: int
    ready_at: float = 0.0
    samples: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, RSS KiB)
    ended: str = "running"
    ended_at: float = 0.0  # on the emulator's clock, to compare with interactions

    def rss_after(self, warm_up: float) -> int | None:
        """Return the first RSS sampled ``warm_up`` seconds after it was ready (or the last)."""
        late = (kib for at, kib in self.samples if at - self.ready_at >= warm_up)
        return next(late, self.samples[-1][1] if self.samples else None)


class BotProcess:
    """``python -m bot`` on the emulator: started, stopped or killed, restarted, measured."""

    def __init__(self, emulator: DiscordEmulator, folder: Path) -> None:
        self.emulator = emulator
        self.folder = folder
        self.database = folder / "data" / "easel.db"
        self.config = folder / "soak.yaml"
        self.config.write_text(CONFIG.format(model=MODEL), encoding="utf-8")
        self.lives: list[Life] = []
        self.process: asyncio.subprocess.Process | None = None
        self._copies: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start the bot on the same data and wait until its gateway session is ready."""
        count = self.emulator.gateway.ready_count + 1
        # A later --config wins: start_bot's own config lacks the soak's limits.
        process = await start_bot(
            self.emulator, self.folder, MODEL, self.emulator.token, "--config", str(self.config)
        )
        self.process = process
        self.lives.append(Life(len(self.lives) + 1, process.pid))
        log = self.folder / f"bot-{len(self.lives)}.log"  # stderr; stdout (empty) in .out
        pipes = [(process.stdout, log.with_suffix(".out")), (process.stderr, log)]
        self._copies = [asyncio.create_task(_copy(pipe, to)) for pipe, to in pipes if pipe]
        ready = asyncio.ensure_future(self.emulator.wait_for_identify(count, timeout=300))
        exited = asyncio.ensure_future(process.wait())
        await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        exited.cancel()
        if not ready.done() or ready.exception() is not None:
            ready.cancel()
            raise RuntimeError(f"bot {len(self.lives)} never got ready (see {log.name})")
        self.lives[-1].ready_at = time.monotonic()

    async def stop(self, how: str) -> None:
        """End the process: "SIGTERM" (clean, waited for) or "kill -9" (a crash)."""
        process, life = self.process, self.lives[-1]
        assert process is not None
        self.sample()
        process.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGKILL)
        life.ended_at = self.emulator.clock.now()
        try:
            code = await asyncio.wait_for(process.wait(), timeout=90)
        except TimeoutError:
            process.kill()
            code, how = await process.wait(), f"{how} (hung: killed after 90 s)"
        await asyncio.gather(*self._copies)
        life.ended, self.process = f"{how}, exit {code}", None

    def sample(self) -> None:
        """Record the running process's resident memory (from /proc), once it is ready."""
        life = self.lives[-1] if self.process is not None else None
        with contextlib.suppress(OSError, StopIteration):
            if life is not None and life.ready_at:
                status = Path(f"/proc/{life.pid}/status").read_text().splitlines()
                kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
                life.samples.append((time.monotonic(), kib))

    async def drain(self) -> float:
        """Wait until every job has finished and been delivered; return how long it took."""
        began = time.monotonic()
        while time.monotonic() - began < DRAIN_TIMEOUT:
            view = await asyncio.to_thread(queue_view, self.database)
            if view is not None and view.drained:
                break
            await asyncio.sleep(1.0)
        await asyncio.sleep(2.0)  # the last refusals and edits settle
        return time.monotonic() - began


async def _copy(stream: asyncio.StreamReader, path: Path) -> None:
    """Keep one of the bot's pipes drained into a file (a full pipe would block its logging)."""
    with path.open("ab") as log:
        while chunk := await stream.read(65536):
            log.write(chunk)


@dataclass(frozen=True)
class QueueView:
    """The bot's queue and outbox as its database shows them now."""

    jobs: int
    unfinished: int
    delivered: int
    owed: int
    undelivered: int

    @property
    def drained(self) -> bool:
        """Tell whether every job has finished and every outcome has been delivered."""
        return not (self.unfinished or self.owed or self.undelivered)


def queue_view(path: Path) -> QueueView | None:
    """Count jobs, unfinished jobs, deliveries and the outbox; None before the file exists."""
    if not path.exists():
        return None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as database:
        row = database.execute(
            "SELECT (SELECT COUNT(*) FROM jobs), "
            "(SELECT COUNT(*) FROM jobs WHERE status IN ('pending', 'running')), "
            "(SELECT COUNT(*) FROM deliveries), (SELECT COUNT(*) FROM outbox), "
            "(SELECT COUNT(*) FROM jobs LEFT JOIN deliveries ON deliveries.job_id = jobs.id "
            "WHERE jobs.status IN ('done', 'failed', 'canceled') AND deliveries.job_id IS NULL)"
        ).fetchone()
    return QueueView(*row)


@dataclass(frozen=True)
class JobRow:
    """What the bot's database says about one job."""

    id: str
    status: str
    token: str | None
    delivery: str | None  # the deliveries table's outcome; None when none was recorded


def job_rows(path: Path) -> list[JobRow]:
    """Read every job with its interaction token and recorded delivery."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as database:
        rows = database.execute(
            "SELECT jobs.id, jobs.status, json_extract(jobs.context, '$.token'), "
            "deliveries.outcome FROM jobs LEFT JOIN deliveries ON deliveries.job_id = jobs.id "
            "ORDER BY jobs.seq"
        ).fetchall()
    return [JobRow(*row) for row in rows]


@dataclass(frozen=True)
class Sent:
    """One interaction the soak sent, what it was, and what was going on at the time."""

    kind: str  # imagine, upscale, vary, reroll, delete, queue, cancel, ban, unban
    record: InteractionRecord
    during: str  # "" or the faults and restarts in progress, e.g. "outage", "restart"


@dataclass
class Tally:
    """The soak's figures, and the cases behind the ones that should be zero."""

    accepted: int = 0
    once: int = 0
    twice: list[str] = field(default_factory=list)
    told: Counter[str] = field(default_factory=Counter)
    lost_jobs: list[str] = field(default_factory=list)
    left_thinking: list[Sent] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    unanswered: Counter[str] = field(default_factory=Counter)
    delays: dict[str, list[float]] = field(default_factory=lambda: {"all": [], "no fault": []})
    unknown: set[str] = field(default_factory=set)  # shown, yet not in the database

    @property
    def lost(self) -> int:
        """Return the accepted jobs whose owner never heard of them again."""
        return len(self.lost_jobs) + len(self.left_thinking)


def shown_outcomes(messages: Iterable[MessageRecord]) -> dict[str, list[MessageRecord]]:
    """Map each job id to the messages that ever showed its final outcome."""
    shown: dict[str, list[MessageRecord]] = defaultdict(list)
    for message in messages:
        for job_id in {job for version in message.versions for job in _final_jobs(version)}:
            shown[job_id].append(message)
    return shown


def _final_jobs(version: MessageVersion) -> list[str]:
    """Return the jobs whose final outcome this version shows: a result, a failure, a cancel."""
    text = version.content
    buttons = any("custom_id" in part for part in walk_components(version.components))
    final = (version.attachments and buttons) or FAILED in text or CANCELED in text
    return MARKER.findall(text) if final else []


def tally(sent: Iterable[Sent], messages: Iterable[MessageRecord], jobs: list[JobRow]) -> Tally:
    """Count every accepted job by how many messages show its outcome, and every interaction."""
    result = Tally()
    shown = shown_outcomes(messages)
    for job in jobs:
        seen = len(shown.get(job.id, ()))
        result.accepted += 1
        if seen >= 2:
            result.twice.append(job.id)
        elif seen == 1 and job.status == "done":
            result.once += 1
        elif seen == 1 or job.delivery == "undeliverable":
            result.told[job.status if seen else "undeliverable"] += 1
        else:
            result.lost_jobs.append(job.id)
    result.unknown = set(shown) - {job.id for job in jobs}
    tokens = {job.token for job in jobs if job.token}
    for item in sent:
        _count_interaction(result, item, tokens)
    return result


def _count_interaction(result: Tally, item: Sent, tokens: set[str]) -> None:
    """Count an interaction: its acknowledgement time, and a refusal or a silent defer."""
    record = item.record
    if record.callback is None:
        result.unanswered[item.during or "no fault"] += 1
        return
    for label in ("all", "no fault") if not item.during else ("all",):
        result.delays[label].append(record.callback.at - record.created_at)
    if item.kind not in JOB_KINDS or record.token in tokens:
        return  # not a job, or an accepted job (counted from the database)
    reason = refusal_reason(record)
    if reason is not None:
        result.refused[reason] += 1
    elif record.callback.type == DEFERRED_CHANNEL_MESSAGE:
        # "Thinking…" was shown, yet no job was stored and nothing was said: lost.
        result.accepted += 1
        result.left_thinking.append(item)
    else:
        result.refused["other"] += 1


def refusal_reason(record: InteractionRecord) -> str | None:
    """Name the refusal an interaction's answer carries, if it carries any text at all."""
    texts = [str(record.callback.data.get("content") or "")] if record.callback else []
    texts += [version.content for message in record.messages for version in message.versions]
    words = " ".join(texts).lower().strip()
    label = next((k for k, phrases in REFUSALS.items() if any(p in words for p in phrases)), None)
    return label or (f"other: {words[:60]}" if words else None)


def counts(counter: Counter[str]) -> str:
    """Format a counter, largest first."""
    return ", ".join(f"{name} {n}" for name, n in counter.most_common()) or "none"


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile (``share`` from 0 to 1) of non-empty ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def job_lines(result: Tally) -> list[str]:
    """Describe the jobs and interactions, with the goals next to the figures."""
    lost = f"{len(result.lost_jobs)} stored, never shown; {len(result.left_thinking)} left"
    unanswered = f"by what was on: {counts(result.unanswered)}"
    lines = [
        f"jobs accepted:            {result.accepted}",
        f"  delivered once:         {result.once}",
        f"  delivered twice:        {len(result.twice)}   (goal 0)",
        f"  owner told:             {result.told.total()}   ({counts(result.told)})",
        f"  lost:                   {result.lost}   (goal 0; {lost} thinking, no job, no word)",
        f"refused ephemerally:      {result.refused.total()}   ({counts(result.refused)})",
        f"unanswered (no callback): {result.unanswered.total()}   ({unanswered})",
    ]
    for label, delays in result.delays.items():
        if delays:
            lines.append(
                f"ack latency (interaction → first callback, emulator clock), {label}, "
                f"{len(delays)}: p50 {percentile(delays, 0.5) * 1000:.0f} ms, p99 "
                f"{percentile(delays, 0.99) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms"
            )
    if result.unknown:
        lines.append(f"job ids shown but not in the database: {sorted(result.unknown)[:10]}")
    return lines


def case_lines(
    result: Tally, shown: dict[str, list[MessageRecord]], lives: list[Life]
) -> list[str]:
    """List the jobs and interactions behind a non-zero lost or twice, for investigation."""
    kills = [life.ended_at for life in lives if life.ended.startswith("kill")]
    lines = [
        f"  twice: job {job_id} in messages "
        + ", ".join(f"{m.id} ({m.kind}, {m.edit_count} edits)" for m in shown[job_id])
        for job_id in result.twice[:10]
    ]
    lines += [f"  lost: job {job_id} (stored, never shown)" for job_id in result.lost_jobs[:10]]
    return lines + [
        f"  lost: {item.kind} interaction {item.record.id} deferred after "
        f"{(item.record.response_delay or 0) * 1000:.0f} ms ({item.during or 'no fault'}); no "
        f"job stored, nothing said; Discord errors {[e.code for e in item.record.errors]}"
        + _killed_after(item.record, kills)
        for item in result.left_thinking[:10]
    ]


def _killed_after(record: InteractionRecord, kills: list[float]) -> str:
    """Say if the bot was killed within seconds of acknowledging an interaction."""
    at = record.callback.at if record.callback else record.created_at
    gap = min((kill - at for kill in kills if kill >= at), default=None)
    return f"; kill -9 {gap:.1f} s later" if gap is not None and gap < 5 else ""


def log_lines(folder: Path) -> list[str]:
    """Count ERROR lines and tracebacks in every bot process's output; quote the first few."""
    errors: list[str] = []
    tracebacks = 0
    for path in sorted(folder.glob("bot-*.log")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            tracebacks += line.startswith("Traceback")
            errors += [f"  {path.name}: {line[:220]}"] if " ERROR " in line else []
    return [f"bot logs: {len(errors)} ERROR line(s), {tracebacks} traceback(s)", *errors[:8]]
