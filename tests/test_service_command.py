"""``python -m helpers.serve`` as a user meets it: ``--help`` that describes every option, and
one line on stderr with a non-zero exit, never a traceback, for a model folder that is not
there, a model that does not load, a port already taken or a bad value.

``main`` runs in this process: each of these fails before uvicorn starts. (The start-up lines,
the address chosen for ``--port 0`` and the engine with its reason, are read from a real server
process by ``tests/test_serve.py``'s SIGTERM test.)
"""

from __future__ import annotations

import json
import socket
from dataclasses import fields

import pytest

from helpers.inference.service import Settings
from helpers.inference.service.command import main
from helpers.inference.service.settings import env_name


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ended:
        main(argv)
    out, err = capsys.readouterr()
    return ended.value.code, out, err


def assert_one_line_error(err: str, *needles: str) -> None:
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


def test_help_says_what_every_option_is_its_default_and_its_unit(capsys):
    code, out, _ = run_main(["--help"], capsys)
    assert code == 0
    text = " ".join(out.split())  # argparse wraps lines
    for field in fields(Settings):
        flag = "--" + field.name.replace("_", "-")
        assert flag in text, flag
        described = text.split(flag, 2)[-1][:400]  # the option's own help, after its usage
        assert "(default " in described and env_name(field.name) in described, flag
    for unit in ("milliseconds", "TCP port", "a count >= 1", "pricer.json"):
        assert unit in text
    assert "(default 2.0; env PRICER_MAX_WAIT_MS)" in text


def test_a_missing_model_folder_is_one_line_and_exit_2(capsys, tmp_path):
    code, _, err = run_main(["--model", "/nonexistent"], capsys)
    assert code == 2
    assert_one_line_error(err, "--model /nonexistent", "no such folder")
    code, _, err = run_main(["--model", str(tmp_path)], capsys)
    assert code == 2
    assert_one_line_error(err, "holds no pricer.json")


def test_a_model_that_does_not_load_is_one_line_and_exit_1(capsys, tmp_path):
    (tmp_path / "pricer.json").write_text(json.dumps({"file": "pricer.pt", "sha256": "0"}))
    code, _, err = run_main(["--model", str(tmp_path), "--port", "0"], capsys)
    assert code == 1
    assert_one_line_error(err, "cannot load the model", "pricer.pt", "missing")


def test_a_port_already_taken_is_one_line_and_exit_1(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, _, err = run_main(["--port", str(port)], capsys)
    assert code == 1
    assert_one_line_error(err, f"cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--port", "99999"], "--port: 99999 is outside [0, 65535]"),
        (["--port", "eighty"], "--port: 'eighty' is not a whole number"),
        (["--queue-size", "1e3"], "write it in digits: 1000"),
        (["--engine", "tensorrt"], "engine must be one of"),
        (["--max-wait-ms", "nan"], "--max-wait-ms: 'nan' is not a finite number"),
        (["--deadline-ms", "0"], "--deadline-ms: 0 is not > 0"),
        (["--threads", "0"], "--threads: 0 is outside [1, inf]"),
        (["--unknown"], "unrecognized arguments"),
    ],
)
def test_a_bad_value_is_one_line_and_exit_2(capsys, argv, needle):
    code, _, err = run_main(argv, capsys)
    assert code == 2
    assert_one_line_error(err, needle)
    assert err.strip().endswith("(python -m helpers.serve --help lists the options)")
