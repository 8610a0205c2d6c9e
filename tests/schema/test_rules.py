"""The rules a value meets (embedlab.schema.rules) and the two that span keys (`check_fractions`, `check_window`):
each refusal is one line, `<key>=<value> <what is wrong>; expected <what the rule accepts>`."""

from __future__ import annotations

import pytest

from embedlab.errors import UserError
from embedlab.schema import check_config
from embedlab.schema.rules import Choice, Either, Flag, Items, Number, Text, did_you_mean


@pytest.mark.parametrize(
    ("rule", "value", "line"),
    [
        (Number(integer=True, ge=1), 0, "k=0 is out of range; expected an integer >= 1"),
        (Number(integer=True, ge=1), 1.5, "k=1.5 is not an integer; expected an integer >= 1"),
        (Number(integer=True, ge=1), True, "k=true is not an integer; expected an integer >= 1"),
        (Number(gt=0, le=1), float("inf"), "k=inf is not finite; expected a number in (0, 1]"),
        (Number(integer=True, gt=0, also=(-1,)), -2, "k=-2 is out of range; expected -1 or an integer > 0"),
        (Number(nullable=True, ge=0.5), "x", "k=x is not a number; expected null or a number >= 0.5"),
        (Choice(options=("a", "b")), "c", "k=c is unknown; expected one of a, b"),
        (Choice(options=("a",)), None, "k=null cannot be null; expected one of a"),
        (Flag(also=("auto",)), "maybe", "k=maybe is not true or false; expected true or false or auto"),
        (Text(), "", "k= is empty; expected a non-empty string"),
        (Items(item=Number(), length=3), [1, 2], "k=[1,2] has the wrong length; expected 3 items, each a number"),
        (Items(item=Number()), [1, "x"], "k[1]=x is not a number; expected a number"),
        (Either(rules=(Flag(), Text())), [1], "k=[1] is invalid; expected true or false or a non-empty string"),
    ],
)
def test_a_rule_refuses_in_one_line_saying_what_it_expects(rule, value, line):
    with pytest.raises(UserError) as error:
        rule("k", value)
    assert str(error.value) == line


@pytest.mark.parametrize(
    ("rule", "value"),
    [(Number(integer=True, also=(-1,), ge=1), -1), (Number(ge=0), 0), (Flag(also=("auto",)), "auto"), (Text(), 7)],
)
def test_a_rule_takes_what_it_says_it_expects(rule, value):
    rule("k", value)


def test_did_you_mean_names_the_close_key_or_lists_them_all():
    assert did_you_mean("batchsize", ["batch_size", "lr"], "training.") == "did you mean training.batch_size?"
    assert did_you_mean("zzz", ["batch_size", "lr"]) == "expected one of batch_size, lr"
    assert did_you_mean("FP32", ["auto", "fp32", "bf16", "fp16"], "hardware.precision=") == (
        "did you mean hardware.precision=fp32?"  # a value in capitals: its own name, not a look-alike
    )


def test_unknown_key_suggests_the_close_one(compose_config):
    with pytest.raises(
        UserError, match=r"training\.batchsize is not a key of training; did you mean training\.batch_size"
    ):
        check_config(compose_config("+training.batchsize=8"))


def test_choice_message_lists_the_options(compose_config):
    with pytest.raises(UserError) as error:
        check_config(compose_config("training.scheduler=cosine_annealing"))
    assert str(error.value).startswith(
        "training.scheduler=cosine_annealing is unknown; expected one of linear, cosine,"
    )


def test_fractions_without_validation_blame_the_fractions(compose_config):
    with pytest.raises(UserError, match=r"dataset\.fractions=\[0.9,0,0.1\] leaves no validation split"):
        check_config(compose_config("dataset.fractions=[0.9,0,0.1]"))


@pytest.mark.parametrize(
    ("fractions", "problem"),
    [
        ("[0.5,0.5]", r"dataset\.fractions=\[0.5,0.5\] is not three numbers"),
        ("[0.9,0.2,-0.1]", r"dataset\.fractions=\[0.9,0.2,-0.1\] holds a value that is not a number >= 0"),
        ("[0.8,0.1,0.2]", r"dataset\.fractions=\[0.8,0.1,0.2\] sums to 1.1"),
        ("[0,0.5,0.5]", r"dataset\.fractions=\[0,0.5,0.5\] leaves no train split"),
    ],
)
def test_fractions_are_checked_once_here(fractions, problem, compose_config):
    with pytest.raises(UserError, match=problem):
        check_config(compose_config(f"dataset.fractions={fractions}"))


def test_an_interpolation_that_cannot_be_resolved_names_its_key_and_value(compose_config):
    with pytest.raises(UserError) as error:
        check_config(compose_config("seed=${oc.env:EMBEDLAB_UNSET_SEED}"))
    assert str(error.value).startswith(
        "seed=${oc.env:EMBEDLAB_UNSET_SEED}: Environment variable 'EMBEDLAB_UNSET_SEED' not found; expected an "
        "interpolation that resolves"
    )


@pytest.mark.parametrize(
    ("setting", "problem", "where_it_is_read"),
    [
        (
            "dataset.use=eval",
            r"dataset\.use=eval is read only for dataset\.kind=retrieval .*kind=pairs",
            "dataset.kind=retrieval",
        ),
        ("dataset.use=train", r"dataset\.use=train is read only for dataset\.kind=retrieval", "dataset.kind=retrieval"),
        (
            "dataset.subset=pair",
            r"dataset\.subset=pair is read only for dataset\.hub .*no hub is set",
            "dataset.hub=a/b",
        ),
        ("dataset.hub_split=test", r"dataset\.hub_split=test is read only for dataset\.hub", "dataset.hub=a/b"),
        ("dataset.quoting=none", r"dataset\.quoting=none is read only for a \.csv or \.tsv file", "dataset.path=x.TSV"),
        (
            "dataset.columns.anchor=question",
            r"dataset\.columns\.anchor=question is not read for a BEIR folder",
            "dataset.kind=pairs",
        ),
    ],
)
def test_a_setting_the_datas_kind_or_source_does_not_read_is_one_line(
    setting, problem, where_it_is_read, compose_config
):
    """`use=eval` on a file of pairs trained anyway, `subset` without a hub, `quoting` on a .jsonl file and
    `columns` on a BEIR folder were ignored without a word; each is accepted where it is read."""
    kind = "dataset.kind=retrieval" if "columns" in setting else "dataset.kind=pairs"
    with pytest.raises(UserError, match=problem):
        check_config(compose_config("dataset=local", "dataset.path=x.jsonl", kind, setting))
    check_config(compose_config("dataset=local", "dataset.path=x.jsonl", kind, setting, where_it_is_read))


def test_train_on_validation_where_nothing_trains_is_one_line(compose_config):
    folder = ("dataset=local", "dataset.path=beir", "dataset.kind=retrieval", "dataset.train_on_validation=true")
    with pytest.raises(UserError, match=r"dataset\.train_on_validation=true is read only for data that trains"):
        check_config(compose_config(*folder, "dataset.use=eval"))
    check_config(compose_config(*folder, "dataset.use=train"))


@pytest.mark.parametrize(
    ("window", "problem"),
    [
        ("num_negatives=5 phase.range_min=2 phase.range_max=5", r"phase\.num_negatives=5 does not fit the window"),
        ("num_negatives=1 phase.range_min=5 phase.range_max=5", r"phase\.range_min=5 is not below phase\.range_max=5"),
    ],
)
def test_the_mining_window_holds_the_negatives(window, problem, compose_config):
    with pytest.raises(UserError, match=problem):
        check_config(compose_config("phase=hard_negatives", *f"phase.{window}".split()))
    check_config(
        compose_config("phase=hard_negatives", "phase.num_negatives=3", "phase.range_min=2", "phase.range_max=5")
    )


def test_a_chain_stages_mining_window_is_checked_too(compose_config):
    with pytest.raises(UserError, match=r"phase\.stages\.phase2\.phase\.num_negatives=30 does not fit the window"):
        check_config(compose_config("phase=two_phase", "phase.stages.phase2.phase.num_negatives=30"))


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            "++phase.stages.phase2.dataset.train_on_validaton=true",
            "phase.stages.phase2.dataset.train_on_validaton is not a key of phase.stages.phase2.dataset; did you "
            "mean phase.stages.phase2.dataset.train_on_validation?",
        ),
        (
            "++phase.stages.phase2.dataset.train_on_validation=maybe",
            "phase.stages.phase2.dataset.train_on_validation=maybe is not true or false",
        ),
        ("++phase.stages.phase2.dataset.quoting=none", "phase.stages.phase2.dataset.quoting=none is read only for"),
        (
            "++phase.stages.phase2.loss.scal=3",
            "phase.stages.phase2.loss.scal is not an argument of MultipleNegativesRankingLoss",
        ),
    ],
)
def test_a_chain_stages_dataset_and_loss_keys_meet_the_rules_of_the_option_they_override(
    override, line, compose_config
):
    """A stage's partial `dataset` or `loss` has no `_target_` of its own: its keys went unchecked, and phase 1
    trained before phase 2's data or loss failed on them (or ignored them)."""
    folder = ("experiment=retrieval", "dataset.path=beir")
    with pytest.raises(UserError) as error:
        check_config(compose_config(*folder, override))
    assert str(error.value).startswith(line) and "\n" not in str(error.value)
    check_config(compose_config(*folder, "++phase.stages.phase2.dataset.train_on_validation=true"))


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (  # the `+` form Hydra's own line suggests for a misspelt stage: a stage with no phase option
            "+phase.stages.phse2.phase.num_negatives=2",
            "phase.stages.phse2 has no phase option of its own (a stage made by +phase.stages.phse2.<key>=...?); "
            "did you mean phase.stages.phase2?; expected a key of a stage this chain has (phase1, phase2), or a new "
            "stage's phase chosen first with +phase@phase.stages.phse2.phase=<option> (one of contrastive, "
            "hard_negatives)",
        ),
        ("+phase.stages.phase3.training.epochs=2", "phase.stages.phase3 has no phase option of its own"),
        (
            "phase@phase.stages.phase2.phase=two_phase",
            "phase.stages.phase2.phase is a chain of stages itself; expected "
            "phase@phase.stages.phase2.phase=<option>, one of contrastive, hard_negatives",
        ),
        (
            "phase.stages.phase2.phase=hard_negatives",
            "phase.stages.phase2.phase=hard_negatives is not a config group; expected "
            "phase@phase.stages.phase2.phase=<option> or phase.stages.phase2.phase.<key>=...",
        ),
    ],
)
def test_a_chain_stage_without_a_phase_option_is_one_line(override, line, compose_config):
    """Such a stage was a KeyError or an AttributeError trace in the plan, after the stages before it were read."""
    with pytest.raises(UserError) as error:
        check_config(compose_config("experiment=physics_two_phase", override))
    assert str(error.value).startswith(line) and "\n" not in str(error.value)


def test_a_new_stage_with_its_phase_option_passes(compose_config):
    check_config(compose_config("phase=two_phase", "+phase@phase.stages.phase3.phase=contrastive"))


@pytest.mark.parametrize(
    "override",
    [
        "++phase.stages.phase2.tracking.uri=sqlite:////tmp/other.db",
        "++phase.stages.phase2.tracking.experiment=other",
        "++phase.stages.phase1.resume=true",
    ],
)
def test_what_a_chain_has_once_is_refused_for_one_stage(override, compose_config):
    """A stage in another store or experiment would nest under a parent run that is not there, and the chain sets a
    stage's `resume` itself: phase 1 trained before the first failed, and the last was silently replaced."""
    key = override.removeprefix("++").split("=")[0]
    with pytest.raises(UserError) as error:
        check_config(compose_config("experiment=physics_two_phase", override))
    assert str(error.value).startswith(f"{key}=") and "sets one stage apart" in str(error.value)


def test_a_stage_may_still_set_its_own_tracking_tags_and_registration(compose_config):
    check_config(
        compose_config(
            "experiment=physics_two_phase",
            "++phase.stages.phase1.tracking.register=true",
            "++phase.stages.phase2.tracking.tags={team: search}",
        )
    )
