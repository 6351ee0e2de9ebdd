"""Bank versions: the one home of what a published bank is made of (its YAML files, by path) and
of its content hash, so every worker of every host can tell whether it serves the published one.

Pure: reading a folder's files, hashing them, writing them into another folder. The web side keeps
the published files and hash in the database (`web.bank`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

SUFFIXES = (".yaml", ".yml")


def bank_files(root: Path) -> dict[str, str]:
    """Every YAML file under ``root`` (subfolders included, hidden ones not): relative POSIX
    path -> text. Files that are not UTF-8 are read with replacement characters, for the loader
    to report."""
    root = Path(root)
    files: dict[str, str] = {}
    if not root.is_dir():
        return files
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.suffix not in SUFFIXES or not path.is_file() or any(
                part.startswith(".") for part in relative.parts):
            continue
        files[relative.as_posix()] = path.read_bytes().decode("utf-8", "replace")
    return files


def content_digest(files: Mapping[str, str]) -> str:
    """The SHA-256 (hex) of the files' paths and texts, independent of their order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        for part in (name, files[name]):
            data = part.encode("utf-8")
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(data)
    return digest.hexdigest()


def write_files(files: Mapping[str, str], root: Path) -> Path:
    """Write ``files`` under ``root`` (created; paths that would leave it are refused)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        target = (root / name).resolve()
        if not target.is_relative_to(root.resolve()):
            raise ValueError(f"a bank file path leaves the bank: {name!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root
