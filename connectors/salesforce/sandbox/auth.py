"""Who may call the sandbox: sessions issued by `POST /services/oauth2/token` (JWT bearer or client credentials),
checked on every REST call, ended by inactivity, revocation (`POST /services/oauth2/revoke`) or an admin.

The JWT assertion must be RS256-signed with the key of the configured certificate, name the connected app's
consumer key as `iss`, an allowed login URL as `aud` (login.salesforce.com, test.salesforce.com or the sandbox's
own URL, as a My Domain) and an `exp` still in the future. Refusals use Salesforce's OAuth error pairs
(CONTRACTS §3.1; community-confirmed descriptions: "invalid assertion", "audience is invalid",
"expired authorization code", "client identifier invalid", "invalid client credentials", "grant type not
supported"). Sessions answer 401 `INVALID_SESSION_ID` "Session expired or invalid" once ended.
"""

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Response, current_app, jsonify, request

from .errors import SalesforceError

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_URLS = ("https://login.salesforce.com", "https://test.salesforce.com")
blueprint = Blueprint("salesforce_oauth", __name__, url_prefix="/services/oauth2")


@dataclass
class Session:
    token: str
    user_id: str
    username: str
    client_id: str
    issued_at: float
    last_used: float


class TokenBook:
    """Live sessions by access token. A session ends after `timeout` idle seconds (Salesforce's default is two
    hours), when revoked, or when an admin expires it."""

    def __init__(
        self,
        *,
        org_id: str,
        user_id: str,
        timeout: float | None = 7200,
        clock: Callable[[], float] = time.time,
    ):
        self.org_id, self.user_id, self.timeout, self.clock = org_id, user_id, timeout, clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def issue(self, *, username: str, client_id: str) -> Session:
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(72)}"
        moment = self.clock()
        session = Session(token, self.user_id, username, client_id, moment, moment)
        with self._lock:
            self._sessions[token] = session
        return session

    def check(self, token: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            moment = self.clock()
            if self.timeout is not None and moment - session.last_used > self.timeout:
                del self._sessions[token]
                return None
            session.last_used = moment
            return session

    def revoke(self, token: str) -> bool:
        with self._lock:
            return self._sessions.pop(token, None) is not None

    def expire_all(self) -> int:
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
        return count


def load_public_key(pem: str):
    """The RSA public key of an X.509 certificate (what the connected app holds) or of a bare public key."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"BEGIN CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return serialization.load_pem_public_key(data)


def bearer_token() -> str:
    header = request.headers.get("Authorization", "").strip()
    for scheme in ("Bearer ", "OAuth "):
        if header[: len(scheme)].lower() == scheme.lower():
            return header[len(scheme) :].strip()
    return ""


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


def _sandbox():
    return current_app.extensions["salesforce_sandbox"]


@blueprint.post("/token")
def token() -> Response:
    sandbox = _sandbox()
    form = request.form
    grant = form.get("grant_type", "")
    if grant == JWT_GRANT:
        outcome = _jwt_bearer(sandbox, form.get("assertion", ""))
    elif grant == "client_credentials":
        client_id, client_secret = _basic_credentials() or (form.get("client_id", ""), form.get("client_secret", ""))
        outcome = _client_credentials(sandbox, client_id, client_secret)
    else:
        return _oauth_error("unsupported_grant_type", "grant type not supported")
    if isinstance(outcome, Response):
        return outcome
    username, client_id = outcome
    session = sandbox.tokens.issue(username=username, client_id=client_id)
    host = request.host_url.rstrip("/")
    identity = f"{host}/id/{sandbox.org_id}/{session.user_id}"
    issued_at = str(int(session.issued_at * 1000))
    mac = hmac.new(sandbox.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
    return jsonify(
        {
            "access_token": session.token,
            "signature": base64.b64encode(mac).decode(),
            "scope": "api",
            "instance_url": host,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }
    )


def _basic_credentials() -> tuple[str, str] | None:
    """The connected app may also authenticate with HTTP Basic (consumer key and secret), as simple-salesforce does."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        key, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
    except ValueError:
        return None
    return key, secret


def _client_credentials(sandbox, client_id: str, client_secret: str) -> tuple[str, str] | Response:
    if not hmac.compare_digest(client_id.encode(), sandbox.client_id.encode()):
        return _oauth_error("invalid_client_id", "client identifier invalid")
    if not hmac.compare_digest(client_secret.encode(), sandbox.client_secret.encode()):
        return _oauth_error("invalid_client", "invalid client credentials")
    return sandbox.run_as, client_id


def _jwt_bearer(sandbox, assertion: str) -> tuple[str, str] | Response:
    if sandbox.public_key is None:
        return _oauth_error("invalid_grant", "invalid assertion")  # no certificate uploaded to the connected app
    audiences = [*LOGIN_URLS, request.host_url.rstrip("/"), *sandbox.login_urls]
    try:
        claims = jwt.decode(
            assertion,
            sandbox.public_key,
            algorithms=["RS256"],
            options={"verify_aud": False, "verify_exp": False, "require": ["iss", "sub", "aud", "exp"]},
        )
    except jwt.PyJWTError:
        return _oauth_error("invalid_grant", "invalid assertion")
    if claims["iss"] != sandbox.client_id:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if not any(str(a).rstrip("/") in audiences for a in audience):
        return _oauth_error("invalid_grant", "audience is invalid")
    try:
        expired = float(claims["exp"]) <= time.time()
    except (TypeError, ValueError):
        return _oauth_error("invalid_grant", "invalid assertion")
    if expired:
        return _oauth_error("invalid_grant", "expired authorization code")
    if sandbox.usernames is not None and claims["sub"] not in sandbox.usernames:
        return _oauth_error("invalid_grant", "user hasn't approved this consumer")
    return str(claims["sub"]), str(claims["iss"])


@blueprint.post("/revoke")
def revoke() -> Response:
    """Ends a session: 200 with an empty body, 400 `invalid_token` for one the org does not know."""
    token = request.form.get("token") or request.args.get("token") or ""
    if not _sandbox().tokens.revoke(token):
        return _oauth_error("invalid_token", "invalid token")
    return Response(status=200)


def unauthorized() -> SalesforceError:
    return SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")
