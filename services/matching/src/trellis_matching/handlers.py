"""Every Kafka subscription of matching (its consumed events arrive with the service's features)."""

from trellis_shared.inbox import Subscriptions

subscriptions = Subscriptions()
