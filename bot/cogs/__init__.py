"""Slash commands, grouped by feature; each cog only describes commands and delegates."""
