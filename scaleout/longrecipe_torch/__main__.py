"""python -m longrecipe_torch train --job JOB.json | doctor"""

import argparse
import json
import os
import sys


def _error(msg: str) -> None:
    rank = os.environ.get("RANK", "0")
    print(f"LRERROR rank={rank}: {msg}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="longrecipe_torch")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train one stage from a job file")
    t.add_argument("--job", required=True, action="append", help="job file (repeat to run several stages in turn)")
    sub.add_parser("doctor", help="print versions as JSON")
    a = ap.parse_args(argv)
    if a.cmd == "doctor":
        from .doctor import report

        print(json.dumps(report()))
        return 0
    try:
        from . import trainer

        trainer.run([trainer.read_job(j) for j in a.job])
    except Exception as e:  # one line for the launcher; the trace too on demand
        from .trainer import StageError

        if not isinstance(e, StageError) and os.environ.get("LONGRECIPE_TRACE"):
            import traceback

            traceback.print_exc()
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if not isinstance(e, StageError):
            msg = f"{type(e).__name__}: {msg}"
        _error(msg)
        return 130 if "interrupted at step" in msg else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
