"""Run one generated function in a fresh process, as Lambda would, for the tests.

Usage: ``python lambda_runner.py FUNCTION_DIR``. Reads one JSON event per line on
stdin, writes one JSON line per event on stdout: ``{"response": ...}`` or
``{"error": "..."}``. The function folder is the only code root added to sys.path (like
/var/task in Lambda); the handler module is imported once, so every event after the
first hits a warm function.
"""

import json
import os
import sys
import traceback


class Context:
    """The attributes of a Lambda context object that handlers commonly read."""

    function_name = "fastsplit-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fastsplit-test"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def main() -> None:
    function_dir = os.path.abspath(sys.argv[1])
    sys.path.insert(0, function_dir)
    os.chdir(function_dir)
    real_stdout = sys.stdout
    # Handlers may print or log; keep stdout for the protocol.
    sys.stdout = sys.stderr
    import handler

    for line in sys.stdin:
        try:
            response = handler.handler(json.loads(line), Context())
            message = {"response": response}
        except Exception:
            message = {"error": traceback.format_exc()}
        real_stdout.write(json.dumps(message) + "\n")
        real_stdout.flush()


if __name__ == "__main__":
    main()
