"""The password policy (NIST SP 800-63B-4 §3.1.1.2) and the services that set passwords:
change (knowing the current one), an admin's reset and its one-time secret — each audited,
each ending the user's other sessions — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from prodsec.db.engine import Database
from prodsec.db.models import AuditEvent, PasswordReset, User
from prodsec.workspace import passwords, sessions, users
from prodsec.workspace.context import Actor, NotFound, PermissionDenied, ValidationFailed
from tests.workspace.conftest import make_actor

GOOD = "amber lantern over quiet fjords"
NEW = "violet kettle under the stairs"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "_hasher", lambda: PasswordHasher(1, 8, 1))


# ---- the policy ---------------------------------------------------------------------------


def refused(password: str, *context: str) -> str | None:
    return passwords.problem(passwords.normalise(password), context)


@pytest.mark.parametrize("password", [
    "a" * 3 + "bcdefghijklmn",  # 16, no runs: "aaab…" is neither repeated nor a run
    "fifteen chars!!",
    "no composition rules at all",
    "Ünïcødé pässwörd — mit Leerzeichen",
    "日本語のパスワードはこれです十五文字",
    "🦆 duck duck goose 🪿",
    "x" + "y z" * 30 + "q",  # 92 characters
    "p" + "ass phrase " * 93,  # 1 024 characters
])
def test_accepted(password: str) -> None:
    assert refused(password, "alice@acme.example") is None, password


@pytest.mark.parametrize(("password", "why"), [
    ("twelve chars", "at least 15"),
    ("fourteen chars", "at least 15"),
    ("x" * 1025, "at most 1024"),
    ("tab\tinside the password", "printable"),
    ("nul\x00inside the password", "printable"),
    ("1q2w3e4r5t6y7u8i", "commonly used"),
    ("qwerty123456789", "commonly used"),
    ("Password 2024-12-03 !!", "commonly used"),  # "password" once digits and marks go
    ("P@ssword12345678", "commonly used"),
    ("aaaaaaaaaaaaaaaa", "repetition"),
    ("abcabcabcabcabcabc", "repetition"),
    ("123456789012345678", "repetition"),
    ("zyxwvutsrqponmlkj", "repetition"),
    ("qwertyuiopasdfg", "keyboard"),  # accepted before (pentest h11pen I2)
    ("poiuytrewq lkjhgfdsa", "keyboard"),
    ("azertyuiopqsdfghjklm", "keyboard"),
    ("correcthorsebatterystaple", "well-known phrase"),  # accepted before (I2)
    ("Correct Horse Battery Staple!", "well-known phrase"),
    ("correct horse battery staple zebra", "well-known phrase"),  # the phrase does not count
    ("The quick brown fox jumps over the lazy dog", "well-known phrase"),
])
def test_refused(password: str, why: str) -> None:
    problem = refused(password)
    assert problem is not None and why in problem, (password, problem)


def test_context_words_do_not_count() -> None:
    context = passwords.context_words("alice.smith@acme.example", "Alice Smith", "Acme Widgets")
    assert "alice" in context and "smith" in context and "prodsec" in context
    assert "acme widgets" in context
    for password in ("alice.smith@acme.example!", "prodsec prodsec 2026", "AliceSmith-Acme-2026"):
        problem = refused(password, *context)
        assert problem is not None and "e-mail" in problem, password
    assert refused("alice likes long garden paths", *context) is None


def test_length_counts_code_points_after_nfkc() -> None:
    """Full-width letters are their ASCII selves: one password whichever keyboard typed it."""
    wide = "ａｍｂｅｒ ｌａｎｔｅｒｎ ｏｖｅｒ ｑｕｉｅｔ ｆｊｏｒｄｓ"
    assert passwords.normalise(wide) == GOOD
    assert refused("ﬁ" * 15) is not None  # "fi" ligature: "fifififi…" is a repetition


def test_the_list_is_shipped_and_lower_case() -> None:
    common = passwords.common_passwords()
    assert len(common) > 19_000 and "password" in common
    assert all(p == p.lower() for p in list(common)[:500])


def test_short_legacy_passwords_still_sign_in(database: Database) -> None:
    """The policy applies when a password is set: an account made under the old 12-character
    rule signs in as before."""
    make_actor(database, "Acme", "viewer", "old@acme.example")
    with database.transaction() as session:
        user = session.scalar(select(User).where(User.email == "old@acme.example"))
        assert user is not None
        user.password_hash = PasswordHasher(1, 8, 1).hash("twelve chars")
    with database.transaction() as session:
        assert users.authenticate_password(session, "old@acme.example", "twelve chars")


def test_a_password_hashed_before_normalisation_still_verifies(database: Database) -> None:
    make_actor(database, "Acme", "viewer", "wide@acme.example")
    wide = "ｗｉｄｅ ｃｈａｒａｃｔｅｒｓ ｈｅｒｅ"
    with database.transaction() as session:
        user = session.scalar(select(User).where(User.email == "wide@acme.example"))
        assert user is not None
        user.password_hash = PasswordHasher(1, 8, 1).hash(wide)  # as typed, not NFKC
    with database.transaction() as session:
        assert users.authenticate_password(session, "wide@acme.example", wide)


def test_new_accounts_get_the_policy(database: Database) -> None:
    with pytest.raises(ValidationFailed) as caught, database.transaction() as session:
        users.create_user(session, "Acme", "new@acme.example", "viewer", "twelve chars")
    assert caught.value.field == "password" and "15" in caught.value.detail
    with pytest.raises(ValidationFailed), database.transaction() as session:
        users.create_user(session, "Acme", "new@acme.example", "viewer", "new@acme.example 2026")


# ---- change, reset, redeem ----------------------------------------------------------------


def signed_in(database: Database, actor: Actor) -> str:
    with database.transaction() as session:
        return sessions.create_session(session, actor)[0]


def live(database: Database, secret: str) -> bool:
    with database.transaction() as session:
        return sessions.session_actor(session, secret) is not None


def can_sign_in(database: Database, email: str, password: str) -> bool:
    with database.transaction() as session:
        return users.authenticate_password(session, email, password) is not None


def actions(database: Database) -> list[str]:
    with database.transaction() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.at,
                                                                          AuditEvent.seq)))


def test_change_needs_the_current_password_and_ends_other_sessions(database: Database,
                                                                   editor: Actor) -> None:
    here, elsewhere = signed_in(database, editor), signed_in(database, editor)
    with pytest.raises(ValidationFailed) as wrong, database.transaction() as session:
        users.change_password(session, editor, "not my password at all", NEW)
    assert wrong.value.field == "current_password"
    with pytest.raises(ValidationFailed) as weak, database.transaction() as session:
        users.change_password(session, editor, GOOD, "password12345678")
    assert weak.value.field == "password"
    with database.transaction() as session:
        assert users.change_password(session, editor, GOOD, NEW, keep_session=here) == 1
    assert live(database, here) and not live(database, elsewhere)
    assert can_sign_in(database, editor.email, NEW)
    assert not can_sign_in(database, editor.email, GOOD)
    assert actions(database)[-1] == "user.password_change"


def test_admin_reset_and_redeem(database: Database, editor: Actor) -> None:
    admin = make_actor(database, "Acme", "admin")
    session_of_editor = signed_in(database, editor)
    with database.transaction() as session:
        secret, expires = users.issue_password_reset(session, admin, editor.user_id)
    assert secret.startswith("psr_") and expires > dt.datetime.now(dt.UTC)
    assert not can_sign_in(database, editor.email, GOOD)  # the old password is void at once
    assert not live(database, session_of_editor)
    with database.transaction() as session:  # only the hash is stored
        assert session.scalar(select(PasswordReset.token_hash)) != secret
    with pytest.raises(ValidationFailed), database.transaction() as session:
        users.redeem_password_reset(session, secret, "too short")
    with database.transaction() as session:
        users.redeem_password_reset(session, secret, NEW)
    assert can_sign_in(database, editor.email, NEW)
    with pytest.raises(ValidationFailed) as used, database.transaction() as session:
        users.redeem_password_reset(session, secret, "another fine long password")
    assert used.value.field == "token"
    assert actions(database)[-2:] == ["user.password_reset", "user.password_set"]


def test_a_reset_expires(database: Database, editor: Actor) -> None:
    admin = make_actor(database, "Acme", "admin")
    with database.transaction() as session:
        secret, _ = users.issue_password_reset(session, admin, editor.user_id,
                                               ttl=dt.timedelta(seconds=-1))
    with pytest.raises(ValidationFailed), database.transaction() as session:
        users.redeem_password_reset(session, secret, NEW)


def test_who_may_reset(database: Database, editor: Actor, outsider: Actor) -> None:
    """Only an admin of the member's organisation, never for an account that is also a member
    elsewhere (that would reach into the other organisation), never one's own."""
    admin = make_actor(database, "Acme", "admin")
    with pytest.raises(NotFound), database.transaction() as session:
        users.issue_password_reset(session, outsider, editor.user_id)
    with pytest.raises(PermissionDenied), database.transaction() as session:
        users.issue_password_reset(session, editor, admin.user_id)
    with pytest.raises(ValidationFailed), database.transaction() as session:
        users.issue_password_reset(session, admin, admin.user_id)
    with database.transaction() as session:  # the local set-up adds the editor to Globex too
        users.create_user(session, "Globex", editor.email, "viewer", None)
    with pytest.raises(PermissionDenied), database.transaction() as session:
        users.issue_password_reset(session, admin, editor.user_id)
    with database.transaction() as session:  # the password stands
        user = session.get(User, editor.user_id)
        assert user is not None and users.verify_password(user, GOOD)
