"""Each person's say over what reaches them: categories by channels, quiet hours, digests and
reminder lead times."""
