"""`flask seed-demo`, `flask audit-verify` and other maintenance commands."""
import click


def init_app(app) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Seed the demo organisation if the database has no users yet."""
        from portal.seed import seed_demo
        if seed_demo():
            click.echo("已创建演示组织和各角色账号（密码 demo1234）。")
            from portal.api.tokens import issue_demo_token
            from portal.org.models import User
            from portal.extensions import db
            import sqlalchemy as sa
            admin = db.session.execute(sa.select(User).where(User.username == "admin")).scalar_one()
            token = issue_demo_token(admin)
            if token:
                click.echo(f"演示接口令牌：{token}（/api/docs 有用法）")
        else:
            click.echo("数据库中已有用户，未重复创建演示数据。")

    @app.cli.command("api-token")
    @click.argument("name")
    @click.option("--channels", required=True, help="受理渠道，逗号分隔，如 hotline,wechat")
    @click.option("--branches", default="", help="分公司编码，逗号分隔，如 BR-CD,BR-ZZ")
    @click.option("--hq", is_flag=True, help="也可登记总部直接受理的投诉（无分公司）")
    @click.option("--read-only", is_flag=True, help="只读：不能登记投诉或上传附件")
    @click.option("--rate", default=120, show_default=True, help="每分钟请求数上限")
    @click.option("--as", "username", default="admin", show_default=True, help="签发的管理员")
    def api_token_command(name, channels, branches, hq, read_only, rate, username):
        """Issue an integration's API token and print it (it is shown only this once)."""
        import sqlalchemy as sa
        from portal.api.tokens import issue_token
        from portal.errors import DomainError
        from portal.extensions import db
        from portal.org.models import OrgUnit, User
        admin = db.session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
        if admin is None:
            raise click.ClickException(f"没有用户 {username}")
        codes = [c.strip() for c in branches.split(",") if c.strip()]
        units = dict(db.session.execute(sa.select(OrgUnit.code, OrgUnit.id).where(OrgUnit.code.in_(codes))).all())
        if missing := [c for c in codes if c not in units]:
            raise click.ClickException(f"没有分公司 {', '.join(missing)}")
        try:
            token, plain = issue_token(admin, {
                "name": name, "channels": [c.strip() for c in channels.split(",") if c.strip()],
                "branch_ids": [units[c] for c in codes], "hq": hq, "read_only": read_only,
                "rate_per_minute": rate})
        except DomainError as exc:
            details = "; ".join(f"{k}: {v}" for k, v in (exc.field_errors or {}).items())
            raise click.ClickException(f"{exc} {details}".strip())
        click.echo(plain)

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
