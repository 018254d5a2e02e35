import subprocess
import sys
import types

import pytest

from nas_harness.hookspecs import hookimpl
from nas_harness.registry import PluginError, Registry
from tests.helpers.entry_points import write_dist_info


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path where tests 'install' plugins as dist-info entry points."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


def _plugin(name, **hooks):
    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(module, hook, hookimpl(fn))
    return module


def test_builtin_plugin_is_found_through_its_entry_point():
    reg = Registry()
    assert "harness" in reg.plugins
    assert reg.plugins["harness"].source == "entry point nas_harness.builtin"
    assert reg.get("search_space", "nb201").plugin == "harness"
    assert "random" in reg.names("searcher")


def test_third_party_entry_point_is_discovered(site):
    write_dist_info(site, "toy-plugin", "1.2.3", {"toy": "tests.helpers.toy_plugin"})
    reg = Registry()
    assert reg.plugins["toy"].version == "1.2.3"
    assert "toy.good" in reg.names("proxy")
    assert reg.get_estimator("toy.supernet").kind == "supernet"


def test_allow_and_block_lists_from_environment(site, monkeypatch):
    write_dist_info(site, "toy-plugin", "1.0", {"toy": "tests.helpers.toy_plugin"})
    monkeypatch.setenv("NAS_HARNESS_BLOCK_PLUGINS", "toy")
    assert "toy" not in Registry().plugins
    monkeypatch.delenv("NAS_HARNESS_BLOCK_PLUGINS")
    monkeypatch.setenv("NAS_HARNESS_PLUGINS", "toy")
    reg = Registry()
    assert "toy" in reg.plugins and all(info.builtin for name, info in reg.plugins.items() if name != "toy")
    assert reg.get("search_space", "nb201").plugin == "harness"  # built-in plugins load whatever the allow-list says


def test_plugin_that_fails_to_import_is_reported_and_skipped(site):
    (site / "broken_plugin.py").write_text("raise ImportError('needs a missing library')\n")
    write_dist_info(site, "broken", "0.1", {"broken": "broken_plugin", "toy": "tests.helpers.toy_plugin"})
    reg = Registry()
    assert "needs a missing library" in reg.failures["broken"]
    assert "failed to import" in reg.failures["broken"]
    assert "toy.good" in reg.names("proxy")  # the others still load
    with pytest.raises(PluginError, match="plugins that failed to load: broken"):
        reg.get("proxy", "broken.thing")


def test_plugin_whose_hook_raises_is_reported_and_its_partial_registrations_dropped():
    def register_proxies(register):
        register("half.done", object)
        raise RuntimeError("boom while registering")

    reg = Registry(
        load_entry_points=False, extra_plugins={"half": _plugin("half", nas_harness_register_proxies=register_proxies)}
    )
    assert "boom while registering" in reg.failures["half"]
    assert reg.names("proxy") == []


def test_duplicate_names_are_an_error_naming_both_plugins():
    def make(name):
        return _plugin(name, nas_harness_register_proxies=lambda register: register("shared.name", dict))

    reg = Registry(load_entry_points=False, extra_plugins={"first": make("first"), "second": make("second")})
    assert "duplicate proxy name 'shared.name' registered by plugins 'first' and 'second'" in reg.failures["second"]
    with pytest.raises(PluginError, match="'first' and 'second'"):
        reg.get("proxy", "shared.name")


def test_bad_registration_and_bad_options_name_the_problem():
    bad = _plugin("bad", nas_harness_register_proxies=lambda register: register("", 42))
    reg = Registry(load_entry_points=False, extra_plugins={"bad": bad})
    assert "expected a non-empty name and a callable factory" in reg.failures["bad"]
    good = _plugin("good", nas_harness_register_proxies=lambda register: register("g", lambda alpha=1: alpha))
    reg = Registry(load_entry_points=False, extra_plugins={"good": good})
    with pytest.raises(PluginError, match=r"rejected options \['beta'\]"):
        reg.create("proxy", "g", beta=2)


def test_cli_plugins_lists_versions_registrations_and_failures(site):
    (site / "broken_plugin.py").write_text("import not_a_module_anywhere\n")
    write_dist_info(site, "toy-plugin", "2.0", {"toy": "tests.helpers.toy_plugin", "broken": "broken_plugin"})
    import os

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), *sys.path]))
    out = subprocess.run(
        [sys.executable, "-m", "nas_harness.cli", "plugins"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert "toy 2.0" in out
    assert "proxy: toy.good" in out
    assert "broken" in out and "ERROR: failed to import: ModuleNotFoundError" in out
    assert "search_space: nb201" in out
