"""The public API's domain and storage layer: keys, idempotency, consents, the call log (issue 22)."""
