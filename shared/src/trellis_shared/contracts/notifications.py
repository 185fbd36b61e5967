"""Events published by the notifications service (contracts arrive with its features)."""
