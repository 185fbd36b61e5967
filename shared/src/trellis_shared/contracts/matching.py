"""Events published by the matching service (contracts arrive with its features)."""
