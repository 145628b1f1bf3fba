"""Python client for the ``aliaslease`` CLI: per-bottle loopback aliases.

This module is a drop-in for the stateless allocator ``loopback_alias`` that
launchers used to import. Moving a launcher is a one-line change::

    # before
    from claude_bottle.backends.smolmachines.loopback_alias import allocate, ensure_pool
    # after
    from aliaslease import allocate, ensure_pool

(the old import path depends on where your launcher kept that module; the
names ``allocate`` and ``ensure_pool`` and their arguments are the same).
Install it with ``pip install ./clients/python`` (standard library only,
no download: its build backend is in the tree).

What changes for the caller:

* ``allocate(slug)`` takes only slugs of 1-128 characters of
  ``A-Z a-z 0-9 . _ -`` starting with a letter or a digit; the old module
  accepted any string. Another slug raises :class:`UsageError` (exit 2)
  and nothing is leased: map names such as ``"my bottle"`` or ``"bot/7"``
  to a slug before the call (:func:`valid_slug` tells).
* ``allocate(slug)`` still returns the alias as a string, but it now records
  a persistent lease: the same slug gets the same alias back until
  ``release(slug)`` is called or ``aliaslease gc`` reclaims it. On Linux it
  returns the bottle's own alias (``127.0.0.16`` ...) instead of
  ``127.0.0.1``.
* An exhausted pool raises :class:`PoolExhausted` instead of calling
  ``die()`` (``SystemExit``). Every failure is an :class:`AliasleaseError`.
* ``ensure_pool()`` returns the list of aliases it added (empty on Linux and
  when the pool was up already) instead of ``None``.
* Call ``release(slug)`` (or ``release(lease.slug, lease.generation)``) at
  teardown, and label the bundle's containers ``aliaslease.slug=SLUG`` so
  that the reconcile pass can attribute them.

The module needs only the standard library (Python 3.8+). It runs the
installed ``aliaslease`` binary, with ``--json`` where the command has it:

* the binary is ``binary=`` (a keyword of every function), else
  ``configure(binary=...)``, else the environment variable
  ``ALIASLEASE_BIN`` (a path, or a name looked up on ``PATH``), else
  ``aliaslease`` on ``PATH``. When none is found, :class:`BinaryNotFound`
  is raised (a subclass of both :class:`AliasleaseError` and
  ``FileNotFoundError``).
* the binary's version is checked on the first call that runs it
  (``aliaslease --version``): a binary outside :data:`BINARY_VERSIONS`
  raises :class:`VersionMismatch`, which names both versions.
* global options are keyword arguments of every function, or module-wide
  defaults set with :func:`configure`; a keyword argument wins over
  :func:`configure`, which wins over the tool's own environment variables
  (``ALIASLEASE_DB``, ``ALIASLEASE_POOL``, ``ALIASLEASE_DOCKER``,
  ``DOCKER_HOST``), which the child process inherits:

  ===================  =====================  ===============================
  keyword              flag                   value
  ===================  =====================  ===============================
  ``db``               ``--db``               path (str or os.PathLike)
  ``pool``             ``--pool``             pool SPEC, e.g. ``"127.0.0.16-127.0.0.31"``
  ``docker``           ``--docker``           ``"auto"``, ``"on"`` or ``"off"``
  ``docker_host``      ``--docker-host``      URL, e.g. ``"unix:///var/run/docker.sock"``
  ``docker_timeout``   ``--docker-timeout``   duration (see below)
  ``lock_timeout``     ``--lock-timeout``     duration
  ``binary``           (none)                 path of the aliaslease binary
  ===================  =====================  ===============================

  A duration is a number of seconds (``2.5``), a ``datetime.timedelta``, or
  a string in the tool's syntax (``"2.5s"``, ``"10m"``).

Exit codes map to exceptions, all subclasses of :class:`AliasleaseError`
(``exit_code``, ``message`` = the tool's ``aliaslease: error: ...`` line(s)
without the prefix, ``hint``, ``stderr``, ``stdout``, ``argv``):

====  ==========================  ==========================================
code  exception                   meaning
====  ==========================  ==========================================
1     :class:`UnexpectedError`    unexpected failure
2     :class:`UsageError`         bad input: usage, slug, pool, flag value
3     :class:`PoolExhausted`      pool exhausted
4     :class:`DockerUnavailable`  Docker needed and not reachable, or failed
5     :class:`LockTimeout`        lock not obtained within ``lock_timeout``
6     :class:`DatabaseUnreadable` database unreadable (left untouched)
7     :class:`InterfaceError`     alias could not be brought up
8     :class:`UnsafePath`         refused an unsafe path or file
9     :class:`IsolationError`     isolation not set up, or not isolated [*]_
10    :class:`HealthProblem`      the health report found a problem [*]_
125   :class:`RunFailed`          ``run``: failed before CMD started [*]_
126   :class:`CommandNotExecutable` ``run``: CMD cannot be executed
127   :class:`CommandNotFound`    ``run``: CMD not found
130   :class:`Interrupted`        SIGINT (``signal`` = ``"SIGINT"``)
143   :class:`Interrupted`        SIGTERM (``signal`` = ``"SIGTERM"``)
====  ==========================  ==========================================

.. [*] For binaries that have them: the 0.3 binary has no ``verify``,
   ``inspect`` or ``run --confine`` (so no exit 9), its ``doctor`` exits 1
   on a problem, and its ``run`` exits with CMD's status. :func:`verify`
   and :func:`inspect` wrap the commands for binaries that have them; with
   a binary that has not, they raise :class:`UsageError` (its "unknown
   command").

Any other exit code raises :class:`AliasleaseError` itself. A binary killed
by a signal reports ``128 + signal number`` (the shell's convention), so a
child killed by SIGINT or SIGTERM is :class:`Interrupted` as well. Output
that is not what the contract promises raises :class:`OutputError`
(``exit_code`` 0).

A slug without a lease raises nothing: :func:`release` and
:func:`inspect` return ``None`` for it (though the binary's ``inspect``
exits 1 for it, as ``docker inspect`` does for a name it does not know).

Notes and warnings the tool writes to stderr (``aliaslease: note: ...``,
``aliaslease: warning: ...``) are passed on, as they arrive, to the
``logging`` logger named ``"aliaslease"``: warnings at ``WARNING``, notes at
``INFO`` (at ``WARNING`` for ``acquire`` and ``ensure_pool``, whose notes
announce a sudo prompt on macOS). The child inherits this process's stdin,
so that sudo may prompt when it is a terminal.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
import shutil
import signal as _signal
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type, Union

__version__ = "0.3.0"

#: The aliaslease binaries this package knows: from the first version
#: (inclusive) up to the second (exclusive).
BINARY_VERSIONS: Tuple[Tuple[int, int, int], Tuple[int, int, int]] = ((0, 3, 0), (0, 4, 0))

__all__ = [
    "Lease",
    "acquire",
    "release",
    "ensure_pool",
    "allocate",
    "configure",
    "verify",
    "inspect",
    "check_binary",
    "valid_slug",
    "AliasleaseError",
    "UnexpectedError",
    "UsageError",
    "PoolExhausted",
    "DockerUnavailable",
    "LockTimeout",
    "DatabaseUnreadable",
    "InterfaceError",
    "UnsafePath",
    "IsolationError",
    "HealthProblem",
    "RunFailed",
    "CommandNotExecutable",
    "CommandNotFound",
    "Interrupted",
    "BinaryNotFound",
    "VersionMismatch",
    "OutputError",
]

log = logging.getLogger("aliaslease")

Duration = Union[int, float, _dt.timedelta, str]

# ---------------------------------------------------------------------------
# Exceptions


class AliasleaseError(Exception):
    """A failed aliaslease command.

    ``exit_code`` is the tool's exit status (``None`` when it could not be
    run), ``message`` its error line(s) without the ``aliaslease: error: ``
    prefix, ``hint`` its hint line(s) without ``aliaslease: hint: `` (or
    ``""``), ``stderr`` and ``stdout`` everything it printed, ``argv`` the
    command line that was run."""

    exit_code: Optional[int] = None

    def __init__(
        self,
        message: str,
        exit_code: Optional[int] = None,
        hint: str = "",
        stderr: str = "",
        stdout: str = "",
        argv: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code if exit_code is not None else type(self).exit_code
        self.hint = hint
        self.stderr = stderr
        self.stdout = stdout
        self.argv = list(argv)

    def __str__(self) -> str:
        return self.message


class UnexpectedError(AliasleaseError):
    """Exit 1: unexpected failure."""

    exit_code = 1


class UsageError(AliasleaseError):
    """Exit 2: bad input (usage, slug, pool, flag value, Docker endpoint)."""

    exit_code = 2


class PoolExhausted(AliasleaseError):
    """Exit 3: every pool alias is leased or held."""

    exit_code = 3


class DockerUnavailable(AliasleaseError):
    """Exit 4: Docker was needed and did not answer, or failed."""

    exit_code = 4


class LockTimeout(AliasleaseError):
    """Exit 5: the lock was not obtained within the lock timeout."""

    exit_code = 5


class DatabaseUnreadable(AliasleaseError):
    """Exit 6: the database is corrupt, truncated, empty or of a newer
    schema; the file was left untouched."""

    exit_code = 6


class InterfaceError(AliasleaseError):
    """Exit 7: the alias could not be brought up on the loopback
    interface."""

    exit_code = 7


class UnsafePath(AliasleaseError):
    """Exit 8: refused an unsafe path or file (another user's, writable by
    others, linked, not a regular file); nothing was touched."""

    exit_code = 8


class IsolationError(AliasleaseError):
    """Exit 9: isolation could not be set up (``run --confine``,
    ``confine``), or ``verify`` found the bottle not isolated. For
    binaries that have them. ``verdict`` is verify's JSON verdict when it printed one, else
    ``None``."""

    exit_code = 9
    verdict: Optional[Dict[str, Any]] = None


class HealthProblem(AliasleaseError):
    """Exit 10: the health report ran and found a problem (see its
    output). For binaries that exit 10 for it (0.3's doctor exits 1)."""

    exit_code = 10


class RunFailed(AliasleaseError):
    """Exit 125: ``run`` failed before its command could start (the
    message says why). For binaries whose ``run`` reports it so."""

    exit_code = 125


class CommandNotExecutable(AliasleaseError):
    """Exit 126: ``run``'s command could not be executed."""

    exit_code = 126


class CommandNotFound(AliasleaseError):
    """Exit 127: ``run``'s command was not found."""

    exit_code = 127


class Interrupted(AliasleaseError):
    """Exit 130 (SIGINT) or 143 (SIGTERM): the command was interrupted;
    nothing changed after the signal. ``signal`` names it."""

    exit_code = 130

    @property
    def signal(self) -> str:
        return "SIGTERM" if self.exit_code == 143 else "SIGINT"


class BinaryNotFound(AliasleaseError, FileNotFoundError):
    """The aliaslease binary was not found or could not be executed
    (``exit_code`` is ``None``). Also a ``FileNotFoundError``."""

    exit_code = None


class VersionMismatch(AliasleaseError):
    """The binary's version (``aliaslease --version``) is not one this
    package knows (:data:`BINARY_VERSIONS`). ``binary_version`` is what
    it printed, ``package_version`` this package's version."""

    exit_code = None

    def __init__(self, message: str, binary_version: str = "", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.binary_version = binary_version
        self.package_version = __version__


class OutputError(AliasleaseError):
    """The tool succeeded (``exit_code`` 0) but printed something that is
    not what its contract promises (e.g. JSON that does not parse)."""

    exit_code = 0


_EXCEPTIONS: Dict[int, Type[AliasleaseError]] = {
    1: UnexpectedError,
    2: UsageError,
    3: PoolExhausted,
    4: DockerUnavailable,
    5: LockTimeout,
    6: DatabaseUnreadable,
    7: InterfaceError,
    8: UnsafePath,
    9: IsolationError,
    10: HealthProblem,
    125: RunFailed,
    126: CommandNotExecutable,
    127: CommandNotFound,
    130: Interrupted,
    143: Interrupted,
}


def error_for_exit_code(code: int) -> Type[AliasleaseError]:
    """The exception class for an exit code (``AliasleaseError`` for a code
    the contract does not name)."""
    return _EXCEPTIONS.get(code, AliasleaseError)


# ---------------------------------------------------------------------------
# Lease


@dataclass(frozen=True)
class Lease:
    """A lease as ``acquire --json`` / ``release --json`` print it.

    ``acquired_at`` and ``renewed_at`` are timezone-aware UTC datetimes
    (``None`` if absent); ``reason`` is e.g. ``"new"``, ``"renewed"``,
    ``"adopted"`` (``None`` when the tool gave none, as for release);
    ``raw`` is the whole JSON object, including keys this class does not
    name."""

    slug: str
    alias: str
    generation: int
    acquired_at: Optional[_dt.datetime] = None
    renewed_at: Optional[_dt.datetime] = None
    reason: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_json(cls, obj: Dict[str, Any]) -> "Lease":
        if not isinstance(obj, dict):
            raise TypeError("a lease is a JSON object, not %s" % type(obj).__name__)
        slug, alias, gen = obj.get("slug"), obj.get("alias"), obj.get("generation")
        if not isinstance(slug, str) or not isinstance(alias, str):
            raise ValueError("a lease needs string 'slug' and 'alias'")
        if not isinstance(gen, int) or isinstance(gen, bool):
            raise ValueError("a lease needs an integer 'generation'")
        reason = obj.get("reason")
        return cls(
            slug=slug,
            alias=alias,
            generation=gen,
            acquired_at=_parse_time(obj.get("acquired_at")),
            renewed_at=_parse_time(obj.get("renewed_at")),
            reason=reason if isinstance(reason, str) else None,
            raw=dict(obj),
        )


_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


def _parse_time(value: Any) -> Optional[_dt.datetime]:
    """RFC 3339 (with up to nanoseconds, as Go prints it) to an aware
    datetime in UTC; None when absent. Python 3.8's fromisoformat takes
    neither 'Z' nor nine fraction digits, hence the normalising."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("a time is a string, not %r" % (value,))
    m = _RFC3339.match(value)
    if not m:
        raise ValueError("not an RFC 3339 time: %r" % (value,))
    date, clock, frac, zone = m.groups()
    micro = (frac or "")[:6].ljust(6, "0")
    zone = "+00:00" if zone in ("Z", "z") else zone
    t = _dt.datetime.fromisoformat("%sT%s.%s%s" % (date, clock, micro, zone))
    return t.astimezone(_dt.timezone.utc)


# ---------------------------------------------------------------------------
# Options

_GLOBAL_FLAGS = {
    "db": "--db",
    "pool": "--pool",
    "docker": "--docker",
    "docker_host": "--docker-host",
    "docker_timeout": "--docker-timeout",
    "lock_timeout": "--lock-timeout",
}
_DURATION_OPTS = {"docker_timeout", "lock_timeout"}
_OPTION_NAMES = frozenset(_GLOBAL_FLAGS) | {"binary"}

_defaults: Dict[str, Any] = {}


def configure(**opts: Any) -> Dict[str, Any]:
    """Set module-wide defaults for the global options (``db``, ``pool``,
    ``docker``, ``docker_host``, ``docker_timeout``, ``lock_timeout``,
    ``binary``). A value of ``None`` removes that default. Returns the
    defaults now in force. ``configure()`` with no argument only returns
    them; ``configure(reset=True)`` clears them all."""
    if opts.pop("reset", False):
        _defaults.clear()
    _check_options(opts)
    for k, v in opts.items():
        if v is None:
            _defaults.pop(k, None)
        else:
            _defaults[k] = v
    return dict(_defaults)


def _check_options(opts: Dict[str, Any]) -> None:
    unknown = sorted(set(opts) - _OPTION_NAMES)
    if unknown:
        raise TypeError(
            "unknown aliaslease option(s): %s (known: %s)"
            % (", ".join(unknown), ", ".join(sorted(_OPTION_NAMES)))
        )


def duration(value: Duration) -> str:
    """A duration in the tool's syntax: seconds (int or float), a
    timedelta, or a string passed through unchanged."""
    if isinstance(value, bool):
        raise TypeError("a duration is seconds, a timedelta or a string, not a bool")
    if isinstance(value, str):
        return value
    if isinstance(value, _dt.timedelta):
        micros = (value.days * 86400 + value.seconds) * 1000000 + value.microseconds
        return "%dus" % micros if micros % 1000000 else "%ds" % (micros // 1000000)
    if isinstance(value, int):
        return "%ds" % value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("a duration must be finite, not %r" % value)
        text = ("%.9f" % value).rstrip("0").rstrip(".")
        return (text if text not in ("", "-0") else "0") + "s"
    raise TypeError(
        "a duration is seconds, a timedelta or a string, not %s" % type(value).__name__
    )


def _find_binary(explicit: Optional[str]) -> str:
    candidate = explicit or os.environ.get("ALIASLEASE_BIN") or "aliaslease"
    candidate = os.fspath(candidate)
    source = (
        "binary=" if explicit
        else "ALIASLEASE_BIN" if os.environ.get("ALIASLEASE_BIN")
        else "PATH"
    )
    if os.sep in candidate or (os.altsep and os.altsep in candidate):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
        found = None
    else:
        found = shutil.which(candidate)
    if not found:
        raise BinaryNotFound(
            "aliaslease binary not found: %r (from %s); install aliaslease on "
            "PATH or set ALIASLEASE_BIN to its path" % (candidate, source)
        )
    return found


def _global_argv(opts: Dict[str, Any]) -> List[str]:
    merged = dict(_defaults)
    merged.update({k: v for k, v in opts.items() if v is not None})
    argv = [check_binary(merged.get("binary"))]
    for key, flag in _GLOBAL_FLAGS.items():
        value = merged.get(key)
        if value is None:
            continue
        if key in _DURATION_OPTS:
            value = duration(value)
        argv += [flag, os.fspath(value) if key == "db" else str(value)]
    return argv


# ---------------------------------------------------------------------------
# The binary's version

_VERSION_LINE = re.compile(r"^aliaslease version v?(\d+)\.(\d+)\.(\d+)(?:[-+.]\S*)?$")
_checked: Dict[Tuple[str, int, int], str] = {}
_checked_lock = threading.Lock()


def _fmt(v: Tuple[int, int, int]) -> str:
    return "%d.%d.%d" % v


def check_binary(binary: Optional[str] = None) -> str:
    """Find the aliaslease binary (``binary``, else ``ALIASLEASE_BIN``,
    else ``PATH``), check that this package knows its version, and return
    its path. ``aliaslease --version`` runs once per binary file (by path,
    inode and modification time) and process. Raises
    :class:`BinaryNotFound`, or :class:`VersionMismatch` naming both
    versions."""
    path = _find_binary(binary)
    try:
        st = os.stat(path)
        key = (path, st.st_ino, st.st_mtime_ns)
    except OSError:
        key = (path, 0, 0)
    with _checked_lock:
        if key in _checked:
            return path
    argv = [path, "--version"]
    out = _run(argv).strip()
    m = _VERSION_LINE.match(out)
    lo, hi = BINARY_VERSIONS
    known = "%s up to (not including) %s" % (_fmt(lo), _fmt(hi))
    if not m:
        raise VersionMismatch(
            "aliaslease binary %r printed no version this package can read (%r); "
            "the aliaslease Python package %s knows binaries %s" % (path, out, __version__, known),
            binary_version=out, stdout=out, argv=argv)
    v = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if not lo <= v < hi:
        raise VersionMismatch(
            "aliaslease binary %r is version %s; the aliaslease Python package %s knows "
            "binaries %s: install a matching binary or package" % (path, _fmt(v), __version__, known),
            binary_version=_fmt(v), stdout=out, argv=argv)
    with _checked_lock:
        _checked[key] = _fmt(v)
    return path


def _checked_version(path: str) -> str:
    """The version check_binary found for path ("" when not checked)."""
    with _checked_lock:
        for key, v in _checked.items():
            if key[0] == path:
                return v
    return ""


# ---------------------------------------------------------------------------
# Running the tool

_PREFIX = "aliaslease: "


def _run(argv: List[str], note_level: int = logging.INFO) -> str:
    """Run argv; return stdout on exit 0, raise the mapped exception
    otherwise. stderr is read as it arrives: notes and warnings go to the
    logger at once, errors and hints are kept for the exception."""
    try:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            encoding="utf-8",
            errors="replace",
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as e:
        raise BinaryNotFound(
            "aliaslease binary could not be run: %r: %s" % (argv[0], e.strerror or e),
            argv=argv,
        ) from e

    out_chunks: List[str] = []
    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    errors: List[str] = []
    hints: List[str] = []
    other: List[str] = []
    err_lines: List[str] = []
    try:
        for line in proc.stderr:
            line = line.rstrip("\r\n")
            err_lines.append(line)
            if line.startswith(_PREFIX + "error: "):
                errors.append(line[len(_PREFIX + "error: "):])
            elif line.startswith(_PREFIX + "hint: "):
                hints.append(line[len(_PREFIX + "hint: "):])
            elif line.startswith(_PREFIX + "warning: "):
                log.warning("%s", line[len(_PREFIX):])
            elif line.startswith(_PREFIX + "note: "):
                log.log(note_level, "%s", line[len(_PREFIX):])
            elif line.strip():
                other.append(line)
                log.warning("%s", line)
        code = proc.wait()
    finally:
        if proc.poll() is None:  # interrupted here (KeyboardInterrupt ...)
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join()
        proc.stdout.close()
        proc.stderr.close()
    stdout = "".join(out_chunks)
    stderr = "\n".join(err_lines) + ("\n" if err_lines else "")
    if code < 0:  # killed by a signal: report it the shell's way
        try:
            name = _signal.Signals(-code).name
        except ValueError:
            name = "signal %d" % -code
        code = 128 - code
        if not errors:
            errors.append("aliaslease was killed by %s" % name)
    if code == 0:
        return stdout
    message = "\n".join(errors) or "\n".join(other) or "aliaslease exited with status %d" % code
    raise error_for_exit_code(code)(
        message, exit_code=code, hint="\n".join(hints), stderr=stderr, stdout=stdout, argv=argv
    )


def _json_object(stdout: str, argv: List[str]) -> Optional[Dict[str, Any]]:
    text = stdout.strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise OutputError("aliaslease printed output that is not JSON: %s" % e, stdout=stdout, argv=argv)
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise OutputError("aliaslease printed JSON that is not an object", stdout=stdout, argv=argv)
    return obj


def _lease(obj: Dict[str, Any], stdout: str, argv: List[str]) -> Lease:
    try:
        return Lease.from_json(obj)
    except (TypeError, ValueError) as e:
        raise OutputError("aliaslease printed a lease this client cannot read: %s" % e, stdout=stdout, argv=argv)


# ---------------------------------------------------------------------------
# The API


def acquire(
    slug: str,
    wait: Optional[Duration] = None,
    *,
    grace: Optional[Duration] = None,
    no_ifup: bool = False,
    **opts: Any
) -> Lease:
    """Give ``slug`` its alias (``aliaslease acquire --json SLUG``).

    Idempotent: a slug with a lease gets the same alias back, renewed.
    ``wait``: when the pool is exhausted, retry for up to this long
    (seconds, timedelta or ``"2.5s"``) before raising
    :class:`PoolExhausted`. ``grace``: grace period for pending leases
    (default ``10m``). ``no_ifup``: record the lease but leave the loopback
    interface alone. ``opts``: global options (see :func:`configure`)."""
    _check_options(opts)
    argv = _global_argv(opts) + ["acquire", "--json"]
    if wait is not None:
        argv += ["--wait", duration(wait)]
    if grace is not None:
        argv += ["--grace", duration(grace)]
    if no_ifup:
        argv.append("--no-ifup")
    argv += ["--", _slug(slug)]
    stdout = _run(argv, note_level=logging.WARNING)
    obj = _json_object(stdout, argv)
    if obj is None:
        raise OutputError("aliaslease acquire printed nothing", stdout=stdout, argv=argv)
    return _lease(obj, stdout, argv)


def release(slug: str, generation: Optional[int] = None, **opts: Any) -> Optional[Lease]:
    """End ``slug``'s lease (``aliaslease release --json SLUG``).

    Returns the freed :class:`Lease`, or ``None`` when nothing was released
    (``slug`` had no lease, or ``generation`` is given and the lease is no
    longer that generation: a late release never frees a lease taken
    again). ``opts``: global options (see :func:`configure`)."""
    return _release(slug, generation, opts)[0]


def _release(
    slug: str, generation: Optional[int], opts: Dict[str, Any]
) -> Tuple[Optional[Lease], Optional[Dict[str, Any]]]:
    """release, and the object the binary printed (``None`` when it
    printed nothing), which ``python -m aliaslease release`` prints."""
    _check_options(opts)
    argv = _global_argv(opts) + ["release", "--json"]
    if generation is not None:
        if isinstance(generation, bool) or not isinstance(generation, int):
            raise TypeError("generation is an int, not %s" % type(generation).__name__)
        argv += ["--generation", str(generation)]
    argv += ["--", _slug(slug)]
    stdout = _run(argv)
    obj = _json_object(stdout, argv)
    # Nothing released: an object saying so ({"released": false, "reason":
    # "no-lease"}), or one without an alias; older binaries print nothing.
    if obj is None or obj.get("released") is False or not obj.get("alias"):
        return None, obj
    return _lease(obj, stdout, argv), obj


def ensure_pool(**opts: Any) -> List[str]:
    """Bring every missing pool alias up on the loopback interface at once
    (``aliaslease pool up``; on macOS one sudo prompt when stdin is a
    terminal). Returns the aliases it added: ``[]`` on Linux, where all of
    127.0.0.0/8 is local already, and when the pool was up. Raises
    :class:`InterfaceError` when an alias could not be added; its
    ``stdout`` lists those added before the failure. ``opts``: global
    options (see :func:`configure`)."""
    _check_options(opts)
    argv = _global_argv(opts) + ["pool", "up"]
    stdout = _run(argv, note_level=logging.WARNING)
    text = stdout.strip()
    if text.startswith("["):  # should `pool up` ever print JSON
        try:
            rows = json.loads(text)
        except ValueError as e:
            raise OutputError("aliaslease printed output that is not JSON: %s" % e, stdout=stdout, argv=argv)
        return [r["alias"] if isinstance(r, dict) else str(r) for r in rows]
    return [line.strip() for line in text.splitlines() if line.strip()]


def allocate(slug: str, **opts: Any) -> str:
    """The alias for ``slug``, as the old ``loopback_alias.allocate(slug)``
    returned it: the same as ``acquire(slug).alias``. The lease persists
    until :func:`release`. Raises :class:`PoolExhausted` when the pool is
    exhausted (the old module called ``die()``)."""
    return acquire(slug, **opts).alias


def verify(
    slug: str, prefix: Optional[Sequence[str]] = None, *, via: Optional[str] = None, **opts: Any
) -> Dict[str, Any]:
    """Check what the bottle ``slug`` can reach (``aliaslease verify --json
    SLUG [-- PREFIX...]``), for binaries that have ``verify`` (0.3 has
    not: :class:`UsageError`). Returns the verdict (the JSON object) when
    the bottle is isolated; raises :class:`IsolationError`, whose
    ``verdict`` is the object, when it is leaky or cut off. ``prefix``:
    the command that runs aliaslease's probe inside the bottle, e.g.
    ``["docker", "exec", "c1", "/usr/local/bin/aliaslease"]``; ``via``:
    the address at which the bottle reaches the host's loopback."""
    _check_options(opts)
    argv = _global_argv(opts) + ["verify", "--json"]
    if via is not None:
        argv += ["--via", str(via)]
    argv.append(_slug(slug))  # as the contract writes it: verify SLUG [-- PREFIX...]
    if prefix:
        argv += ["--"] + [os.fspath(a) for a in prefix]
    try:
        stdout = _run(argv)
    except IsolationError as e:
        try:
            e.verdict = _json_object(e.stdout, argv)
        except OutputError:
            e.verdict = None
        raise
    obj = _json_object(stdout, argv)
    if obj is None:
        raise OutputError("aliaslease verify printed nothing", stdout=stdout, argv=argv)
    return obj


def inspect(slug: str, **opts: Any) -> Optional[Dict[str, Any]]:
    """Everything the tool knows of ``slug``'s lease (``aliaslease inspect
    --json SLUG``), as the JSON object it prints, or ``None`` when
    ``slug`` has no lease (as :func:`release` returns ``None`` for it; the
    binary prints an empty array and exits 1). For binaries that have
    ``inspect`` (0.3 has not: :class:`UsageError`)."""
    _check_options(opts)
    argv = _global_argv(opts) + ["inspect", "--json", "--", _slug(slug)]
    try:
        stdout = _run(argv)
    except UnexpectedError as e:
        # As docker inspect: the leases found are printed, then the slugs
        # without one are named and the status is 1. One slug asked, no
        # object printed: it has no lease. Any other exit 1 printed no
        # array, and stays an error.
        if _json_array(e.stdout) == []:
            return None
        raise
    text = stdout.strip()
    if text.startswith("["):
        # As docker inspect, the binary prints an array, one object per
        # SLUG named: here one.
        try:
            arr = json.loads(text)
        except ValueError as e:
            raise OutputError("aliaslease printed output that is not JSON: %s" % e, stdout=stdout, argv=argv)
        if not isinstance(arr, list) or len(arr) != 1:
            raise OutputError("aliaslease inspect printed %s objects for one slug" % (len(arr) if isinstance(arr, list) else "no"), stdout=stdout, argv=argv)
        stdout = json.dumps(arr[0])
    obj = _json_object(stdout, argv)
    if obj is None:
        raise OutputError("aliaslease inspect printed nothing", stdout=stdout, argv=argv)
    return obj


def _json_array(stdout: str) -> Optional[List[Any]]:
    """stdout as a JSON array, or ``None`` when it is not one."""
    try:
        arr = json.loads(stdout)
    except ValueError:
        return None
    return arr if isinstance(arr, list) else None


_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def valid_slug(slug: str) -> bool:
    """Whether the tool takes ``slug``: 1-128 characters of
    ``A-Z a-z 0-9 . _ -``, starting with a letter or a digit. The old
    ``loopback_alias.allocate`` took any string; the binary refuses
    another with exit 2 (:class:`UsageError`), and so do the functions
    here, which pass the slug on unchanged."""
    return isinstance(slug, str) and _SLUG.fullmatch(slug) is not None


def _slug(slug: str) -> str:
    if not isinstance(slug, str):
        raise TypeError("slug is a str, not %s" % type(slug).__name__)
    return slug
