"""Command-line options that several ``grade`` subcommands share, defined once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from grader.sandbox import NAMES as SANDBOX_NAMES

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_ASSIGNMENT = "hlcv-ex2"
DATA_ENV = "BACKPROP_GRADER_DATA_DIR"


def assignment_option(command: F) -> F:
    """``--assignment ID`` (passed as ``assignment_id``)."""
    return click.option(
        "--assignment", "assignment_id", default=DEFAULT_ASSIGNMENT, show_default=True, help="Assignment id."
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
