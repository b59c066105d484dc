"""Moderation: pure logic (normalising, filters, rate limits, image safety) and its front ends.

The gate (every job passes it) and the admin (what moderators change) work on Actor records
and the store's repositories: no Discord and no SQL anywhere in this package.
"""
