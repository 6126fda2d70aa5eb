"""python -m longrecipe_torch train --job JOB.json [--job JOB2.json ...]"""

import argparse
import os
import sys


def _error(msg: str) -> None:
    rank = os.environ.get("RANK", "0")
    sys.stderr.write(f"LRERROR rank={rank}: {msg}\n")  # one write: ranks share the pipe
    sys.stderr.flush()


def first_cause(e: BaseException) -> BaseException:
    """The exception that started it all: down the explicit cause chain
    (raise ... from), and into a distributed checkpoint's per-rank failures
    (torch.distributed.checkpoint.CheckpointException keeps them in
    .failures as {rank: exception or (exception, traceback)})."""
    seen = set()
    while id(e) not in seen:
        seen.add(id(e))
        failures = getattr(e, "failures", None)
        if isinstance(failures, dict) and failures:
            f = failures[min(failures)]
            f = f[0] if isinstance(f, tuple) else f
            if isinstance(f, BaseException):
                e = f
                continue
        nxt = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
        if nxt is None:
            break
        e = nxt
    return e


def message(e: BaseException) -> str:
    """One line for the launcher: a StageError as it is, else the first
    real cause's type and first line."""
    if type(e).__name__ in ("StageError", "Interrupted"):
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    if isinstance(e, ModuleNotFoundError):
        return f"{sys.executable} lacks the Python package {e.name!r}: run bash scripts/pyenv.sh (or longrecipe doctor)"
    c = first_cause(e)
    text = next((ln.strip() for ln in str(c).splitlines() if ln.strip()), "")
    return f"{type(c).__name__}: {text}" if text else type(c).__name__


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
        if type(e).__name__ not in ("StageError", "Interrupted") and os.environ.get("LONGRECIPE_TRACE"):
            import traceback

            traceback.print_exc()
        _error(message(e))
        return int(getattr(e, "exit_code", 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
