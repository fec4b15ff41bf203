"""The licence of each file of an installed Debian package, from /usr/share/doc/PKG/copyright.

A machine-readable copyright file (DEP-5, https://www.debian.org/doc/packaging-manuals/
copyright-format/1.0/) names licences per glob of source paths; the installed path of a file
is matched by its tail (the last matching stanza wins, as the format says). A free-form file
gets the summary in KNOWN when the package is one we have read, else a pointer to the file.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

DOC_ROOT = Path("/usr/share/doc")

# Free-form copyright files, read by hand (Debian 12 versions). Each: (glob of the installed
# path, licence, copyright holder); the first match wins; "*" is the package's own licence.
KNOWN: dict[str, list[tuple[str, str, str]]] = {
    "openclipart-png": [
        ("*", "CC-PDDC (Creative Commons Public Domain Dedication / Certification)",
         "each drawing's author (openclipart.org); dedicated to the public domain"),
    ],
    "openclipart-svg": [
        ("*", "CC-PDDC (Creative Commons Public Domain Dedication / Certification)",
         "each drawing's author (openclipart.org); dedicated to the public domain"),
    ],
    "gnome-backgrounds": [
        ("*/adwaita-*", "CC-BY-SA-3.0", "2011 Jakub Steiner"),
        ("*", "GPL-2+ (the package's licence; the image is not named in the copyright file)",
         "GNOME backgrounds authors (Jakub Steiner and others)"),
    ],
}


@dataclass
class Stanza:
    """One Files stanza of a DEP-5 copyright file."""

    patterns: list[str]
    licence: str
    copyright: str


@dataclass
class PackageLicence:
    """How to find the licence of any file of one package."""

    package: str
    copyright_file: str
    machine_readable: bool
    stanzas: list[Stanza] = field(default_factory=list)
    known: list[tuple[str, str, str]] = field(default_factory=list)

    def for_file(self, path: str | Path) -> dict[str, str]:
        """{"licence", "copyright", "matched", "copyright_file"} of one installed file."""
        p = str(path)
        out = {"copyright_file": self.copyright_file}
        if self.machine_readable:
            hit = None
            for st in self.stanzas:
                for pat in st.patterns:
                    if _tail_matches(p, pat):
                        hit = (st, pat)  # the last matching stanza wins (DEP-5)
            if hit is not None:
                return out | {"licence": hit[0].licence, "copyright": hit[0].copyright,
                              "matched": f"Files: {hit[1]}"}
        for pat, lic, holder in self.known:
            if fnmatch.fnmatchcase(p, pat):
                return out | {"licence": lic, "copyright": holder,
                              "matched": "read by hand: models/data/licences.py KNOWN"}
        return out | {"licence": f"unknown: read {self.copyright_file}", "copyright": "",
                      "matched": "none"}


def _tail_matches(path: str, pattern: str) -> bool:
    """Whether some tail of the installed path (whole components) matches a DEP-5 glob.

    DEP-5 globs name paths in the source tree; `*` crosses slashes, as in fnmatch.
    """
    parts = PurePosixPath(path).parts
    return any(fnmatch.fnmatchcase("/".join(parts[i:]), pattern) for i in range(1, len(parts)))


def _fields(text: str) -> list[dict[str, str]]:
    """The stanzas of an RFC 822 style file: {field: value} with continuation lines joined."""
    stanzas: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if not line.strip():
            if cur:
                stanzas.append(cur)
            cur, key = {}, ""
        elif line[0] in " \t" and key:
            cur[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            cur[key] = value.strip()
    if cur:
        stanzas.append(cur)
    return stanzas


def package_licence(package: str, doc_root: Path = DOC_ROOT) -> PackageLicence:
    """Read /usr/share/doc/PACKAGE/copyright (DEP-5 or free-form)."""
    cp = doc_root / package / "copyright"
    known = KNOWN.get(package, [])
    if not cp.is_file():
        return PackageLicence(package, str(cp) + " (missing)", False, [], known)
    text = cp.read_text(encoding="utf-8", errors="replace")
    fields = _fields(text)
    dep5 = bool(fields) and "copyright-format" in fields[0].get("format", "")
    stanzas = []
    if dep5:
        for f in fields:
            if "files" in f and "license" in f:
                pats = f["files"].split()
                lic = f["license"].splitlines()[0].strip()  # the short name; full text follows
                holder = " ".join(f.get("copyright", "").split())
                stanzas.append(Stanza(pats, lic, holder))
    return PackageLicence(package, str(cp), dep5, stanzas, known)
