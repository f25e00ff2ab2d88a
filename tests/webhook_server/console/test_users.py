"""The console's accounts module is imported by every `consentry` command (the `users` command is registered with
the others): importing it must not cost a scrypt hash."""

import subprocess
import sys

PROBE = """
import werkzeug.security
made = []
original = werkzeug.security.generate_password_hash
werkzeug.security.generate_password_hash = lambda *a, **k: made.append(1) or original(*a, **k)
from consentry.webhook_server.console import users
assert made == [], made
users._unknown_user_hash()
assert made == [1], made
"""


def test_importing_the_accounts_module_hashes_nothing_until_a_sign_in_needs_it():
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
