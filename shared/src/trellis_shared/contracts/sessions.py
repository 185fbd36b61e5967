"""Events published by the sessions service (contracts arrive with its features)."""
