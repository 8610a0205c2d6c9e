"""Hydra's composition errors (an unknown option or key, a malformed override) as one `error:` line.

Hydra reports these itself, over several lines (the options one per line, the config search path, a hint about
`HYDRA_FULL_ERROR`), and exits 1. `one_line_composition_errors()` asks Hydra to raise them instead, through its
documented switch `HYDRA_FULL_ERROR=1`, and prints one line with what was wrong, where, and what was expected,
with a "did you mean" where a name is close. A user who sets `HYDRA_FULL_ERROR` gets Hydra's full traces as
before. Imports nothing heavy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from hydra.errors import CompactHydraException, MissingConfigException, OverrideParseException
from omegaconf import ListConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, InterpolationResolutionError

from embedlab.errors import UserError, exit_with_error
from embedlab.schema.groups import accepted_keys
from embedlab.schema.rules import UNRESOLVED, closest, not_a_chain_key, stage_with, why_unresolved


@contextmanager
def one_line_composition_errors() -> Iterator[None]:
    """Around `main()` of `python -m train`: a composition error or a job's `UserError` ends in one line, exit 2."""
    if os.environ.get("HYDRA_FULL_ERROR"):  # the user asked for Hydra's full traces
        yield
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing; anything else keeps its traceback
    try:
        yield
    except CompactHydraException as exc:
        exit_with_error(composition_error_line(exc))
    except UserError as exc:  # a grid job's (a single run prints its own in main)
        exit_with_error(exc)
    finally:
        os.environ.pop("HYDRA_FULL_ERROR", None)


MODES = {  # Hydra's flags of which one command takes one (hydra/_internal/utils.py, `_run_hydra`)
    "-m": "--multirun",
    "--multirun": "--multirun",
    "-c": "--cfg",
    "--cfg": "--cfg",
    "-i": "--info",
    "--info": "--info",
    "-r": "--run",
    "--run": "--run",
    "-sc": "--shell-completion",
    "--shell-completion": "--shell-completion",
}


def check_one_mode(argv: list[str]) -> None:
    """`python -m train -m a=1,2 --cfg job`: Hydra's ValueError and its traceback, exit 1."""
    modes = sorted({MODES[a] for a in argv[1:] if a in MODES})
    if len(modes) > 1:
        raise UserError(
            f"{' and '.join(modes)} together: Hydra runs one of --run, --multirun, --cfg, --info at a time; expected "
            "one (--cfg job without -m prints the config one job composes: give it one point's values)"
        )


def check_no_resume_in_sweep(argv: list[str]) -> None:
    """`python -m train -m resume=true a=1,2`: every job would look for one run to continue, after the sweep had
    made its parent run and folders, and fail there. A sweep's jobs start anew; a stopped sweep goes on by its
    own command (a grid runs every job again, a study continues under its name)."""
    if not {"-m", "--multirun"} & set(argv[1:]):
        return
    given = [a for a in argv[1:] if a.lstrip("+").partition("=")[0] == "resume" and a.partition("=")[2] != "false"]
    if given:
        raise UserError(
            f"{given[-1]} with -m: resume= continues one stopped run, and a sweep's jobs start anew; expected the "
            "sweep's command without resume= (a grid runs every job again, an Optuna study continues where it "
            "stopped), or python -m train resume=<one job's run id> without -m"
        )


def check_no_sweep_under_torchrun(argv: list[str]) -> None:
    """`torchrun --nproc_per_node 2 -m train -m a=1,2`: every process torchrun starts would run the whole sweep,
    each with a parent run of its own (a grid), or be refused by the study the first one holds (Optuna)."""
    from embedlab.hardware.ranks import launched_by_torchrun

    if {"-m", "--multirun"} & set(argv[1:]) and launched_by_torchrun():
        raise UserError(
            "-m under torchrun: each of its processes would run the whole sweep; expected the sweep without "
            "torchrun (its jobs train one process each), or torchrun for one run at a time (docs/hardware.md, "
            '"Sweeps and torchrun")'
        )


def check_search_space_has_multirun(argv: list[str]) -> None:
    """`python -m train hparams_search=physics` without `-m` would train one run and never start the study."""
    arguments = argv[1:]
    if {"-m", "--multirun", "-c", "--cfg", "--help", "-h", "--hydra-help", "-i", "--info"} & set(arguments):
        return
    chosen = [a for a in arguments if a.startswith("hparams_search=") and a != "hparams_search=null"]
    if chosen:
        raise UserError(
            f"{chosen[-1]} is an Optuna search space, which only a sweep uses; expected "
            f"python -m train -m {chosen[-1]} (add -m), or no hparams_search for a single run"
        )


def check_no_group_is_null(argv: list[str]) -> None:
    """`experiment=null` on the command line: Hydra takes no null for a group there (a ValueError and its trace)."""
    from embedlab.schema import CONF, options_of

    for argument in argv[1:]:
        key, sep, value = argument.lstrip("+~").partition("=")
        group = key.split("@", 1)[0]
        # Hydra's grammar reads null in any case as None; `none` is a word (and pruner=none an option)
        if sep and value.strip().lower() == "null" and (CONF / group).is_dir() and value not in options_of(group):
            options = options_of(group)
            raise UserError(
                f"{argument}: a config group takes one of its options, not {value}; expected {group}=<option>, one"
                f" of {', '.join(options)}, or no {group}= at all for its default"
            )


def task_overrides(overrides: ListConfig | None) -> list[str]:
    """The command line's overrides (`hydra.overrides.task`) as a job sees them, interpolations resolved. One whose
    interpolation cannot be resolved (`dataset.path=${oc.env:DATA}` with DATA unset) is one line naming it: Hydra
    composes it without resolving, and reading it was a traceback (a run) or a grid launched unchecked."""
    if overrides is None:
        return []
    typed = OmegaConf.to_container(overrides, resolve=False)
    resolved = []
    for index, text in enumerate(typed):
        try:
            resolved.append(overrides[index])
        except InterpolationResolutionError as exc:
            raise UserError(f"{text}: {why_unresolved(exc)}; {UNRESOLVED}") from None
    return resolved


def composition_error_line(exc: CompactHydraException) -> str:
    """The one line for one of Hydra's composition errors."""
    message = str(exc)
    if isinstance(exc, MissingConfigException) and exc.missing_cfg_file and exc.options is not None:
        return missing_option(exc, message)
    if isinstance(exc.__cause__, (ConfigAttributeError, ConfigKeyError)) and exc.__cause__.full_key:
        return unknown_key(exc.__cause__, message)
    if isinstance(exc, OverrideParseException):
        return unreadable_override(exc, message)
    if message.startswith("Sweeping over Hydra's configuration") and f"'{SEARCH_SPACE}" in message:
        return search_space_parameter(message.split(" : ", 1)[-1].strip().strip("'"))
    if message.startswith("Ambiguous value for argument"):  # `loss=mnrl,cosent` without -m
        override = message.split("'", 2)[1]
        return (
            f"{override} has several values; expected one value: to sweep over them add -m, for a list write "
            "key=[a,b], for a string with commas quote it"
        )
    if message.startswith("Sweep parameters '") and message.endswith("requires --multirun"):
        return sweep_without_multirun(message.split("'", 2)[1])  # `training.lr=interval(1e-5,1e-4)` without -m
    # the Optuna sweeper's settings or groups on the grid: `+hydra.sweeper.n_trials=30` (the grid's TypeError),
    # `hydra/sweeper/pruner=none` (not in the grid's defaults list)
    setting = re.search(r"unexpected keyword argument '(\w+)'.*full_key: hydra\.sweeper\s*$", message, re.S)
    group = re.match(r"Could not override 'hydra/sweeper/(\w+)'", message)
    if setting or group:
        typed = f"hydra.sweeper.{setting.group(1)}" if setting else f"hydra/sweeper/{group.group(1)}"
        return not_this_sweepers_setting(typed, list(GRID_SETTINGS))
    if message.startswith("Could not append to config. An item is already at"):  # `+hardware.compile=true`
        return key_already_there(message)
    lines = [line.strip() for line in message.splitlines()]
    return "; ".join(line for line in lines if line)


def key_already_there(message: str) -> str:
    """`+hardware.compile=true`: `+` adds a key the config lacks; this one it has."""
    key = message.split("'", 2)[1]
    plain = re.search(r"remove \+ prefix: '([^']*)'", message)
    typed = plain.group(1) if plain else f"{key}=<value>"
    return (
        f"+{typed}: {key} is already in the config, and + adds a key the config lacks; expected {typed} (or "
        f"++{typed}, which adds or overrides)"
    )


def missing_option(exc: MissingConfigException, message: str) -> str:
    """`dataset=quroa`: the group's options, and the closest one."""
    group, _, name = str(exc.missing_cfg_file).rpartition("/")
    where = message.split(":", 1)[0].removeprefix("In ").strip("'")  # "In 'train': Could not find ..."
    what = f"{group}={name}" if where == "train" else f"{group}/{name} (in the defaults of conf/{where}.yaml)"
    options = list(exc.options or [])
    return f"{what} is not an option of {group}; expected one of {', '.join(options)}{close(name, options)}"


SEARCH_SPACE = "hydra.sweeper.params."


def search_space_parameter(override: str) -> str:
    """`hydra.sweeper.params.training.lr=...`: a search space's keys are dotted names (`training.lr` is one key),
    which the override grammar cannot reach; the sweep takes the parameter as its own key instead."""
    key, _, value = override.partition("=")
    value = value.strip("'") or "..."
    return (
        f"{override}: a search space's parameter is set by its own key; expected python -m train -m "
        f"hparams_search=<space> {key.removeprefix(SEARCH_SPACE)}={value}"
    )


def sweep_without_multirun(override: str) -> str:
    """`training.lr=choice(1e-5,2e-5)` (or `range`, `interval`, `glob`, ...) without -m: a sweep's values, which a
    single run cannot take; Hydra says only "Sweep parameters '...' requires --multirun"."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import IntervalSweep

    key = override.partition("=")[0]
    if key.lstrip("+~").startswith(SEARCH_SPACE):
        return search_space_parameter(override)
    if isinstance(OverridesParser.create().parse_override(override).value(), IntervalSweep):  # -m alone: the grid
        return (
            f"{override} is a range of real numbers, which a single run cannot take and only an Optuna study samples; "
            f"expected one value ({key}=<value>), or a study over it: python -m train -m hparams_search=<preset> "
            f"{override} (it joins the preset's search space)"
        )
    return (
        f"{override} is a sweep over several values, which a single run cannot take; expected one value "
        f"({key}=<value>), or -m before it to sweep: python -m train -m {override}"
    )


def unknown_key(cause: ConfigAttributeError | ConfigKeyError, message: str) -> str:
    """`training.lrr=1` (no `+`): the closest key of the same node, or its keys."""
    key = str(cause.full_key)
    if key.startswith(SEARCH_SPACE):
        return search_space_parameter(message.split("'")[1] if message.count("'") >= 2 else key)
    parent, _, name = key.rpartition(".")
    known = [str(k) for k in (cause.parent_node or {}) if not str(k).startswith("_") and str(k) != "hydra"]
    if parent == "hydra.sweeper":
        return not_this_sweepers_setting(key, known)
    stage = stage_with(cause.parent_node, name) if "stages" in known else None
    if stage:  # `phase.num_negatives=3` on a chain: each stage has its own phase
        return not_a_chain_key(key, parent, name, stage, known)
    accepted = accepted_keys(parent, cause.parent_node)
    if accepted is not None and name not in accepted:  # `+` would add it, and the schema would refuse it then
        shown = [k for k in accepted if not k.startswith("_")]  # not Hydra's _target_, _partial_
        guess = close(name, shown, f"{parent}.") or f"; expected one of {', '.join(shown)}"
        return f"{key} is not a key of {parent}{guess}"
    add = message.rpartition(" use ")[2] if "To append" in message else f"+{key}=..."
    guess = close(name, known, f"{parent}." if parent else "") or (
        f"; expected one of {', '.join(known)}" if known else f"; {parent or 'the config'} has no keys yet"
    )
    return f"{key} is not a key of {parent or 'the config'}{guess}; to add a new key, write {add}"


GRID_SETTINGS = ("max_batch_size", "params")  # Hydra's BasicSweeper.__init__, and so conf/hydra/sweeper/embedlab_grid


def not_this_sweepers_setting(key: str, known: list[str]) -> str:
    """`hydra.sweeper.n_trials=30` without `hparams_search=`: the grid sweeper, which has no such setting, is the
    one chosen; Hydra's advice to add it with `+` ends in the grid sweeper's TypeError."""
    from embedlab.schema import options_of
    from embedlab.schema.groups import SWEEPER

    name = re.split(r"[./]", key)[-1]
    if name not in SWEEPER:
        return (
            f"{key} is not a setting of this command's sweeper; expected one of {', '.join(known)}"
            f"{close(name, [*known, *SWEEPER], 'hydra.sweeper.')}"
        )
    return (
        f"{key} is a setting of the Optuna sweeper, but this command's sweeper is the grid (its settings: "
        f"{', '.join(known)}); expected -m hparams_search=<preset> ({', '.join(options_of('hparams_search'))}) "
        "with it, which selects the Optuna sweeper"
    )


def unreadable_override(exc: OverrideParseException, message: str) -> str:
    """Hydra's grammar: a character it reads as syntax (`~ [ ] ' $ ...`), named with its place."""
    caret = [line for line in message.splitlines() if line.strip() == "^"]
    at = ""
    if caret and message.startswith("LexerNoViableAltException: "):
        index = len(caret[0]) - 1 - len("LexerNoViableAltException: ")
        at = f" at character {index + 1} ({exc.override[index : index + 1]!r})"
    key = exc.override.split("=", 1)[0]
    detail = message.splitlines()[0].removeprefix("LexerNoViableAltException: ")
    detail = "" if detail == exc.override or detail.startswith("Error parsing override") else f" ({detail})"
    return (
        f"{exc.override} is not an override Hydra can read{at}{detail}; expected key=value, with a value "
        f"that holds special characters quoted: {key}='...' (https://hydra.cc/docs/1.2/advanced/override_grammar/basic)"
    )


def close(name: str, known: list[str], prefix: str = "") -> str:
    """`; did you mean <prefix><the closest>?`, or nothing when no known name is close."""
    match = closest(name, known)
    return f"; did you mean {prefix}{match}?" if match else ""
