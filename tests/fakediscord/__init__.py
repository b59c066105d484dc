"""Easel's Discord API emulator: the unmodified discord.py client talks to it over 127.0.0.1."""

from .clock import Clock
from .emulator import DiscordEmulator
from .errors import APIError
from .faults import FaultRecord
from .gateway import IdentifyRecord
from .interactions import CallbackRecord, InteractionRecord
from .invoke import InvocationError
from .models import (
    ApiErrorRecord,
    AttachmentRecord,
    ChannelRecord,
    CommandRecord,
    GuildRecord,
    MemberRecord,
    MessageRecord,
    MessageVersion,
    RoleRecord,
    Upload,
    UserRecord,
)
from .state import UnknownRoute

__all__ = [
    "APIError",
    "ApiErrorRecord",
    "AttachmentRecord",
    "CallbackRecord",
    "ChannelRecord",
    "Clock",
    "CommandRecord",
    "DiscordEmulator",
    "FaultRecord",
    "GuildRecord",
    "IdentifyRecord",
    "InteractionRecord",
    "InvocationError",
    "MemberRecord",
    "MessageRecord",
    "MessageVersion",
    "RoleRecord",
    "UnknownRoute",
    "Upload",
    "UserRecord",
]
