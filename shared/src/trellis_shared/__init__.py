"""Trellis common library: mechanisms every service shares, and no business rules."""
