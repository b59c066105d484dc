"""Shared pytest configuration: the Discord emulator's fixtures for every test."""

pytest_plugins = ["tests.fakediscord.fixtures"]
