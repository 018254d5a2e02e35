"""Provenance: the git sha of the code that produced a result, and the machine it ran on."""

import platform
import subprocess

import torch

from nas_harness.provenance import cpu_model, git_sha, machine, provenance, recorded_cpu


def _git(repo, *args):
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True, capture_output=True
    )


def test_git_sha_marks_changed_code_dirty_but_not_rewritten_leaderboards(tmp_path):
    (tmp_path / "leaderboards").mkdir()
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "leaderboards" / "board.md").write_text("| a |\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "init")
    sha = git_sha(tmp_path)
    assert sha is not None and len(sha) == 40

    (tmp_path / "leaderboards" / "board.md").write_text("| b |\n")
    assert git_sha(tmp_path) == sha
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_sha(tmp_path) == f"{sha}-dirty"


def test_git_sha_outside_a_checkout_is_none(tmp_path):
    assert git_sha(tmp_path) is None


def test_cpu_model_comes_from_cpuinfo_else_from_platform(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: X\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n\n")
    assert cpu_model(cpuinfo) == "Intel(R) Xeon(R) CPU @ 2.20GHz"
    monkeypatch.setattr(platform, "processor", lambda: "arm")
    assert cpu_model(tmp_path / "missing") == "arm"
    cpuinfo.write_text("processor\t: 0\nBogoMIPS\t: 50.00\n")  # e.g. ARM: no model name
    assert cpu_model(cpuinfo) == "arm"


def test_provenance_records_what_makes_results_differ_between_machines(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    prov = provenance("abc", "cpu")
    facts = prov["machine"]
    assert facts["cpu"] == cpu_model() and facts["cpu"] in prov["device"] and recorded_cpu(prov) == facts["cpu"]
    assert facts["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert facts["torch_threads"] == torch.get_num_threads() >= 1
    assert facts["torch_interop_threads"] == torch.get_num_interop_threads() >= 1
    assert (facts["OMP_NUM_THREADS"], facts["MKL_NUM_THREADS"], facts["ONEDNN_MAX_CPU_ISA"]) == ("3", "unset", "AVX2")
    assert "ATEN_CPU_CAPABILITY" in facts
    assert facts["logical_cores"] >= 1 and "gpu" not in facts


def test_machine_names_the_gpu_when_cuda_is_used(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: f"NVIDIA H200 ({device})")
    facts = machine("cuda:0")
    assert facts["gpu"] == "NVIDIA H200 (cuda:0)" and "cuda" in facts
    assert recorded_cpu({}) == "" and recorded_cpu({"machine": {"cpu": "X"}}) == "X"
