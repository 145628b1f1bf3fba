"""``python -m aliaslease``: check the binary, or lease from a shell.

    python -m aliaslease [--binary PATH] [check]
    python -m aliaslease [--binary PATH] acquire SLUG [--wait DURATION]
    python -m aliaslease [--binary PATH] release SLUG [--generation N]

``check`` (the default) prints the package's version, the binary's path
and version, and exits 0 when the package knows that binary, 1 when it
does not (the message names both versions). ``acquire`` and ``release``
print the object the binary's ``--json`` prints, on one line: the lease,
or for a release that freed nothing ``{"released": false, "reason":
...}`` (nothing, for a binary that prints nothing then). The binary's
notes and warnings go to stderr. A failure exits with the binary's code.
"""

import argparse
import json
import logging
import sys
from typing import Any, Dict, List, Optional

import aliaslease


def _print_json(obj: Optional[Dict[str, Any]]) -> None:
    if obj is not None:
        print(json.dumps(obj, sort_keys=True))


def _log_to_stderr() -> None:
    """Pass the binary's notes and warnings on, as the binary writes them."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("python -m aliaslease: %(message)s"))
    aliaslease.log.addHandler(handler)
    aliaslease.log.setLevel(logging.INFO)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aliaslease", description=__doc__.splitlines()[0])
    p.add_argument("--binary", help="the aliaslease binary (default: ALIASLEASE_BIN, else PATH)")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("check", help="check that this package knows the binary's version")
    acq = sub.add_parser("acquire", help="lease SLUG its alias")
    acq.add_argument("slug")
    acq.add_argument("--wait")
    rel = sub.add_parser("release", help="end SLUG's lease")
    rel.add_argument("slug")
    rel.add_argument("--generation", type=int)
    args = p.parse_args(argv)
    _log_to_stderr()
    try:
        if args.command in (None, "check"):
            path = aliaslease.check_binary(args.binary)
            print("aliaslease Python package %s" % aliaslease.__version__)
            print("binary %s: %s" % (path, aliaslease._checked_version(path)))
        elif args.command == "acquire":
            _print_json(aliaslease.acquire(args.slug, wait=args.wait, binary=args.binary).raw)
        else:
            _print_json(aliaslease._release(args.slug, args.generation, {"binary": args.binary})[1])
    except aliaslease.AliasleaseError as e:
        print("python -m aliaslease: %s" % e, file=sys.stderr)
        if e.hint:
            print("hint: %s" % e.hint, file=sys.stderr)
        return e.exit_code or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
