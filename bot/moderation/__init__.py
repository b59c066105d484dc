"""Moderation logic: normalising text, filters, rate limits, image safety. No Discord, no SQL."""
