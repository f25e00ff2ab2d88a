"""The compliance console at `/console`: pages for the people who answer for compliance, served by `consentry
serve` once `CONSENTRY_CONSOLE_SECRET` is set (without it `/console` is a 404).

Local accounts (`consentry users create`), sessions in Flask's signed cookie, a CSRF token on every form, a
lock-out after repeated failures and a rate limit on signing in; viewers read, operators act. Every look-up of a
person is recorded in the audit log by the identifier's keyed hash.
"""

from flask import Flask

from ..runtime import Runtime

__all__ = ["register_console"]


def register_console(app: Flask, runtime: Runtime) -> None:
    """Mount the console when its secret is set; the web extensions are imported here, for the console only."""
    secret = runtime.config.get("CONSOLE_SECRET")
    if not secret:
        return
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address
    from flask_login import LoginManager
    from flask_wtf.csrf import CSRFProtect

    from ..api.rate_storage import storage_uri
    from . import auth, jobs, overview, people, rights, rules  # noqa: F401 - each adds its routes
    from .blueprint import blueprint
    from .overview import EXTENSION, figures_cache
    from .users import find_user

    app.config.update(
        SECRET_KEY=str(secret),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=str(runtime.config.get("PUBLIC_URL") or "").startswith("https:"),
        SESSION_COOKIE_PATH="/console",  # the rest of the server has no session
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by the console's blueprint only: webhooks and /v1 carry no session
    )
    CSRFProtect(app)
    manager = LoginManager()
    manager.login_view = "console.login"
    manager.login_message = ""  # the sign-in page says what it is
    engine = runtime.services.engine

    @manager.user_loader
    def _load(user_id: str):
        return find_user(engine, int(user_id)) if user_id.isdigit() else None

    manager.init_app(app)
    app.extensions[EXTENSION] = figures_cache(runtime)
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=storage_uri(str(runtime.config.get("API_RATE_STORAGE", "memory://"))),
        default_limits=[],
    )
    app.register_blueprint(blueprint)
    # the blueprint is shared by every app made: each app's own limiter wraps its own copy of the sign-in view
    app.view_functions["console.login"] = limiter.limit(auth.SIGN_IN_RATE, methods=["POST"])(auth.login)
