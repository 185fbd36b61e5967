"""`make demo`: seeds a realistic alumni mentoring program through the public API and the CLI.

data.py generates the organization from a seed, client.py talks to the gateway (bounded
concurrency, backing off on 429), receiver.py is the partner's webhook endpoint, seed.py and
journey.py are the steps, panel.py prints what to open. Run: `python -m trellis_infra.demo --help`.
"""
