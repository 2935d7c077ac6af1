"""`flask seed-demo`, `flask audit-verify` and other maintenance commands."""
import click


def init_app(app) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Seed the demo organisation if the database has no users yet."""
        from portal.seed import seed_demo
        if seed_demo():
            click.echo("已创建演示组织和各角色账号（密码 demo1234）。")
        else:
            click.echo("数据库中已有用户，未重复创建演示数据。")

    @app.cli.command("audit-verify")
    def audit_verify_command():
        """Walk the audit chain; exit 1 at the first altered or missing event."""
        from portal.signing.audit import verify_chain
        ok, message = verify_chain()
        click.echo(message)
        raise SystemExit(0 if ok else 1)

    @app.cli.command("ladder-schedule")
    def ladder_schedule_command():
        """Reminders and breach timers for open cases registered before the escalation ladder."""
        from portal.escalation.operations import schedule_open_cases
        click.echo(f"已为 {schedule_open_cases()} 件在办投诉安排提醒和超时升级。")
