"""schemathesis against each service's OpenAPI document, in-process on the real stack.

Per operation: the schema's examples, schemathesis' coverage cases (boundaries, missing and wrong
types) and fuzzed cases, valid and invalid; then its stateful phase follows the links it infers
(GET /sessions/mentorships → a mentorship's goals → a goal's milestones ...). Callers are an org
admin and a member of one real organization, and positive cases name that organization's real
ids half the time, so requests reach the service's rules, not only its 404s.

Checks: no 5xx, and every response conforms to the document (its status code is documented, its
content type and body match, errors are problem+json). Generation is derandomized, so a run is
reproducible. Hypothesis runs in a worker thread; each request runs on the test's event loop,
where the apps, their relays and consumers live.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pydantic
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.generation.meta import CoverageScenario
from schemathesis.generation.stateful import run_state_machine_as_test

from tests.reliability.conftest import scale
from tests.reliability.hostile.conftest import Platform, Tenant, build_tenant

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.negative_data_rejection,
]
# Fuzzed cases: at least EXAMPLES per operation, more where a service has few operations, so
# that each service gets about FUZZED; then the stateful runs (of up to 10 steps) per identity.
EXAMPLES = scale(2, 10)
FUZZED = scale(60, 900)
STATEFUL_RUNS = scale(2, 15)
COVERAGE = scale(False, True)
# An endless Server-Sent Events stream: the in-process transport buffers a response until it
# ends, so the stream is exercised by notifications' own tests against a real server instead.
SKIPPED = {"GET /notifications/inbox/stream"}
# Path parameter -> the tenant resource a positive case names instead of a random id.
REAL = {
    "organization_id": "organization",
    "program_id": "program",
    "person_id": "mentee2",
    "enrollment_id": "mentee2_enrollment",
    "introduction_id": "introduction",
    "import_id": "import",
    "proposal_id": "proposal",
    "run_id": "run",
    "mentorship_id": "mentorship",
    "goal_id": "goal",
    "milestone_id": "milestone",
    "meeting_id": "meeting",
    "token": "calendar_token",
    "item_id": "inbox_item",
    "webhook_id": "webhook",
    "delivery_id": "delivery",
}


@dataclass
class Run:
    """What one service's run sent and what failed, a failure per operation and check."""

    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)


class Bridge:
    """Sends schemathesis cases from the worker thread through the app on the test's loop."""

    def __init__(self, platform: Platform, service: str, tenant: Tenant) -> None:
        # Its own client to the running app, so that a 500 comes back as a response to check
        # (running_app's client re-raises the app's exception instead).
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=platform.apps[service], raise_app_exceptions=False),
            base_url="http://testserver",
        )
        self.loop = asyncio.get_running_loop()
        self.tenant = tenant
        self.identities = [tenant.admin, tenant.as_("mentee")]
        self.turn = itertools.count()
        self.run = Run()

    def send(self, case: Any, identity: dict[str, str] | None = None) -> Any:
        identity = identity or self.identities[next(self.turn) % 2]
        kwargs = case.as_transport_kwargs(base_url=str(self.client.base_url))
        kwargs.pop("allow_redirects", None)
        prepared = requests.Request(**kwargs).prepare()
        headers = dict(prepared.headers)
        # The caller's token, except in the cases that test a missing or malformed one (they
        # must be refused with a 401).
        if not _drops_credentials(case):
            headers.update(identity)
        request = self.client.request(
            prepared.method, prepared.url, headers=headers, content=prepared.body, timeout=60
        )
        response = asyncio.run_coroutine_threadsafe(request, self.loop).result(timeout=120)
        self.run.cases += 1
        self.run.statuses[response.status_code] = self.run.statuses.get(response.status_code, 0) + 1
        return response

    def validate(self, case: Any, response: Any) -> None:
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                if failure.title == "Schema-violating request accepted" and _lax_scalar(case):
                    continue
                key = (case.operation.label, failure.title)
                self.run.failures.setdefault(key, str(group)[:3000])

    def name_real_ids(self, case: Any) -> None:
        """Every other positive case acts on the organization's real resources."""
        meta = case.meta
        if meta is None or meta.generation.mode is not GenerationMode.POSITIVE:
            return
        if case.method == "DELETE" or next(self.turn) % 2:
            return
        for name in list(case.path_parameters or {}):
            if name in REAL:
                case.path_parameters[name] = self.tenant.ids[REAL[name]]


def _mutations(case: Any) -> list[Any]:
    data = case.meta.phase.data if case.meta is not None else None
    return list(getattr(data, "mutations", ()) or ())


def _drops_credentials(case: Any) -> bool:
    """Whether a negative case is about the bearer token (left out or malformed)."""
    if case.operation.schema.is_security_param_negated(case):
        return True
    return any((m.parameter or "").lower() == "authorization" for m in _mutations(case))


# Pydantic converts between JSON scalars where the meaning is plain (0/1 and "yes" as booleans,
# false as 0, "14" as 14) on purpose: imports feed CSV cells through the request models. A
# negative case whose only change was such a scalar was converted, not let through unchecked.
def _lax_scalar(case: Any) -> bool:
    mutations = _mutations(case)
    if mutations:
        return all("type" in m.keywords and _convertible(m.new_value) for m in mutations)
    data = case.meta.phase.data if case.meta is not None else None
    if getattr(data, "scenario", None) != CoverageScenario.INCORRECT_TYPE:
        return False
    # The coverage phase names the changed property: "matching -> constraints -> x: ...".
    value: Any = case.body
    for key in data.description.split(":", 1)[0].split(" -> "):
        if not isinstance(value, dict) or key not in value:
            return False
        value = value[key]
    return _convertible(value)


def _convertible(value: Any) -> bool:
    if not isinstance(value, bool | int | float | str):
        return False
    for target in (bool, int, float):
        try:
            pydantic.TypeAdapter(target).validate_python(value)
        except pydantic.ValidationError:
            continue
        return True
    return False


def _settings(examples: int, **extra: Any) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        **extra,
    )


def _fuzz_operations(schema: Any, bridge: Bridge) -> None:
    operations = [r.ok() for r in schema.get_all_operations() if r.ok().label not in SKIPPED]
    examples = max(EXAMPLES, FUZZED // len(operations))
    # Erasing people last, so the organization's people stay there for everything else.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    modes = [HypothesisTestMode.EXAMPLES, HypothesisTestMode.FUZZING]
    if COVERAGE:
        modes.insert(1, HypothesisTestMode.COVERAGE)
    for operation in operations:

        def one(case: Any) -> None:
            bridge.name_real_ids(case)
            bridge.validate(case, bridge.send(case))

        test = create_test(
            operation=operation,
            test_func=one,
            config=HypothesisTestConfig(
                project=schema.config, modes=modes, settings=_settings(examples)
            ),
        )
        test()


def _walk_links(schema: Any, bridge: Bridge) -> None:
    """The stateful phase: chains of calls along the links schemathesis infers."""
    for identity in bridge.identities:

        class Workflow(schema.as_state_machine()):
            caller = identity

            def call(self, case: Any, **kwargs: Any) -> Any:
                if case.operation.label in SKIPPED:
                    raise hypothesis.errors.UnsatisfiedAssumption()
                return schemathesis.Response.from_httpx(bridge.send(case, self.caller), verify=True)

            def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
                bridge.validate(case, response)

        run_state_machine_as_test(
            Workflow, settings=_settings(STATEFUL_RUNS, stateful_step_count=10)
        )


def _fuzz(platform: Platform, service: str, bridge: Bridge) -> Run:
    schema = schemathesis.openapi.from_dict(platform.apps[service].openapi())
    _fuzz_operations(schema, bridge)
    _walk_links(schema, bridge)
    return bridge.run


pytestmark = pytest.mark.filterwarnings(
    # Raised inside schemathesis' own strategies, about their use of `random`.
    "ignore::hypothesis.errors.HypothesisDeprecationWarning"
)


@pytest.fixture(scope="module")
async def fuzzed(apps) -> Tenant:
    """An organization of its own: the cases end, erase and withdraw what they reach."""
    return await build_tenant(apps, "Fuzzed")


# Profiles last: its cases erase people the other services' cases act on.
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("service", ["notifications", "sessions", "matching", "profiles"])
async def test_every_documented_operation_answers_as_documented(apps, fuzzed, figures, service):
    bridge = Bridge(apps, service, fuzzed)
    try:
        run = await asyncio.to_thread(_fuzz, apps, service, bridge)
    finally:
        await bridge.client.aclose()
    modes = "examples, coverage, fuzzing" if COVERAGE else "examples, fuzzing"
    figures.summary(
        row=f"schemathesis {service}",
        load=f"{modes}, then stateful links, in-process",
        faults="generated valid and invalid requests",
        cases=run.cases,
        errors_5xx=sum(n for s, n in run.statuses.items() if s >= 500),
    )
    figures.add(f"{service}: cases run", run.cases)
    figures.add(f"{service}: 5xx", sum(n for s, n in run.statuses.items() if s >= 500))
    figures.add(f"{service}: failures", len(run.failures), "(operation, check)")
    figures.add(f"{service}: statuses seen", dict(sorted(run.statuses.items())))
    assert run.cases >= scale(50, 1000)
    assert not run.failures, "\n\n".join(
        f"{label} — {title}\n{detail}" for (label, title), detail in run.failures.items()
    )
