"""Render the pre-meeting readiness document as HTML and CSV, and write the three files side by side.

The document (a plain dict, also written as JSON) is the single source: both renderers only read it.
Times in it are already local strings with their offset, so nothing here touches time zones. The HTML page is
self-contained: it must open from a file:// URL on a NOC workstation with no network, so it has no
external assets and needs no JavaScript.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

import fleet

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "readiness.html.j2"

# The order the parties are shown in; parties the document names beyond these follow, in its order.
PARTY_ORDER = ("VNPT", "Viettel", "site staff", "NOC")
VERDICT_LABELS = {"ready": "READY", "degraded": "DEGRADED", "not_ready": "NOT READY", "unknown": "UNKNOWN"}
VERDICT_CLASS = {verdict: "v-" + verdict.replace("_", "-") for verdict in VERDICT_LABELS}
LABEL_CLASS = {label: VERDICT_CLASS[verdict] for verdict, label in VERDICT_LABELS.items()}

CSV_COLUMNS = (
    "site", "name", "province", "province_name", "carrier", "verdict", "reason", "parties",
    "failed_checks", "unknown_checks", "first_seen", "checked_at", "source",
    "contact_name", "contact_phone", "address",
)  # fmt: skip
# Spreadsheets run a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Heat grid colour stops by share of READY sites. Most provinces sit above 90 %, so the scale is
# stretched over the top of the range where a NOC operator needs to tell provinces apart.
HEAT_STOPS: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (0.80, (0xC6, 0x28, 0x28)),  # red at 80 % ready and below
    (0.90, (0xF0, 0xA2, 0x02)),  # amber
    (1.00, (0x2E, 0x9D, 0x4D)),  # green when every site is ready
)
HEAT_EMPTY = "#d5d9de"  # a province with no participating site
TILE_W, TILE_H, TILE_GAP, GRID_COLUMNS = 128, 54, 4, 8


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _first_seen(problems: Sequence[Mapping[str, Any]]) -> str:
    # The strings are "YYYY-MM-DD HH:MM:SS +HH:MM" in one local zone, so they sort as text.
    seen = [p["first_seen"] for p in problems if p.get("first_seen")]
    return min(seen) if seen else ""


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


# ---------------------------------------------------------------------------------------------------- CSV


def _guard(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _csv_row(site: Mapping[str, Any]) -> list[str]:
    problems = site.get("problems") or []
    row = {
        "site": site["site"],
        "name": site["name"],
        "province": site["province"],
        "province_name": site["province_name"],
        "carrier": site.get("carrier"),
        "verdict": site["verdict_label"],
        "reason": site.get("reason"),
        "parties": "; ".join(site.get("parties") or []),
        "failed_checks": "; ".join(_unique(p["check"] for p in problems if p["outcome"] == "fail")),
        "unknown_checks": "; ".join(_unique(p["check"] for p in problems if p["outcome"] == "unknown")),
        "first_seen": _first_seen(problems),
        "checked_at": site.get("checked_at"),
        "source": site.get("source"),
        "contact_name": site.get("contact_name"),
        "contact_phone": site.get("contact_phone"),
        "address": site.get("address"),
    }
    return [_guard(_text(row[column])) for column in CSV_COLUMNS]


def render_csv(doc: dict[str, Any]) -> bytes:
    """One row per site in document order, UTF-8 with a BOM so Excel shows Vietnamese intact."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for site in doc["sites"]:
        writer.writerow(_csv_row(site))
    return buffer.getvalue().encode("utf-8-sig")


# ---------------------------------------------------------------------------------------------------- HTML


def _heat_colour(share: float | None) -> str:
    if share is None:
        return HEAT_EMPTY
    low_share, low = HEAT_STOPS[0]
    if share <= low_share:
        rgb = low
    else:
        rgb = HEAT_STOPS[-1][1]
        for (s0, c0), (s1, c1) in itertools.pairwise(HEAT_STOPS):
            if s0 <= share <= s1:
                t = (share - s0) / (s1 - s0)
                rgb = (
                    round(c0[0] + (c1[0] - c0[0]) * t),
                    round(c0[1] + (c1[1] - c0[1]) * t),
                    round(c0[2] + (c1[2] - c0[2]) * t),
                )
                break
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _ink(fill: str) -> str:
    """Black or white text, whichever reads better on the tile colour."""
    r, g, b = (int(fill[i : i + 2], 16) / 255 for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#111111" if luminance > 0.5 else "#ffffff"


def _short_province(name: str) -> str:
    for prefix in ("Thành phố ", "Tỉnh "):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    return name if len(name) <= 15 else name[:14] + "…"


def _provinces(provinces: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    columns = max(1, min(GRID_COLUMNS, len(provinces)))
    for index, p in enumerate(provinces):
        sites, ready = int(p["sites"]), int(p["ready"])
        fill = _heat_colour(ready / sites if sites else None)
        x = (index % columns) * (TILE_W + TILE_GAP)
        y = (index // columns) * (TILE_H + TILE_GAP)
        tooltip = (
            f"{p['name']} ({p['code']}): {sites} sites: {ready} READY, {p['degraded']} DEGRADED, "
            f"{p['not_ready']} NOT READY, {p['unknown']} UNKNOWN"
        )
        rows.append(
            dict(p)
            | {
                "share": _percent(ready, sites),
                "short": _short_province(str(p["name"])),
                "fill": fill,
                "ink": _ink(fill),
                "x": x,
                "y": y,
                "tooltip": tooltip,
            }
        )
    grid_rows = math.ceil(len(provinces) / columns) if provinces else 0
    grid = {
        "width": columns * (TILE_W + TILE_GAP) - TILE_GAP,
        "height": max(0, grid_rows * (TILE_H + TILE_GAP) - TILE_GAP),
        "tile_w": TILE_W,
        "tile_h": TILE_H,
    }
    return rows, grid


# Text fields the page shows that a site may lack; missing ones show as blank rather than failing.
SITE_TEXT_DEFAULTS = dict.fromkeys(
    ("carrier", "contact_name", "contact_phone", "address", "reason", "checked_at", "source"), ""
)


def _site_view(site: Mapping[str, Any]) -> dict[str, Any]:
    return (
        SITE_TEXT_DEFAULTS
        | dict(site)
        | {
            "vclass": VERDICT_CLASS.get(site["verdict"], "v-unknown"),
            "parties_text": ", ".join(site.get("parties") or []),
            "problems": list(site.get("problems") or []),
        }
    )


def _party_order(parties: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    rank = {name: i for i, name in enumerate(PARTY_ORDER)}
    return sorted(parties, key=lambda p: rank.get(p["party"], len(PARTY_ORDER)))  # stable: extras keep order


def _party_sections(doc: Mapping[str, Any], by_code: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    sections = []
    for party in _party_order(doc.get("parties") or []):
        entries = []
        for code in party["sites"]:
            site = by_code.get(code)
            if site is None:
                # Shown rather than dropped, so a broken document cannot hide a site from its party.
                site = _site_view(
                    {"site": code, "name": "(site missing from this report)", "province": "",
                     "province_name": "", "verdict": "unknown", "verdict_label": "UNKNOWN"}
                )  # fmt: skip
            own = [p for p in site["problems"] if p.get("party") == party["party"]]
            entries.append({"site": site, "problems": own})
        if entries:
            sections.append({"party": party["party"], "slug": party["slug"], "entries": entries})
    return sections


def _change_rows(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        dict(item)
        | {
            "vclass": LABEL_CLASS.get(item["verdict_label"], "v-unknown"),
            "pclass": LABEL_CLASS.get(item.get("previous_label") or "", "v-unknown"),
        }
        for item in items
    ]


def _changes(doc: Mapping[str, Any]) -> dict[str, Any]:
    changes = doc.get("changes") or {}
    groups = [
        {"id": ident.replace("_", "-"), "title": title, "rows": _change_rows(changes.get(ident) or [])}
        for ident, title in (("newly_broken", "Newly broken"), ("repaired", "Repaired"),
                             ("other", "Other verdict changes"))
    ]  # fmt: skip
    return {
        "previous_run": changes.get("previous_run"),
        "groups": [g for g in groups if g["rows"]],
    }


def _run_view(run: Mapping[str, Any]) -> dict[str, Any]:
    deadline = run.get("deadline_s")
    return dict(run) | {
        "duration": f"{float(run['duration_s']):.1f} s" if run.get("duration_s") is not None else "–",
        "deadline": f"{float(deadline):g} s" if deadline is not None else "none",
        "deadline_hit": bool(run.get("deadline_hit")),
    }


def _context(doc: Mapping[str, Any]) -> dict[str, Any]:
    counts = doc["counts"]
    total = int(counts["sites"])
    sites = [_site_view(s) for s in doc["sites"]]
    by_code = {s["site"]: s for s in sites}
    provinces, grid = _provinces(doc["provinces"])
    headline = [
        {"id": f"count-{key.replace('_', '-')}", "label": label, "value": int(counts[key]),
         "share": _percent(int(counts[key]), total), "vclass": VERDICT_CLASS[key]}
        for key, label in VERDICT_LABELS.items()
    ]  # fmt: skip
    legend = [
        {"label": label, "fill": _heat_colour(share)}
        for label, share in (("100%", 1.0), ("95%", 0.95), ("90%", 0.90), ("85%", 0.85), ("≤80%", 0.80))
    ]
    return {
        "doc": doc,
        "run": _run_view(doc["run"]),
        "counts": counts,
        "total": total,
        "ready_share": _percent(int(counts["ready"]), total),
        "headline": headline,
        "provinces": provinces,
        "grid": grid,
        "legend": legend,
        "parties": _party_sections(doc, by_code),
        "changes": _changes(doc),
        "not_ready": [s for s in sites if s["verdict"] != "ready"],
        "fleet_version": fleet.__version__,
    }


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    # Sandboxed and autoescaped: every string in the document ends up in the page as text only.
    return SandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(doc: dict[str, Any]) -> str:
    """A self-contained HTML page: inline CSS and SVG, no scripts, nothing fetched."""
    return _environment().get_template(TEMPLATE).render(_context(doc))


# ---------------------------------------------------------------------------------------------------- files


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_atomic(path: Path, content: bytes) -> None:
    # A reader (a browser, a mail job) never sees half a file: write aside, then rename into place.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        Path(tmp).chmod(0o666 & ~_umask())  # mkstemp makes 0600; reports are for others to read
        os.replace(tmp, path)  # noqa: PTH105 - the rename itself is the point here
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_reports(doc: dict[str, Any], directory: Path, stem: str) -> dict[str, Path]:
    """Write <stem>.json, <stem>.html and <stem>.csv into ``directory`` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    contents = {
        "json": (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
        "html": render_html(doc).encode("utf-8"),
        "csv": render_csv(doc),
    }
    paths = {}
    for kind, content in contents.items():
        path = directory / f"{stem}.{kind}"
        _write_atomic(path, content)
        paths[kind] = path
    return paths
