"""python -m longrecipe_torch train --job JOB.json [--job JOB2.json ...]"""

import argparse
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
    a = ap.parse_args(argv)
    try:
        from . import trainer

        trainer.run([trainer.read_job(j) for j in a.job])
    except Exception as e:  # one line for the launcher; the trace too on demand
        # trainer.StageError carries a message for the user as it is (the
        # class may not be importable when torch is missing).
        user = type(e).__name__ == "StageError"
        if not user and os.environ.get("LONGRECIPE_TRACE"):
            import traceback

            traceback.print_exc()
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if isinstance(e, ModuleNotFoundError):
            msg = f"{sys.executable} lacks the Python package {e.name!r}: run bash scripts/pyenv.sh (or longrecipe doctor)"
        elif not user:
            msg = f"{type(e).__name__}: {msg}"
        _error(msg)
        return 130 if "interrupted at step" in msg else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
