"""Mentorships: created from accepted matches, their lifecycle, and who may see them."""
