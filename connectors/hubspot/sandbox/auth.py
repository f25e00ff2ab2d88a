"""Who may call the sandbox: private-app tokens (never expire), OAuth access tokens issued by `/oauth/v1/token`
from a refresh token (they expire), and the developer API key (`hapikey`) of the webhooks management API.

Refusals are HubSpot's 401s: INVALID_AUTHENTICATION for a missing or unknown credential, EXPIRED_AUTHENTICATION
with the `expire time` context for an OAuth token past its lifetime. The token endpoint answers HubSpot's OAuth
errors (`{"status": "BAD_REFRESH_TOKEN", ...}`).
"""

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request

from .errors import HubSpotError

CREDENTIALS_NOT_FOUND = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
    "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
INVALID_API_KEY = (
    "The API key provided is invalid. View or manage your API key here: https://app.hubspot.com/l/api-key/"
)


class TokenBook:
    def __init__(
        self,
        *,
        private_tokens: set[str],
        client_id: str | None,
        client_secret: str,
        refresh_tokens: set[str],
        developer_api_key: str,
        token_ttl: int = 1800,
        clock: Callable[[], float] = time.time,
    ):
        self.private_tokens = set(private_tokens)
        self.client_id, self.client_secret = client_id, client_secret
        self.refresh_tokens = set(refresh_tokens)
        self.developer_api_key = developer_api_key
        self.token_ttl = token_ttl
        self.clock = clock
        self._oauth: dict[str, float] = {}  # access token -> expiry (epoch seconds)
        self._lock = threading.Lock()

    def issue(self) -> str:
        token = f"sandbox-access-{secrets.token_urlsafe(24)}"
        with self._lock:
            self._oauth[token] = self.clock() + self.token_ttl
        return token

    def expire_all(self) -> int:
        with self._lock:
            moment = self.clock()
            for token in self._oauth:
                self._oauth[token] = min(self._oauth[token], moment - 1)
            return len(self._oauth)

    def bearer(self, token: str) -> None:
        """Accept a bearer token or raise HubSpot's 401."""
        if token in self.private_tokens:
            return
        with self._lock:
            expiry = self._oauth.get(token)
        if expiry is None:
            raise HubSpotError(401, "INVALID_AUTHENTICATION", CREDENTIALS_NOT_FOUND)
        late = self.clock() - expiry
        if late >= 0:
            stamp = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            raise HubSpotError(
                401,
                "EXPIRED_AUTHENTICATION",
                f"The OAuth token used to make this call expired {int(late)} second(s) ago.",
                context={"expire time": [stamp]},
            )


def authenticate(tokens: TokenBook) -> str:
    """The credential of the current request (the key its limits are counted under), or HubSpot's 401."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and header[7:].strip():
        token = header[7:].strip()
        tokens.bearer(token)
        return token
    api_key = request.args.get("hapikey")
    if api_key is not None and request.path.startswith("/webhooks/"):
        if api_key != tokens.developer_api_key:
            raise HubSpotError(401, "INVALID_AUTHENTICATION", INVALID_API_KEY)
        return f"hapikey:{api_key}"
    raise HubSpotError(401, "INVALID_AUTHENTICATION", CREDENTIALS_NOT_FOUND)


blueprint = Blueprint("hubspot_oauth", __name__)


def _oauth_error(status: str, message: str):
    body = {"status": status, "message": message, "correlationId": str(uuid.uuid4()), "requestId": uuid.uuid4().hex}
    return jsonify(body), 400


@blueprint.post("/oauth/v1/token")
def token():
    """The refresh-token grant: a new access token with its lifetime; the refresh token stays the same. The client
    id must match when the sandbox was given one, else any non-empty id is taken for the app's."""
    tokens: TokenBook = current_app.extensions["hubspot_sandbox"].tokens
    form = request.form
    if form.get("grant_type") != "refresh_token":
        return _oauth_error("BAD_GRANT_TYPE", "missing or unsupported grant type")
    if not form.get("client_id") or (tokens.client_id and form["client_id"] != tokens.client_id):
        return _oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
    if form.get("client_secret") != tokens.client_secret:
        return _oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret")
    if form.get("refresh_token") not in tokens.refresh_tokens:
        return _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
    return jsonify(
        {
            "token_type": "bearer",
            "refresh_token": form["refresh_token"],
            "access_token": tokens.issue(),
            "expires_in": tokens.token_ttl,
        }
    )
