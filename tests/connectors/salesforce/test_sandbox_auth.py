"""OAuth of the Salesforce sandbox: the JWT bearer assertion is verified against the connected app's certificate
and its claims, client credentials are checked, tokens come with Salesforce's fields and signature, and ended
sessions answer Salesforce's 401."""

import base64
import hashlib
import hmac
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from consentry.connectors.salesforce.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_ORG_ID, create_app
from consentry.connectors.sandbox_kit import ServerThread

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SESSION_EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


@pytest.fixture(scope="module")
def key_pair():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public_pem.decode()


def start(**options):
    app = create_app(**options)
    return app, ServerThread(app).start()


@pytest.fixture
def server(key_pair):
    app, running = start(public_key_pem=key_pair[1], usernames={"api@consentry.example"})
    yield running
    running.stop()
    app.extensions["salesforce_sandbox"].close()


def assertion(key, **claims) -> str:
    body = {"iss": DEFAULT_CLIENT_ID, "sub": "api@consentry.example", "aud": "https://login.salesforce.com"}
    body["exp"] = int(time.time()) + 180
    return jwt.encode({**body, **claims}, key, algorithm="RS256")


def token(server, **form) -> requests.Response:
    return requests.post(f"{server.url}/services/oauth2/token", data=form, timeout=5)


def limits(server, access_token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"}
    return requests.get(f"{server.url}/services/data/v60.0/limits", headers=headers, timeout=5)


def test_a_jwt_signed_with_the_certificate_key_gets_a_session(server, key_pair):
    answer = token(server, grant_type=JWT_GRANT, assertion=assertion(key_pair[0]))
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at"}
    assert body["access_token"].startswith(DEFAULT_ORG_ID[:15] + "!")
    assert body["instance_url"] == server.url
    assert body["id"].startswith(f"{server.url}/id/{DEFAULT_ORG_ID}/005")
    assert body["token_type"] == "Bearer"
    assert abs(int(body["issued_at"]) / 1000 - time.time()) < 60
    expected = hmac.new(DEFAULT_CLIENT_SECRET.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256)
    assert base64.b64decode(body["signature"]) == expected.digest()
    assert limits(server, body["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("claims", "error", "description"),
    [
        ({"aud": "https://evil.example"}, "invalid_grant", "audience is invalid"),
        ({"exp": int(time.time()) - 10}, "invalid_grant", "expired authorization code"),
        ({"iss": "3MVG9someone-else"}, "invalid_client_id", "client identifier invalid"),
        ({"sub": "intruder@consentry.example"}, "invalid_grant", "user hasn't approved this consumer"),
    ],
    ids=["audience", "expired", "issuer", "user"],
)
def test_jwt_claims_are_checked(server, key_pair, claims, error, description):
    answer = token(server, grant_type=JWT_GRANT, assertion=assertion(key_pair[0], **claims))
    assert answer.status_code == 400
    assert answer.json() == {"error": error, "error_description": description}


def test_a_jwt_signed_with_another_key_or_not_rs256_is_an_invalid_assertion(server, key_pair):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = token(server, grant_type=JWT_GRANT, assertion=assertion(stranger))
    assert forged.status_code == 400
    assert forged.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}
    shared_secret = jwt.encode({"iss": DEFAULT_CLIENT_ID, "sub": "api@consentry.example"}, "k" * 32, algorithm="HS256")
    assert token(server, grant_type=JWT_GRANT, assertion=shared_secret).json()["error"] == "invalid_grant"
    assert token(server, grant_type=JWT_GRANT).json()["error_description"] == "invalid assertion"


def test_client_credentials_in_the_form_or_with_http_basic(server):
    form = token(
        server, grant_type="client_credentials", client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET
    )
    assert form.status_code == 200
    basic = requests.post(
        f"{server.url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
        timeout=5,
    )
    assert basic.status_code == 200
    assert basic.json()["access_token"] != form.json()["access_token"]
    wrong = token(server, grant_type="client_credentials", client_id=DEFAULT_CLIENT_ID, client_secret="guess")
    assert wrong.json() == {"error": "invalid_client", "error_description": "invalid client credentials"}
    stranger = token(server, grant_type="client_credentials", client_id="3MVG9x", client_secret=DEFAULT_CLIENT_SECRET)
    assert stranger.json() == {"error": "invalid_client_id", "error_description": "client identifier invalid"}
    password = token(server, grant_type="password", username="u", password="p")
    assert password.json() == {"error": "unsupported_grant_type", "error_description": "grant type not supported"}


def test_without_a_certificate_the_jwt_grant_is_refused(key_pair):
    app, running = start()
    try:
        answer = token(running, grant_type=JWT_GRANT, assertion=assertion(key_pair[0]))
        assert answer.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}
    finally:
        running.stop()
        app.extensions["salesforce_sandbox"].close()


def test_expired_revoked_and_missing_sessions_answer_401(server):
    first = token(
        server, grant_type="client_credentials", client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET
    )
    second = token(
        server, grant_type="client_credentials", client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET
    )
    one, two = first.json()["access_token"], second.json()["access_token"]
    revoked = requests.post(f"{server.url}/services/oauth2/revoke", data={"token": one}, timeout=5)
    assert revoked.status_code == 200
    refused = limits(server, one)
    assert refused.status_code == 401
    assert refused.json() == SESSION_EXPIRED
    assert "Sforce-Limit-Info" not in refused.headers
    assert requests.post(f"{server.url}/services/oauth2/revoke", data={"token": one}, timeout=5).status_code == 400
    assert limits(server, two).status_code == 200
    assert requests.post(f"{server.url}/_sandbox/tokens/expire", timeout=5).json() == {"expired": 1}
    assert limits(server, two).json() == SESSION_EXPIRED
    bare = requests.get(f"{server.url}/services/data/v60.0/limits", timeout=5)
    assert (bare.status_code, bare.json()) == (401, SESSION_EXPIRED)


def test_an_idle_session_times_out():
    app, running = start(session_timeout=0.3)
    try:
        access = requests.post(f"{running.url}/_sandbox/token", timeout=5).json()["access_token"]
        assert limits(running, access).status_code == 200
        time.sleep(0.4)
        assert limits(running, access).status_code == 401
    finally:
        running.stop()
        app.extensions["salesforce_sandbox"].close()
