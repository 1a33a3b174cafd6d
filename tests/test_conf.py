"""devdb.conf: DEVDB defaults, and every bad setting caught the same way by `manage.py check` and the commands.

Each bad-input case asserts three things: the system check id (run_checks and `manage.py check`),
that every *_devdb command refuses with the same one-line message, and that the refusal comes
before any AWS client is even built.
"""

import copy
import os
import subprocess
import sys
from pathlib import Path

import environ
import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from devdb import conf
from devdb.errors import ConfigError
from tests.project import manage

ROOT = Path(__file__).resolve().parent.parent
ZONE_ID = "Z0123456789ABC"
TARGET = "DEVDB['TARGETS']['dev']"
COMMANDS = [
    ("refresh_devdb",),
    ("clone_devdb",),
    ("connect_devdb",),
    ("clean_devdb",),
    ("status_devdb",),
    ("sync_devdb",),
    ("refresh_devdb", "dev", "--dry-run"),
]


def good_target(**overrides):
    return {
        "SOURCE_CLUSTER": "prod-aurora",
        "HOSTED_ZONE_ID": ZONE_ID,
        "RECORD_NAME": "db.dev.example.com",
        "INSTANCE_CLASS": "db.t4g.medium",
        **overrides,
    }


@pytest.fixture
def devdb(settings):
    """settings.DEVDB with one good target `dev`; tests break one thing in it."""
    settings.DEVDB = {"DATABASE": "devdb", "TARGETS": {"dev": good_target()}}
    return settings.DEVDB


@pytest.fixture
def gateway_never_built(monkeypatch):
    """Fails the test if a command gets as far as building an AWS gateway."""
    built = []

    def gateway(*args, **kwargs):
        built.append(1)
        raise AssertionError("a command built an AWS gateway despite bad settings")

    monkeypatch.setattr("devdb.runner.Gateway", gateway)
    return built


def devdb_errors():
    return [e for e in run_checks() if e.id.startswith("devdb.")]


def assert_refused(check_id, setting, fragment):
    """Bad DEVDB: one check `check_id` naming `setting`; `check` fails; every command refuses alike."""
    errors = devdb_errors()
    assert [e.id for e in errors] == [check_id], [e.msg for e in errors]
    message = errors[0].msg
    assert message.startswith(setting + " "), message
    assert fragment in message
    with pytest.raises(SystemCheckError, match=check_id.replace(".", r"\.")):
        call_command("check")
    # The commands say the same thing, as "<setting>: <message>".
    expected = setting + ":" + message[len(setting):]
    for command in COMMANDS:
        with pytest.raises(CommandError) as refused:
            call_command(*command)
        assert str(refused.value) == expected, command
        assert refused.value.returncode == 1


def test_good_settings_pass_the_checks(devdb):
    assert devdb_errors() == []
    call_command("check")


# --- defaults ------------------------------------------------------------------------------------


def test_defaults_of_an_optional_free_target(devdb):
    target = conf.get_settings().targets["dev"]
    assert target.clone_prefix == "dev"
    assert target.record_ttl == 60
    assert target.clean_grace == 120
    assert target.ready_timeout == 3600
    assert target.keep_aborted == 0
    assert target.readiness_probe == "status"
    assert target.db_subnet_group is None
    assert target.vpc_security_group_ids == ()
    assert target.publicly_accessible is False
    assert target.extra_tags == ()


def test_clone_prefix_defaults_to_the_target_name(devdb):
    devdb["TARGETS"] = {"qa-eu": good_target()}
    assert conf.get_settings().targets["qa-eu"].clone_prefix == "qa-eu"


def test_explicit_clone_prefix_wins_over_the_target_name(devdb):
    devdb["TARGETS"]["dev"]["CLONE_PREFIX"] = "devclone"
    assert conf.get_settings().targets["dev"].clone_prefix == "devclone"


def test_clean_grace_none_means_twice_the_record_ttl(devdb):
    devdb["TARGETS"]["dev"].update(RECORD_TTL=45, CLEAN_GRACE=None)
    assert conf.get_settings().targets["dev"].clean_grace == 90


def test_clean_grace_zero_is_kept_as_zero(devdb):
    devdb["TARGETS"]["dev"].update(RECORD_TTL=45, CLEAN_GRACE=0)
    assert conf.get_settings().targets["dev"].clean_grace == 0


def test_global_defaults(devdb):
    parsed = conf.get_settings()
    assert parsed.database == "devdb"
    assert parsed.lock_expiry == 7200
    assert parsed.aws_max_attempts == 8
    assert list(parsed.targets) == ["dev"]


def test_database_defaults_to_devdb_alias(devdb):
    del devdb["DATABASE"]
    assert conf.get_settings().database == "devdb"


def test_env_style_strings_are_accepted_for_integers(devdb):
    devdb["TARGETS"]["dev"].update(RECORD_TTL="30", READY_TIMEOUT=" 900 ", CLEAN_GRACE="5", KEEP_ABORTED="2")
    target = conf.get_settings().targets["dev"]
    assert (target.record_ttl, target.ready_timeout, target.clean_grace, target.keep_aborted) == (30, 900, 5, 2)


def test_empty_clean_grace_string_means_the_default(devdb):
    devdb["TARGETS"]["dev"].update(RECORD_TTL="30", CLEAN_GRACE="")
    assert conf.get_settings().targets["dev"].clean_grace == 60


def test_trailing_dot_of_the_record_name_is_dropped(devdb):
    devdb["TARGETS"]["dev"]["RECORD_NAME"] = "db.dev.example.com."
    target = conf.get_settings().targets["dev"]
    assert target.record_name == "db.dev.example.com"
    assert target.fqdn == "db.dev.example.com."


def test_hosted_zone_id_may_carry_the_hostedzone_prefix(devdb):
    devdb["TARGETS"]["dev"]["HOSTED_ZONE_ID"] = f"/hostedzone/{ZONE_ID}"
    assert conf.get_settings().targets["dev"].zone_id == ZONE_ID


def test_security_groups_from_a_comma_separated_env_string(devdb):
    devdb["TARGETS"]["dev"]["VPC_SECURITY_GROUP_IDS"] = "sg-0123456789abcdef0, sg-89abcdef"
    assert conf.get_settings().targets["dev"].vpc_security_group_ids == ("sg-0123456789abcdef0", "sg-89abcdef")


def test_settings_are_read_at_call_time(devdb, settings):
    assert conf.get_settings().targets["dev"].record_ttl == 60
    settings.DEVDB = {"TARGETS": {"dev": good_target(RECORD_TTL=7)}}
    assert conf.get_settings().targets["dev"].record_ttl == 7


def test_prefix_of_52_characters_is_accepted(devdb):
    """52: the writer <prefix>-YYYYMMDD-1 is then 63 characters, RDS's most (issue 18.2)."""
    devdb["TARGETS"]["dev"]["CLONE_PREFIX"] = "p" * 52
    assert conf.get_settings().targets["dev"].clone_prefix == "p" * 52


def test_unknown_target_name_on_the_command_line_is_refused(devdb):
    with pytest.raises(ConfigError, match=r"unknown target 'qa' \(configured: dev\)"):
        conf.get_settings().select(["qa"])


# --- one test per bad input ----------------------------------------------------------------------


def test_missing_devdb_setting_is_refused(settings, gateway_never_built):
    del settings.DEVDB
    assert_refused("devdb.E001", "DEVDB", "is not set")


def test_empty_targets_are_refused(devdb, gateway_never_built):
    devdb["TARGETS"] = {}
    assert_refused("devdb.E001", "DEVDB['TARGETS']", "must be a non-empty dict")


@pytest.mark.parametrize("key", ["SOURCE_CLUSTER", "HOSTED_ZONE_ID", "RECORD_NAME", "INSTANCE_CLASS"])
def test_missing_required_setting_is_refused(devdb, gateway_never_built, key):
    del devdb["TARGETS"]["dev"][key]
    assert_refused("devdb.E002", f"{TARGET}['{key}']", "is required")


@pytest.mark.parametrize("key", ["SOURCE_CLUSTER", "HOSTED_ZONE_ID", "RECORD_NAME", "INSTANCE_CLASS"])
def test_empty_required_setting_from_an_unset_env_var_is_refused(devdb, gateway_never_built, key):
    devdb["TARGETS"]["dev"][key] = ""
    assert_refused("devdb.E002", f"{TARGET}['{key}']", "is required")


@pytest.mark.parametrize("value,fragment", [
    ("prod_aurora", "only letters, digits and hyphens"),
    ("1prod", "start with a letter"),
    ("prod--aurora", "two consecutive hyphens"),
    ("prod-aurora-", "must not end with a hyphen"),
    ("p" * 64, "at most 63 characters"),
])
def test_invalid_source_cluster_identifier_is_refused(devdb, gateway_never_built, value, fragment):
    devdb["TARGETS"]["dev"]["SOURCE_CLUSTER"] = value
    assert_refused("devdb.E003", f"{TARGET}['SOURCE_CLUSTER']", fragment)


@pytest.mark.parametrize("value,fragment", [
    ("dev_clone", "only letters, digits and hyphens"),
    ("9dev", "start with a letter"),
    ("dev--clone", "two consecutive hyphens"),
    ("dev-", "must not end with a hyphen"),
])
def test_invalid_clone_prefix_identifier_is_refused(devdb, gateway_never_built, value, fragment):
    devdb["TARGETS"]["dev"]["CLONE_PREFIX"] = value
    assert_refused("devdb.E004", f"{TARGET}['CLONE_PREFIX']", fragment)


@pytest.mark.parametrize("length", [53, 54, 63, 80])
def test_prefix_longer_than_52_characters_is_refused(devdb, gateway_never_built, length):
    """A 54-character prefix made a 63-character clone but a 65-character writer, which RDS refused."""
    devdb["TARGETS"]["dev"]["CLONE_PREFIX"] = "p" * length
    assert_refused("devdb.E004", f"{TARGET}['CLONE_PREFIX']", f"at most 52 characters (got {length})")


def test_target_name_used_as_prefix_is_checked_for_length(devdb, gateway_never_built):
    devdb["TARGETS"] = {"t" * 53: good_target()}
    assert_refused("devdb.E004", f"DEVDB['TARGETS']['{'t' * 53}']['CLONE_PREFIX']", "at most 52 characters")


def test_clone_prefix_equal_to_the_source_cluster_is_refused(devdb, gateway_never_built):
    devdb["TARGETS"]["dev"]["CLONE_PREFIX"] = "prod-aurora"
    assert_refused("devdb.E004", f"{TARGET}['CLONE_PREFIX']", "must differ from SOURCE_CLUSTER")


def test_invalid_target_name_is_refused(devdb, gateway_never_built):
    devdb["TARGETS"] = {"dev_db": good_target(CLONE_PREFIX="devdb")}
    assert_refused("devdb.E003", "DEVDB['TARGETS']['dev_db']", "target name must start with a letter")


@pytest.mark.parametrize("value", [
    "db..dev.example.com",
    "db dev.example.com",
    "*.dev.example.com",
    "localhost",
    "db.dev.example.com/app",
    "-db.dev.example.com",
    "https://db.dev.example.com",
])
def test_malformed_record_name_is_refused(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"]["RECORD_NAME"] = value
    assert_refused("devdb.E005", f"{TARGET}['RECORD_NAME']", "is not a valid DNS name")


@pytest.mark.parametrize("value", ["Z012 345", "zone-1", "/hosted/Z0123"])
def test_malformed_hosted_zone_id_is_refused(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"]["HOSTED_ZONE_ID"] = value
    assert_refused("devdb.E005", f"{TARGET}['HOSTED_ZONE_ID']", "is not a Route53 hosted zone id")


@pytest.mark.parametrize("value", [0, "0"])
def test_record_ttl_zero_is_refused(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"]["RECORD_TTL"] = value
    assert_refused("devdb.E006", f"{TARGET}['RECORD_TTL']", "must be a positive integer")


@pytest.mark.parametrize("value", [-60, "-60"])
def test_record_ttl_negative_is_refused(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"]["RECORD_TTL"] = value
    assert_refused("devdb.E006", f"{TARGET}['RECORD_TTL']", "must be a positive integer")


@pytest.mark.parametrize("value", ["sixty", "1.5", 1.5, True, "60s"])
def test_record_ttl_not_a_number_is_refused(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"]["RECORD_TTL"] = value
    assert_refused("devdb.E006", f"{TARGET}['RECORD_TTL']", "must be a positive integer")


@pytest.mark.parametrize("value", [0, "0"])
def test_ready_timeout_zero_is_refused(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"]["READY_TIMEOUT"] = value
    assert_refused("devdb.E006", f"{TARGET}['READY_TIMEOUT']", "must be a positive integer")


@pytest.mark.parametrize("value", [-1, "-3600"])
def test_ready_timeout_negative_is_refused(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"]["READY_TIMEOUT"] = value
    assert_refused("devdb.E006", f"{TARGET}['READY_TIMEOUT']", "must be a positive integer")


@pytest.mark.parametrize("value", ["an hour", "1h", None])
def test_ready_timeout_not_a_number_is_refused(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"]["READY_TIMEOUT"] = value
    assert_refused("devdb.E006", f"{TARGET}['READY_TIMEOUT']", "must be a positive integer")


@pytest.mark.parametrize("value", [-1, "-120"])
def test_clean_grace_negative_is_refused(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"]["CLEAN_GRACE"] = value
    assert_refused("devdb.E006", f"{TARGET}['CLEAN_GRACE']", "must be a non-negative integer (seconds) or None")


@pytest.mark.parametrize("value", ["two minutes", "2.5", [120]])
def test_clean_grace_not_a_number_is_refused(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"]["CLEAN_GRACE"] = value
    assert_refused("devdb.E006", f"{TARGET}['CLEAN_GRACE']", "must be a non-negative integer (seconds) or None")


@pytest.mark.parametrize("value", [-1, "-2"])
def test_keep_aborted_negative_is_refused(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"]["KEEP_ABORTED"] = value
    assert_refused("devdb.E006", f"{TARGET}['KEEP_ABORTED']", "must be a non-negative integer")


@pytest.mark.parametrize("value", ["tcp", "SQL", "", None])
def test_unknown_readiness_probe_is_refused(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"]["READINESS_PROBE"] = value
    assert_refused("devdb.E007", f"{TARGET}['READINESS_PROBE']", "must be one of status, sql")


@pytest.mark.parametrize("value", ["t4g.medium", "m5.large", "rds.t4g.medium", "db.", "DB.T4G.MEDIUM", "db t4g"])
def test_instance_class_not_db_dot_something_is_refused(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"]["INSTANCE_CLASS"] = value
    assert_refused("devdb.E008", f"{TARGET}['INSTANCE_CLASS']", "must be an RDS instance class")


def test_unknown_target_setting_key_is_refused(devdb, gateway_never_built):
    devdb["TARGETS"]["dev"]["RECORD_TTTL"] = 30
    assert_refused("devdb.E012", f"{TARGET}['RECORD_TTTL']", "is not a known setting")


def test_unknown_global_setting_key_is_refused(devdb, gateway_never_built):
    devdb["TARGET"] = {"dev": good_target()}
    assert_refused("devdb.E012", "DEVDB['TARGET']", "is not a known setting")


def test_database_alias_not_in_databases_is_refused(devdb, gateway_never_built):
    devdb["DATABASE"] = "history"
    assert_refused("devdb.E009", "DEVDB['DATABASE']", "names 'history', which is not in DATABASES")


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
@pytest.mark.parametrize("host", ["db.dev.example.com", "DB.dev.example.com.", "db.dev.example.com."])
def test_control_database_on_the_record_name_host_is_refused(devdb, gateway_never_built, settings, host):
    databases = copy.deepcopy(settings.DATABASES)
    databases["devdb"] = {"ENGINE": "django.db.backends.mysql", "NAME": "devdb", "HOST": host, "PORT": 3306}
    settings.DATABASES = databases
    assert_refused("devdb.E009", "DEVDB['DATABASE']", "points at db.dev.example.com, the dev database of target 'dev'")


def test_control_database_being_the_default_alias_is_refused(devdb, gateway_never_built):
    devdb["DATABASE"] = "default"
    assert_refused("devdb.E009", "DEVDB['DATABASE']", "must not be 'default'")


def test_two_targets_with_the_same_clone_prefix_are_refused(devdb, gateway_never_built):
    devdb["TARGETS"]["qa"] = good_target(RECORD_NAME="db.qa.example.com", CLONE_PREFIX="dev")
    assert_refused("devdb.E004", "DEVDB['TARGETS']", "two targets share the clone prefix 'dev'")


def test_reserved_extra_tag_is_refused(devdb, gateway_never_built):
    devdb["TARGETS"]["dev"]["EXTRA_TAGS"] = {"devdb:state": "connected"}
    assert_refused("devdb.E011", f"{TARGET}['EXTRA_TAGS']", "must not set the reserved tag 'devdb:state'")


def test_bad_security_group_id_is_refused(devdb, gateway_never_built):
    devdb["TARGETS"]["dev"]["VPC_SECURITY_GROUP_IDS"] = ["default"]
    assert_refused("devdb.E003", f"{TARGET}['VPC_SECURITY_GROUP_IDS']", "not a security group id")


def test_router_missing_from_database_routers_is_a_check_error(devdb, settings):
    settings.DATABASE_ROUTERS = []
    assert [e.id for e in devdb_errors()] == ["devdb.E015"]


def test_every_problem_is_reported_by_check_at_once(devdb):
    devdb["TARGETS"]["dev"].update(RECORD_TTL=0, READINESS_PROBE="tcp", INSTANCE_CLASS="t4g.medium")
    assert sorted(e.id for e in devdb_errors()) == ["devdb.E006", "devdb.E007", "devdb.E008"]


def test_check_errors_carry_a_hint_naming_what_to_do(devdb):
    del devdb["TARGETS"]["dev"]["SOURCE_CLUSTER"]
    (error,) = devdb_errors()
    assert "DEVDB_SOURCE_CLUSTER" in error.hint


# --- manage.py with the example project ----------------------------------------------------------


def manage_without_aws(*args, **env):
    """manage.py with only `env` of devdb's settings, and an AWS endpoint where nothing answers."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DEVDB_", "DATABASE_URL", "AWS_"))}
    return manage(*args, timeout=60,
                  env={**base, "DJANGO_SETTINGS_MODULE": "project.settings", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_ENDPOINT_URL": "http://127.0.0.1:9", **env})


def project_env(tmp_path, **overrides):
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path}/app.sqlite3",
        "DEVDB_DATABASE_URL": f"sqlite:///{tmp_path}/devdb.sqlite3",
        "DEVDB_SOURCE_CLUSTER": "prod-aurora",
        "DEVDB_HOSTED_ZONE_ID": ZONE_ID,
        "DEVDB_RECORD_NAME": "db.dev.example.com",
        "DEVDB_INSTANCE_CLASS": "db.t4g.medium",
        **overrides,
    }


def test_bad_env_setting_fails_check_and_commands_in_one_line(tmp_path):
    env = project_env(tmp_path, DEVDB_RECORD_TTL="-5")
    check = manage_without_aws("check", **env)
    assert check.returncode == 1
    assert "devdb.E006" in check.stderr and "RECORD_TTL" in check.stderr
    refresh = manage_without_aws("refresh_devdb", **env)
    assert refresh.returncode == 1
    lines = refresh.stderr.strip().splitlines()
    # Set in the environment, so named as the user wrote it (issue 11.10), not as DEVDB['TARGETS']['dev'][...].
    assert lines == ["refresh_devdb: error: DEVDB_RECORD_TTL must be a positive integer (seconds) (got '-5')"]
    assert "Traceback" not in refresh.stderr


def test_bad_database_url_ends_manage_py_in_one_line_without_the_password(tmp_path):
    result = manage_without_aws("status_devdb", **project_env(tmp_path, DATABASE_URL="mysql://app:S3cretPw@db:notaport/app"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: DATABASE_URL is not a valid database URL (the port is not a number)"]
    assert "Traceback" not in result.stderr
    assert "S3cretPw" not in result.stderr + result.stdout


def test_bad_devdb_database_url_ends_manage_py_in_one_line_without_the_password(tmp_path):
    result = manage_without_aws("refresh_devdb", **project_env(tmp_path, DEVDB_DATABASE_URL="mysql//ops:Hush4Pw@ctl/devdb"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: DEVDB_DATABASE_URL is not a valid database URL")
    assert "Traceback" not in result.stderr
    assert "Hush4Pw" not in result.stderr + result.stdout


# --- database_url --------------------------------------------------------------------------------

PASSWORD = "S3cretPw"


@pytest.fixture
def env():
    return environ.Env()


@pytest.mark.parametrize("var", ["DATABASE_URL", "DEVDB_DATABASE_URL"])
@pytest.mark.parametrize("url,reason", [
    (f"mysql://app:{PASSWORD}@db:notaport/app", "the port is not a number"),
    (f"mysql://app:{PASSWORD}@db:99999/app", "port"),
    (f"mysqll://app:{PASSWORD}@db:3306/app", "unknown scheme 'mysqll'"),
    (f"app:{PASSWORD}@db:3306/app", "not a URL"),
    (f"mysql:/app:{PASSWORD}@db/app", "not a URL"),
    (f"mysql://app:{PASSWORD}@:3306/app", "it needs a host and a database name"),
    (f"mysql://app:{PASSWORD}@db:3306", "it needs a host and a database name"),
    (f"sqlite://ops:{PASSWORD}@/var/lib/devdb.sqlite3", "a sqlite URL takes no user, password or host"),
])
def test_malformed_database_url_is_refused_naming_the_variable_not_the_url(monkeypatch, env, var, url, reason):
    monkeypatch.setenv(var, url)
    with pytest.raises(ConfigError) as refused:
        conf.database_url(env, var, "sqlite:///unused.sqlite3")
    message = str(refused.value)
    assert message.startswith(f"{var} is not a valid database URL")
    assert reason in message
    assert PASSWORD not in message
    assert url not in message
    assert "\n" not in message
    # Nothing chained either: a traceback of the parser's own error could show the URL.
    assert refused.value.__cause__ is None
    assert refused.value.__context__ is None or refused.value.__suppress_context__


def test_database_url_returns_the_django_settings(monkeypatch, env):
    monkeypatch.setenv("DATABASE_URL", f"mysql://app:{PASSWORD}@db.dev.example.com:3306/app")
    config = conf.database_url(env, "DATABASE_URL", "sqlite:///unused.sqlite3")
    assert config["ENGINE"] == "django.db.backends.mysql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == ("db.dev.example.com", 3306, "app", "app")


def test_database_url_falls_back_to_the_default_when_unset(monkeypatch, env, tmp_path):
    monkeypatch.delenv("DEVDB_DATABASE_URL", raising=False)
    config = conf.database_url(env, "DEVDB_DATABASE_URL", f"sqlite:///{tmp_path}/devdb.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == f"{tmp_path}/devdb.sqlite3"


# --- declarations --------------------------------------------------------------------------------


def test_target_and_global_attributes_are_the_declared_settings():
    from dataclasses import fields

    assert [f.name for f in fields(conf.Target)] == ["name", *(s.attr for s in conf.TARGET_SETTINGS)]
    assert [f.name for f in fields(conf.DevdbSettings)] == [s.attr for s in conf.GLOBAL_SETTINGS]


def test_every_declared_default_passes_its_own_parser():
    for setting in conf.TARGET_SETTINGS + conf.GLOBAL_SETTINGS:
        if not setting.required and setting.key not in ("DATABASE", "TARGETS"):
            setting.parse(setting.default)


def test_environment_variables_are_declared_once_and_named_after_the_key():
    variables = [s.env for s in conf.TARGET_SETTINGS + conf.GLOBAL_SETTINGS if s.env]
    assert len(variables) == len(set(variables))
    assert all(s.env == f"DEVDB_{s.key}" for s in conf.TARGET_SETTINGS + conf.GLOBAL_SETTINGS if s.env)


def test_clean_grace_default_is_twice_the_record_ttl_everywhere(devdb):
    """One default, not None in the dict and 120 in the dataclass: TTL 30 means a grace of 60."""
    devdb["TARGETS"]["dev"]["RECORD_TTL"] = 30
    assert conf.get_settings().targets["dev"].clean_grace == 60


def test_defaults_of_the_masking_and_configured_like_the_source_settings(devdb):
    parsed = conf.get_settings()
    target = parsed.targets["dev"]
    assert (target.mask, target.masking_security_group_ids, parsed.masking) == (False, (), {})
    assert (target.db_cluster_parameter_group, target.db_parameter_group, target.port, target.kms_key_id,
            target.engine_lifecycle_support, target.serverless_seconds_until_auto_pause) == (None,) * 6


def test_masking_settings_are_parsed(devdb):
    devdb["MASKING"] = {"auth.User": {"email": "email"}}
    devdb["TARGETS"]["dev"].update(MASK="yes", MASKING_SECURITY_GROUP_IDS="sg-0123456789abcdef0",
                                   MASTER_PASSWORD_ENV="DEVDB_CLONE_PASSWORD")  # MASK needs both
    parsed = conf.get_settings()
    assert parsed.masking == {"auth.User": {"email": "email"}}
    assert parsed.targets["dev"].mask is True
    assert parsed.targets["dev"].masking_security_group_ids == ("sg-0123456789abcdef0",)


@pytest.mark.parametrize("value,fragment", [
    (["auth.User"], 'must be a dict of "app_label.ModelName"'),
    ({"User": {}}, "holds 'User', which is neither \"app_label.ModelName\" nor \"table:[schema.]name\""),
    ({"auth.User": ["email"]}, "which is not a dict of masking rules"),
])
def test_malformed_masking_is_refused(devdb, gateway_never_built, value, fragment):
    devdb["MASKING"] = value
    assert_refused("devdb.E016", "DEVDB['MASKING']", fragment)


def test_bad_masking_security_group_is_refused(devdb, gateway_never_built):
    devdb["TARGETS"]["dev"]["MASKING_SECURITY_GROUP_IDS"] = ["sg-nope"]
    assert_refused("devdb.E003", f"{TARGET}['MASKING_SECURITY_GROUP_IDS']", "not a security group id")


# --- booleans ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [
    ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("Yes", True), (True, True),
    ("false", False), ("0", False), ("no", False), (False, False),
])
def test_boolean_settings_accept_true_false_1_0_yes_no(devdb, value, expected):
    devdb["TARGETS"]["dev"]["PUBLICLY_ACCESSIBLE"] = value
    assert conf.get_settings().targets["dev"].publicly_accessible is expected


@pytest.mark.parametrize("value", ["maybe", "on", "off", "y", "2", ""])
def test_any_other_boolean_string_is_refused_not_taken_as_false(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"]["MASK"] = value
    assert_refused("devdb.E006", f"{TARGET}['MASK']", f"must be one of true, false, 1, 0, yes, no (got {value!r})")


def test_a_non_boolean_python_value_is_refused(devdb, gateway_never_built):
    devdb["TARGETS"]["dev"]["PUBLICLY_ACCESSIBLE"] = 1
    assert_refused("devdb.E006", f"{TARGET}['PUBLICLY_ACCESSIBLE']", "must be True or False")


# --- serverless capacity (AWS: half steps, 0 only with auto-pause, max 1..256) ---------------------


@pytest.mark.parametrize("low,high", [(0, 1), (0.5, 1), (1.5, 2.5), (8, 256)])
def test_acus_in_half_steps_up_to_256_are_accepted(devdb, low, high):
    devdb["TARGETS"]["dev"].update(INSTANCE_CLASS="db.serverless", SERVERLESS_MIN_ACU=low, SERVERLESS_MAX_ACU=high)
    target = conf.get_settings().targets["dev"]
    assert (target.serverless_min_acu, target.serverless_max_acu) == (low, high)


@pytest.mark.parametrize("key,value", [
    ("SERVERLESS_MIN_ACU", 0.75), ("SERVERLESS_MIN_ACU", "1.2"), ("SERVERLESS_MIN_ACU", -0.5),
    ("SERVERLESS_MAX_ACU", 256.5), ("SERVERLESS_MAX_ACU", 3.3), ("SERVERLESS_MAX_ACU", 0.5),
])
def test_acus_off_the_half_steps_or_out_of_range_are_refused(devdb, gateway_never_built, key, value):
    devdb["TARGETS"]["dev"][key] = value
    assert_refused("devdb.E014", f"{TARGET}['{key}']", "in steps of 0.5")


def test_min_acu_above_max_is_refused(devdb, gateway_never_built):
    devdb["TARGETS"]["dev"].update(SERVERLESS_MIN_ACU=8, SERVERLESS_MAX_ACU=4)
    assert_refused("devdb.E014", f"{TARGET}['SERVERLESS_MIN_ACU']", "must not exceed SERVERLESS_MAX_ACU (8 > 4)")


def test_auto_pause_goes_with_a_minimum_of_zero_acus(devdb):
    devdb["TARGETS"]["dev"].update(INSTANCE_CLASS="db.serverless", SERVERLESS_MIN_ACU="0",
                                   SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE="600")
    target = conf.get_settings().targets["dev"]
    assert (target.serverless_min_acu, target.serverless_seconds_until_auto_pause) == (0, 600)


def test_auto_pause_with_a_minimum_above_zero_is_refused(devdb, gateway_never_built):
    devdb["TARGETS"]["dev"].update(SERVERLESS_MIN_ACU=0.5, SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE=600)
    assert_refused("devdb.E014", f"{TARGET}['SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE']",
                   "applies only when SERVERLESS_MIN_ACU is 0 (it is 0.5)")


@pytest.mark.parametrize("value", [299, 86401, "five minutes"])
def test_auto_pause_outside_300_to_86400_seconds_is_refused(devdb, gateway_never_built, value):
    devdb["TARGETS"]["dev"].update(SERVERLESS_MIN_ACU=0, SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE=value)
    assert_refused("devdb.E006", f"{TARGET}['SERVERLESS_SECONDS_UNTIL_AUTO_PAUSE']", "must be an integer from 300 to 86400")


def test_unknown_engine_lifecycle_support_is_refused(devdb, gateway_never_built):
    devdb["TARGETS"]["dev"]["ENGINE_LIFECYCLE_SUPPORT"] = "extended"
    assert_refused("devdb.E003", f"{TARGET}['ENGINE_LIFECYCLE_SUPPORT']", "must be one of open-source-rds-extended-support")


# --- EXTRA_TAGS, as RDS checks tags ---------------------------------------------------------------


def test_extra_tags_rds_accepts_are_kept(devdb):
    tags = {"team": "data", "cost-center": "R&D 42".replace("&", "+"), "owner@example.com": "a/b:c=d", "équipe": "données"}
    devdb["TARGETS"]["dev"]["EXTRA_TAGS"] = tags
    assert conf.get_settings().targets["dev"].extra_tags == tuple(sorted(tags.items()))


@pytest.mark.parametrize("tags,fragment", [
    ({"aws:cloudformation:stack": "x"}, "must not set the reserved tag 'aws:cloudformation:stack'"),
    ({"RDS:thing": "x"}, "must not set the reserved tag 'RDS:thing'"),
    ({"devdb:state": "connected"}, "must not set the reserved tag 'devdb:state'"),
    ({"team": "aws:data"}, "gives 'team' a value starting with aws: or rds:"),
    ({"k" * 129: "x"}, "longer than RDS's 128 characters"),
    ({"team": "v" * 257}, "a value longer than RDS's 256 characters"),
    ({"team!": "x"}, "has the key 'team!', which holds the character '!'"),
    ({"team": "a;b"}, "gives 'team' a value which holds the character ';'"),
    ({f"k{i}": "v" for i in range(46)}, "holds 46 tags; with django-devdb's 5 a clone would carry 51, over RDS's limit of 50"),
    ({"team": 7}, "must be a dict of string keys to string values"),
])
def test_extra_tags_rds_would_refuse_are_refused(devdb, gateway_never_built, tags, fragment):
    devdb["TARGETS"]["dev"]["EXTRA_TAGS"] = tags
    assert_refused("devdb.E011", f"{TARGET}['EXTRA_TAGS']", fragment)


def test_45_extra_tags_fit_beside_django_devdbs_five(devdb):
    devdb["TARGETS"]["dev"]["EXTRA_TAGS"] = {f"k{i}": "v" for i in range(45)}
    assert len(conf.get_settings().targets["dev"].extra_tags) == 45


# --- the new master password, checked as AWS does, never shown ------------------------------------


@pytest.mark.parametrize("password", ["Sh0rt!", "x" * 42, "has space-in-it", "slash/inside", 'quote"inside',
                                      "at@inside", "tab\tinside", "accént-inside"])
def test_master_password_aws_would_refuse_is_refused_without_showing_it(devdb, gateway_never_built, monkeypatch, password):
    monkeypatch.setenv("DEVDB_TEST_NEW_PW", password)
    devdb["TARGETS"]["dev"]["MASTER_PASSWORD_ENV"] = "DEVDB_TEST_NEW_PW"
    assert_refused("devdb.E013", f"{TARGET}['MASTER_PASSWORD_ENV']",
                   "names DEVDB_TEST_NEW_PW, which AWS would refuse as a master password")
    shown = "\n".join(str(p) + p.hint for p in conf.problems())
    assert password not in shown


@pytest.mark.parametrize("password", ["8chars!!", "x" * 41, "Pa$$w0rd-with_~all#sorts%"])
def test_master_password_aws_accepts_passes(devdb, monkeypatch, password):
    monkeypatch.setenv("DEVDB_TEST_NEW_PW", password)
    devdb["TARGETS"]["dev"]["MASTER_PASSWORD_ENV"] = "DEVDB_TEST_NEW_PW"
    assert conf.get_settings().targets["dev"].master_password_env == "DEVDB_TEST_NEW_PW"


def test_master_password_variable_not_set_yet_is_not_a_settings_problem(devdb, monkeypatch):
    """Only a value that is there is checked: the refresh says so when it needs the password."""
    monkeypatch.delenv("DEVDB_TEST_NEW_PW", raising=False)
    devdb["TARGETS"]["dev"]["MASTER_PASSWORD_ENV"] = "DEVDB_TEST_NEW_PW"
    assert devdb_errors() == []


# --- every problem at once, named as the user wrote it ---------------------------------------------


def test_commands_list_every_problem_one_per_line(devdb, gateway_never_built):
    devdb["TARGETS"]["dev"].update(RECORD_TTL=0, READINESS_PROBE="tcp")
    with pytest.raises(CommandError) as refused:
        call_command("refresh_devdb")
    assert str(refused.value).splitlines() == [
        f"{TARGET}['RECORD_TTL']: must be a positive integer (seconds) (got 0)",
        f"{TARGET}['READINESS_PROBE']: must be one of status, sql (got 'tcp')",
    ]


def env_settings(settings, **variables):
    settings.DEVDB = conf.from_environment({
        "DEVDB_SOURCE_CLUSTER": "prod-aurora", "DEVDB_HOSTED_ZONE_ID": ZONE_ID,
        "DEVDB_RECORD_NAME": "db.dev.example.com", "DEVDB_INSTANCE_CLASS": "db.t4g.medium", **variables,
    })
    return settings.DEVDB


def test_from_environment_reads_every_declared_variable_as_a_string(settings):
    env_settings(settings, DEVDB_TARGET="qa", DEVDB_CLONE_PREFIX="QA", DEVDB_RECORD_TTL="30", DEVDB_PORT="3307",
                 DEVDB_PUBLICLY_ACCESSIBLE="no", DEVDB_MIGRATE_BEFORE_CONNECT="1", DEVDB_POLL_INITIAL="0.2", DEVDB_POLL_MAX="1",
                 DEVDB_VPC_SECURITY_GROUP_IDS="sg-0123456789abcdef0", DEVDB_KEEP_ABORTED="")
    parsed = conf.get_settings()
    target = parsed.targets["qa"]
    assert (target.clone_prefix, target.record_ttl, target.clean_grace, target.port) == ("qa", 30, 60, 3307)
    assert (target.publicly_accessible, target.migrate_before_connect, target.keep_aborted) == (False, True, 0)
    assert target.vpc_security_group_ids == ("sg-0123456789abcdef0",)
    assert (parsed.poll_initial, parsed.poll_max, parsed.database) == (0.2, 1, "devdb")


def test_problems_from_the_environment_name_the_variable(settings, gateway_never_built):
    devdb = env_settings(settings, DEVDB_SOURCE_CLUSTER="", DEVDB_RECORD_TTL="-5", DEVDB_MASK="maybe",
                         DEVDB_POLL_MAX="0", DEVDB_TARGET="dev_db")
    assert [str(p) for p in conf.problems()] == [
        "DEVDB_POLL_MAX must be a number >= 0.01 (got '0')",
        "DEVDB_TARGET target name must start with a letter and hold only letters, digits and hyphens",
        "DEVDB_SOURCE_CLUSTER is required",
        "DEVDB_RECORD_TTL must be a positive integer (seconds) (got '-5')",
        "DEVDB_MASK must be one of true, false, 1, 0, yes, no (got 'maybe')",
    ]
    errors = devdb_errors()
    assert "DEVDB_SOURCE_CLUSTER is required" in [e.msg for e in errors]
    # The same settings written in a dict are named by their place in DEVDB.
    settings.DEVDB = {**devdb, "TARGETS": {"dev": {**devdb["TARGETS"]["dev_db"]}}}
    assert "DEVDB['TARGETS']['dev']['SOURCE_CLUSTER']: is required" in [str(p) for p in conf.problems()]


def test_bad_django_debug_ends_manage_py_in_one_line(tmp_path):
    result = manage_without_aws("check", **project_env(tmp_path, DJANGO_DEBUG="maybe"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: DJANGO_DEBUG must be one of true, false, 1, 0, yes, no (got 'maybe')"]


def test_example_project_takes_the_poll_settings_from_the_environment(tmp_path):
    code = "import django; django.setup(); from devdb import conf; s = conf.get_settings(); print(s.poll_initial, s.poll_max)"
    env = project_env(tmp_path, DEVDB_POLL_INITIAL="0.2", DEVDB_POLL_MAX="1")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DEVDB_", "DATABASE_URL"))}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**base, "DJANGO_SETTINGS_MODULE": "project.settings", **env})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.2", "1.0"]


def test_a_target_name_too_long_for_a_prefix_names_devdb_target_when_it_came_from_there(settings, gateway_never_built):
    env_settings(settings, DEVDB_TARGET="t" * 53)
    assert [str(p) for p in conf.problems()] == ["DEVDB_TARGET must be at most 52 characters (got 53)"]


def test_a_mistyped_variable_is_a_check_warning_naming_the_likely_one(tmp_path):
    result = manage_without_aws("check", **project_env(tmp_path, DEVDB_RECORD_TTTL="30"))
    assert result.returncode == 0, result.stderr
    assert "devdb.W001" in result.stderr
    assert "DEVDB_RECORD_TTTL is set, but no setting reads it" in result.stderr
    assert "Did you mean DEVDB_RECORD_TTL?" in result.stderr


def test_the_example_projects_own_variables_are_not_taken_for_typos(tmp_path):
    result = manage_without_aws("check", **project_env(tmp_path, DEVDB_LOG_LEVEL="INFO", DEVDB_TARGET="qa",
                                                      DEVDB_MASKING_KEY="a-secret-key-of-at-least-32-bytes"))
    assert result.returncode == 0, result.stderr
    assert "devdb.W001" not in result.stderr + result.stdout


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_control_database_in_the_same_sqlite_file_as_the_app_is_refused(devdb, gateway_never_built, settings, tmp_path):
    databases = copy.deepcopy(settings.DATABASES)
    databases["default"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "app.sqlite3")}
    databases["devdb"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "sub" / ".." / "app.sqlite3")}
    settings.DATABASES = databases
    assert_refused("devdb.E009", "DEVDB['DATABASE']", "'devdb' is the same database as 'default', the app's dev database")


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
@pytest.mark.parametrize("engine, port", [("django.db.backends.mysql", 3306), ("django.db.backends.postgresql", "")])
def test_control_database_with_the_apps_host_and_name_is_refused(devdb, gateway_never_built, settings, engine, port):
    databases = copy.deepcopy(settings.DATABASES)
    databases["default"] = {"ENGINE": engine, "NAME": "app", "HOST": "DB-Server.internal", "PORT": port}
    databases["devdb"] = {"ENGINE": engine, "NAME": "app", "HOST": "db-server.internal.", "PORT": ""}
    settings.DATABASES = databases
    assert_refused("devdb.E009", "DEVDB['DATABASE']", "'devdb' is the same database as 'default', the app's dev database")


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_control_database_beside_the_apps_on_one_server_is_fine(devdb, gateway_never_built, settings, tmp_path):
    databases = copy.deepcopy(settings.DATABASES)
    databases["default"] = {"ENGINE": "django.db.backends.mysql", "NAME": "app", "HOST": "db-server.internal"}
    databases["devdb"] = {"ENGINE": "django.db.backends.mysql", "NAME": "devdb_history", "HOST": "db-server.internal"}
    settings.DATABASES = databases
    assert conf.problems() == []


@pytest.mark.parametrize("url", ["ftp://monitor.test/abc", "monitor.test/abc", "https:///abc", "https://monitor test/abc"])
def test_a_ping_url_must_be_http_and_is_never_echoed(devdb, gateway_never_built, url):
    devdb["TARGETS"]["dev"]["PING_URL"] = url
    found = conf.problems()
    assert [(p.id, p.setting) for p in found] == [("devdb.E017", f"{TARGET}['PING_URL']")]
    assert "must be an http(s) URL" in found[0].message
    assert "monitor" not in found[0].message and "abc" not in found[0].message


def test_a_ping_url_from_the_environment_names_its_variable(settings, gateway_never_built):
    settings.DEVDB = conf.from_environment({"DEVDB_SOURCE_CLUSTER": "prod-aurora", "DEVDB_HOSTED_ZONE_ID": "Z0123456789ABC",
                                            "DEVDB_RECORD_NAME": "db.dev.example.com", "DEVDB_INSTANCE_CLASS": "db.t4g.medium",
                                            "DEVDB_PING_URL": "https://hc-ping.com/0f1e2d3c-secret"})
    assert conf.get_settings().targets["dev"].ping_url == "https://hc-ping.com/0f1e2d3c-secret"
    settings.DEVDB["TARGETS"]["dev"]["PING_URL"] = "mailto:ops@example.com"
    assert [str(p) for p in conf.problems()] == [
        "DEVDB_PING_URL must be an http(s) URL such as https://hc-ping.com/UUID (the value is not shown: it may hold a secret)"]


def test_only_the_settings_a_command_uses_are_checked(devdb, gateway_never_built):
    devdb["TARGETS"]["dev"]["READY_TIMEOUT"] = "soon"
    devdb["TARGETS"]["dev"].pop("INSTANCE_CLASS")
    devdb["POLL_MAX"] = -1
    assert len(conf.problems()) == 3
    target = conf.get_settings(only=("SOURCE_CLUSTER", "HOSTED_ZONE_ID", "RECORD_NAME")).targets["dev"]
    assert target.source_cluster == "prod-aurora"
    with pytest.raises(ConfigError, match="RECORD_NAME"):
        devdb["TARGETS"]["dev"]["RECORD_NAME"] = "db..example.com"
        conf.get_settings(only=("SOURCE_CLUSTER", "HOSTED_ZONE_ID", "RECORD_NAME"))


def test_iam_policy_is_printed_despite_a_bad_setting_it_does_not_use(devdb, gateway_never_built):
    import io
    import json

    devdb["TARGETS"]["dev"]["READY_TIMEOUT"] = "soon"
    out = io.StringIO()
    call_command("iam_policy_devdb", stdout=out)
    assert json.loads(out.getvalue())["Version"] == "2012-10-17"
    devdb["TARGETS"]["dev"]["HOSTED_ZONE_ID"] = ""
    with pytest.raises(CommandError, match="HOSTED_ZONE_ID"):
        call_command("iam_policy_devdb", stdout=io.StringIO())


def test_a_mistyped_variable_is_also_a_warning_line_when_a_command_runs(tmp_path):
    result = manage_without_aws("iam_policy_devdb", "--account", "123456789012", "--region", "us-east-1",
                                **project_env(tmp_path, DEVDB_RECORD_TTTL="30"))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == ("iam_policy_devdb: warning: DEVDB_RECORD_TTTL is set, but no setting reads "
                                             "it (did you mean DEVDB_RECORD_TTL?)")


def test_a_mistyped_required_variable_is_named_with_the_one_it_meant(tmp_path):
    env = project_env(tmp_path, DEVDB_SOURCE_CLUSTR="prod-aurora")
    del env["DEVDB_SOURCE_CLUSTER"]
    result = manage_without_aws("refresh_devdb", **env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "refresh_devdb: warning: DEVDB_SOURCE_CLUSTR is set, but no setting reads it (did you mean DEVDB_SOURCE_CLUSTER?)",
        "refresh_devdb: error: DEVDB_SOURCE_CLUSTER is required (DEVDB_SOURCE_CLUSTR is set: did you mean DEVDB_SOURCE_CLUSTER?)",
    ]


def test_variables_of_the_sandbox_and_the_master_password_are_no_typos(settings):
    env_settings(settings, DEVDB_SANDBOX_NOW="2026-11-22T05:00:00Z", DEVDB_MASTER_PASSWORD_ENV="DEVDB_CLONE_PASSWORD",
                 DEVDB_CLONE_PASSWORD="a-password-1")
    assert conf.unknown_variables() == []


def test_branch_ttl_may_not_exceed_branch_max_ttl(settings):
    env_settings(settings, DEVDB_BRANCH_TTL="40d")
    assert [str(p) for p in conf.problems()] == ["DEVDB_BRANCH_TTL must not exceed BRANCH_MAX_TTL (40d > 30d)"]
    env_settings(settings, DEVDB_BRANCH_TTL="40d", DEVDB_BRANCH_MAX_TTL="60d")
    assert conf.problems() == [] and conf.get_settings().targets["dev"].branch_max_ttl.days == 60


def test_errors_found_by_asking_aws_name_the_variable_when_the_setting_came_from_one(settings):
    env_settings(settings)
    assert conf.in_user_terms("dev", "SOURCE_CLUSTER: cluster x does not exist; set KMS_KEY_ID") == \
        "DEVDB_SOURCE_CLUSTER: cluster x does not exist; set DEVDB_KMS_KEY_ID"
    settings.DEVDB = {"TARGETS": {"dev": {"SOURCE_CLUSTER": "x"}}}
    assert conf.in_user_terms("dev", "SOURCE_CLUSTER: cluster x does not exist") == "SOURCE_CLUSTER: cluster x does not exist"
