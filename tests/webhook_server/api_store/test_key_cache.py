"""Each server process trusts a key it found for a few seconds (`CONSENTRY_API_KEY_CACHE_SECONDS`): a revoked key
stops working once that delay has passed, a new key works at once, and 0 turns the cache off."""

from sqlalchemy import event

from consentry.webhook_server.api.auth import KeyCache
from consentry.webhook_server.api.store import ApiKey, create_key, revoke_key


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def counted_queries(engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_a_found_key_is_trusted_for_the_delay_then_looked_up_again(engine):
    raw = create_key(engine, "dialer", ["decide"])
    clock = Clock()
    cache = KeyCache(5, clock=clock)
    queries = counted_queries(engine)
    assert cache.find(engine, raw) == ApiKey(name="dialer", scopes=frozenset({"decide"}))
    looked_up = len(queries)
    assert looked_up >= 1
    assert cache.find(engine, raw) == ApiKey(name="dialer", scopes=frozenset({"decide"}))
    assert len(queries) == looked_up  # no query for the second request
    assert revoke_key(engine, "dialer")
    clock.now += 4.9
    assert cache.find(engine, raw) is not None  # within the documented delay
    clock.now += 0.2
    assert cache.find(engine, raw) is None


def test_an_unknown_key_is_looked_up_each_time_so_a_new_one_works_at_once(engine):
    cache = KeyCache(5, clock=Clock())
    raw = "csk_" + "a" * 43
    assert cache.find(engine, raw) is None
    queries = counted_queries(engine)
    assert cache.find(engine, raw) is None
    assert queries


def test_no_delay_means_every_request_is_looked_up(engine):
    raw = create_key(engine, "forms", ["record"])
    cache = KeyCache(0, clock=Clock())
    assert cache.find(engine, raw) is not None
    assert revoke_key(engine, "forms")
    assert cache.find(engine, raw) is None
