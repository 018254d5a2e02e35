"""Untrusted plugin code, crashed workers, killed drivers, concurrent runs and foreign files (issue 17)."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pandas as pd
import pytest

from nas_harness import registry
from nas_harness.cli import main
from nas_harness.hookspecs import hookimpl
from nas_harness.registry import Registry
from nas_harness.run.executors import ProcessExecutor
from nas_harness.run.store import APPLICATION_ID, Store, StoreError
from nas_harness.run.world import World
from nas_harness.track.publish import run_study
from tests.helpers import toy_plugin
from tests.helpers.entry_points import write_dist_info
from tests.helpers.faulty_plugin import FAULTY_PLUGINS
from tests.helpers.studies import toy_config

REPO = Path(__file__).resolve().parents[1]


def run(cfg, **kwargs):
    return run_study(cfg, world=World(cfg, plugin_modules=FAULTY_PLUGINS), progress=False, **kwargs)


def rows(cfg) -> pd.DataFrame:
    with sqlite3.connect(cfg.store_path) as conn:
        return pd.read_sql_query("SELECT * FROM results", conn)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path where tests 'install' plugins as dist-info entry points."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


# -- 1. BaseExceptions from plugin code ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "where"),
    [("SystemExit", "score"), ("GeneratorExit", "score"), ("PluginAbort", "score"),
     ("SystemExit", "prepare"), ("GeneratorExit", "prepare"), ("PluginAbort", "init")],
)  # fmt: skip
def test_a_base_exception_from_plugin_code_is_a_failed_row_and_resume_does_not_meet_it_again(tmp_path, kind, where):
    faulty = {"name": "faulty.raises", "options": {"kind": kind, "where": where}}
    cfg = toy_config(tmp_path, [faulty, {"name": "toy.good"}], sample_size=8)
    outcome = run(cfg, write_leaderboard=False)
    df = rows(cfg)
    bad = df[df.estimator == "faulty.raises"]
    assert len(bad) == 8 and (bad.status == "failed").all()
    assert bad.error.str.contains(f"{kind}: plugin gave up").all(), bad.error.tolist()
    assert (df[df.estimator == "toy.good"].status == "ok").all()
    assert outcome.failed == 8 and outcome.scored == 8
    again = run(cfg, write_leaderboard=False)
    assert again.skipped == 16 and again.scored == again.failed == 0


def test_a_searcher_calling_sys_exit_is_a_failed_search(tmp_path):
    cfg = toy_config(
        tmp_path, [{"name": "toy.good"}], sample_size=8, searchers=[{"name": "faulty.exit", "estimator": "toy.good"}]
    )
    run(cfg, write_leaderboard=False)
    store = Store(cfg.store_path)
    searches = store.searches_frame()
    store.close()
    assert list(searches.status) == ["failed"]
    assert "SystemExit: searcher gave up" in searches.error.iloc[0]


def _plugin(name, **hooks):
    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(module, hook, hookimpl(fn))
    return module


def test_plugins_that_exit_at_import_or_in_a_register_hook_are_reported_and_skipped(site):
    (site / "exits_on_import.py").write_text("raise SystemExit('cannot run here')\n")
    write_dist_info(site, "exits", "0.1", {"exits": "exits_on_import", "toy": "tests.helpers.toy_plugin"})

    def register_proxies(register):
        register("quits.half", dict)
        raise GeneratorExit("stop registering")

    reg = Registry(extra_plugins={"quits": _plugin("quits", nas_harness_register_proxies=register_proxies)})
    assert (
        reg.failures["exits"] == f"failed to import: SystemExit: cannot run here (at {site / 'exits_on_import.py'}:1)"
    )
    assert "nas_harness_register_proxies raised: GeneratorExit: stop registering" in reg.failures["quits"]
    assert "quits.half" not in reg.names("proxy")
    assert "toy.good" in reg.names("proxy") and "nb201" in reg.names("search_space")  # the others load


def test_cli_plugins_lists_a_plugin_that_exits_at_import(site):
    (site / "exits_on_import.py").write_text("import sys\nsys.exit(3)\n")
    write_dist_info(site, "exits", "0.1", {"exits": "exits_on_import"})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO)]))
    done = subprocess.run([sys.executable, "-m", "nas_harness.cli", "plugins"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "exits 0.1" in done.stdout and "ERROR: failed to import: SystemExit: 3" in done.stdout
    assert "search_space: nb201" in done.stdout


# -- 2. the time limit is not an Exception -----------------------------------------------------------
def test_a_proxy_catching_every_exception_still_times_out(tmp_path):
    cfg = toy_config(tmp_path, [{"name": "faulty.swallow", "options": {"cap_s": 3.0}}], sample_size=2, timeout_s=1)
    run(cfg, write_leaderboard=False)
    df = rows(cfg)
    assert (df.status == "timeout").all(), df[["status", "error"]]
    assert df.error.str.contains("time limit of 1 s").all()
    assert (df.wall_s < 2.5).all()


# -- 3. a dying worker costs only its own chunk ---------------------------------------------------------
def test_a_worker_that_kills_itself_fails_only_its_own_chunk(tmp_path):
    probe = toy_config(tmp_path / "probe", [{"name": "toy.good"}], sample_size=20)
    world = World(probe, plugin_modules=FAULTY_PLUGINS)
    first = world.space.to_str(world.sample(0)[0])
    crash = {"name": "toy.crash", "options": {"marker": str(tmp_path / "killed.txt"), "crash_on": first, "times": 99}}
    healthy = {"name": "toy.slow", "options": {"delay": 0.02}}
    cfg = toy_config(tmp_path, [crash, healthy], sample_size=20, chunk_size=2)
    run_study(
        cfg, world=World(cfg, plugin_modules=FAULTY_PLUGINS), executor=ProcessExecutor(2), progress=False,
        write_leaderboard=False,
    )  # fmt: skip
    df = rows(cfg)
    assert len(df) == 40
    slow = df[df.estimator == "toy.slow"]
    assert (slow.status == "ok").all(), slow[slow.status != "ok"].error.tolist()
    lost = df[df.status != "ok"]
    assert len(lost) == 2 and first in set(lost.arch), "only the chunk holding the crashing arch is lost"
    assert lost.error.str.contains("died 2 times while scoring this chunk (killed by SIGKILL)", regex=False).all()
    assert len((tmp_path / "killed.txt").read_text().split()) == 2  # the chunk was tried twice, nothing else


# -- 4. workers end with their driver --------------------------------------------------------------
DRIVER = """
import sys
from pathlib import Path
from nas_harness.run.executors import ProcessExecutor
from nas_harness.track.publish import run_study
from nas_harness.run.world import World
from tests.helpers.faulty_plugin import FAULTY_PLUGINS
from tests.helpers import toy_plugin
from tests.helpers.studies import toy_config
root = Path(sys.argv[1])
cfg = toy_config(root, [{"name": "faulty.pid", "options": {"folder": str(root / "pids"), "delay": 0.5}}],
                 sample_size=40, chunk_size=1)
run_study(cfg, world=World(cfg, plugin_modules=FAULTY_PLUGINS), executor=ProcessExecutor(2), progress=False)
"""


def _children() -> dict[int, int]:
    """pid -> parent pid of every process (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _descendants(pid: int) -> set[int]:
    parents = _children()
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        kids = {p for p, pp in parents.items() if pp == parent}
        found |= kids
        todo += kids
    return found


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes through /proc (Linux)")
def test_pool_workers_exit_when_the_driver_is_killed(tmp_path):
    (tmp_path / "pids").mkdir()
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path)], cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while len(list((tmp_path / "pids").iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = {int(p.name) for p in (tmp_path / "pids").iterdir()}
        assert len(workers) == 2, "both workers should be scoring"
        helpers = _descendants(driver.pid)  # the workers, the forkserver and the resource tracker
        assert workers <= helpers
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    deadline = time.monotonic() + 10
    while any(map(_running, helpers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = sorted(p for p in helpers if _running(p))
    for pid in alive:  # do not leave them behind when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"processes of the killed driver still running: {alive}"


# -- 5. one live run per output -------------------------------------------------------------------------
HOLDER = """
import sys
from nas_harness.run.store import Store
store = Store(sys.argv[1], exclusive=True)
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_second_run_on_a_live_runs_output_is_refused_naming_the_holder(tmp_path, capsys, monkeypatch):
    cfg = toy_config(tmp_path, [{"name": "toy.good"}], sample_size=8)
    monkeypatch.setattr(registry, "_default", Registry(extra_plugins={"toy": toy_plugin}))  # for the CLI's resume
    run(cfg, write_leaderboard=False)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, cfg.store_path],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError, match=f"in use by another run \\(pid {holder.pid},"):
            run(cfg, write_leaderboard=False)
        assert main(["resume", cfg.output, "--no-progress"]) == 2
        assert f"pid {holder.pid}" in capsys.readouterr().err
    finally:
        holder.communicate("")
    assert run(cfg, write_leaderboard=False).skipped == 8  # the lock went with the holder


def test_a_run_left_running_by_a_killed_driver_becomes_interrupted(tmp_path):
    cfg = toy_config(tmp_path, [{"name": "toy.good"}], sample_size=8)
    run(cfg, write_leaderboard=False)
    store = Store(cfg.store_path)
    store.start_run({"note": "its driver was killed"})  # never ended
    store.close()
    run(cfg, write_leaderboard=False)
    store = Store(cfg.store_path)
    assert [r["status"] for r in store.runs()] == ["finished", "interrupted", "finished"]
    store.close()


# -- 6. foreign SQLite files ----------------------------------------------------------------------------
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("pragma", ["", "PRAGMA application_id = 42;"], ids=["tables", "application-id"])
def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path, capsys, pragma):
    path = tmp_path / "results.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(f"{pragma} CREATE TABLE invoices (id INTEGER, total REAL);")
    conn.close()
    before = _digest(path)
    with pytest.raises(StoreError, match=f"{path} is a SQLite database of another application"):
        Store(path)
    assert main(["leaderboard", str(tmp_path)]) == 2
    assert f"{path} is a SQLite database of another application" in capsys.readouterr().err
    assert main(["resume", str(tmp_path), "--no-progress"]) == 2
    assert _digest(path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["results.sqlite"]


def test_new_stores_carry_the_application_id_and_older_stores_still_open(tmp_path):
    cfg = toy_config(tmp_path, [{"name": "toy.good"}], sample_size=8)
    run(cfg, write_leaderboard=False)
    with sqlite3.connect(cfg.store_path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        conn.execute("PRAGMA application_id = 0")  # as a store written before the id existed
    conn.close()
    assert run(cfg, write_leaderboard=False).skipped == 8
    with sqlite3.connect(cfg.store_path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID  # stamped on open
    conn.close()


# -- 7. built-in plugins and the allow-list ---------------------------------------------------------------
def test_the_allow_list_selects_third_party_plugins_and_built_ins_always_load(site, monkeypatch):
    write_dist_info(site, "toy-plugin", "1.0", {"toy": "tests.helpers.toy_plugin"})
    monkeypatch.setenv("NAS_HARNESS_PLUGINS", "baselines")
    reg = Registry()
    assert {"harness", "baselines", "tenas", "spos", "mixpath"} <= set(reg.plugins) and "toy" not in reg.plugins
    assert reg.get("benchmark", "nb201.digits").plugin == "harness"
    monkeypatch.setenv("NAS_HARNESS_BLOCK_PLUGINS", "harness,baselines")
    reg = Registry()
    assert "harness" in reg.plugins and "baselines" not in reg.plugins  # the core cannot be blocked


@pytest.mark.parametrize("plugin", ["aaa", "zzz"])  # before and after 'baselines' in name order
def test_a_third_party_plugin_cannot_take_a_built_in_name(site, plugin):
    (site / f"{plugin}_thief.py").write_text(
        textwrap.dedent("""
            from nas_harness.hookspecs import hookimpl

            @hookimpl
            def nas_harness_register_proxies(register):
                register("baselines.params", dict)
                register("thief.own", dict)
        """)
    )
    write_dist_info(site, f"{plugin}-dist", "1.0", {plugin: f"{plugin}_thief"})
    reg = Registry()
    assert reg.get("proxy", "baselines.params").plugin == "baselines"
    assert "proxy name 'baselines.params' belongs to built-in plugin 'baselines'" in reg.failures[plugin]
    assert reg.get("proxy", "thief.own").plugin == plugin and "baselines" not in reg.failures
