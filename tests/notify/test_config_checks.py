"""Delivery settings that cannot work stop the portal at start with the reason; a mail server
that does not answer is reported by `flask check-config` (and by the worker), not refused."""
import os
import subprocess
import sys

import pytest

from portal import create_app
from portal.config import TestConfig
from portal.notify.checks import ConfigError
from tests.conftest import ROOT, free_port


def make_app(**settings):
    return create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite://", **settings)


def test_unknown_sms_provider_refuses_to_start_and_says_why():
    with pytest.raises(ConfigError, match="unknown SMS_PROVIDER 'sendgrid' \\(outbox, http, aliyun or tencent\\)"):
        make_app(SMS_PROVIDER="sendgrid")


def test_provider_without_its_keys_refuses_to_start():
    with pytest.raises(ConfigError, match="SMS_ALIYUN_ACCESS_KEY_ID is not configured"):
        make_app(SMS_PROVIDER="aliyun")
    with pytest.raises(ConfigError, match="PORTAL_BASE_URL"):
        make_app(PORTAL_BASE_URL="kesu.example.com")


def test_check_config_reports_an_unreachable_mail_server(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there

    result = app.test_cli_runner().invoke(args=["check-config"])

    assert result.exit_code == 1
    assert "无法连接邮件服务器 127.0.0.1" in result.output
    assert "ConnectionRefusedError" in result.output


def test_check_config_passes_with_a_mail_server_that_answers(app, smtp_sink):
    result = app.test_cli_runner().invoke(args=["check-config"])

    assert result.exit_code == 0, result.output
    assert "通知发送配置正常" in result.output


def test_the_portal_process_does_not_start_with_an_unknown_provider(tmp_path):
    env = {**os.environ, "SMS_PROVIDER": "sendgrid", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
           "SECRET_KEY": "x", "PORTAL_INSTANCE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "check-config"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)

    assert proc.returncode != 0
    assert "通知发送配置有误，门户未启动" in proc.stderr
    assert "unknown SMS_PROVIDER 'sendgrid'" in proc.stderr
