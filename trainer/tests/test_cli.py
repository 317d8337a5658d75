"""The real process: `python -m trainer train` as the TypeScript train stage spawns it."""

import json
import signal
import subprocess

from trainer.tests.support import demo_config, spawn, train_in_process


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def read_until_first_step(proc) -> list[dict]:
    events = []
    while not events or events[-1]["event"] != "step":  # phase, start, then the first step
        events.append(json.loads(proc.stdout.readline()))
    return events


def finish(proc) -> tuple[list[dict], str]:
    """The rest of stdout through the same reader (communicate() would skip what it buffered)."""
    rest = proc.stdout.read()
    stderr = proc.stderr.read()
    proc.wait(timeout=60)
    return events_of(rest), stderr


def test_a_bad_config_exits_2_with_one_error_event_and_nothing_else_on_stdout(tmp_path):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({**demo_config(tmp_path), "lerningRate": 1e-3}))
    proc = spawn("train", "--config", str(config))
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert events_of(stdout) == [
        {"event": "error", "kind": "config", "key": "lerningRate", "message": "unknown config key 'lerningRate'"}
    ]
    assert "lerningRate" in stderr


def test_sigterm_during_training_writes_a_checkpoint_and_exits_143_and_the_run_resumes_from_it(tmp_path):
    config = demo_config(tmp_path, mode="debiased", epochs=3, batchSize=2, checkpointEvery=0)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(config))
    # One thread, like this test process (conftest), so the resumed run can be compared exactly.
    proc = spawn("train", "--config", str(path), env={"OMP_NUM_THREADS": "1"})
    events = read_until_first_step(proc)
    proc.send_signal(signal.SIGTERM)
    rest, _ = finish(proc)
    events += rest
    assert proc.returncode == 128 + signal.SIGTERM
    checkpoint, stopped = events[-2], events[-1]
    last_step = [e for e in events if e["event"] == "step"][-1]["step"]
    assert last_step < 120, "the run stopped early"
    assert checkpoint == {
        "event": "checkpoint",
        "path": checkpoint["path"],
        "step": last_step,
        "epoch": checkpoint["epoch"],
    }
    assert stopped == {"event": "stopped", "signal": "SIGTERM", "step": last_step, "checkpoint": checkpoint["path"]}
    assert (tmp_path / "out" / "checkpoints" / f"step-{last_step}" / "trainer_state.pt").is_file()

    resumed = train_in_process(
        {**config, "outputDir": str(tmp_path / "resumed")}, tmp_path, resume=checkpoint["path"], name="resume.json"
    )
    assert resumed.code == 0, resumed.last
    assert resumed.of("step")[0]["step"] == last_step + 1
    uninterrupted = train_in_process({**config, "outputDir": str(tmp_path / "whole")}, tmp_path, name="whole.json")
    assert abs(uninterrupted.of("step")[-1]["loss"] - resumed.of("step")[-1]["loss"]) <= 1e-6


def test_with_watch_stdin_the_trainer_stops_when_its_parent_closes_stdin(tmp_path):
    # FAIRLINE_TRAINER_WATCH_STDIN=1 (trainer/lifeline.py): the TS stage holds stdin open and EOF
    # means the worker died. With the parent-death signal as well, two SIGTERMs may arrive: the
    # stop still checkpoints once and exits 143.
    config = demo_config(tmp_path, epochs=50, batchSize=2, checkpointEvery=0)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(config))
    proc = spawn("train", "--config", str(path), env={"FAIRLINE_TRAINER_WATCH_STDIN": "1"}, stdin=subprocess.PIPE)
    read_until_first_step(proc)
    proc.stdin.close()  # end-of-file, as when the worker dies
    rest, stderr = finish(proc)
    assert proc.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert [e["event"] for e in rest][-2:] == ["checkpoint", "stopped"], stderr[-3000:]
