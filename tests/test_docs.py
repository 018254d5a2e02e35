"""The README and docs/ stay true: their commands parse, their paths and links exist, every published figure names
the command, config or leaderboard it came from, and the README stays a front door."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from nas_harness.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
README_MAX_LINES = 250

FENCE = re.compile(r"^```")
HEADING = re.compile(r"^(#{1,6}) +(.*?) *#*$")
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
CONTROL = {"&&", "||", ";", "|", "&", "(", ")", ";;", "|&"}
REDIRECT = re.compile(r"^[<>]")
FD_BEFORE_REDIRECT = re.compile(r"(?<!\S)\d+(?=[<>])")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# pytest options whose value is the next token (anything else starting with "-" stands alone)
PYTEST_VALUE_OPTIONS = {"-m", "-k", "-p", "-c", "-o", "--maxfail", "--deselect", "--ignore", "--rootdir"}
# a Kendall-tau-like figure: a number with three or more decimals (0.565, -0.009, 0.4732), not 1e-8 or 8.7e-05
FIGURE = re.compile(r"(?<![\w.])-?\d+\.\d{3,}(?![\d.eE])")
CONFIG_REF = re.compile(r"(?<![\w/.-])(?:\.\./)*(configs/[\w.-]+\.toml)")
BOARD_REF = re.compile(r"(?<![\w/.-])(?:\.\./)*(leaderboards/[\w.*-]+)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
# a repository path in inline code: `harness/run/ray_executor.py`
CODE_PATH = re.compile(
    r"`((?:harness|plugins|scripts|tests|benchmarks|examples|configs|leaderboards|docs|\.ci)/[^`\s]*)`"
)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# -- reading Markdown ----------------------------------------------------------------------------------------------
def _prose_lines(text: str) -> list[tuple[bool, str]]:
    """(inside a fenced block?, line) for every line; the fence lines themselves count as inside."""
    out, inside = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            out.append((True, line))
            inside = not inside
            continue
        out.append((inside, line))
    return out


def sections(text: str) -> list[tuple[str, str]]:
    """(heading, text) per section: a heading of level 1 to 3 outside fenced blocks starts one (deeper headings stay
    in theirs); the heading line belongs to its section."""
    found: list[tuple[str, list[str]]] = [("(top)", [])]
    for inside, line in _prose_lines(text):
        match = None if inside else HEADING.match(line)
        if match and len(match.group(1)) <= 3:
            found.append((match.group(2), [line]))
        else:
            found[-1][1].append(line)
    return [(heading, "\n".join(lines)) for heading, lines in found]


def bash_commands(text: str) -> list[list[str]]:
    """Every simple command of every ```bash block, as argv lists (continuation lines joined, comments dropped,
    split at &&, ||, ;, |, &, leading VAR=value assignments and redirections removed)."""
    commands = []
    for block in BASH_BLOCK.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = FD_BEFORE_REDIRECT.sub("", line)  # 2>&1: the 2 is no argument
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            current: list[str] = []
            target = False
            for token in [*lexer, ";"]:
                if token in CONTROL:
                    while current and ASSIGNMENT.match(current[0]):
                        current.pop(0)
                    if current:
                        commands.append(current)
                    current, target = [], False
                elif target or REDIRECT.match(token):
                    target = not target  # a redirection and its target are no arguments
                else:
                    current.append(token)
    return commands


# -- the checks (each returns a list of problems, so that the negative tests can feed them bad snippets) -----------
def check_cli_command(argv: list[str]) -> list[str]:
    """A `nas-harness ...` command: parses with the CLI's own parser; its configs/ and leaderboards/ paths exist."""
    problems = []
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            build_parser().parse_args(argv[1:])
    except SystemExit as exc:  # argparse exits 2 on a usage error, 0 after --help or --version
        if exc.code not in (0, None):
            problems.append(f"{shlex.join(argv)!r} does not parse: {err.getvalue().strip().splitlines()[-1:]}")
    for token in argv[1:]:
        path = token.split("@", 1)[0]  # history.csv@latest~1 names history.csv
        if path.startswith(("configs/", "leaderboards/")) and not (ROOT / path).exists():
            problems.append(f"{shlex.join(argv)!r} names {path}, which does not exist")
    return problems


def check_pytest_command(argv: list[str]) -> list[str]:
    """A `python -m pytest ...` command: the paths it names exist."""
    problems, args, skip = [], argv[3:], False
    for token in args:
        if skip:
            skip = False
        elif token.startswith("-"):
            skip = token in PYTEST_VALUE_OPTIONS
        elif not (ROOT / token.split("::", 1)[0]).exists():
            problems.append(f"{shlex.join(argv)!r} names {token}, which does not exist")
    return problems


def check_commands(text: str) -> list[str]:
    problems = []
    for argv in bash_commands(text):
        if argv[0] == "nas-harness":
            problems += check_cli_command(argv)
        elif argv[0] in ("python", "python3") and argv[1:3] == ["-m", "pytest"]:
            problems += check_pytest_command(argv)
    return problems


def _existing_sources(section: str) -> list[str]:
    """What in a section says where its figures come from: a nas-harness command in a ```bash block, or an existing
    configs/<name>.toml, or an existing leaderboard folder leaderboards/<name>/ (a glob such as
    leaderboards/study-* counts when it matches one)."""
    found = [" ".join(argv) for argv in bash_commands(section) if argv[0] == "nas-harness"]
    found += [ref for ref in CONFIG_REF.findall(section) if (ROOT / ref).is_file()]
    found += [ref for ref in BOARD_REF.findall(section) if any(p.is_dir() for p in ROOT.glob(ref))]
    return found


def figures_without_source(text: str) -> list[str]:
    """Sections with a table row holding a Kendall-tau-like figure (three or more decimals) but no source."""
    problems = []
    for heading, body in sections(text):
        rows = [
            line
            for inside, line in _prose_lines(body)
            if not inside and line.lstrip().startswith("|") and FIGURE.search(line)
        ]
        if rows and not _existing_sources(body):
            problems.append(f"section {heading!r} has figures ({rows[0].strip()[:60]}...) but no command or source")
    return problems


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    anchors = set()
    for inside, line in _prose_lines(text):
        match = None if inside else HEADING.match(line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(2).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def broken_links(page: Path, text: str) -> list[str]:
    """Relative links (and their #anchors, into Markdown files) that do not resolve."""
    problems = []
    prose = "\n".join(line for inside, line in _prose_lines(text) if not inside)
    for groups in LINK.findall(prose):
        target = next(g for g in groups if g)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        path_part, _, anchor = target.partition("#")
        if not path_part:  # an anchor on this page
            if anchor not in _anchors(text):
                problems.append(f"{_rel(page)}: link {target!r}: no heading #{anchor} on this page")
            continue
        resolved = (page.parent / path_part).resolve()
        if not resolved.exists():
            problems.append(f"{_rel(page)}: link {target!r} does not resolve")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved.read_text(encoding="utf-8")):
            problems.append(f"{_rel(page)}: link {target!r}: no heading #{anchor} in {resolved.name}")
    return problems


def missing_code_paths(text: str) -> list[str]:
    """Repository paths named in inline code (`harness/run/ray_executor.py`) that do not exist; forms with
    placeholders (STUDY, {a,b}, *, <name>) are skipped."""
    problems = []
    for path in CODE_PATH.findall(text):
        path = re.split(r"::|@", path, maxsplit=1)[0]  # tests/x.py::test, history.csv@latest
        if re.search(r"[{}*<>]|(?:^|/)[A-Z][A-Z_-]+(?:/|$)", path):
            continue
        if not (ROOT / path).exists():
            problems.append(f"`{path}` does not exist")
    return problems


# -- the tests -----------------------------------------------------------------------------------------------------
def test_the_docs_folder_has_the_topics_the_readme_links():
    names = {p.name for p in DOCS}
    assert {"configs.md", "plugins.md", "studies.md", "deviations.md", "architecture.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_commands_parse_and_name_existing_paths(page):
    text = page.read_text(encoding="utf-8")
    assert check_commands(text) == []


def test_the_commands_are_found():
    """The checks above see the README's commands (so an empty result is not a parser that found nothing)."""
    commands = [c for page in PAGES for c in bash_commands(page.read_text(encoding="utf-8"))]
    assert ["nas-harness", "run", "quickstart"] in commands
    assert ["python", "-m", "pytest"] in commands
    assert sum(c[0] == "nas-harness" for c in commands) >= 20


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_figure_has_its_command_nearby(page):
    assert figures_without_source(page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_relative_links_resolve(page):
    assert broken_links(page, page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_paths_named_in_prose_exist(page):
    """Module paths follow the code when it moves (harness/run/ray_executor.py, not harness/executors_ray.py)."""
    assert missing_code_paths(page.read_text(encoding="utf-8")) == []


def test_path_check_flags_old_module_paths():
    text = "`harness/executors_ray.py`, `harness/run/ray_executor.py`, `leaderboards/STUDY/budget.csv`, `configs/{a,b}`"
    assert missing_code_paths(text) == ["`harness/executors_ray.py` does not exist"]


def test_readme_is_a_front_door():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


# -- the checks can fail -----------------------------------------------------------------------------------------
BAD_FIGURES = """# Page

## A study without its command

| estimator | Kendall tau |
|---|---|
| baselines.params | 0.583 [0.538, 0.626] |

## A study whose config is gone

`configs/no-such-study.toml` gave:

| estimator | Kendall tau |
|---|---|
| spos.supernet | 0.320 |

## A good one

```bash
nas-harness run configs/nb201-cifar10-spos.toml
```

| estimator | Kendall tau |
|---|---|
| spos.supernet | -0.009 |

## Only two decimals: not a tau figure

| what | figure |
|---|---|
| load | 0.13 s |
"""


def test_figure_check_flags_sections_without_a_source():
    problems = figures_without_source(BAD_FIGURES)
    assert len(problems) == 2
    assert "A study without its command" in problems[0] and "A study whose config is gone" in problems[1]


def test_figure_check_accepts_a_config_or_leaderboard_reference_and_ignores_code():
    assert figures_without_source("## S\n\nFrom `configs/nb201-cifar10-all.toml`:\n\n| x | 0.582 |\n") == []
    assert figures_without_source("## S\n\n[board](../leaderboards/nb201-cifar10-all/)\n\n| x | 0.582 |\n") == []
    assert figures_without_source("## S\n\n| x | 0.582 |\n\n### T\n\n`configs/nightly.toml`\n") != []
    assert figures_without_source("## S\n\n```text\n| x | 0.582 |\n# not a heading\n```\n") == []


def test_command_check_flags_bad_commands():
    text = """```bash
nas-harness run configs/quickstart-gone.toml
nas-harness run --no-such-flag
OMP_NUM_THREADS=1 nas-harness nonsense
nas-harness compare runs/a leaderboards/no-such-history.csv@latest
nas-harness run quickstart && nas-harness --version   # fine
python -m pytest tests/no_such_test.py -m "not realdata"
python -m pytest -k docs tests/test_docs.py::test_readme_is_a_front_door
```"""
    problems = check_commands(text)
    assert len(problems) == 5, problems
    assert "configs/quickstart-gone.toml" in problems[0]
    assert "--no-such-flag" in problems[1] and "nonsense" in problems[2]
    assert "leaderboards/no-such-history.csv" in problems[3] and "tests/no_such_test.py" in problems[4]


def test_bash_commands_split_like_a_shell():
    text = '```bash\nA=1 B=2 nas-harness run x --shard 0/2 &\ncd "$(mktemp -d)" && nas-harness plugins > o 2>&1\n```'
    assert bash_commands(text) == [
        ["nas-harness", "run", "x", "--shard", "0/2"],
        ["cd", "$(mktemp -d)"],
        ["nas-harness", "plugins"],
    ]


def test_link_check_flags_missing_files_and_anchors():
    page = ROOT / "docs" / "page.md"
    text = "[a](studies.md) [b](no-such.md) [c](studies.md#no-such-heading) [d](https://example.org) [e](#top) [f](#x)"
    problems = broken_links(page, "# Top\n\n" + text + "\n\n```\n[g](inside-code.md)\n```\n")
    assert len(problems) == 3, problems
    assert "no-such.md" in problems[0] and "#no-such-heading" in problems[1] and "#x" in problems[2]
