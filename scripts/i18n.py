"""Message catalogues: `update` adds new msgids to each capability's Russian .po, `check` lists
untranslated ones, `compile` builds the .mo files the site reads.

A capability with its own webapp/<name>/translations/ owns the strings of webapp/<name>/ and
templates/<name>/; every other string belongs to webapp/translations/.
"""
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "webapp" / "translations"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
METHODS = [("**.py", "python"), ("**.html", "jinja2")]


def catalogue_dirs() -> list[Path]:
    return [CORE] + sorted(p for p in (ROOT / "webapp").glob("*/translations") if p.is_dir())


def _owner(path: Path) -> Path:
    """Which catalogue a source file's strings go to."""
    rel = path.relative_to(ROOT).parts
    if len(rel) > 2 and rel[0] in ("webapp", "templates"):
        own = ROOT / "webapp" / rel[1] / "translations"
        if own.is_dir():
            return own
    return CORE


def extract() -> dict[Path, dict[str | tuple, str]]:
    """msgid -> first source location, per catalogue."""
    found: dict[Path, dict[str, str]] = {d: {} for d in catalogue_dirs()}
    for top in ("webapp", "templates"):
        for filename, lineno, message, _comments, _ctx in extract_from_dir(
                ROOT / top, METHODS, keywords=KEYWORDS):
            source = ROOT / top / filename
            if "translations" in source.parts:
                continue
            if message:  # a plural's msgid is the (singular, plural) pair
                found[_owner(source)].setdefault(message, f"{source.relative_to(ROOT)}:{lineno}")
    return found


def _po(directory: Path) -> Path:
    return directory / "ru" / "LC_MESSAGES" / "messages.po"


def read_catalogue(directory: Path) -> Catalog:
    path = _po(directory)
    if not path.exists():
        return Catalog(locale="ru", project="mail-console", charset="utf-8")
    with path.open("rb") as f:
        return read_po(f, locale="ru")


def write_catalogue(directory: Path, catalog: Catalog) -> None:
    path = _po(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, omit_header=False, no_location=True, sort_output=True, width=100)


def update() -> None:
    for directory, msgids in extract().items():
        catalog = read_catalogue(directory)
        for msgid in msgids:
            if msgid not in catalog:
                catalog.add(msgid, ("", "", "") if isinstance(msgid, tuple) else "")
        for message in list(catalog):
            if message.id and message.id not in msgids:
                catalog.delete(message.id)
        write_catalogue(directory, catalog)


def untranslated() -> list[str]:
    """Every msgid used anywhere that no Russian catalogue translates."""
    translated = set()
    for directory in catalogue_dirs():
        translated |= {m.id for m in read_catalogue(directory)
                       if m.id and m.string and all(m.string if isinstance(m.string, tuple) else [m.string])}
    return sorted(f"{where}: {msgid!r}" for msgids in extract().values()
                  for msgid, where in msgids.items() if msgid not in translated)


def conflicting_translations() -> list[str]:
    """msgids that two catalogues translate differently: Flask-Babel merges the catalogues, so
    one would silently win over the other on every page."""
    translations: dict = {}
    for directory in catalogue_dirs():
        for message in read_catalogue(directory):
            if message.id and message.string:
                translations.setdefault(message.id, set()).add(str(message.string))
    return sorted(f"{msgid!r}: {sorted(found)}" for msgid, found in translations.items()
                  if len(found) > 1)


def compile_all() -> None:
    for directory in catalogue_dirs():
        if _po(directory).exists():
            with _po(directory).with_suffix(".mo").open("wb") as f:
                write_mo(f, read_catalogue(directory))


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "update":
        update()
    elif command == "compile":
        compile_all()
    missing, conflicts = untranslated(), conflicting_translations()
    for line in missing:
        print("untranslated:", line)
    for line in conflicts:
        print("translated differently:", line)
    sys.exit(1 if command == "check" and (missing or conflicts) else 0)
