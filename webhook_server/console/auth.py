"""Signing in and out, and who may do what: sessions in Flask's signed cookie (Flask-Login), a rate limit on the
sign-in form (Flask-Limiter), viewers who read and operators who act."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, redirect, render_template, url_for
from flask_login import current_user, login_required, login_user, logout_user

from .blueprint import blueprint, services
from .forms import SignInForm
from .users import LOCK, MAX_FAILURES, sign_in

SIGN_IN_RATE = "10/minute"  # per client address, on top of each account's lock-out


def operator_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed in as an operator, or a 403: a viewer reads and never acts."""

    @wraps(view)
    @login_required
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_operator:
            abort(403, "operators only: your account may read, not act")
        return view(*args, **kwargs)

    return guarded


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    form = SignInForm()
    failed = False
    if form.validate_on_submit():
        user = sign_in(services().engine, form.name.data or "", form.password.data or "")
        if user is not None:
            login_user(user)
            return redirect(url_for("console.overview"))
        failed = True
    message = (
        f"Wrong name or password. After {MAX_FAILURES} failures in a row an account is locked for "
        f"{int(LOCK.total_seconds() // 60)} minutes."
    )
    return render_template("console/login.html", form=form, error=message if failed else None), 401 if failed else 200


@blueprint.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("console.login"))
