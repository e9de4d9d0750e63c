"""The chapters' distributed scripts under torchrun: 2 CPU processes with gloo, as in CI.

The scripts are taken from the notebooks' ``%%writefile`` cells, so the tests run exactly what
the chapters teach.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.data import generate as datagen
from helpers.training import distributed
from helpers.training import trainer as train

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"


def script_from(notebook: str, name: str, folder: Path) -> Path:
    """Writes the ``%%writefile work/<name>`` cell of a chapter to ``folder/<name>``."""
    cells = json.loads((CHAPTERS / notebook).read_text())["cells"]
    for cell in cells:
        source = "".join(cell["source"])
        if source.startswith(f"%%writefile work/{name}"):
            path = folder / name
            path.write_text(source.split("\n", 1)[1])
            return path
    raise AssertionError(f"no %%writefile work/{name} cell in {notebook}")


def torchrun_command(script: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc_per_node=2", str(script), *args]  # fmt: skip


@pytest.fixture(scope="module")
def file_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp_data")
    datagen.generate_dataset(out, shards=3, options_per_shard=256, paths=64, seed=5, workers=1,
                     n_steps=20, progress=False)  # fmt: skip
    return out


def kill_all_running(script: Path) -> int:
    """SIGKILLs every process whose command line names ``script`` (torchrun and its workers,
    which torchrun starts in sessions of their own); returns how many were killed."""
    killed = 0
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if proc.name.isdigit() and str(script) in cmdline:
                os.kill(int(proc.name), signal.SIGKILL)
                killed += 1
        except (OSError, ValueError):  # a process that ended meanwhile, or not a process
            continue
    return killed


def test_streaming_script_trains_on_two_gloo_processes_with_different_data(tmp_path):
    script = script_from("05_multi_gpu_scripts.ipynb", "ddp_streaming.py", tmp_path)
    args = ["--items", "3", "--batch", "32", "--paths", "16", "--hidden", "16", "--epochs", "2"]
    done = distributed.torchrun(str(script), 2, args)
    strikes = re.findall(r"rank (\d)/2 on cpu \(gloo\): first option's strike (\S+)", done.stdout)
    assert len(strikes) == 2 and strikes[0][1] != strikes[1][1]
    assert done.stdout.count("epoch ") == 2 and "done: 6 steps" in done.stdout


def files_args(data: Path, checkpoints: Path, epochs: int) -> list[str]:
    return ["--data", str(data), "--checkpoints", str(checkpoints), "--epochs", str(epochs),
            "--batch", "32", "--hidden", "16", "--log-all-ranks"]  # fmt: skip


def final_maes(stdout: str) -> dict[int, str]:
    """Each rank's final validation MAE, as ``--log-all-ranks`` prints it (full repr)."""
    return {int(r): mae for r, mae in re.findall(r"rank (\d) final val_mae (\S+)$", stdout, re.M)}


@pytest.fixture(scope="module")
def files_script(tmp_path_factory) -> Path:
    return script_from("06_datasets_on_disk.ipynb", "ddp_files.py", tmp_path_factory.mktemp("s"))


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory, file_dataset, files_script):
    """Two epochs, then a second run resumed from their checkpoint up to epoch 3."""
    checkpoints = tmp_path_factory.mktemp("resumed") / "checkpoints"
    first = distributed.torchrun(str(files_script), 2, files_args(file_dataset, checkpoints, 2))
    listing = sorted(p.name for p in checkpoints.glob("*.pt"))
    resume = ["--resume", str(checkpoints / "last_checkpoint_2.pt")]
    second = distributed.torchrun(
        str(files_script), 2, files_args(file_dataset, checkpoints, 3) + resume
    )
    return first, listing, second, checkpoints


def test_files_script_saves_checkpoints_and_resumes_from_them(resumed_run):
    first, listing, second, checkpoints = resumed_run
    assert first.stdout.count("validation MAE") == 2 and first.stdout.count(" MSE ") == 2
    assert "last_checkpoint_2.pt" in listing
    assert len([name for name in listing if name.startswith("best_model_")]) == 1
    assert "resumed from" in second.stdout and "at epoch 2" in second.stdout
    assert re.findall(r"^epoch (\d+):", second.stdout, re.M) == ["3"]
    assert sorted(p.name for p in checkpoints.glob("last_*")) == ["last_checkpoint_3.pt"]


def test_files_script_ranks_agree_on_the_all_reduced_validation_mae(resumed_run):
    for run in resumed_run[0], resumed_run[2]:
        maes = final_maes(run.stdout)
        assert sorted(maes) == [0, 1]  # each rank computed its own, over its share of the rows
        assert maes[0] == maes[1] and float(maes[0]) > 0


def test_files_script_resumed_run_ends_where_an_uninterrupted_run_does(
    resumed_run, file_dataset, files_script, tmp_path
):
    first, _, second, _ = resumed_run
    straight = distributed.torchrun(
        str(files_script), 2, files_args(file_dataset, tmp_path / "checkpoints", 3)
    )
    epochs = re.findall(r"^(epoch \d+: .*), best", straight.stdout, re.M)  # MAE and MSE
    assert epochs[:2] == re.findall(r"^(epoch \d+: .*), best", first.stdout, re.M)
    assert final_maes(straight.stdout) == final_maes(second.stdout)  # same batches, same steps


def test_files_script_killed_with_sigkill_resumes_from_its_last_checkpoint(tmp_path, file_dataset):
    script = script_from("06_datasets_on_disk.ipynb", "ddp_files.py", tmp_path)  # its own copy
    checkpoints = tmp_path / "checkpoints"
    log = open(tmp_path / "killed.log", "w")
    command = torchrun_command(script, *files_args(file_dataset, checkpoints, 10_000))
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               env=os.environ | {"PYTHONUNBUFFERED": "1"})  # fmt: skip
    deadline = time.monotonic() + 180
    while not list(checkpoints.glob("last_checkpoint_*.pt")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # let a few more epochs run, so the kill lands mid-training
    assert kill_all_running(script) >= 3  # torchrun and its two workers
    process.wait()
    log.close()
    saved = list(checkpoints.glob("last_checkpoint_*.pt"))
    # one, or two when the kill fell between writing the next and deleting the previous one
    assert 1 <= len(saved) <= 2, "a complete last checkpoint survives the kill"
    latest = train.latest_checkpoint(checkpoints)
    epoch = int(latest.stem.rsplit("_", 1)[1])
    assert epoch == max(int(p.stem.rsplit("_", 1)[1]) for p in saved)
    resume = ["--resume", str(latest)]
    resumed = distributed.torchrun(
        str(script), 2, files_args(file_dataset, checkpoints, epoch + 1) + resume
    )
    assert f"at epoch {epoch}," in resumed.stdout
    assert re.findall(r"^epoch (\d+):", resumed.stdout, re.M) == [str(epoch + 1)]
    assert (checkpoints / f"last_checkpoint_{epoch + 1}.pt").exists()
