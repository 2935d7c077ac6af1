"""Delivery settings checked when the portal starts, and `flask check-config`.

Decided: a setting that can never work (an unknown SMS provider, a provider without its keys,
a link base that is not an http(s) address) refuses to start the app, with the reason; a mail
server that does not answer is only reported (a warning when the worker starts, exit status 1
from `flask check-config`), because it is an outage the outbox rides out by retrying, and
refusing to start would take intake down with the mail server.
"""
from __future__ import annotations

import logging
import smtplib
import socket

import click

from portal.notify.sms import SmsError, get_provider

log = logging.getLogger(__name__)
SMTP_CHECK_TIMEOUT_SECONDS = 3


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says which setting and why."""


def delivery_problems(config) -> list[str]:
    """What in the configuration can never work (no network is used)."""
    problems = []
    try:
        get_provider(config)
    except SmsError as exc:
        problems.append(f"短信：{exc}")
    base = config.get("PORTAL_BASE_URL") or ""
    if base and not base.startswith(("http://", "https://")):
        problems.append(f"PORTAL_BASE_URL 应以 http:// 或 https:// 开头，当前为 {base!r}")
    try:
        port = int(config.get("MAIL_PORT") or 25)
        if not 0 < port < 65536:
            raise ValueError
    except (TypeError, ValueError):
        problems.append(f"MAIL_PORT 应为 1–65535 的端口号，当前为 {config.get('MAIL_PORT')!r}")
    return problems


def smtp_problem(config, timeout: float = SMTP_CHECK_TIMEOUT_SECONDS) -> str | None:
    """None if MAIL_SERVER answers SMTP (or none is configured), else what went wrong."""
    server = config.get("MAIL_SERVER")
    if not server:
        return None
    port = int(config.get("MAIL_PORT") or 25)
    try:
        with smtplib.SMTP(server, port, timeout=timeout) as smtp:
            code, reply = smtp.noop()
            if code != 250:
                return f"邮件服务器 {server}:{port} 应答异常：{code} {reply.decode('utf-8', 'replace')}"
    except (OSError, smtplib.SMTPException, socket.timeout) as exc:
        return (f"无法连接邮件服务器 {server}:{port}（{type(exc).__name__}: {exc}）；"
                f"邮件将留在发件箱中并按退避间隔重试")
    return None


def check_delivery_config(config) -> None:
    problems = delivery_problems(config)
    if problems:
        raise ConfigError("通知发送配置有误，门户未启动：\n" + "\n".join(f"  - {p}" for p in problems))


def warn_if_smtp_unreachable(config) -> None:
    problem = smtp_problem(config)
    if problem:
        log.warning("%s", problem)


def init_app(app) -> None:
    check_delivery_config(app.config)

    @app.cli.command("check-config")
    def check_config_command():
        """Check the delivery settings, and that the mail server answers; exit 1 on a problem."""
        problems = delivery_problems(app.config)
        smtp = smtp_problem(app.config)
        if smtp:
            problems.append(smtp)
        for problem in problems:
            click.echo(f"✗ {problem}", err=True)
        if problems:
            raise SystemExit(1)
        click.echo("通知发送配置正常。" + ("" if app.config.get("MAIL_SERVER")
                                           else "（未配置 MAIL_SERVER：邮件只留在发件箱中）"))
