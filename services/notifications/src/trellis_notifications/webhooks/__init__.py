"""Partner webhooks: subscriptions, signed deliveries with retries, and their log."""

from trellis_notifications.webhooks.fanout import fan_out

__all__ = ["fan_out"]
