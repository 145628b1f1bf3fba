"""``python -m aliaslease``: check the binary, or lease from a shell.

    python -m aliaslease [--binary PATH] [check]
    python -m aliaslease [--binary PATH] acquire SLUG [--wait DURATION]
    python -m aliaslease [--binary PATH] release SLUG [--generation N]

``check`` (the default) prints the package's version, the binary's path
and version, and exits 0 when the package knows that binary, 1 when it
does not (the message names both versions). ``acquire`` and ``release``
print the lease as the binary's ``--json`` does. A failure exits with the
binary's code.
"""

import argparse
import json
import sys
from typing import List, Optional

import aliaslease


def _lease_json(lease: Optional[aliaslease.Lease]) -> str:
    return json.dumps(lease.raw if lease else None, sort_keys=True)


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
    try:
        if args.command in (None, "check"):
            path = aliaslease.check_binary(args.binary)
            print("aliaslease Python package %s" % aliaslease.__version__)
            print("binary %s: %s" % (path, aliaslease._checked_version(path)))
        elif args.command == "acquire":
            print(_lease_json(aliaslease.acquire(args.slug, wait=args.wait, binary=args.binary)))
        else:
            print(_lease_json(aliaslease.release(args.slug, args.generation, binary=args.binary)))
    except aliaslease.AliasleaseError as e:
        print("python -m aliaslease: %s" % e, file=sys.stderr)
        if e.hint:
            print("hint: %s" % e.hint, file=sys.stderr)
        return e.exit_code or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
