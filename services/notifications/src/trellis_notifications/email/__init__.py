"""Email: the worker that sends queued deliveries over SMTP (with retries, invites and one-click
unsubscribe), daily digests, unsubscribe links, and program admins' at-risk digests."""
