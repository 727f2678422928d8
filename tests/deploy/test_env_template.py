"""deploy/tracker.env.example lists every variable the settings and gunicorn read, and
with its values `manage.py check --deploy` gives no warning."""

from __future__ import annotations

import ast
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "tracker.env.example"
READERS = {
    "env_str",
    "env_secret",
    "env_bool",
    "env_int",
    "env_list",
    "env_rate",
    "env_url",
    "env_float",
}


def variables_read(path: Path) -> set[str]:
    """Names passed to env_*() or os.environ.get()/[] (a literal first argument)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        name = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if (isinstance(func, ast.Name) and func.id in READERS) or (
                isinstance(func, ast.Attribute)
                and func.attr in ("get", "setdefault")
                and ast.unparse(func.value) == "os.environ"
            ):
                name = node.args[0]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            name = node.slice
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            found.add(name.value)
    return found


def template_values() -> dict[str, str]:
    """Every NAME=value line, commented (a default) or not."""
    out = {}
    for line in TEMPLATE.read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$", line)
        if match:
            out[match.group(1)] = match.group(2) if not line.startswith("#") else None
    return out


def test_the_template_lists_every_variable_and_no_other():
    read = variables_read(ROOT / "config" / "settings.py") | variables_read(
        ROOT / "deploy" / "gunicorn.conf.py"
    )
    listed = set(template_values())
    assert read - listed == set(), "read by the settings but missing from the template"
    assert listed - read == set(), "in the template but read by nothing"


def production_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO"))}
    for key in list(env):  # only the template's values, none of this shell's
        if key in template_values():
            del env[key]
    env.update({k: v for k, v in template_values().items() if v is not None})
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    env["METRICS_TOKEN"] = secrets.token_urlsafe(20)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return env


def test_check_deploy_gives_no_warning_with_the_documented_environment(tmp_path):
    env = production_env()
    env["TRACKER_VAR_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    print(done.stdout, done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_without_https_only_the_check_does_warn(tmp_path):
    """The test above can fail: the same check, HTTPS turned off, warns."""
    env = production_env()
    env.update(TRACKER_VAR_DIR=str(tmp_path), HTTPS_ONLY="false")
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "security.W004" in done.stderr + done.stdout
    assert "security.W008" in done.stderr + done.stdout


def test_the_template_copied_unfilled_does_not_start(tmp_path):
    """SECRET_KEY=CHANGE_ME (the template copied as it is) stops start-up, as a
    missing key does; so does METRICS_TOKEN=CHANGE_ME. Each message names the value."""
    for name in ("SECRET_KEY", "METRICS_TOKEN"):
        env = production_env()
        env.update(TRACKER_VAR_DIR=str(tmp_path), **{name: "CHANGE_ME"})
        done = subprocess.run(
            [sys.executable, "manage.py", "check"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode != 0
        assert f"{name} is 'CHANGE_ME'" in done.stderr
