"""Event contracts, one module per producing service. Consumers import them; they never copy them.

Importing this package registers every contract, so a consumer can decode any Trellis event.
"""

from trellis_shared.contracts import matching, notifications, profiles, sessions

__all__ = ["matching", "notifications", "profiles", "sessions"]
