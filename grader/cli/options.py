"""Command-line options that several ``grade`` subcommands share, defined once."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from grader.sandbox import NAMES as SANDBOX_NAMES

F = TypeVar("F", bound=Callable[..., Any])

DATA_ENV = "BACKPROP_GRADER_DATA_DIR"


def _resolve_assignment(ctx: click.Context, param: click.Parameter, value: str | None, *, optional: bool) -> str | None:
    """The pack to use: the one named (id or folder), or the only one installed; loaded once to
    refuse an unknown or broken pack as a usage error before anything else happens. With
    ``optional``, None when several packs are installed and none is named (the command infers it)."""
    from grader.engine.packs import ASSIGNMENT_ENV, AssignmentError, default_assignment, resolve_assignment

    if optional and not value and not os.environ.get(ASSIGNMENT_ENV) and default_assignment() is None:
        return None
    try:
        assignment = resolve_assignment(value)
    except AssignmentError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return str(assignment.folder) if not assignment.builtin else assignment.id


def assignment_option(command: F | None = None, *, optional: bool = False) -> Any:
    """``--assignment ID|PATH`` (passed as ``assignment_id``): a built-in pack's id or a pack folder.

    ``@assignment_option`` requires a pack when several are installed; ``@assignment_option(optional=True)``
    passes None instead, for a command that can tell the pack from its input.
    """

    def decorate(function: F) -> F:
        return click.option(
            "--assignment",
            "assignment_id",
            default=None,
            callback=functools.partial(_resolve_assignment, optional=optional),
            help=(
                "Assignment pack: an id from 'grade assignments' or a pack folder "
                "[default: BACKPROP_GRADER_ASSIGNMENT, else the only pack installed]."
            ),
        )(function)

    return decorate(command) if command is not None else decorate


def sandbox_option(
    help: str = "Isolation backend; 'auto' takes docker, then bwrap, then process.",  # noqa: A002 - click's name
) -> Callable[[F], F]:
    """``--sandbox auto|docker|bwrap|process``."""
    return click.option("--sandbox", type=click.Choice(SANDBOX_NAMES), default="auto", show_default=True, help=help)


def data_dir_option(
    help: str = f"Folder holding the data set the pack's training checks need (e.g. CIFAR-10). Env: {DATA_ENV}.",  # noqa: A002
) -> Callable[[F], F]:
    """``--data-dir DIR``, also read from the environment."""
    return click.option("--data-dir", type=click.Path(path_type=Path), envvar=DATA_ENV, help=help)


def checked_data_dir(assignment_id: str, data_dir: Path | None) -> str | None:
    """Refuse (usage error, exit 2) a data folder that does not hold the assignment's data set.

    Returns a description of what was found, or None when no folder was given or none is needed.
    """
    from grader.engine.datasets import DatasetError, check_data_dir
    from grader.engine.packs import AssignmentError, load_assignment

    try:
        return check_data_dir(load_assignment(assignment_id), data_dir)
    except (AssignmentError, DatasetError) as exc:
        raise click.BadParameter(str(exc), param_hint="'--data-dir' / BACKPROP_GRADER_DATA_DIR") from None


def no_color_option(command: F) -> F:
    """``--no-color``: no ANSI colours in anything this command prints (like ``NO_COLOR=1``)."""
    from grader.cli.console import NO_COLOR_META

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.find_root().meta[NO_COLOR_META] = True

    return click.option(
        "--no-color",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=remember,
        help="No colours in the output (also when NO_COLOR is set).",
    )(command)
