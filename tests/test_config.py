"""Settings precedence (CLI > env > file > defaults) and errors that name their source."""

from __future__ import annotations

import pytest

from gpucheck.config import SettingsError, resolve


def test_defaults():
    s = resolve(env={})
    assert (s.profile, s.fail_on, s.timeout, s.namespace) == ("standard", "major", 600.0, None)


def test_cli_beats_env_beats_file(tmp_path):
    f = tmp_path / "gpucheck.yaml"
    f.write_text("profile: full\nfailOn: warn\ntimeout: 30\nminDriver: '550.54'\n")
    env = {"GPUCHECK_CONFIG": str(f), "GPUCHECK_PROFILE": "quick"}
    s = resolve(cli={"fail_on": "critical"}, env=env)
    assert s.profile == "quick" and s.sources["profile"] == "GPUCHECK_PROFILE"
    assert s.fail_on == "critical" and s.sources["fail_on"] == "--gpucheck-fail-on"
    assert s.timeout == 30 and s.sources["timeout"] == f"config file {f}"
    assert s.min_driver == "550.54"


@pytest.mark.parametrize("cli,env,needle", [
    ({"fail_on": "maybe"}, {}, "--gpucheck-fail-on: 'maybe' is not one of critical, major, warn"),
    ({}, {"GPUCHECK_TIMEOUT": "soon"}, "GPUCHECK_TIMEOUT=soon: 'soon' is not a number of seconds"),
    ({"timeout": "-3"}, {}, "--gpucheck-timeout: the timeout must be more than 0"),
    ({"profile": "turbo"}, {}, "--gpucheck-profile: 'turbo' is not a profile"),
    ({"select": "GPU-NOPE-001"}, {}, "--gpucheck-select: unknown check id GPU-NOPE-001"),
    ({"namespace": "Bad_NS"}, {}, "--gpucheck-namespace: 'Bad_NS' is not a valid namespace name"),
    ({"config_file": "/nonexistent.yaml"}, {}, "config file /nonexistent.yaml does not exist"),
])
def test_bad_values_name_where_they_came_from(cli, env, needle):
    with pytest.raises(SettingsError) as err:
        resolve(cli=cli, env=env)
    assert needle in str(err.value)


@pytest.mark.parametrize("text,needle", [
    ("gpuTaintKey: [x]\n", "gpuTaintKey: extra inputs are not permitted"),
    ("timeout: forever\n", "timeout: input should be a valid number"),
    ("failOn: sometimes\n", "failOn: 'sometimes' is not one of"),
    ("minDriver: abc\n", "minDriver: 'abc' is not a driver version"),
    ("- a list\n", "the top level must be a mapping"),
    ("profile: [unclosed\n", "not valid YAML"),
])
def test_bad_config_files_are_named(tmp_path, text, needle):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(SettingsError) as err:
        resolve(cli={"config_file": str(f)}, env={})
    assert str(f) in str(err.value) and needle in str(err.value)
