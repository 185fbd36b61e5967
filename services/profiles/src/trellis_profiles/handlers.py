"""Every Kafka subscription of profiles (its consumed events arrive with issue 3's features)."""

from trellis_shared.inbox import Subscriptions

subscriptions = Subscriptions()
