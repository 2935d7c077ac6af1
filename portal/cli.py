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

    @app.cli.command("search-reindex")
    def search_reindex_command():
        """Rebuild the search index from every case (after a bulk load that bypassed the app)."""
        from portal.search.index import reindex
        cases, terms = reindex()
        click.echo(f"已为 {cases} 件投诉重建检索索引（{terms} 个词条）。")

    @app.cli.command("pdf")
    @click.argument("number")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
                  help="写入的文件（默认 <编号>.pdf）")
    @click.option("--as", "username", help="按该用户的权限生成（与其页面所见一致）；默认完整")
    def pdf_command(number, output, username):
        """Render a case's sign-off sheet (KS…) or a corrective-action sheet (CA…) to a file.

        A record still missing a signature comes out marked 草稿 on every page.
        """
        import shutil
        try:
            path, draft = _document_path(number.strip().upper(), username)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from exc
        output = output or f"{number}.pdf"
        shutil.copyfile(path, output)
        click.echo(f"已写入 {output}" + ("（草稿：签字未齐）" if draft else ""))


def _document_path(number: str, username: str | None):
    """(cached PDF, is it a draft) for a case or sheet number, as `username` may see it."""
    import sqlalchemy as sa
    from portal.extensions import db
    from portal.org.models import User

    viewer = None
    if username:
        viewer = db.session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
        if viewer is None:
            raise LookupError(f"没有用户 {username}。")
    if number.startswith("CA"):
        from portal.capa.document import sheet_by_number, sheet_complete, sheet_pdf_path
        sheet = sheet_by_number(number, viewer)
        if sheet is None:
            raise LookupError(f"没有纠正预防单 {number}" + ("（或该用户无权查看）。" if viewer else "。"))
        return sheet_pdf_path(sheet, viewer, drafts=True), not sheet_complete(sheet)
    from portal.cases import access
    from portal.cases.documents import signoff_complete, signoff_pdf_path
    from portal.cases.models import Case
    case = db.session.execute(sa.select(Case).where(Case.number == number)).scalar_one_or_none()
    if case is None or (viewer is not None and not access.can_view(case, viewer)):
        raise LookupError(f"没有投诉 {number}" + ("（或该用户无权查看）。" if viewer else "。"))
    full_phone = viewer is None or access.sees_full_phone(case, viewer)
    return signoff_pdf_path(case, full_phone=full_phone, drafts=True), not signoff_complete(case)
