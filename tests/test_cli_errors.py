"""The command lines as a user meets them (issue 31): datagen, pretrain, export and
helpers.localvol.market fail in one line with a non-zero exit code, never block the corrected
rerun, check sizes against memory before allocating, and document every option."""

from __future__ import annotations

import argparse
import json
import math
import os

import pytest

from helpers.core import cli
from helpers.core.config import DATA_DIR
from helpers.data import generate as datagen
from helpers.mc import cupy_backend

SETTINGS = dict(shards=2, options_per_shard=4, paths=16, seed=7, n_steps=8)
TINY = SETTINGS | {"progress": False}
TINY_ARGS = ["--shards", "2", "--options-per-shard", "4", "--paths", "16", "--seed", "7",
             "--steps", "8", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def scheduler():
    """An in-process Dask cluster shared by the module's tests (no worker processes to start)."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:  # fmt: skip
        yield cluster.scheduler_address


def run(main, argv, capsys):
    """Runs a command line's ``main`` in-process: ``(exit code, stdout, stderr)``."""
    try:
        main(argv)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


# -- a failed or interrupted run never blocks the corrected rerun ------------------------------


@pytest.mark.skipif(cupy_backend.is_usable(), reason="this machine has a usable GPU")
def test_a_gpu_backend_without_a_gpu_fails_before_writing_and_names_the_usable_ones(
    tmp_path, capsys
):
    out = tmp_path / "d"
    code, _, err = run(datagen.main, ["--out", str(out), *TINY_ARGS, "--backend", "cupy"], capsys)
    line = one_error_line(err)
    assert code == 1 and not out.exists()  # nothing written: no manifest to block the rerun
    assert "'numba'" in line and "'numpy'" in line and "'auto'" not in line


def test_a_run_that_finished_no_shard_does_not_block_the_corrected_rerun(tmp_path, scheduler):
    out = tmp_path / "d"
    failed = datagen.dataset_spec(**(SETTINGS | {"paths": 32, "backend": "numpy"}))
    out.mkdir()
    (out / datagen.MANIFEST).write_text(json.dumps({"spec": failed, "shards": []}))
    manifest = datagen.generate_dataset(out, scheduler=scheduler, **TINY)
    assert manifest["complete"] and manifest["spec"]["paths"] == 16
    assert len(list(out.glob("shard-*.parquet"))) == 2


def test_finished_shards_of_other_settings_are_refused_naming_each_setting(tmp_path, scheduler):
    out = tmp_path / "d"
    datagen.generate_dataset(out, scheduler=scheduler, sobol=True, **TINY)
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.parquet")}
    with pytest.raises(ValueError) as refused:  # sobol dropped: a setting absent from the new
        datagen.generate_dataset(out, scheduler=scheduler, **(TINY | {"paths": 32}))
    message = str(refused.value)
    assert "2 finished shard(s)" in message and "--restart" in message and str(out) in message
    assert "paths (--paths): 16 there, 32 asked" in message
    assert "sampling (--sobol): 'sobol' there, not set asked" in message
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.parquet")} == before
    redone = datagen.generate_dataset(out, scheduler=scheduler, restart=True, **TINY)
    assert redone["spec"]["paths"] == 16 and "sampling" not in redone["spec"]


def test_restart_on_the_command_line_says_what_it_deleted_and_keeps_other_files(
    tmp_path, scheduler, capsys
):
    out = tmp_path / "d"
    argv = ["--out", str(out), *TINY_ARGS, "--scheduler", scheduler]
    assert run(datagen.main, argv, capsys)[0] == 0
    (out / "checkpoints-0123456789ab").mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, err = run(datagen.main, [*argv[:-2], "--paths", "32", "--scheduler", scheduler],
                       capsys)  # fmt: skip
    assert code == 1 and "--restart" in one_error_line(err)
    code, out_text, err = run(datagen.main, [*argv, "--paths", "32", "--restart"], capsys)
    assert code == 0 and "2 shards, 8 options" in out_text
    assert "deleted 4 file(s)" in err and "checkpoints-0123456789ab/" in err
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / datagen.MANIFEST).read_text())["spec"]["paths"] == 32


def test_shards_without_a_manifest_are_refused_not_adopted(tmp_path, scheduler):
    out = tmp_path / "d"
    datagen.generate_dataset(out, scheduler=scheduler, **TINY)
    (out / datagen.MANIFEST).unlink()
    with pytest.raises(ValueError, match="2 shard\\(s\\) but no manifest.json.*--restart"):
        datagen.generate_dataset(out, scheduler=scheduler, **TINY)


def test_an_unreachable_scheduler_is_one_line_and_writes_no_manifest(tmp_path, capsys):
    out = tmp_path / "d"
    argv = ["--out", str(out), *TINY_ARGS, "--scheduler", "tcp://127.0.0.1:1",
            "--connect-timeout", "0.5"]  # fmt: skip
    code, _, err = run(datagen.main, argv, capsys)
    line = one_error_line(err)
    assert code == 1 and "tcp://127.0.0.1:1" in line and "0.5 s" in line
    assert not (out / datagen.MANIFEST).exists()
    code, _, err = run(datagen.main, [*argv[:-4], "--scheduler", "nonsense"], capsys)
    assert code == 1 and "not a Dask address" in one_error_line(err)


# -- sizes against memory, strict integers ------------------------------------------------------


def test_a_shard_too_big_for_memory_is_refused_before_anything_is_allocated(tmp_path, capsys):
    out = tmp_path / "d"
    argv = ["--out", str(out), *TINY_ARGS]
    argv[argv.index("--options-per-shard") + 1] = "4000000000"
    code, _, err = run(datagen.main, argv, capsys)
    line = one_error_line(err)
    assert code == 1 and not out.exists()
    assert "--options-per-shard" in line and "4000000000" in line
    assert "GiB of memory per shard" in line and "available" in line


def test_the_memory_check_counts_the_workers_and_the_numpy_backends_paths(monkeypatch):
    small = datagen.shard_bytes(1000, 16)
    assert datagen.shard_bytes(2000, 16) == 2 * small
    assert datagen.shard_bytes(1000, 16, backend="numpy") > small + 1000 * 16 * 32
    assert datagen.shard_bytes(1000, 16, greeks=True) > small
    monkeypatch.setattr(datagen, "available_memory", lambda: 3 * small)
    settings = SETTINGS | {"options_per_shard": 1000}
    assert datagen.dataset_spec(**settings, workers=2)["options_per_shard"] == 1000
    with pytest.raises(ValueError, match="x 4 workers at once.*fewer workers"):
        datagen.dataset_spec(**(settings | {"shards": 8}), workers=4)
    monkeypatch.setattr(datagen, "available_memory", lambda: None)  # unknown: not checked
    datagen.dataset_spec(**(settings | {"shards": 8}), workers=4)


@pytest.mark.parametrize("text", ["4e9", "4.0", "1e3", "four", "", "0x10", "nan"])
def test_counts_are_whole_numbers_written_in_digits(text, tmp_path, capsys):
    argv = ["--out", str(tmp_path / "d"), *TINY_ARGS]
    argv[argv.index("--options-per-shard") + 1] = text
    code, _, err = run(datagen.main, argv, capsys)
    line = one_error_line(err)
    assert code == 2 and "argument --options-per-shard" in line and "--help" in line
    if text in ("4e9", "4.0", "1e3"):
        assert f"write it in digits: {int(float(text))}" in line


def test_whole_and_real_number_types_check_their_ranges():
    count = cli.whole_number(1, 10)
    assert count("1_0") == 10 and count(" 3 ") == 3 and count("+4") == 4
    for bad in ("0", "11", "-1", "3.5", "1e1"):
        with pytest.raises(argparse.ArgumentTypeError):
            count(bad)
    rate = cli.real_number(0.0, 1.0, low_open=True)
    assert rate("1e-3") == 1e-3 and rate("1") == 1.0
    for bad in ("0", "-1", "1.5", "nan", "inf", "-inf", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            rate(bad)


def test_settings_a_shard_would_refuse_are_refused_before_the_folder_is_touched(tmp_path):
    out = tmp_path / "d"
    with pytest.raises(ValueError, match="greeks need n_steps \\(--steps\\) >= 16"):
        datagen.generate_dataset(out, greeks=True, **TINY)
    with pytest.raises(ValueError, match="control variates need paths >= 8"):
        datagen.generate_dataset(out, control=True, **(TINY | {"paths": 4}))
    with pytest.raises(ValueError, match="connect_timeout"):
        datagen.generate_dataset(out, connect_timeout=float("nan"), **TINY)
    with pytest.raises(ValueError, match="T must be"):
        datagen.generate_dataset(out, T=-1.0, **TINY)
    assert not out.exists()


# -- an --out that cannot be created: one line, everywhere ------------------------------------


def _commands():
    from helpers import export, pretrain
    from helpers.localvol import market

    return {
        "datagen": (datagen.main, TINY_ARGS),
        "export": (export.main, []),
        "localvol.market": (market.main, []),
        "pretrain testset": (pretrain.main, None),
    }


@pytest.mark.parametrize("name", ["datagen", "export", "localvol.market", "pretrain testset"])
def test_an_out_that_cannot_be_created_is_one_line(name, tmp_path, capsys):
    main, extra = _commands()[name]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out, reason in ((blocker / "sub", "Not a directory"), (blocker, "a file, not a folder")):
        argv = (["testset", "--out", str(out)] if extra is None
                else ["--out", str(out), *extra])  # fmt: skip
        code, _, err = run(main, argv, capsys)
        line = one_error_line(err)
        assert code == 1 and line.startswith(f"error: cannot create --out {out}: ")
        assert reason in line


# -- pretrain: commands described, defaults shown, --out independent of the working folder -----


def test_pretrain_without_a_command_names_the_commands(capsys):
    from helpers import pretrain

    code, _, err = run(pretrain.main, [], capsys)
    line = one_error_line(err)
    assert code == 2 and "testset, model or evaluate" in line and "what" not in line


def _options(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _options(sub)
        elif not isinstance(action, argparse._HelpAction):
            yield parser.prog, action


@pytest.mark.parametrize("command", ["datagen", "pretrain"])
def test_every_option_says_what_it_is_and_its_default(command):
    from helpers import pretrain

    parser = {"datagen": datagen._parser, "pretrain": pretrain._parser}[command]()
    for prog, action in _options(parser):
        text = action.help or ""
        assert len(text) > 15, (prog, action.option_strings)
        assert "default" in text or "(required)" in text, (prog, action.option_strings, text)


def test_pretrain_writes_to_the_repositorys_data_folder_from_any_working_folder(
    tmp_path, monkeypatch
):
    from helpers import pretrain

    monkeypatch.chdir(tmp_path)
    for command in (["testset"], ["evaluate"], ["model", "--data", "d"]):
        assert pretrain._parser().parse_args(command).out == DATA_DIR
    assert DATA_DIR.is_absolute()


def test_pretrain_model_refuses_bad_numbers_and_a_missing_dataset(tmp_path, capsys):
    from helpers import pretrain

    base = ["model", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]
    for extra in (["--epochs", "1e3"], ["--lr", "nan", "1e-6"], ["--weight", "-1"],
                  ["--batch", "0"], ["--extra-inputs", "spot"]):  # fmt: skip
        code, _, err = run(pretrain.main, base + extra, capsys)
        assert code == 2 and extra[0] in one_error_line(err)
    code, _, err = run(pretrain.main, base, capsys)
    assert code == 1 and "not a datagen dataset" in one_error_line(err)
    code, _, err = run(pretrain.main, [*base, "--extra-inputs", "barrier_distance"], capsys)
    assert code == 1 and "--kind homogeneous or residual" in one_error_line(err)


def test_pretrain_lists_the_networks_extra_inputs():
    from helpers import pretrain
    from helpers.networks.homogeneous import EXTRA_INPUTS

    assert pretrain.EXTRA_INPUT_NAMES == tuple(EXTRA_INPUTS)


def test_evaluate_without_a_model_is_one_line(tmp_path, capsys):
    from helpers import pretrain

    code, _, err = run(pretrain.main, ["evaluate", "--out", str(tmp_path)], capsys)
    assert code == 1 and "pricer.json" in one_error_line(err)


# -- printed JSON, interrupts -----------------------------------------------------------------


def test_printed_json_is_valid_json_even_with_nan(capsys):
    def strict(text):
        raise ValueError(f"not JSON: {text}")

    cli.print_json({"mae": math.nan, "rows": [1.0, math.inf, -math.inf], "n": 3})
    printed = json.loads(capsys.readouterr().out, parse_constant=strict)
    assert printed == {"mae": None, "rows": [1.0, None, None], "n": 3}


def test_an_interrupt_is_one_line_with_exit_code_130(capsys):
    with pytest.raises(SystemExit) as exit_:
        with cli.reported_failures("interrupted: the shards are kept"):
            raise KeyboardInterrupt
    assert exit_.value.code == 130
    assert one_error_line(capsys.readouterr().err) == "error: interrupted: the shards are kept"


def test_an_os_error_is_one_line_and_a_bug_keeps_its_traceback(capsys):
    with pytest.raises(SystemExit) as exit_:
        with cli.reported_failures():
            open(os.devnull + "/nothing")  # noqa: SIM115
    assert exit_.value.code == 1 and "/dev/null/nothing" in one_error_line(capsys.readouterr().err)
    with pytest.raises(ZeroDivisionError):
        with cli.reported_failures():
            1 / 0  # noqa: B018
