"""Easel's Discord bot: slash commands, buttons, moderation and storage around the engine."""
