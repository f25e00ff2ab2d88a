"""`consentry sandbox NAME --port N`: run a vendor's local emulator on 127.0.0.1."""

import argparse
import contextlib
from importlib import import_module

SANDBOXES = {
    "mailchimp": "consentry.connectors.mailchimp.sandbox",
    "hubspot": "consentry.connectors.hubspot.sandbox",
    "salesforce": "consentry.connectors.salesforce.sandbox",
}


def register_sandbox(commands) -> None:
    parser = commands.add_parser("sandbox", help="run a vendor API sandbox on 127.0.0.1")
    parser.add_argument("name", choices=sorted(SANDBOXES))
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", help="keep the sandbox's state in this JSON file (default: in memory)")
    parser.set_defaults(handler=_run_sandbox)


def _run_sandbox(arguments: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    app = import_module(SANDBOXES[arguments.name]).create_app(state_path=arguments.state)
    server = make_server("127.0.0.1", arguments.port, app, threaded=True)
    print(f"{arguments.name} sandbox on http://127.0.0.1:{server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0
