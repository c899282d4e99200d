"""Announcements and the release diary."""
