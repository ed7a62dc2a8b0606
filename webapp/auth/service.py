"""Staff accounts: creating them and checking their passwords."""
from webapp.extensions import db
from webapp.models import Agency, User


class StaffError(ValueError):
    """A staff account cannot be created as asked; the message names the reason."""


def authenticate(email: str, password: str) -> User | None:
    user = db.session.execute(
        db.select(User).filter_by(email=email.strip().lower())).scalar_one_or_none()
    if user is None or not user.check_password(password):
        return None
    return user


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
