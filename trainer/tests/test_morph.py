"""trainer.morph: the proper-noun spans the ner-mask stage's `morph` source reads, with the real
Kiwi model (kiwipiepy + kiwipiepy_model from trainer/requirements.txt)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.morph import load_kiwi, proper_nouns

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def kiwi():
    return load_kiwi()


def texts_of(text, spans):
    return [text[s:e] for s, e, _ in spans]


@pytest.mark.parametrize(
    "text,names",
    [
        ("김철수는 서울에 갔다.", ["김철수", "서울"]),
        ("손흥민(23·토트넘) 선수가 1골을 넣었다.", ["손흥민", "토트넘"]),
        ("오늘은 비가 온다.", []),
    ],
)
def test_known_proper_nouns_come_back_as_spans(kiwi, text, names):
    spans = proper_nouns(kiwi, text)
    assert texts_of(text, spans) == names
    assert all(tag == "NNP" for _, _, tag in spans)


def test_offsets_count_code_points_so_an_emoji_is_one_character(kiwi):
    assert proper_nouns(kiwi, "😀 김철수") == [[2, 5, "NNP"]]


def test_touching_proper_nouns_form_one_span(kiwi):
    # Kiwi splits 뉴욕양키스 into 뉴욕 + 양키스; one entity should be one mask.
    assert texts_of("뉴욕양키스가 이겼다", proper_nouns(kiwi, "뉴욕양키스가 이겼다")) == ["뉴욕양키스"]


def test_jamo_laughter_tagged_as_a_proper_noun_is_dropped(kiwi):
    assert proper_nouns(kiwi, "ᄏᄏ 서울 좋다") == [[3, 5, "NNP"]]


def test_other_tags_can_be_asked_for(kiwi):
    assert texts_of("삼성SDS는 크다", proper_nouns(kiwi, "삼성SDS는 크다", ("NNP", "SL"))) == ["삼성SDS"]


def run_module(stdin, *args):
    return subprocess.run(
        [sys.executable, "-m", "trainer.morph", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_the_module_answers_one_line_per_input_line_in_order():
    lines = [{"text": "김철수는 서울에 갔다."}, {"text": "비가 온다"}, {"text": "부산에서 왔다"}]
    done = run_module("".join(json.dumps(l, ensure_ascii=False) + "\n" for l in lines))
    assert done.returncode == 0, done.stderr
    answers = [json.loads(l) for l in done.stdout.splitlines()]
    assert answers == [{"spans": [[0, 3, "NNP"], [5, 7, "NNP"]]}, {"spans": []}, {"spans": [[0, 2, "NNP"]]}]


def test_a_line_that_is_not_a_text_exits_2_naming_the_line():
    done = run_module('{"text": "서울"}\n{"sentence": "x"}\n')
    assert done.returncode == 2
    assert "input line 2" in done.stderr


def _gone(pid):
    """True once the process has exited (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_analyzer_dies_with_its_parent_so_a_killed_worker_leaves_no_orphan():
    import signal
    import time

    # The analyzer's stdin stays open after its parent dies (a `sleep` holds the pipe's write
    # end), so only the parent-death signal can end it.
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys, time\n"
            "r, w = os.pipe()\n"
            "holder = subprocess.Popen(['sleep', '60'], pass_fds=[w])\n"
            "child = subprocess.Popen([sys.executable, '-m', 'trainer.morph'], stdin=r)\n"
            "print(child.pid, holder.pid, flush=True)\n"
            "time.sleep(120)\n",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    child, holder = (int(pid) for pid in parent.stdout.readline().split())
    try:
        time.sleep(1.0)  # past its prctl call, which comes before the model loads
        assert not _gone(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.time() + 20
        while not _gone(child) and time.time() < deadline:
            time.sleep(0.1)
        assert _gone(child), f"trainer.morph {child} outlived its parent"
    finally:
        for pid in (child, holder):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
