"""Gunicorn's settings for `consentry serve` (`gunicorn --config python:webhook_server.gunicorn_settings`); the
command line adds the address, the processes and the threads."""

accesslog = "-"  # one line a request on stdout, in the combined format, without secrets (see log_redaction)
logger_class = "webhook_server.log_redaction.RedactingLogger"
