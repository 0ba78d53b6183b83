"""The spec file's schema: what a ``--spec`` file (or a workbook's ``spec`` sheet) may hold.

A spec is checked in three stages, each before anything uses what it checks, and each failure
is one line naming the key and the ``[[features]]`` entry:

1. :func:`check_text`, before TOML is parsed: its size (``TITANIC_LAB_MAX_SPEC_BYTES``) and how
   deep its arrays, inline tables and dotted keys nest (Python's TOML parser recurses on them);
2. :func:`check_document`, on the parsed TOML: the keys each table may hold, their types
   (a name is text, levels are a flat list of text or finite numbers, a fill is a finite
   number or text) and their bounds (levels per step, steps per spec);
3. :func:`check_table`, once the table is read: a kind that reads columns the table lacks (the
   ``groups`` kinds are Titanic's), a feature named like the target or the id.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter

from .errors import DataError
from .finite import MAX_MAGNITUDE, NUMERIC_KINDS
from .limits import env_limit, human

#: How deep arrays and inline tables may nest, and how many parts a dotted key may have.
MAX_DEPTH = 16
MAX_KEY_PARTS = 16
#: Levels one dummies step may list, and steps one spec may have (a sheet has 16,384 columns).
MAX_LEVELS = 10_000
MAX_STEPS = 16_384
#: The longest text a name, level or reason may be: what one Excel cell holds.
MAX_TEXT = 32_767


class SpecError(DataError):
    """A spec file (TOML) cannot be used: the message names the file, the entry and the problem."""


def max_spec_bytes() -> int:
    """``TITANIC_LAB_MAX_SPEC_BYTES``, else 4 MiB (a spec of 16,384 number steps is about 1.5 MB)."""
    return env_limit("TITANIC_LAB_MAX_SPEC_BYTES", 4 << 20)


def check_size(size: int, where: object) -> None:
    """Refuse a spec of ``size`` bytes over :func:`max_spec_bytes`, before it is read."""
    limit = max_spec_bytes()
    if size > limit:
        raise SpecError(where, f"is {human(size)}, more than the limit of {human(limit)} for a spec; raise it with "
                               "TITANIC_LAB_MAX_SPEC_BYTES (e.g. 64M)")


# Strings and comments (whose brackets and dots are text), and the characters that nest or reset a key.
_TOKENS = re.compile(r'"""(?:[^\\]|\\.)*?"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}.=,\n]', re.DOTALL)


def check_text(text: str, where: object) -> None:
    """Refuse, before TOML is parsed, a spec too large or nested too deep.

    Counts ``[``/``{`` nesting and the dots of a key outside strings and comments, and stops
    at the first place beyond :data:`MAX_DEPTH` or :data:`MAX_KEY_PARTS`: time proportional to the
    text, whatever it holds.
    """
    check_size(len(text.encode("utf-8", "surrogatepass")), where)
    depth = dots = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth, dots = depth + 1, 0
            if depth > MAX_DEPTH:
                raise SpecError(where, f"line {_line(text, match.start())}: arrays or inline tables nest more than "
                                       f"{MAX_DEPTH} deep; a spec needs at most 3")
        elif token in "]}":
            depth = max(0, depth - 1)
        elif token == ".":
            dots += 1
            if dots >= MAX_KEY_PARTS:
                raise SpecError(where, f"line {_line(text, match.start())}: a dotted key of more than {MAX_KEY_PARTS} parts; "
                                       "a spec's keys have at most 2")
        elif token in "=,\n":
            dots = 0


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


# ---- the parsed document ------------------------------------------------------------------

_TOP = {"format", "name", "preset", "id", "target", "features", "left_out"}
_TARGET = {"column", "task", "labels", "scale", "offset", "classes"}
#: Each kind that reads raw columns by Titanic's names (the ``groups`` preset's kinds): the
#: ``column`` and ``other`` it must name, the columns the table must have, and whether it learns
#: from a binary target.
TITANIC_KINDS: dict[str, tuple[str, str, tuple[str, ...], bool]] = {
    "woman_child": ("Sex", "Name", ("Sex", "Name"), False),
    "group_size": ("Ticket", "", ("Sex", "Name", "Ticket"), True),
    "wcg_rate": ("Ticket", "Name", ("Sex", "Name", "Ticket"), True),
    "wcg_died": ("Ticket", "Name", ("Sex", "Name", "Ticket"), True),
}
#: Kinds that read a second column, ``other``.
NEEDS_OTHER = ("family", "alone", "per_ticket")


def check_document(doc: dict, where: object, kinds: dict, fields: set[str]) -> None:
    """Check the parsed spec's keys, types and bounds (see the module's docstring).

    Parameters
    ----------
    doc : dict
        What ``tomllib`` parsed.
    where : object
        The file (or workbook sheet) named in messages.
    kinds : dict
        The feature kinds by name (:data:`titanic_lab.features.FEATURE_KINDS`).
    fields : set of str
        The keys a ``[[features]]`` entry may give (the fields of ``Feature``).
    """
    _keys(doc, _TOP, where, "the top level")
    for key in ("format", "name", "preset", "id"):
        _text(doc, key, where, "the top level", required=False)
    target = doc.get("target")
    if not isinstance(target, dict):
        raise SpecError(where, "needs a [target] table with column = \"NAME\"")
    _keys(target, _TARGET, where, "[target]")
    _text(target, "column", where, "[target]", required=True)
    _text(target, "task", where, "[target]", required=False)
    labels = target.get("labels")
    if labels is not None:
        if not isinstance(labels, list) or len(labels) != 2:
            raise SpecError(where, "[target] labels = [negative, positive]: a list of two values")
        for i, label in enumerate(labels):
            _scalar(label, where, "[target]", f"labels[{i}]")
    classes = target.get("classes")
    if classes is not None:
        if not isinstance(classes, list) or len(classes) > MAX_LEVELS:
            raise SpecError(where, f"[target] classes = [\"a\", \"b\", \"c\", ...]: a list of at most {MAX_LEVELS:,} values")
        for i, label in enumerate(classes):
            _scalar(label, where, "[target]", f"classes[{i}]")
    scale = target.get("scale")
    if scale is not None and not (_is_number(scale) and 1 / MAX_MAGNITUDE <= scale <= MAX_MAGNITUDE):
        raise SpecError(where, f"[target] scale = {scale!r}: write a number from {1 / MAX_MAGNITUDE:g} to {MAX_MAGNITUDE:g}")
    offset = target.get("offset")
    if offset is not None and not (_is_number(offset) and abs(offset) <= MAX_MAGNITUDE):
        raise SpecError(where, f"[target] offset = {offset!r}: write a number from {-MAX_MAGNITUDE:g} to {MAX_MAGNITUDE:g}")
    if doc.get("id") is not None and doc.get("id") == target.get("column"):
        raise SpecError(where, f"id = {doc['id']!r} is the target's column; the id names rows, the target is learned")
    left_out = doc.get("left_out", {})
    if not isinstance(left_out, dict) or not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in left_out.values()):
        raise SpecError(where, "[left_out] must be a table of column = \"reason\" (text)")
    entries = doc.get("features")
    if not isinstance(entries, list) or not entries:
        raise SpecError(where, "needs at least one [[features]] entry")
    if len(entries) > MAX_STEPS:
        raise SpecError(where, f"has {len(entries):,} [[features]] entries, more than the {MAX_STEPS:,} a sheet's columns hold")
    for i, entry in enumerate(entries, start=1):
        _entry(entry, f"[[features]] entry {i}", where, kinds, fields)
    names = Counter(e.get("name") or e.get("column") for e in entries if not kinds[e.get("kind", "number")].per_level)
    repeated = next((n for n, count in names.items() if count > 1), None)
    if repeated is not None:
        raise SpecError(where, f"feature name {repeated!r} is given twice; names become column headers and must differ")


def _entry(entry: object, at: str, where: object, kinds: dict, fields: set[str]) -> None:
    if not isinstance(entry, dict):
        raise SpecError(where, f"{at} is not a table")
    _keys(entry, fields, where, at)
    kind = entry.get("kind", "number")
    if not isinstance(kind, str) or kind not in kinds:
        raise SpecError(where, f"{at}: kind = {kind!r}; write one of {', '.join(kinds)}")
    at = f"{at} ({kind})"
    record = kinds[kind]
    for key in ("column", "name", "other"):
        _text(entry, key, where, at, required=False)
    if record.reads and not entry.get("column"):
        raise SpecError(where, f"{at}: needs column = \"NAME\" (the raw column it reads)")
    if not record.reads and entry.get("column"):
        raise SpecError(where, f"{at}: reads no column; remove column = {entry['column']!r}")
    if kind in NEEDS_OTHER and not entry.get("other"):
        raise SpecError(where, f"{at}: needs other = \"NAME\" (the second column it adds)")
    if kind in TITANIC_KINDS:
        column, other, _, _ = TITANIC_KINDS[kind]
        if entry.get("column") != column or (other and entry.get("other") != other):
            wanted = f"column = \"{column}\"" + (f" and other = \"{other}\"" if other else "")
            raise SpecError(where, f"{at}: reads Titanic's columns by name; write {wanted}")
    for key, choices in (("fill", "median, mode, constant or none"), ("scale", "max, zscore or none")):
        if key in entry and not isinstance(entry[key], str):
            raise SpecError(where, f"{at}: {key} = {_show(entry[key])}; write one of {choices}, in quotes "
                                   f"({key} = \"{choices.split(',')[0]}\")")
        _text(entry, key, where, at, required=False)
    if "fill_value" in entry:
        value = entry["fill_value"]
        if kind in NUMERIC_KINDS and not _is_number(value):
            raise SpecError(where, f"{at}: fill_value = {value!r}; the column holds numbers, so write a finite number "
                                   f"of at most {MAX_MAGNITUDE:g}")
        _scalar(value, where, at, "fill_value")
    if "base" in entry:
        base = entry["base"]
        if not _is_number(base) or base <= 0 or base == 1:
            raise SpecError(where, f"{at}: base = {base!r}; write a finite positive number other than 1 (10, or 2.718281828459045)")
    for key in ("positive", "baseline"):
        if key in entry:
            _scalar(entry[key], where, at, key)
    if "levels" in entry:
        levels = entry["levels"]
        if not isinstance(levels, list):
            raise SpecError(where, f"{at}: levels must be a list such as [\"a\", \"b\"]")
        if not levels:
            raise SpecError(where, f"{at}: levels = [] lists no level; list them, or leave levels out for every level seen")
        if len(levels) > MAX_LEVELS:
            raise SpecError(where, f"{at}: levels lists {len(levels):,} values, more than {MAX_LEVELS:,}; a column with "
                                   "that many levels is free text or an id, not a category")
        for i, level in enumerate(levels):
            _scalar(level, where, at, f"levels[{i}]")
        if len(set(map(repr, levels))) != len(levels):
            seen: set[str] = set()
            level = next(v for v in levels if repr(v) in seen or seen.add(repr(v)))
            raise SpecError(where, f"{at}: levels gives {level!r} twice")


def check_table(spec, columns, where: object) -> None:
    """Refuse a spec whose steps cannot run on a table with these ``columns``: a Titanic kind
    (``woman_child``, ``group_size``, ``wcg_*``) on a table without Titanic's columns or target,
    or a feature named like the target or the id column (compared without case)."""
    have = set(columns)
    for i, feat in enumerate(spec.features.features, start=1):
        at = f"[[features]] entry {i} ({feat.kind})"
        if feat.kind in TITANIC_KINDS:
            _, _, needed, learns = TITANIC_KINDS[feat.kind]
            missing = [c for c in needed if c not in have]
            if missing:
                raise SpecError(where, f"{at}: reads Titanic's column(s) {', '.join(missing)}, which this table lacks; "
                                       "remove the entry")
            if learns and spec.target.task != "binary":
                raise SpecError(where, f"{at}: learns group rates from a binary target; this spec's target "
                                       f"{spec.target.column} is {spec.target.task}; remove the entry")
        for role, name in (("target", spec.target.column), ("id column", spec.id_column)):
            if name is not None and str(feat.output_name).lower() == str(name).lower():
                raise SpecError(where, f"{at}: name = {feat.output_name!r} is the {role}'s name; give the feature its own name")


def _keys(table: dict, allowed: set[str], where: object, at: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SpecError(where, f"{at}: unknown key {unknown[0]!r}; the keys are {', '.join(sorted(allowed))}")


def _text(table: dict, key: str, where: object, at: str, *, required: bool) -> None:
    value = table.get(key)
    if value is None and not required:
        return
    if not isinstance(value, str) or (required and not value):
        raise SpecError(where, f"{at}: {key} = {_show(value)}; write it as text in quotes, such as {key} = \"x\"")
    if len(value) > MAX_TEXT:
        raise SpecError(where, f"{at}: {key} has {len(value):,} characters, more than the {MAX_TEXT:,} a cell holds")


def _scalar(value: object, where: object, at: str, key: str) -> None:
    """A level, label, fill or positive value: text, or a finite number of at most :data:`MAX_MAGNITUDE`."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise SpecError(where, f"{at}: {key} has {len(value):,} characters, more than the {MAX_TEXT:,} a cell holds")
        return
    if _is_number(value):
        return
    what = ("a list" if isinstance(value, list) else "a table" if isinstance(value, dict)
            else "a date or time" if isinstance(value, (datetime.date, datetime.time)) else f"{value!r}")
    if isinstance(value, bool):
        what = f"{str(value).lower()} (a boolean)"
    elif isinstance(value, (int, float)):
        what = f"{value!r}, not a finite number of at most {MAX_MAGNITUDE:g}"
    raise SpecError(where, f"{at}: {key} is {what}; write text in quotes or a number")


def _is_number(value: object) -> bool:
    """A finite number of at most :data:`MAX_MAGNITUDE` (TOML's integers may be of any size)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return abs(value) <= MAX_MAGNITUDE  # False for nan; compares a huge integer without converting it


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
