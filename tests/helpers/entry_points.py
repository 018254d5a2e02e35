"""Make a plugin discoverable through the real entry-point machinery without pip.

importlib.metadata finds distributions by scanning ``sys.path`` for
``*.dist-info`` folders; writing one (METADATA + entry_points.txt) into a folder
on ``sys.path`` is exactly what an installed package looks like to it.
"""

from __future__ import annotations

from pathlib import Path


def write_dist_info(site: Path, dist: str, version: str, entry_points: dict[str, str]) -> Path:
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = ["[nas_harness]"] + [f"{name} = {module}" for name, module in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return info
