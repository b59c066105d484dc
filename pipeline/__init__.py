"""Easel's generation engine: turns generation requests into images with Hugging Face diffusers.

This package never imports ``discord`` or ``bot``: it runs on its own (``python -m pipeline``)
and the bot is only one of its callers.
"""
