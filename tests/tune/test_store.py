"""Atomic writes of the tuning's files when several workers write the same one."""

import json
import multiprocessing
import os
import socket
import subprocess
import sys

from mushin_nb.tune._store import write_atomically


def _write_many(path, who, n):
    for i in range(n):
        text = json.dumps({"who": who, "i": i})
        write_atomically(path, lambda tmp, text=text: tmp.write_text(text))


def test_two_processes_writing_one_file_never_break_each_others_writes(tmp_path):
    # workers write the next round's selection at the same moment; neither may remove the
    # other's temporary file before it is renamed
    path = tmp_path / "tune.json"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(path, w, 400)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert json.loads(path.read_text())["i"] == 399  # whole, and the last of a writer
    assert not [p.name for p in tmp_path.iterdir() if p.name != "tune.json"]


def test_only_a_gone_writers_temporary_file_is_removed(tmp_path):
    path = tmp_path / "tune.json"
    host = socket.gethostname()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        writing = tmp_path / f".tune.json.tmp-{host}-{live.pid}"
        left = tmp_path / f".tune.json.tmp-{host}-{dead.pid}"
        elsewhere = tmp_path / f".tune.json.tmp-other-host-{os.getpid()}"
        for p in (writing, left, elsewhere):
            p.write_text("{")
        write_atomically(path, lambda tmp: tmp.write_text("{}"))
        assert path.read_text() == "{}"
        assert writing.exists() and elsewhere.exists()  # still being written / not ours
        assert not left.exists()
    finally:
        live.kill()
        live.wait()
