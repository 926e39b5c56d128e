"""``grade pack new NAME``: a new pack folder that passes ``grade pack check`` from the start.

The files come from ``scaffold/*.tmpl`` beside this module, with ``{id}`` replaced by the pack's id.
"""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().with_name("scaffold")
PACK_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def new_pack(folder: Path) -> list[Path]:
    """Write a working example pack into the new folder ``folder`` (its name is the pack id).

    Raises ``ValueError`` (one line) for an unusable name or a folder that already exists.
    """
    pack_id = folder.name
    if not PACK_ID.match(pack_id):
        raise ValueError(
            f"{pack_id!r} is not a pack id: use lower-case letters, digits and '-', starting with a letter"
        )
    if folder.exists():
        raise ValueError(f"{folder} already exists; choose a new folder")
    written = []
    for template in sorted(TEMPLATE_DIR.rglob("*.tmpl")):
        target = folder / template.relative_to(TEMPLATE_DIR).with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(template.read_text(encoding="utf-8").replace("{id}", pack_id), encoding="utf-8")
        written.append(target)
    return written
