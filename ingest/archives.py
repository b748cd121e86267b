"""Corpus directories travel as archives (an HTTP import of NormDial or the taxonomy): unpack a zip or a
tar.gz safely (no member outside the target, no links), and find the corpus folder inside it."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from normbank.errors import MalformedCorpus

_ZIP, _GZIP = b"PK\x03\x04", b"\x1f\x8b"


def is_archive(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4)
    return head.startswith(_ZIP) or head.startswith(_GZIP)


def _inside(root: Path, name: str) -> bool:
    target = (root / name).resolve()
    return target == root or root in target.parents


def unpack(path: Path, into: Path) -> Path:
    """Unpack the zip or tar.gz at `path` into the folder `into`; returns the corpus folder: the one folder
    the archive holds, or `into` itself when it holds more than one entry."""
    into.mkdir(parents=True, exist_ok=True)
    root = into.resolve()
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                bad = next((n for n in archive.namelist() if not _inside(root, n)), None)
                if bad is not None:
                    raise MalformedCorpus(f"the archive has a member outside its folder: {bad[:80]!r}")
                archive.extractall(root)
        else:
            with tarfile.open(path, "r:gz") as archive:
                archive.extractall(root, filter="data")  # refuses links and members outside the folder
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise MalformedCorpus(f"the archive cannot be unpacked (truncated or corrupt?): {str(exc)[:200]}") from None
    entries = [p for p in root.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else root
