"""Services import `trellis_shared` and themselves, never another service; shared knows none."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("profiles", "matching", "sessions", "notifications")


def _imports(package_dir: Path) -> set[tuple[str, str]]:
    found = set()
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found |= {
                    (str(path.relative_to(ROOT)), alias.name.split(".")[0]) for alias in node.names
                }
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((str(path.relative_to(ROOT)), node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service):
    others = {f"trellis_{s}" for s in SERVICES if s != service} | {"trellis_infra"}
    offending = sorted(
        (path, module)
        for path, module in _imports(ROOT / "services" / service / "src")
        if module in others
    )
    assert offending == []


def test_the_common_library_imports_no_service():
    services = {f"trellis_{s}" for s in SERVICES} | {"trellis_infra"}
    offending = sorted((p, m) for p, m in _imports(ROOT / "shared" / "src") if m in services)
    assert offending == []


def test_the_boundary_check_sees_imports():
    # Guard against a check that can never fail: it must find the imports it looks for.
    assert ("services/profiles/src/trellis_profiles/main.py", "trellis_shared") in _imports(
        ROOT / "services" / "profiles" / "src"
    )
