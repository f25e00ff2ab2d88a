"""Each key's rate under `/v1` (`CONSENTRY_API_RATE_LIMIT`), counted by the `limits` library in
`CONSENTRY_API_RATE_STORAGE`: one fixed window per key digest (or per address, for a request without a key).

Flask-Limiter wraps the same library in a hook that looks at every request's route, exemptions and limits: measured
with benchmarks/bench_api_layers.py, about 0.2 ms of CPU per request, a fifth of everything the API adds to a bare
Flask request. Here one `hit` per limit. Should the storage be unreachable (a shared Redis down), requests go
through and one warning says why: refusing every API client for a broken counter would be worse."""

import logging
import math
import time

from limits import parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from .auth import rate_key
from .problems import ApiProblem
from .rate_storage import storage_uri

log = logging.getLogger("consentry.api")
NAMESPACE = "api"


class ApiRateLimit:
    def __init__(self, rate: str, storage: str):
        self.limits = parse_many(rate)
        self.limiter = FixedWindowRateLimiter(storage_from_string(storage_uri(storage)))
        self._warned = False

    def check(self) -> None:
        """A 429 problem with `Retry-After` once the request's bucket is past any of its limits."""
        bucket = rate_key()
        for limit in self.limits:
            try:
                allowed = self.limiter.hit(limit, NAMESPACE, bucket)
                reset = None if allowed else self.limiter.get_window_stats(limit, NAMESPACE, bucket).reset_time
            except (StorageError, ConnectionError, OSError) as error:
                if not self._warned:
                    log.warning("API rate limits not counted: the storage fails (%s)", type(error).__name__)
                    self._warned = True
                return
            if reset is not None:
                raise ApiProblem(
                    status=429,
                    title="Too many requests",
                    detail=f"this key is limited to {limit}",
                    headers={"Retry-After": str(max(1, math.ceil(reset - time.time())))},
                )
