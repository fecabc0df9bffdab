"""Commands for writing scenarios: ``distsim validate`` and ``distsim schema``.

The schema is composed here, at the top, because the scenario layer must not
know the strategies: it receives their parameter models from the registry.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from distsim.cli.options import force_option
from distsim.errors import DistsimError, InputError, Problem, ScenarioError
from distsim.fileio import check_output, write_text

EXIT_OK = 0
SCENARIO_SUFFIXES = (".yaml", ".yml")


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@force_option
def validate(files: tuple[Path, ...], force: bool) -> int:
    """Check scenario FILES without running them; report every problem in every file.

    A file passes exactly when 'distsim run' accepts it and, if it has a sweep:
    block, 'distsim sweep' accepts every point of it. A folder stands for the *.yaml
    and *.yml files in it. Problems are printed one per line, FILE:LINE:COLUMN:
    field.path: message, and the exit code is 2 if any file has one.
    """
    from distsim.sweep.check import check_file

    paths = scenario_files(files)
    problems: list[Problem] = []
    for path in paths:
        try:
            check_file(path, force)
        except ScenarioError as exc:
            problems += exc.problems
        except DistsimError as exc:  # e.g. a strategy plugin that fails to import
            problems.append(Problem(str(path), (), str(exc)))
    if problems:
        raise ScenarioError(list(dict.fromkeys(problems)))  # a base shared by several files: once
    click.echo(f"{len(paths)} scenario{'s' if len(paths) != 1 else ''} valid")
    return EXIT_OK


def scenario_files(arguments: tuple[Path, ...]) -> list[Path]:
    """The files named, with each folder replaced by the scenario files in it (sorted)."""
    paths: list[Path] = []
    for argument in arguments:
        if argument.is_dir():
            found = sorted(p for p in argument.iterdir() if p.suffix in SCENARIO_SUFFIXES and p.is_file())
            if not found:
                raise InputError(f"{argument}: no scenario files (*.yaml) in this folder")
            paths += found
        else:
            paths.append(argument)  # a missing file is reported by the loader, with the others
    return paths


@click.command()
@click.option("--markdown", is_flag=True, help="Print the scenario reference (docs/scenario-reference.md) instead.")
@click.option("--builtin", is_flag=True, help="Describe only the strategies that ship with distsim, not plugins "
                                               "(as the committed docs do).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write to FILE (atomically) instead of printing.")
def schema(markdown: bool, builtin: bool, output: Path | None) -> int:
    """Print the JSON Schema of a scenario file, with every strategy's parameters.

    Editors use it to complete and check keys as you type. With yaml-language-server
    (VS Code's YAML extension, Neovim, Helix...), write the schema to a file once and
    put this line at the top of a scenario:

        # yaml-language-server: $schema=path/to/scenario.schema.json

    The bundled scenarios point at docs/scenario.schema.json.
    """
    if output is not None:
        check_output(output)
    text = schema_markdown(builtin) if markdown else schema_json(builtin)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text(output, text)
    return EXIT_OK


def schema_json(builtin: bool = False) -> str:
    from distsim.scenario.schema import scenario_schema

    return json.dumps(scenario_schema(strategy_docs(builtin)), indent=2, ensure_ascii=False) + "\n"


def schema_markdown(builtin: bool = False) -> str:
    from distsim.scenario.reference import reference_markdown
    from distsim.scenario.schema import scenario_schema

    return reference_markdown(scenario_schema(strategy_docs(builtin)))


def strategy_docs(builtin: bool = False) -> dict:
    """name -> StrategyDoc for every registered strategy (only built-ins if ``builtin``), in table order."""
    from distsim.scenario.schema import StrategyDoc
    from distsim.strategies.registry import loadable

    # A plugin that cannot be loaded is left out (distsim strategies lists it as broken).
    return {name: StrategyDoc(cls.Params, cls.summary, getattr(cls, "family", "")) for name, cls in loadable(builtin).items()}
