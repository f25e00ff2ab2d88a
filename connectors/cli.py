"""`consentry sandbox NAME --port N`: run a connector's sandbox (its vendor's local emulator) on 127.0.0.1."""

import argparse
import contextlib


def register_sandbox(commands) -> None:
    parser = commands.add_parser("sandbox", help="run a vendor API sandbox on 127.0.0.1")
    parser.add_argument("name", help="the connector whose sandbox to run, e.g. hubspot")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", help="keep the sandbox's state in this JSON file (default: in memory)")
    parser.set_defaults(handler=_run_sandbox)


def _run_sandbox(arguments: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from .registry import sandbox

    app = sandbox(arguments.name).create_app(state_path=arguments.state)
    server = make_server("127.0.0.1", arguments.port, app, threaded=True)
    print(f"{arguments.name} sandbox on http://127.0.0.1:{server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0
