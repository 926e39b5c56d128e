"""Text helpers shared by the writers and the console summary."""

from __future__ import annotations

import re

from grader.results import CheckResult

# Everything outside XML 1.0's Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
# [#x10000-#x10FFFF]. ElementTree escapes markup but happily writes these, producing unparsable XML.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# GitHub's runner reads a log line as a workflow command when it starts with "::" after leading
# whitespace is trimmed (actions/runner ActionCommand.TryParseV2), or contains "##[" anywhere (the older
# syntax). A leading space therefore does not neutralise it; breaking the marker itself does.
_COMMAND_START = re.compile(r"^(\s*)::", re.MULTILINE)


def neutralise_workflow_commands(text: str, *, html: bool = False) -> str:
    """Make sure no line of `text` can act as a GitHub Actions workflow command when printed to a log.

    With `html`, the first colon becomes the entity ``&#58;`` (renders as ``::`` in Markdown/HTML);
    otherwise the marker is split with a space (``: :``).
    """
    colon, hash_ = ("&#58;", "&#35;") if html else (": ", "# ")
    text = _COMMAND_START.sub(lambda m: m.group(1) + colon + ":", text)
    return text.replace("##[", hash_ + "#[")


def strip_xml_invalid(text: str) -> str:
    """Remove every character that may not appear in an XML 1.0 document."""
    return _XML_INVALID.sub("", text)


def format_points(value: float) -> str:
    """Points with at least one and at most two decimals: 61.0, 0.25, 0.33."""
    text = f"{value:.2f}"
    return text[:-1] if text.endswith("0") else text


def first_line(text: str) -> str:
    """The first non-empty line of `text`, stripped, or an empty string."""
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def shorten(text: str, width: int) -> str:
    """Cut `text` to at most `width` characters, ending with "…" when something was cut."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def feedback(check: CheckResult) -> str:
    """The feedback a reader sees for one check: the named mistake first, then the output.

    Skipped and error checks say so in words, for formats that have no separate status for them.
    """
    parts = []
    if check.status == "skipped":
        parts.append("Skipped" + (f": {check.output}" if check.output else "."))
    elif check.status == "error":
        parts.append("Error" + (f": {check.output}" if check.output else "."))
    elif check.output:
        parts.append(check.output)
    if check.diagnosis:
        parts.insert(0, f"Likely mistake: {check.diagnosis}")
    return "\n\n".join(parts)
