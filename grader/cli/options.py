"""Command-line options that several ``grade`` subcommands share, defined once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from grader.sandbox import NAMES as SANDBOX_NAMES

F = TypeVar("F", bound=Callable[..., Any])

DATA_ENV = "BACKPROP_GRADER_DATA_DIR"


def _resolve_assignment(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """The pack to use: the one named (id or folder), or the only one installed; loaded once to
    refuse an unknown or broken pack as a usage error before anything else happens."""
    from grader.engine.packs import AssignmentError, resolve_assignment

    try:
        assignment = resolve_assignment(value)
    except AssignmentError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return str(assignment.folder) if not assignment.builtin else assignment.id


def assignment_option(command: F) -> F:
    """``--assignment ID|PATH`` (passed as ``assignment_id``): a built-in pack's id or a pack folder."""
    return click.option(
        "--assignment",
        "assignment_id",
        default=None,
        callback=_resolve_assignment,
        help=(
            "Assignment pack: an id from 'grade assignments' or a pack folder "
            "[default: BACKPROP_GRADER_ASSIGNMENT, else the only pack installed]."
        ),
    )(command)


def sandbox_option(
    help: str = "Isolation backend; 'auto' takes docker, then bwrap, then process.",  # noqa: A002 - click's name
) -> Callable[[F], F]:
    """``--sandbox auto|docker|bwrap|process``."""
    return click.option("--sandbox", type=click.Choice(SANDBOX_NAMES), default="auto", show_default=True, help=help)


def data_dir_option(
    help: str = f"Folder holding CIFAR-10 (python or binary release). Env: {DATA_ENV}.",  # noqa: A002
) -> Callable[[F], F]:
    """``--data-dir DIR``, also read from the environment."""
    return click.option("--data-dir", type=click.Path(path_type=Path), envvar=DATA_ENV, help=help)
