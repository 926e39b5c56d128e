"""A structural checker for the common JUnit schema, Jenkins xunit's ``junit-10.xsd``.

No XML-schema validator is installed, so the schema's rules are written out here, element by element:
which attributes each element may carry and which it must, which child elements it may hold, whether
it may hold text, and the ``SUREFIRE_TIME`` pattern of the ``time`` attributes of ``testsuites`` and
``testsuite``. (In the schema, ``testcase`` has no ``file``, ``line`` or ``properties``, and
``testsuites`` has no ``skipped``: tools accept them, the schema does not.)
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """What the schema allows for one element."""

    attributes: frozenset[str]
    required: frozenset[str] = frozenset()
    children: frozenset[str] = frozenset()
    #: mixed="true" or a simple string type: text allowed.
    text: bool = False


def _rule(attributes: str = "", required: str = "", children: str = "", text: bool = False) -> Rule:
    return Rule(frozenset(attributes.split()), frozenset(required.split()), frozenset(children.split()), text)


_OUTCOME = _rule("type message", text=True)
_RERUN = _rule("message type", required="type", children="stackTrace system-out system-err", text=True)
_STRING = _rule(text=True)

RULES: dict[str, Rule] = {
    "testsuites": _rule("name time tests failures errors", children="testsuite"),
    "testsuite": _rule(
        "name tests failures errors group time skipped timestamp hostname id package file log url",
        required="name tests failures errors",
        children="testsuite properties testcase system-out system-err",
    ),
    "testcase": _rule(
        "name time classname group",
        required="name",
        children="skipped error failure rerunFailure rerunError flakyFailure flakyError system-out system-err",
    ),
    "failure": _OUTCOME,
    "error": _OUTCOME,
    "skipped": _OUTCOME,
    "properties": _rule(children="property"),
    "property": _rule("name value", required="name value"),
    "system-out": _STRING,
    "system-err": _STRING,
    "stackTrace": _STRING,
    "rerunFailure": _RERUN,
    "rerunError": _RERUN,
    "flakyFailure": _RERUN,
    "flakyError": _RERUN,
}

#: The schema's SUREFIRE_TIME (an XSD pattern matches the whole value).
SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")


def violations(document: str | bytes) -> list[str]:
    """Every way ``document`` breaks junit-10.xsd (empty when it is valid); the root is ``testsuites``."""
    root = ET.fromstring(document.encode("utf-8") if isinstance(document, str) else document)
    found: list[str] = []
    if root.tag not in ("testsuites", "testsuite"):
        found.append(f"root element <{root.tag}> is not testsuites or testsuite")
    _check(root, f"/{root.tag}", found)
    return found


def _check(node: ET.Element, where: str, found: list[str]) -> None:
    rule = RULES.get(node.tag)
    if rule is None:
        found.append(f"{where}: <{node.tag}> is not an element of the schema")
        return
    extra = set(node.attrib) - rule.attributes
    if extra:
        found.append(f"{where}: attributes {sorted(extra)} are not allowed")
    missing = rule.required - set(node.attrib)
    if missing:
        found.append(f"{where}: required attributes {sorted(missing)} are missing")
    if node.tag in ("testsuites", "testsuite") and "time" in node.attrib:
        if not SUREFIRE_TIME.fullmatch(node.get("time", "")):
            found.append(f"{where}: time {node.get('time')!r} does not match SUREFIRE_TIME")
    if not rule.text and (node.text or "").strip():
        found.append(f"{where}: text is not allowed in <{node.tag}>")
    for index, child in enumerate(node):
        path = f"{where}/{child.tag}[{index}]"
        if child.tag not in rule.children:
            found.append(f"{path}: <{child.tag}> may not appear in <{node.tag}>")
        if not rule.text and (child.tail or "").strip():
            found.append(f"{path}: text is not allowed in <{node.tag}>")
        _check(child, path, found)
