"""Gunicorn's settings for `consentry serve` (`gunicorn --config python:webhook_server.gunicorn_settings`); the
command line adds the address, the processes and the threads. A gunicorn that does not know a setting here ignores
it (an unknown flag would stop it)."""

accesslog = "-"  # one line a request on stdout, in the combined format, without secrets (see log_redaction)
logger_class = "consentry.webhook_server.log_redaction.RedactingLogger"
# Gunicorn 25.1+ opens a control socket (for `gunicornc`) at one path per user, $XDG_RUNTIME_DIR/gunicorn.ctl or
# ~/.gunicorn/gunicorn.ctl: a second serve took the first one's. Nothing here uses it; SIGHUP and SIGTERM remain.
control_socket_disable = True
