"""Configuration: ``[tool.fastsplit]`` in pyproject.toml, command-line flags on top, and
one clear ConfigError for every invalid value wherever it comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fastsplit.config import (
    Config,
    config_from_table,
    load_config,
    validate_route_settings,
)
from fastsplit.errors import ConfigError


def write_pyproject(folder: Path, text: str) -> Path:
    path = folder / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(func: Any, *args: Any, **kwargs: Any) -> str:
    """The message of the ConfigError ``func`` raises, checked to be one line."""
    with pytest.raises(ConfigError) as info:
        func(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


FULL_TABLE = """\
[project]
name = "someone-else"

[tool.fastsplit]
app = "example_app.main:app"
app-dir = "src"
out = "dist/functions"
service = "shop-api"
stage = "prod"
region = "eu-west-1"
runtime = "python3.13"
architecture = "arm64"
memory = 1024
timeout = 15
docs = false
fallback = true
environment = { LOG_LEVEL = "debug", RETRIES = 3 }
iam_statements = [
  { Effect = "Allow", Action = ["s3:GetObject"], Resource = "arn:aws:s3:::bucket/*" },
]

[tool.fastsplit.routes."/admin/*"]
memory = 2048

[tool.fastsplit.routes."GET /users/*"]
timeout = 5
environment = { CACHE = "on" }

[tool.fastsplit.routes."get_report*"]
name = "reports"
"""


# ---------------------------------------------------------------- loading the file


def test_missing_pyproject_gives_the_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path) == Config()


def test_pyproject_without_a_fastsplit_table_gives_the_defaults(tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[project]\nname = "x"\n\n[tool.ruff]\nline-length = 99\n')
    assert load_config(tmp_path) == Config()


def test_defaults_are_fastsplits_documented_defaults() -> None:
    config = Config()
    assert (config.app, config.app_dir, config.out) == (None, Path("."), Path("build"))
    assert (config.stage, config.region, config.runtime) == ("dev", "us-east-1", "python3.12")
    assert (config.architecture, config.memory, config.timeout) == ("x86_64", 512, 29)
    assert (config.docs, config.fallback, config.strict) == (True, True, False)


def test_every_global_setting_is_read(tmp_path: Path) -> None:
    write_pyproject(tmp_path, FULL_TABLE)
    config = load_config(tmp_path)
    assert config.app == "example_app.main:app"
    assert config.app_dir == tmp_path / "src"
    assert config.out == tmp_path / "dist/functions"
    assert config.service == "shop-api"
    assert (config.stage, config.region) == ("prod", "eu-west-1")
    assert (config.runtime, config.architecture) == ("python3.13", "arm64")
    assert (config.memory, config.timeout) == (1024, 15)
    assert (config.docs, config.fallback) == (False, True)


def test_environment_values_become_sorted_string_pairs(tmp_path: Path) -> None:
    write_pyproject(tmp_path, FULL_TABLE)
    assert load_config(tmp_path).environment == (("LOG_LEVEL", "debug"), ("RETRIES", "3"))


def test_iam_statements_are_read(tmp_path: Path) -> None:
    write_pyproject(tmp_path, FULL_TABLE)
    assert load_config(tmp_path).iam_statements == (
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::bucket/*"},
    )


def test_route_tables_keep_file_order_and_are_validated(tmp_path: Path) -> None:
    write_pyproject(tmp_path, FULL_TABLE)
    assert load_config(tmp_path).routes == (
        ("/admin/*", {"memory": 2048}),
        ("GET /users/*", {"timeout": 5, "environment": (("CACHE", "on"),)}),
        ("get_report*", {"name": "reports"}),
    )


def test_dashed_and_underscored_keys_are_both_accepted() -> None:
    dashed = config_from_table({"app-dir": "a", "reserved-concurrency": 3}, where="t")
    underscored = config_from_table({"app_dir": "a", "reserved_concurrency": 3}, where="t")
    assert dashed == underscored
    assert dashed.app_dir == Path("a")
    assert dashed.reserved_concurrency == 3


def test_unknown_key_is_an_error_naming_the_key_and_the_file(tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[tool.fastsplit]\napp = "a:b"\nmemroy = 512\n')
    message = config_error(load_config, tmp_path)
    assert "'memroy'" in message
    assert "pyproject.toml [tool.fastsplit]" in message
    assert "unknown key" in message


def test_strict_is_a_flag_not_a_file_setting(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "[tool.fastsplit]\nstrict = true\n")
    assert "unknown key 'strict'" in config_error(load_config, tmp_path)


def test_invalid_toml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = write_pyproject(tmp_path, "[tool.fastsplit\napp = \n")
    message = config_error(load_config, tmp_path)
    assert str(path) in message
    assert "invalid TOML" in message


def test_non_utf8_pyproject_is_an_invalid_toml_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b'[tool.fastsplit]\napp = "\xff"\n')
    assert "invalid TOML" in config_error(load_config, tmp_path)


def test_fastsplit_entry_that_is_not_a_table_is_an_error(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "[tool]\nfastsplit = 3\n")
    assert "[tool.fastsplit] must be a table" in config_error(load_config, tmp_path)


def test_routes_that_are_not_a_table_are_an_error(tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[tool.fastsplit]\nroutes = ["/admin/*"]\n')
    assert "must be a table of globs" in config_error(load_config, tmp_path)


def test_invalid_route_table_setting_names_the_glob(tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[tool.fastsplit.routes."/admin/*"]\nmemory = 64\n')
    message = config_error(load_config, tmp_path)
    assert "'/admin/*'" in message
    assert "memory 64 is out of range" in message


def test_unknown_route_table_setting_names_the_glob_and_the_key(tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[tool.fastsplit.routes."/admin/*"]\ntimeuot = 3\n')
    message = config_error(load_config, tmp_path)
    assert "'/admin/*'" in message
    assert "unknown setting 'timeuot'" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("app = 5", "app must be a str, not 5"),
        ("out = 5", "out must be a str, not 5"),
        ('docs = "yes"', "docs must be a bool, not 'yes'"),
        ('memory = "big"', "memory 'big' is out of range"),
        ("memory = 512.0", "memory 512.0 is out of range"),
        ("timeout = true", "timeout True is out of range"),
    ],
)
def test_wrong_value_types_in_the_file_are_errors(tmp_path: Path, line: str, expected: str) -> None:
    write_pyproject(tmp_path, f"[tool.fastsplit]\n{line}\n")
    assert expected in config_error(load_config, tmp_path)


@pytest.mark.parametrize("line", ["stage = 1", "stage = true"])
def test_non_string_stage_in_the_file_is_a_config_error(tmp_path: Path, line: str) -> None:
    write_pyproject(tmp_path, f"[tool.fastsplit]\n{line}\n")
    assert "stage" in config_error(load_config, tmp_path)


def test_paths_in_the_file_are_relative_to_the_project_folder(tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[tool.fastsplit]\napp-dir = "src"\nout = "dist"\n')
    config = load_config(tmp_path)
    assert config.app_dir.resolve() == (tmp_path / "src").resolve()
    assert config.out.resolve() == (tmp_path / "dist").resolve()


# ---------------------------------------------------------------- flags on top


def test_flags_override_file_values(tmp_path: Path) -> None:
    write_pyproject(tmp_path, FULL_TABLE)
    config = load_config(tmp_path).with_overrides(memory=256, stage="test", docs=True)
    assert (config.memory, config.stage, config.docs) == (256, "test", True)


def test_flags_not_given_keep_file_values(tmp_path: Path) -> None:
    write_pyproject(tmp_path, FULL_TABLE)
    from_file = load_config(tmp_path)
    overridden = from_file.with_overrides(
        app=None, memory=None, runtime=None, docs=None, fallback=None, out=None
    )
    assert overridden == from_file


def test_false_flag_is_given_not_missing() -> None:
    assert Config().with_overrides(docs=False, fallback=False).docs is False
    assert Config().with_overrides(docs=False, fallback=False).fallback is False


def test_with_overrides_returns_a_new_config() -> None:
    original = Config()
    updated = original.with_overrides(memory=1024)
    assert original.memory == 512
    assert updated.memory == 1024


def test_unknown_flag_is_an_error() -> None:
    assert "unknown option(s): colour" in config_error(Config().with_overrides, colour="red")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            {"runtime": "python2.7"},
            "runtime 'python2.7' is not a Lambda Python runtime; use one of python3.10",
        ),
        ({"runtime": "nodejs20.x"}, "is not a Lambda Python runtime"),
        ({"architecture": "arm"}, "architecture 'arm' is not supported; use x86_64 or arm64"),
        ({"memory": 64}, "memory 64 is out of range; use a whole number from 128 to 10240 MB"),
        ({"memory": 10241}, "memory 10241 is out of range"),
        ({"timeout": 0}, "timeout 0 is out of range; use a whole number from 1 to 900 s"),
        ({"timeout": 901}, "timeout 901 is out of range"),
        ({"stage": "dev-1"}, "stage 'dev-1' must be letters and digits only"),
        ({"stage": ""}, "stage '' must be letters and digits only"),
        ({"region": "mars-north-1"}, "region 'mars-north-1' is not an AWS region name"),
        ({"region": "US-EAST-1"}, "is not an AWS region name"),
        ({"service": "1shop"}, "service '1shop' must start with a letter"),
        ({"service": "shop_api"}, "contain only letters, digits and dashes"),
        ({"reserved_concurrency": -1}, "reserved_concurrency -1 is out of range"),
        ({"provisioned_concurrency": 0}, "provisioned_concurrency 0 is out of range"),
    ],
)
def test_invalid_flag_values_are_helpful_errors(flags: dict[str, Any], expected: str) -> None:
    message = config_error(Config().with_overrides, **flags)
    assert message.startswith("options: ")
    assert expected in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('runtime = "python2.7"', "runtime 'python2.7' is not a Lambda Python runtime"),
        ('architecture = "arm"', "architecture 'arm' is not supported"),
        ("memory = 64", "memory 64 is out of range"),
        ("timeout = 1000", "timeout 1000 is out of range"),
        ('stage = "dev_1"', "stage 'dev_1' must be letters and digits only"),
        ('region = "moon"', "region 'moon' is not an AWS region name"),
    ],
)
def test_invalid_file_values_name_the_file(tmp_path: Path, line: str, expected: str) -> None:
    write_pyproject(tmp_path, f"[tool.fastsplit]\n{line}\n")
    message = config_error(load_config, tmp_path)
    assert message.startswith("pyproject.toml [tool.fastsplit]")
    assert expected in message


@pytest.mark.parametrize(
    "flags",
    [
        {"runtime": "python3.10"},
        {"runtime": "python3.14"},
        {"architecture": "arm64"},
        {"memory": 128},
        {"memory": 10240},
        {"timeout": 1},
        {"timeout": 900},
        {"region": "us-gov-west-1"},
        {"region": "ap-southeast-2"},
        {"stage": "Prod2"},
        {"service": "my-shop-2"},
        {"reserved_concurrency": 0},
    ],
)
def test_boundary_values_are_accepted(flags: dict[str, Any]) -> None:
    config = Config().with_overrides(**flags)
    for key, value in flags.items():
        assert getattr(config, key) == value


# ---------------------------------------------------------------- route settings


def test_route_settings_are_normalised_and_none_dropped() -> None:
    clean = validate_route_settings(
        {"memory": 256, "timeout": None, "environment": {"B": 2, "A": "x"}}, where="GET /x"
    )
    assert clean == {"memory": 256, "environment": (("A", "x"), ("B", "2"))}


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"memroy": 1}, "unknown setting 'memroy'; known settings are name, memory"),
        ({"name": "Get-User"}, "name 'Get-User' must be lowercase letters"),
        ({"name": 5}, "name 5 must be lowercase letters"),
        ({"memory": True}, "memory True is out of range"),
        ({"architecture": "ARM64"}, "architecture 'ARM64' is not supported"),
        ({"environment": ["A=1"]}, "environment must map variable names to strings"),
        ({"environment": {"1ABC": "x"}}, "'1ABC' is not a valid environment variable name"),
        ({"environment": {"AWS_REGION": "x"}}, "AWS_REGION is reserved by Lambda"),
        ({"environment": {"FLAG": True}}, "value of FLAG must be a string, not True"),
        ({"environment": {"NESTED": {"a": 1}}}, "value of NESTED must be a string"),
        ({"iam_statements": {"Effect": "Allow"}}, "must be a list of IAM policy statements"),
        ({"iam_statements": ["s3:*"]}, "each statement must be a table/object"),
        (
            {"iam_statements": [{"Effect": "Allow", "Action": "s3:*"}]},
            "statement is missing Resource",
        ),
        (
            {"iam_statements": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]},
            "Effect must be 'Allow' or 'Deny'",
        ),
    ],
)
def test_invalid_route_settings_name_the_route_and_the_problem(
    settings: dict[str, Any], expected: str
) -> None:
    message = config_error(validate_route_settings, settings, where="GET /users/{id}")
    assert message.startswith("GET /users/{id}")
    assert expected in message


def test_route_settings_that_are_not_a_mapping_are_an_error() -> None:
    message = config_error(validate_route_settings, ["memory"], where="GET /x")
    assert "settings must be a table/object, not list" in message


def test_global_environment_is_validated_too(tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[tool.fastsplit]\nenvironment = { LAMBDA_TASK_ROOT = "/x" }\n')
    assert "LAMBDA_TASK_ROOT is reserved by Lambda" in config_error(load_config, tmp_path)
