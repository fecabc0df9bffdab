"""Options several commands share, defined once."""

from __future__ import annotations

import click

force_option = click.option(
    "--force", is_flag=True,
    help="Run even what is estimated too large to finish in memory or in minutes (the error shows the estimate).")
