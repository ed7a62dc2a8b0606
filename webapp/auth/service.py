"""Staff accounts: creating them and checking their passwords."""
import functools
import secrets

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.models import Agency, User


class StaffError(ValueError):
    """A staff account cannot be created as asked; the message names the reason."""


def authenticate(email: str, password: str) -> User | None:
    user = db.session.execute(
        db.select(User).filter_by(email=email.strip().lower())).scalar_one_or_none()
    if user is None:
        # As much work as a wrong password of a real account: an unknown address must not
        # answer faster, or the time tells which addresses have accounts.
        check_password_hash(_unknown_account_hash(current_app.config["PASSWORD_HASH_METHOD"]),
                            password)
        return None
    if not user.check_password(password):
        return None
    return user


@functools.cache
def _unknown_account_hash(method: str) -> str:
    """A hash of a random password with the method (and cost) real accounts are hashed with."""
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def end_sessions(user: User) -> None:
    """Sign the user out everywhere: every session and remember cookie issued so far stops
    working (raised in the database, so two sign-outs at once both count)."""
    db.session.execute(db.update(User).where(User.id == user.id)
                       .values(session_version=User.session_version + 1))
    db.session.commit()


def create_user(agency: Agency, email: str, password: str, *, is_admin: bool = False,
                name: str = "") -> User:
    email = email.strip().lower()
    if len(password) < 8:
        raise StaffError("the password must have at least 8 characters")
    if db.session.execute(db.select(User.id).filter_by(email=email)).first():
        raise StaffError(f"a user with the email {email} already exists")
    user = User(agency=agency, email=email, name=name, is_admin=is_admin)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user
