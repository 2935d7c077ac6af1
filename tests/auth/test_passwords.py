"""Passwords are stored as Argon2id; older Werkzeug hashes still work and are upgraded."""
from werkzeug.security import generate_password_hash

from portal.extensions import db
from tests.conftest import do_login, user


def test_new_passwords_are_argon2id(app, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "argon2id")
    desk = user("desk")
    desk.set_password("a-much-longer-secret")
    db.session.commit()
    assert desk.password_hash.startswith("$argon2id$")
    assert desk.check_password("a-much-longer-secret") and not desk.check_password("demo1234")


def test_old_scrypt_hash_logs_in_and_is_upgraded(app, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "argon2id")
    desk = user("desk")
    desk.password_hash = generate_password_hash("demo1234", method="scrypt")
    db.session.commit()
    resp = do_login(app.test_client(), "desk")
    assert resp.status_code == 302
    db.session.expire_all()
    assert user("desk").password_hash.startswith("$argon2id$")


def test_garbage_hash_is_a_failed_login_not_an_error(app):
    desk = user("desk")
    desk.password_hash = "$argon2id$broken"
    db.session.commit()
    assert do_login(app.test_client(), "desk").status_code == 401
