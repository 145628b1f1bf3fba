"""A PEP 517 (and PEP 660) build backend for the aliaslease package,
standard library only.

pyproject.toml names it with ``backend-path = ["_backend"]``: pip runs it
from the source tree, so that ``pip install ./clients/python`` works
offline, with build isolation (``requires = []``: nothing to install) and
with ``--no-build-isolation``. It builds a pure-Python wheel of the
``aliaslease`` directory, an sdist of the tree, and an editable wheel (a
``.pth`` file naming the source directory).
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "aliaslease"
SDIST_FILES = ("pyproject.toml", "README.md")
SDIST_DIRS = ("_backend", PACKAGE, "tests")


def _project():
    """The [project] table of pyproject.toml, and the version from the
    package's __version__ (the one place it is written)."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        text = f.read().decode("utf-8")
    try:
        import tomllib  # Python 3.11+

        project = dict(tomllib.loads(text)["project"])
    except ImportError:  # Python 3.8-3.10: the flat string keys this file uses
        table = text.split("[project]", 1)[1].split("\n[", 1)[0]
        project = dict(re.findall(r'(?m)^([a-z-]+)\s*=\s*"([^"]*)"', table))
    with open(os.path.join(ROOT, PACKAGE, "__init__.py"), encoding="utf-8") as f:
        m = re.search(r'(?m)^__version__ = "([^"]+)"$', f.read())
    if not m:
        raise RuntimeError("no __version__ in %s/__init__.py" % PACKAGE)
    project["version"] = m.group(1)
    return project


def _metadata(project):
    lines = [
        "Metadata-Version: 2.1",
        "Name: %s" % project["name"],
        "Version: %s" % project["version"],
        "Summary: %s" % project.get("description", ""),
        "Requires-Python: %s" % project.get("requires-python", ">=3.8"),
    ]
    readme = project.get("readme")
    body = ""
    if readme:
        with open(os.path.join(ROOT, readme), encoding="utf-8") as f:
            body = f.read()
        lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n" + body


def _dist_info(project):
    return "%s-%s.dist-info" % (project["name"], project["version"])


def _package_files():
    """(archive name, path) of every source file of the package."""
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, PACKAGE)):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                out.append((os.path.relpath(path, ROOT).replace(os.sep, "/"), path))
    return out


def _write_wheel(directory, project, files):
    """Write a wheel holding files ((archive name, bytes)) and the
    dist-info, with a RECORD of their hashes; return its file name."""
    info = _dist_info(project)
    files = list(files) + [
        (info + "/METADATA", _metadata(project).encode("utf-8")),
        (info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: aliaslease_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        (info + "/top_level.txt", (PACKAGE + "\n").encode()),
    ]
    record = []
    for name, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (name, digest, len(data)))
    record.append(info + "/RECORD,,")
    files.append((info + "/RECORD", ("\n".join(record) + "\n").encode()))
    wheel = "%s-%s-py3-none-any.whl" % (project["name"], project["version"])
    with zipfile.ZipFile(os.path.join(directory, wheel), "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data, zipfile.ZIP_DEFLATED)
    return wheel


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    project = _project()
    info = os.path.join(metadata_directory, _dist_info(project))
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata(project))
    return _dist_info(project)


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, _project(), [(n, _read(p)) for n, p in _package_files()])


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """A wheel whose .pth file puts the source directory on sys.path."""
    pth = ("%s\n" % ROOT).encode("utf-8")
    return _write_wheel(wheel_directory, _project(), [("_%s_editable.pth" % PACKAGE, pth)])


def build_sdist(sdist_directory, config_settings=None):
    project = _project()
    base = "%s-%s" % (project["name"], project["version"])
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tar:

        def add(arcname, data):
            ti = tarfile.TarInfo(base + "/" + arcname)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, int(time.time())
            tar.addfile(ti, io.BytesIO(data))

        add("PKG-INFO", _metadata(project).encode("utf-8"))
        for f in SDIST_FILES:
            add(f, _read(os.path.join(ROOT, f)))
        for d in SDIST_DIRS:
            for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, d)):
                dirnames[:] = sorted(x for x in dirnames if x != "__pycache__")
                for fn in sorted(filenames):
                    if fn.endswith(".py"):
                        path = os.path.join(dirpath, fn)
                        add(os.path.relpath(path, ROOT).replace(os.sep, "/"), _read(path))
    return name
