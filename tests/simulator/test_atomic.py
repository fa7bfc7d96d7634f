"""Locked, crash-safe writes: lock, swap, fsync order, leftovers, recovery, refusal, a kill at every hook."""

import errno
import json
import os
import signal
import subprocess
import sys

import pytest
from pmsim.simulator import atomic
from pmsim.simulator.atomic import HOOKS, atomic_dir, atomic_path, leftovers, recover, write_text
from pmsim.simulator.errors import RunError
from pmsim.simulator.results import MARKER, check_run_target, is_run_folder

from tests.reliability.harness import pmsim_env

NAMES = ("a.json", "b.parquet", "c.txt")


def write_version(target, version):
    """A folder whose every file says ``version`` (so a mix of two versions is visible)."""
    with atomic_dir(target) as tmp:
        for name in NAMES:
            (tmp / name).write_text(version * 500)


def version_of(target):
    """The one version every file of ``target`` holds; fails on a missing file, an extra file or a mix."""
    assert sorted(p.name for p in target.iterdir()) == sorted(NAMES)
    versions = {(target / name).read_text()[:3] for name in NAMES}
    assert len(versions) == 1, versions
    (version,) = versions
    assert (target / NAMES[0]).read_text() == version * 500
    return version


def use(swap, monkeypatch):
    """Run with Linux renameat2 (``exchange``) or with the two renames used where it is missing."""
    if swap == "fallback":
        monkeypatch.setattr(atomic, "_renameat2", None)
    elif atomic._renameat2 is None:
        pytest.skip("no renameat2 in this libc")


@pytest.fixture(params=["exchange", "fallback"])
def mode(request, monkeypatch):
    use(request.param, monkeypatch)
    return request.param


def test_renameat2_exchanges_two_folders_on_the_test_filesystem(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    (tmp_path / "b" / "x").write_text("b")
    if not atomic.rename2(tmp_path / "a", tmp_path / "b", atomic.RENAME_EXCHANGE):
        pytest.skip("this filesystem cannot exchange; the fallback swap is used")
    assert (tmp_path / "a" / "x").read_text() == "b" and (tmp_path / "b" / "x").read_text() == "a"


def test_replaces_whole_folder_and_leaves_nothing_beside_it(tmp_path, mode):
    target = tmp_path / "run"
    write_version(target, "old")
    write_version(target, "new")
    assert version_of(target) == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporaries, no lock file


def test_second_writer_fails_at_once_with_one_locked_line(tmp_path):
    target = tmp_path / "run"
    write_version(target, "old")
    with atomic._locked(target.absolute()):  # another writer holds the lock (own open file: flock conflicts)
        with pytest.raises(RunError, match="locked by another pmsim writer") as info:
            write_version(target, "new")
        assert str(target) in str(info.value) and "\n" not in str(info.value)
        assert (tmp_path / ".run.pmsim-lock").exists()
    assert version_of(target) == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_files_are_fsynced_before_the_swap_and_the_parent_after(tmp_path, monkeypatch, mode):
    target = tmp_path / "run"
    write_version(target, "old")
    calls = []
    fsync, rename2 = atomic._fsync, atomic.rename2
    monkeypatch.setattr(atomic, "_fsync", lambda path: calls.append(("fsync", str(path))) or fsync(path))
    monkeypatch.setattr(atomic, "rename2", lambda a, b, f: calls.append(("swap", str(b))) or rename2(a, b, f))
    monkeypatch.setattr(os, "rename", lambda a, b: calls.append(("swap", str(b))) or os.replace(a, b))
    write_version(target, "new")
    swap = next(i for i, call in enumerate(calls) if call == ("swap", str(target)))
    synced = {os.path.basename(path) for kind, path in calls[:swap] if kind == "fsync"}
    assert set(NAMES) <= synced  # every file of the new folder ...
    assert any(name.startswith(".run.pmsim-") for name in synced)  # ... and the folder itself
    assert ("fsync", str(tmp_path)) in calls[swap:]  # the parent, after the rename
    assert version_of(target) == "new"


def test_a_failing_write_keeps_the_old_folder_and_leaves_no_temporaries(tmp_path, mode):
    target = tmp_path / "run"
    write_version(target, "old")
    with (
        pytest.raises(RunError, match="cannot write .*run: No space left on device") as info,
        atomic_dir(target) as tmp,
    ):
        (tmp / "a.json").write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert "\n" not in str(info.value)
    assert version_of(target) == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_file_where_a_folder_must_go_is_one_line(tmp_path):
    (tmp_path / "blocker").write_text("mine")
    with pytest.raises(RunError, match="blocker is a file, not a folder"):
        write_text(tmp_path / "blocker" / "sub" / "r.html", "x")
    assert (tmp_path / "blocker").read_text() == "mine"


def test_leftovers_of_killed_writers_are_cleaned_and_only_they(tmp_path):
    target = tmp_path / "run"
    write_version(target, "old")
    ours = [".run.pmsim-abcd1234.tmp", ".run.pmsim-zz_99xyz.old"]
    others = [".run.pmsim-abc.tmp", ".run.x.pmsim-abcd1234.tmp", ".runs.pmsim-abcd1234.tmp", "run.tmp"]
    for name in ours[:1] + others[:2]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_text("x")
    for name in ours[1:] + others[2:]:
        (tmp_path / name).write_text("x")
    (tmp_path / ".run.pmsim-lock").write_text("")  # a dead writer's lock file
    assert [p.name for p in leftovers(target)] == ours
    write_version(target, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["run", *others])


def test_a_folder_lost_between_the_fallback_renames_is_restored(tmp_path):
    target = tmp_path / "run"
    write_version(target, "old")
    os.rename(target, tmp_path / ".run.pmsim-abcd1234.old")  # a writer killed after moving it away
    write_version(tmp_path / ".run.pmsim-efgh5678.tmp", "new")  # ... with its new folder complete
    recover(target)  # what a reader does
    assert version_of(target) == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_recover_leaves_a_folder_alone_while_its_writer_is_live(tmp_path):
    target = tmp_path / "run"
    (tmp_path / ".run.pmsim-abcd1234.old").mkdir()
    with atomic._locked(target):
        recover(target)
    assert not target.exists() and (tmp_path / ".run.pmsim-abcd1234.old").is_dir()


def test_file_writes_are_atomic_and_leave_ordinary_permissions(tmp_path):
    target = tmp_path / "r.html"
    write_text(target, "one")
    with pytest.raises(RunError), atomic_path(target) as tmp:
        tmp.write_text("two")
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))
    assert target.read_text() == "one"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~atomic._umask())
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def run_folder(path, **extra):
    path.mkdir()
    (path / MARKER).write_text(json.dumps({"kind": "run", "version": "0.1.0"}))
    for name, text in extra.items():
        (path / name).write_text(text)
    return path


def test_run_folders_are_recognised_by_marker_or_by_their_files(tmp_path):
    assert is_run_folder(run_folder(tmp_path / "marked"))
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for name in ("config.json", "summary.json", "series.parquet"):
        (legacy / name).write_text("{}")
    assert is_run_folder(legacy)
    (legacy / "series.parquet").unlink()
    assert not is_run_folder(legacy)
    assert not is_run_folder(run_folder(tmp_path / "bad", **{MARKER: "[1, 2]"}))
    assert not is_run_folder(run_folder(tmp_path / "other", **{MARKER: '{"kind": "cache"}'}))
    (tmp_path / "link").symlink_to(tmp_path / "marked")
    assert not is_run_folder(tmp_path / "link")


@pytest.mark.parametrize(
    ("make", "force", "message"),
    [
        (lambda p: p.write_text("mine"), True, "is not a pmsim run folder"),
        (lambda p: p.mkdir(), True, "is not a pmsim run folder"),
        (lambda p: run_folder(p), False, "pass --force"),
        (lambda p: run_folder(p, **{"notes.txt": "mine"}), True, "did not write (notes.txt)"),
    ],
)
def test_targets_pmsim_did_not_write_are_refused(tmp_path, make, force, message):
    target = tmp_path / "out"
    make(target)
    with pytest.raises(RunError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_run_target(target, force)


def test_a_run_target_inside_a_run_folder_is_refused(tmp_path):
    run = run_folder(tmp_path / "run")
    with pytest.raises(RunError, match="inside the run folder"):
        check_run_target(run / "deeper" / "out", force=True)
    check_run_target(run, force=True)  # the run folder itself may be replaced


def kill_at(target, version, hook, kind, mode):
    """Write ``version`` to ``target`` in a child process that SIGKILLs itself at ``hook``."""
    code = f"""
import sys
from pmsim.simulator import atomic
from tests.simulator.test_atomic import NAMES, write_version
if {mode == "fallback"}:
    atomic._renameat2 = None
if {kind == "dir"}:
    write_version(sys.argv[1], sys.argv[2])
else:
    atomic.write_text(sys.argv[1], sys.argv[2] * 500)
"""
    env = pmsim_env() | {atomic.HOOK_ENV: hook}
    return subprocess.run([sys.executable, "-c", code, str(target), version], env=env, capture_output=True)


def fires(hook, kind, mode):
    """Whether a write of ``kind`` over an existing target passes ``hook``."""
    if kind == "file":
        return hook not in ("moved-away", "removed")
    return hook != "moved-away" or mode == "fallback"


def test_the_exported_hooks_are_the_steps_of_a_folder_write_in_order(tmp_path, monkeypatch, mode):
    target = tmp_path / "run"
    write_version(target, "old")
    steps = []
    monkeypatch.setattr(atomic, "_hook", steps.append)
    write_version(target, "new")
    assert steps == [hook for hook in HOOKS if fires(hook, "dir", mode)]


@pytest.mark.parametrize(("kind", "swap"), [("dir", "exchange"), ("dir", "fallback"), ("file", "exchange")])
@pytest.mark.parametrize("hook", HOOKS)
def test_a_kill_at_any_hook_leaves_the_old_or_the_new_whole(tmp_path, monkeypatch, hook, kind, swap):
    use(swap, monkeypatch)
    target = tmp_path / "run"
    write = write_version if kind == "dir" else (lambda t, v: write_text(t, v * 500))
    read = version_of if kind == "dir" else (lambda t: t.read_text()[:3])
    write(target, "old")
    done = kill_at(target, "new", hook, kind, swap)
    assert done.returncode == (-signal.SIGKILL if fires(hook, kind, swap) else 0), done.stderr
    if hook == "moved-away" and swap == "fallback":
        assert not target.exists()  # the fallback's window: a reader or the next writer restores it
        recover(target)
    killed_before_swap = fires(hook, kind, swap) and HOOKS.index(hook) < HOOKS.index("swapped")
    assert read(target) == ("old" if killed_before_swap else "new")
    write(target, "nxt")
    assert read(target) == "nxt"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # the leftovers are gone
