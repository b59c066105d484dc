"""Persistence: the only package that talks to SQLite (through aiosqlite)."""
