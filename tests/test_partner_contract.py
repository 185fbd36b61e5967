"""The partner contract: the AsyncAPI document generated from the event contracts is valid for the
official AsyncAPI parser and describes every topic and every event type."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from trellis_shared import asyncapi
from trellis_shared.events import registered_contracts, topic_of

ROOT = Path(__file__).resolve().parents[1]
VALIDATOR = ROOT / "infra" / "asyncapi" / "validate.mjs"


def _validate(doc: dict, tmp_path: Path) -> dict:
    if not (VALIDATOR.parent / "node_modules" / "@asyncapi" / "parser").exists():
        pytest.fail("the AsyncAPI parser is not installed: run `make bootstrap` (npm ci)")
    path = tmp_path / "asyncapi.yaml"
    path.write_text(asyncapi.as_yaml(doc))
    done = subprocess.run(
        ["node", str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=120
    )
    return json.loads(done.stdout) | {"exit": done.returncode}


def test_the_generated_document_is_valid_asyncapi_3_with_every_event(tmp_path):
    result = _validate(asyncapi.document(), tmp_path)
    assert result["valid"] and result["exit"] == 0, result["errors"]
    assert result["version"] == "3.0.0"
    contracts = registered_contracts()
    assert result["messages"] == len(contracts)
    assert result["channels"] == len({topic_of(t) for t in contracts})


def test_each_message_carries_its_headers_key_and_payload():
    doc = asyncapi.document()
    message = doc["components"]["messages"]["sessions_meeting_scheduled_v1"]
    assert message["headers"]["properties"]["ce_type"]["const"] == (
        "trellis.sessions.meeting.scheduled.v1"
    )
    assert {"ce_id", "ce_source", "ce_tenant"} <= set(message["headers"]["required"])
    assert "meeting_id" in message["bindings"]["kafka"]["key"]["description"]
    assert {"meeting_id", "starts_at", "mentor_id"} <= set(message["payload"]["properties"])
    channel = doc["channels"]["sessions_meeting"]
    assert channel["address"] == "trellis.sessions.meeting"
    # Shared models (a program's matching settings) are described once, by reference.
    program = doc["components"]["messages"]["profiles_program_created_v1"]["payload"]
    assert program["properties"]["matching"]["$ref"] == "#/components/schemas/MatchingSettings"


def test_the_validator_rejects_a_broken_document(tmp_path):
    doc = asyncapi.document()
    first = next(iter(doc["operations"].values()))
    first["channel"] = {"$ref": "#/channels/no_such_channel"}
    result = _validate(doc, tmp_path)
    assert not result["valid"] and result["exit"] == 1
    assert result["errors"]
