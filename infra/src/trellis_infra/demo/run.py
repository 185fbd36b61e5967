"""The demo from start to end, against any Trellis gateway (the test points it at its own)."""

from __future__ import annotations

import httpx

from trellis_infra.demo import data, pairs, panel, seed
from trellis_infra.demo.client import Api, DemoError
from trellis_infra.demo.seed import Options, Seeded
from trellis_infra.demo.show import Show


async def run(opts: Options, show: Show | None = None) -> Seeded:
    show = show or Show()
    opts.out.mkdir(parents=True, exist_ok=True)
    cohort = data.generate(mentors=opts.mentors, mentees=opts.mentees, seed=opts.seed)
    state = Seeded(opts=opts, cohort=cohort)
    api = Api(opts.url, concurrency=opts.concurrency)
    try:
        try:
            (await api.http.get("/healthz", timeout=5)).raise_for_status()
        except httpx.HTTPError as exc:
            raise DemoError(f"no Trellis gateway answers at {opts.url} ({exc})") from exc
        show.step(f"Seeding an alumni mentoring program at {opts.url} (seed {opts.seed})")
        await seed.organization(api, show, state)
        await seed.partner_webhook(api, show, state)
        await seed.program(api, show, state)
        show.step(
            f"Importing {len(cohort.mentors)} alumni and {len(cohort.mentees)} students "
            "in bulk (CSV with enrollment columns)"
        )
        await seed.bulk_import(api, show, state)
        await seed.traced_registration(api, show, state)
        show.step("Matching")
        await seed.matching_ready(api, show, state)
        await seed.optimal_run(api, show, state)
        show.step("Proposals answered, mentorships at work")
        await pairs.pairs(api, show, state)
        await panel.finish(api, show, state)
        if api.throttled:
            show.console.print(
                f"[dim]{api.requests} requests; the gateway's rate limit answered 429 "
                f"{api.throttled} times, each retried after its Retry-After[/]"
            )
    finally:
        await api.close()
    return state
