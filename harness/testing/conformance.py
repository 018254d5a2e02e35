"""Conformance checks for plugin estimators and searchers, in the spirit of scikit-learn's ``check_estimator``.

Usage (in a plugin's own tests)::

    from nas_harness.testing import TINY_SUPERNET, check_estimator, check_searcher

    def test_my_proxy_conforms():
        check_estimator(MyProxy, {"width": 4})

    def test_my_supernet_conforms():  # small options keep a supernet's trainings to seconds
        check_estimator(MySupernet, {"preset": "cpu-small", **TINY_SUPERNET})

    def test_my_searcher_conforms():
        check_searcher(MySearcher, {"budget": 8})   # scores with OracleProxy unless given an estimator

Return value: each function returns a :class:`ConformanceReport` (one :class:`CheckResult` per named check:
passed, failed or skipped, with a message) when every check passed, and raises :class:`ConformanceError`
(an ``AssertionError``, so pytest shows it as a test failure) listing *every* failed check otherwise; each
line names the check, the class and what was expected against what it got. Pass
``raise_on_failure=False`` to get the report either way (``report.ok``, ``report.failed``, ``str(report)``).

What the checks run on: the factory (a class, or any callable taking the options as keywords, as
registered with the ``nas_harness_register_*`` hooks) is called with ``options``; ``context`` is a
:class:`~nas_harness.api.Context` (default :func:`~nas_harness.testing.tiny_context`: the NB201 space and
random 8x8 images), a callable returning one, or None. Every instance gets its own copy of it with fresh
temporary ``workdir`` and ``shared_workdir`` folders (removed afterwards), so a second instance trains its
supernet again rather than loading the first one's checkpoint. The architectures scored are ``archs``
(default: ``n_archs`` distinct, ordinary ones drawn from the context's candidates or space, see
:func:`~nas_harness.testing.tiny_archs`). The global random states (``random``, numpy, torch) are put back
as they were afterwards.

Estimator checks (:func:`check_estimator`):

* ``construct``: the factory returns a :class:`~nas_harness.api.Estimator` (else every other check but
  ``options`` is skipped);
* ``attributes``: ``name`` is a non-empty string and ``set_level`` a bool;
* ``direction``: ``direction`` is a :class:`~nas_harness.api.Direction` member (the harness multiplies
  scores by ``direction.sign``; it never takes ``abs()`` of a correlation, so a string or a bool is a bug);
* ``prepare``: ``prepare(ctx)`` returns without raising;
* ``scores``: each architecture gets a finite real number (``score``, or ``score_many`` for set-level
  estimators); an exception, NaN or non-number on a valid architecture of the context fails it;
* ``score_many``: ``score_many`` returns one score per architecture, equal to ``score``'s (set-level
  estimators: equal to their first ``score_many`` on the same set);
* ``picklable``: the options, a fresh instance and a prepared one survive ``pickle`` (no lambdas, locks,
  open files or generators held), and the prepared copy gives the same scores. The harness's own process
  and Ray executors pickle none of these: each worker rebuilds the estimator from the study config, so
  what crosses the process boundary is the options, architecture strings and float scores, and what they
  need of the estimator is ``deterministic`` below. Instance picklability is what any executor that ships
  instances (``multiprocessing`` pools, ``ray.put``, a cached prepared supernet) needs;
* ``failure_reporting``: scoring something that is not an architecture of any space raises an
  ``Exception`` with a message. Returning NaN instead (``except Exception: return nan``) loses the
  reason: the runner records a bare NaN as "estimator returned a non-finite score";
* ``deterministic``: a second fresh instance, prepared on a fresh copy of the context (same seed, data
  and space) after the global random generators were stirred, scores the architectures in reverse order
  (as another worker may) and gets the same scores (within ``rtol``); set-level estimators score the same
  set in the same order;
* ``options``: the factory called with an unknown option, and with each of ``bad_options`` (default:
  every positive integer in ``options`` set to -1), must refuse it. An unknown option must raise a
  :class:`~nas_harness.api.ConfigError` naming it, or the ``TypeError`` of a strict signature (which
  :meth:`~nas_harness.registry.Registry.create` reports naming the options); a bad value must raise a
  ``ConfigError`` naming its key. Refused only once the instance is used (an option passed on to
  ``space.build``) passes with a note: a study then fails every architecture instead of stopping before
  it starts. Accepted silently fails.

Searcher checks (:func:`check_searcher`; the estimator, default :class:`~nas_harness.testing.OracleProxy`,
is prepared once on the context, as the runner does before searching):

* ``construct``, ``attributes`` (``name``) and ``options`` as for estimators (an instance built with a
  refused option is used by searching with it);
* ``search``: ``search(estimator, ctx)`` returns a :class:`~nas_harness.api.SearchResult`;
* ``architectures``: ``best`` and every ``front`` member round-trip through ``to_str``/``parse`` of
  ``result.space`` (when set) or the context's space;
* ``budget``: ``evaluations`` is an int >= the number of distinct architectures (or paths) the searcher
  had the estimator score (counted on the instance), and both are <= ``max_evaluations`` (default: the
  ``budget`` option, when there is one);
* ``deterministic``: a second fresh instance on a fresh copy of the context returns the same ``best``,
  ``front`` and ``evaluations``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
import pickle
import random
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas_harness.api import (
    Arch,
    ConfigError,
    Context,
    Direction,
    Estimator,
    HarnessError,
    Searcher,
    SearchResult,
    SearchSpace,
)
from nas_harness.testing.fakes import OracleProxy
from nas_harness.testing.tiny import tiny_archs, tiny_context

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
#: the option no plugin has, passed to see that the factory refuses it
UNKNOWN_OPTION = "conformance_unknown_option"

ContextArg = Context | Callable[[], Context] | None


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one named check: ``status`` is ``"passed"``, ``"failed"`` or ``"skipped"``; ``message``
    says what was expected and what happened (a failure), why (skipped) or a note (passed)."""

    name: str
    status: str
    message: str = ""


@dataclass
class ConformanceReport:
    """Every check run on one estimator or searcher class, in order."""

    subject: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def passed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == PASSED]

    @property
    def skipped(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == SKIPPED]

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return not self.failed

    def __getitem__(self, name: str) -> CheckResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(f"no check named {name!r} in the report of {self.subject}")

    def __str__(self) -> str:
        head = f"{self.subject}: {len(self.passed)} passed, {len(self.failed)} failed, {len(self.skipped)} skipped"
        lines = [head] + [f"  [{r.status}] {r.name}" + (f": {r.message}" if r.message else "") for r in self.results]
        return "\n".join(lines)


class ConformanceError(AssertionError):
    """One or more conformance checks failed; the message lists each, ``report`` holds them all."""

    def __init__(self, report: ConformanceReport) -> None:
        self.report = report
        failed = report.failed
        lines = [f"{report.subject} failed {len(failed)} conformance check(s): {', '.join(r.name for r in failed)}"]
        lines += [f"  [{r.name}] {r.message}" for r in failed]
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[type[ConformanceError], tuple[ConformanceReport]]:
        return ConformanceError, (self.report,)  # pickles (pytest-xdist, multiprocessing) with its report


class _Recorder:
    def __init__(self, subject: str) -> None:
        self.report = ConformanceReport(subject)

    def passed(self, name: str, note: str = "") -> None:
        self.report.results.append(CheckResult(name, PASSED, note))

    def failed(self, name: str, message: str) -> None:
        self.report.results.append(CheckResult(name, FAILED, message))

    def skipped(self, name: str, why: str) -> None:
        self.report.results.append(CheckResult(name, SKIPPED, why))

    def finish(self, raise_on_failure: bool) -> ConformanceReport:
        if raise_on_failure and not self.report.ok:
            raise ConformanceError(self.report)
        return self.report


class _NotAnArchitecture:
    """What ``failure_reporting`` asks an estimator to score: no search space accepts it."""

    def __repr__(self) -> str:
        return "<not an architecture>"


# -- shared pieces ------------------------------------------------------------------------------------------
def _describe(factory: Any) -> str:
    module, qualname = getattr(factory, "__module__", None), getattr(factory, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else repr(factory)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _arch_text(space: SearchSpace, arch: Arch) -> str:
    try:
        return space.to_str(arch)
    except Exception:
        return repr(arch)


@contextmanager
def _global_rngs_restored() -> Iterator[None]:
    """Put ``random``'s, numpy's and torch's global generators back as they were."""
    python, numpy_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(python)
        np.random.set_state(numpy_state)
        torch.set_rng_state(torch_state)


def _stir_global_rngs() -> None:
    """Move every global generator on, so that a second instance does not find them where the first did."""
    random.random()
    np.random.random()
    torch.rand(1)


def _context_maker(context: ContextArg, root: Path) -> Callable[[], Context]:
    """Fresh contexts from ``context``, each with work folders of its own under ``root``."""
    counter = itertools.count()

    def make() -> Context:
        if context is None:
            ctx = tiny_context()
        elif isinstance(context, Context):
            ctx = dataclasses.replace(context)
        elif callable(context):
            ctx = context()
            if not isinstance(ctx, Context):
                raise TypeError(f"context() returned {type(ctx).__name__}, not a nas_harness.api.Context")
        else:
            raise TypeError(f"context must be a Context, a callable returning one or None, got {context!r}")
        folder = root / f"context{next(counter)}"
        (folder / "work").mkdir(parents=True)
        (folder / "shared").mkdir()
        return dataclasses.replace(ctx, workdir=str(folder / "work"), shared_workdir=str(folder / "shared"))

    return make


def _same(a: float, b: float, rtol: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=rtol, abs_tol=0.0)


def _construct(factory: Callable[..., Any], options: Mapping[str, Any]) -> Any:
    return factory(**dict(options))


def _check_options(
    rec: _Recorder,
    factory: Callable[..., Any],
    options: Mapping[str, Any],
    bad_options: Sequence[Mapping[str, Any]] | None,
    use: Callable[[Any], None],
    uses: str,
) -> None:
    """The ``options`` check: an unknown option and each bad value must be refused (``use`` runs an instance
    that was built anyway; ``uses`` says what it does, for the messages)."""
    if bad_options is None:
        bad_options = [
            {key: -1}
            for key, value in options.items()
            if isinstance(value, int) and not isinstance(value, bool) and value > 0
        ]
    trials = [({UNKNOWN_OPTION: 1}, True)] + [(dict(bad), False) for bad in bad_options]
    problems: list[str] = []
    late: list[str] = []
    for change, unknown in trials:
        given = ", ".join(f"{k}={v!r}" for k, v in change.items())
        expected = (
            f"a ConfigError naming {UNKNOWN_OPTION!r} (or the TypeError of a strict signature)"
            if unknown
            else f"a ConfigError naming {', '.join(map(repr, change))}"
        )

        def refused(exc: Exception, at_construction: bool, change: dict[str, Any] = change, unknown: bool = unknown):
            named = all(str(k) in str(exc) for k in change)
            if unknown:  # Registry.create reports a constructor's TypeError naming the options itself
                return (isinstance(exc, TypeError) and (at_construction or named)) or (
                    isinstance(exc, HarnessError) and named
                )
            return isinstance(exc, ConfigError) and named

        try:
            instance = _construct(factory, {**options, **change})
        except Exception as exc:
            if not refused(exc, True):
                problems.append(f"constructing with {given} raised {_error(exc)}; expected {expected}")
            continue
        try:
            use(instance)
        except Exception as exc:
            if refused(exc, False):
                late.append(f"{given} ({_error(exc)})")
            else:
                problems.append(f"constructing with {given} worked and {uses} raised {_error(exc)}; expected "
                                f"{expected} from the constructor")  # fmt: skip
            continue
        problems.append(f"accepted {given} silently (constructing and {uses} worked); expected {expected} from "
                        "the constructor")  # fmt: skip
    if problems:
        rec.failed("options", "; ".join(problems))
        return
    notes = []
    if late:
        notes.append(f"refused only when {uses}: {'; '.join(late)}; refusing options in the constructor stops a "
                     "study before it starts instead of failing every architecture")  # fmt: skip
    if not bad_options:
        notes.append("no bad values tried (`options` has no positive integer to set to -1; pass bad_options)")
    rec.passed("options", "; ".join(notes))


# -- estimators ---------------------------------------------------------------------------------------------
def _score_all(est: Estimator, archs: Sequence[Arch], ctx: Context) -> list[Any]:
    if est.set_level:
        return list(est.score_many(list(archs), ctx))
    return [est.score(a, ctx) for a in archs]


def _not_a_score(value: Any) -> str | None:
    """Why ``value`` is not a usable score, or None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return f"{value!r} ({type(value).__name__}); expected a finite float"
    if not math.isfinite(float(value)):
        return (
            f"{float(value)!r}; expected a finite float, or an exception saying why it cannot score it (the runner "
            "records a bare non-finite score as a failure without a reason)"
        )
    return None


def _compare_scores(space: SearchSpace, archs: Sequence[Arch], first: list[float], second: list[float], rtol: float,
                    labels: tuple[str, str]) -> str | None:  # fmt: skip
    if len(first) != len(second):
        return f"{labels[0]} gave {len(first)} scores, {labels[1]} {len(second)}"
    differ = [
        f"{_arch_text(space, a)}: {x!r} vs {y!r}"
        for a, x, y in zip(archs, first, second, strict=True)
        if not _same(float(x), float(y), rtol)
    ]
    if not differ:
        return None
    shown = "; ".join(differ[:3]) + (f"; and {len(differ) - 3} more" if len(differ) > 3 else "")
    return f"{labels[0]} vs {labels[1]}: {shown}"


def check_estimator(
    estimator: Callable[..., Estimator],
    options: Mapping[str, Any] | None = None,
    *,
    context: ContextArg = None,
    archs: Sequence[Arch] | None = None,
    n_archs: int = 4,
    bad_options: Sequence[Mapping[str, Any]] | None = None,
    rtol: float = 1e-9,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Run the estimator checks (module docstring) on the class or factory ``estimator`` built with ``options``.

    Raises :class:`ConformanceError` listing every failed check (unless ``raise_on_failure`` is False);
    returns the :class:`ConformanceReport`.
    """
    if isinstance(estimator, Estimator) or not callable(estimator):
        raise TypeError(
            f"check_estimator takes the estimator's class or factory (it builds fresh instances), got {estimator!r}"
        )
    options = dict(options or {})
    rec = _Recorder(f"estimator {_describe(estimator)}")
    with tempfile.TemporaryDirectory(prefix="nas-harness-conformance-") as root, _global_rngs_restored():
        make_context = _context_maker(context, Path(root))
        _estimator_checks(rec, estimator, options, make_context, archs, n_archs, rtol)

        def score_first(instance: Any) -> None:
            ctx = make_context()
            instance.prepare(ctx)
            _score_all(instance, (archs or _default_archs(ctx, 1))[:1], ctx)

        _check_options(rec, estimator, options, bad_options, score_first, "preparing and scoring")
    return rec.finish(raise_on_failure)


def _default_archs(ctx: Context, n: int) -> list[Arch]:
    pool = list(ctx.candidates) if ctx.candidates is not None else None
    return tiny_archs(ctx.space, min(n, len(pool)) if pool is not None else n, seed=0, pool=pool)


def _estimator_checks(
    rec: _Recorder,
    factory: Callable[..., Estimator],
    options: dict[str, Any],
    make_context: Callable[[], Context],
    archs: Sequence[Arch] | None,
    n_archs: int,
    rtol: float,
) -> None:
    later = ("attributes", "direction", "prepare", "scores", "score_many", "picklable", "failure_reporting",
             "deterministic")  # fmt: skip

    def skip_rest(names: Sequence[str], why: str) -> None:
        for name in names:
            rec.skipped(name, why)

    try:
        est = _construct(factory, options)
    except Exception as exc:
        rec.failed("construct", f"{_describe(factory)}(**{options!r}) raised {_error(exc)}; expected an Estimator")
        return skip_rest(later, "the estimator could not be constructed")
    if not isinstance(est, Estimator):
        rec.failed("construct", f"the factory returned {type(est).__name__}, not a nas_harness.api.Estimator")
        return skip_rest(later, "the factory returned no Estimator")
    rec.report.subject = f"estimator {type(est).__module__}.{type(est).__qualname__} ({est.name!r})"
    rec.passed("construct")

    bad = []
    if not isinstance(est.name, str) or not est.name:
        bad.append(f"name = {est.name!r}; expected a non-empty str (the name it is registered under)")
    if not isinstance(est.set_level, bool):
        bad.append(f"set_level = {est.set_level!r} ({type(est.set_level).__name__}); expected a bool")
    if bad:
        rec.failed("attributes", "; ".join(bad))
    else:
        rec.passed("attributes")

    if isinstance(est.direction, Direction):
        rec.passed("direction")
    else:
        rec.failed(
            "direction",
            f"direction = {est.direction!r} ({type(est.direction).__name__}); expected a nas_harness.api.Direction "
            "member (Direction.MAXIMIZE: a higher score predicts a higher accuracy, or Direction.MINIMIZE): "
            "the harness multiplies scores by direction.sign and never takes abs() of a correlation",
        )

    ctx = make_context()
    archs = list(archs) if archs is not None else _default_archs(ctx, n_archs)
    scoring = "score_many" if est.set_level else "score"
    try:
        est.prepare(ctx)
    except Exception as exc:
        rec.failed("prepare", f"prepare(ctx) raised {_error(exc)}; expected it to return (context: {ctx.space.name!r}"
                              f" space, data {'present' if ctx.data is not None else 'absent'})")  # fmt: skip
        return skip_rest(later[3:], "prepare failed")
    rec.passed("prepare")

    try:
        raw = _score_all(est, archs, ctx)
    except Exception as exc:
        rec.failed("scores", f"{scoring} raised {_error(exc)} on valid architectures of the context; expected "
                             "a finite float for each (pass a context and archs the estimator supports)")  # fmt: skip
        return skip_rest(later[4:], "scoring failed")
    problems = []
    if len(raw) != len(archs):
        problems.append(f"score_many returned {len(raw)} scores for {len(archs)} architectures")
    for arch, value in zip(archs, raw, strict=False):
        why = _not_a_score(value)
        if why is not None:
            problems.append(f"{scoring} gave {_arch_text(ctx.space, arch)} {why}")
    if problems:
        rec.failed("scores", "; ".join(problems))
        return skip_rest(later[4:], "the scores were not finite numbers")
    rec.passed("scores")
    scores = [float(v) for v in raw]

    try:
        many = list(est.score_many(list(archs), ctx))
    except Exception as exc:
        rec.failed("score_many", f"score_many raised {_error(exc)}; expected {len(archs)} scores")
    else:
        bad_values = [why for why in map(_not_a_score, many) if why is not None]
        against = "its first score_many" if est.set_level else "score"
        if len(many) != len(archs):
            rec.failed("score_many", f"score_many returned {len(many)} scores for {len(archs)} architectures")
        elif bad_values:
            rec.failed("score_many", f"score_many returned {bad_values[0]}")
        elif (diff := _compare_scores(ctx.space, archs, [float(v) for v in many], scores, rtol,
                                      ("score_many", against))) is not None:  # fmt: skip
            rec.failed("score_many", f"score_many disagrees with {against}: {diff}")
        else:
            rec.passed("score_many", "set-level: compared with a second score_many" if est.set_level else "")

    _check_pickle(rec, factory, options, est, archs, scores, ctx, rtol)

    try:
        returned = est.score_many([_NotAnArchitecture()], ctx)[0] if est.set_level else est.score(
            _NotAnArchitecture(), ctx
        )  # fmt: skip
    except Exception as exc:
        if str(exc).strip():
            rec.passed("failure_reporting")
        else:
            rec.failed("failure_reporting", f"{scoring}(<not an architecture>) raised {type(exc).__name__} with an "
                                            "empty message; expected a message saying what went wrong")  # fmt: skip
    except BaseException as exc:  # a plugin's SystemExit & co are what this check reports
        if isinstance(exc, KeyboardInterrupt):
            raise
        rec.failed("failure_reporting", f"{scoring}(<not an architecture>) raised {_error(exc)}, a BaseException "
                                        "that is not an Exception; raise an Exception subclass")  # fmt: skip
    else:
        rec.failed(
            "failure_reporting",
            f"{scoring}(<not an architecture>) returned {returned!r}; expected an exception with a message: a score "
            "that could not be computed must raise (the runner stores the exception's message), not return a "
            "value such as NaN, which the runner records without any reason",
        )

    _stir_global_rngs()
    try:
        other = _construct(factory, options)
        ctx2 = make_context()
        other.prepare(ctx2)
        order = list(archs) if est.set_level else list(reversed(archs))
        again = [float(v) for v in _score_all(other, order, ctx2)]
        if not est.set_level:
            again.reverse()
    except Exception as exc:
        rec.failed("deterministic", f"a second instance with the same options and context raised {_error(exc)}")
        return
    diff = _compare_scores(ctx.space, archs, scores, again, rtol, ("first instance", "second instance"))
    if diff is None:
        rec.passed("deterministic")
    else:
        rec.failed(
            "deterministic",
            "two fresh instances with the same options, seed and context gave different scores "
            f"(the second scored the architectures in reverse order, as another worker may): {diff}; seed every "
            "random draw from ctx.seed (nas_harness.seeding.derived_seed), never from the global generators",
        )


def _check_pickle(
    rec: _Recorder,
    factory: Callable[..., Estimator],
    options: dict[str, Any],
    prepared: Estimator,
    archs: Sequence[Arch],
    scores: list[float],
    ctx: Context,
    rtol: float,
) -> None:
    hint = ("an estimator must be a class defined at module level holding only picklable state: no lambdas or "
            "local functions, locks, open files or generators (create such things where they are used, or define "
            "__getstate__/__setstate__)")  # fmt: skip
    try:
        if pickle.loads(pickle.dumps(options)) != options:
            rec.failed("picklable", f"the options {options!r} do not survive pickle")
            return
    except Exception as exc:
        rec.failed("picklable", f"the options {options!r} cannot be pickled ({_error(exc)}); workers receive them")
        return
    for what, instance in (("a fresh instance", None), ("the prepared instance", prepared)):
        try:
            instance = instance if instance is not None else _construct(factory, options)
            copy = pickle.loads(pickle.dumps(instance))
        except Exception as exc:
            rec.failed("picklable", f"pickling {what} failed with {_error(exc)}; {hint}")
            return
    try:
        again = [float(v) for v in _score_all(copy, archs, ctx)]
    except Exception as exc:
        rec.failed("picklable", f"the unpickled copy of the prepared instance raised {_error(exc)} when scoring")
        return
    diff = _compare_scores(ctx.space, archs, scores, again, rtol, ("before pickling", "after"))
    if diff is None:
        rec.passed("picklable")
    else:
        rec.failed("picklable", f"the prepared instance scores differently after a pickle round trip: {diff}")


# -- searchers ----------------------------------------------------------------------------------------------
@contextmanager
def _counting(est: Estimator) -> Iterator[tuple[set[str], bool]]:
    """Count the distinct architectures (and paths) ``est`` is asked to score, by wrapping its methods on the
    instance; yields (the keys seen, whether counting works for this instance)."""
    seen: set[str] = set()
    patched: list[str] = []
    methods = {name: getattr(est, name) for name in ("score", "score_many", "score_path") if hasattr(est, name)}

    def score(arch: Arch, ctx: Context, *args: Any, **kwargs: Any) -> Any:
        seen.add(f"arch {_arch_text(ctx.space, arch)}")
        return methods["score"](arch, ctx, *args, **kwargs)

    def score_many(archs: Sequence[Arch], ctx: Context, *args: Any, **kwargs: Any) -> Any:
        seen.update(f"arch {_arch_text(ctx.space, a)}" for a in archs)
        return methods["score_many"](archs, ctx, *args, **kwargs)

    def score_path(mask: Any, *args: Any, **kwargs: Any) -> Any:
        seen.add(f"path {mask!r}")
        return methods["score_path"](mask, *args, **kwargs)

    wrappers = {"score": score, "score_many": score_many, "score_path": score_path}
    counted = True
    for name in methods:
        try:
            setattr(est, name, wrappers[name])
        except AttributeError:  # __slots__ without a __dict__: no counting
            counted = False
            break
        patched.append(name)
    try:
        yield seen, counted
    finally:
        for name in patched:
            delattr(est, name)


def _result_key(result: SearchResult, space: SearchSpace) -> tuple[str, tuple[str, ...], Any]:
    return _arch_text(space, result.best), tuple(_arch_text(space, a) for a in result.front), result.evaluations


def check_searcher(
    searcher: Callable[..., Searcher],
    options: Mapping[str, Any] | None = None,
    *,
    estimator: Estimator | Callable[[], Estimator] | None = None,
    context: ContextArg = None,
    max_evaluations: int | None = None,
    bad_options: Sequence[Mapping[str, Any]] | None = None,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Run the searcher checks (module docstring) on the class or factory ``searcher`` built with ``options``.

    ``estimator``: an instance or a zero-argument factory (default :class:`OracleProxy`, which scores with a
    fake benchmark over the whole space); the check prepares it once. Raises :class:`ConformanceError`
    listing every failed check (unless ``raise_on_failure`` is False); returns the :class:`ConformanceReport`.
    """
    if isinstance(searcher, Searcher) or not callable(searcher):
        raise TypeError(
            f"check_searcher takes the searcher's class or factory (it builds fresh instances), got {searcher!r}"
        )
    options = dict(options or {})
    if max_evaluations is None and isinstance(options.get("budget"), int) and not isinstance(options["budget"], bool):
        max_evaluations = options["budget"]
    rec = _Recorder(f"searcher {_describe(searcher)}")
    with tempfile.TemporaryDirectory(prefix="nas-harness-conformance-") as root, _global_rngs_restored():
        make_context = _context_maker(context, Path(root))
        ctx = make_context()
        if estimator is None:
            est = OracleProxy()
        elif isinstance(estimator, Estimator):
            est = estimator
        else:
            est = estimator()
        est.prepare(ctx)  # the caller's estimator: its failure is an error of the check's setup, raised as is
        _searcher_checks(rec, searcher, options, est, ctx, make_context, max_evaluations)

        def search_once(instance: Any) -> None:
            instance.search(est, make_context())

        _check_options(rec, searcher, options, bad_options, search_once, "searching")
    return rec.finish(raise_on_failure)


def _searcher_checks(
    rec: _Recorder,
    factory: Callable[..., Searcher],
    options: dict[str, Any],
    est: Estimator,
    ctx: Context,
    make_context: Callable[[], Context],
    max_evaluations: int | None,
) -> None:
    later = ("attributes", "search", "architectures", "budget", "deterministic")

    def skip_rest(names: Sequence[str], why: str) -> None:
        for name in names:
            rec.skipped(name, why)

    try:
        first = _construct(factory, options)
    except Exception as exc:
        rec.failed("construct", f"{_describe(factory)}(**{options!r}) raised {_error(exc)}; expected a Searcher")
        return skip_rest(later, "the searcher could not be constructed")
    if not isinstance(first, Searcher):
        rec.failed("construct", f"the factory returned {type(first).__name__}, not a nas_harness.api.Searcher")
        return skip_rest(later, "the factory returned no Searcher")
    rec.report.subject = f"searcher {type(first).__module__}.{type(first).__qualname__} ({first.name!r})"
    rec.passed("construct")
    if isinstance(first.name, str) and first.name:
        rec.passed("attributes")
    else:
        rec.failed("attributes", f"name = {first.name!r}; expected a non-empty str (the name it is registered under)")

    with _counting(est) as (seen, counted):
        try:
            result = first.search(est, ctx)
        except Exception as exc:
            rec.failed("search", f"search(estimator {est.name!r}, ctx) raised {_error(exc)}; expected a SearchResult")
            return skip_rest(later[2:], "search failed")
        scored = len(seen)
    if not isinstance(result, SearchResult):
        rec.failed("search", f"search returned {type(result).__name__}; expected a nas_harness.api.SearchResult")
        return skip_rest(later[2:], "search returned no SearchResult")
    rec.passed("search")

    space = result.space if result.space is not None else ctx.space
    problems = []
    if result.space is not None and not isinstance(result.space, SearchSpace):
        problems.append(f"result.space = {result.space!r}; expected a SearchSpace or None")
    else:
        members = [("best", result.best)] + [(f"front[{i}]", a) for i, a in enumerate(result.front)]
        for label, arch in members:
            try:
                text = space.to_str(arch)
                back = space.to_str(space.parse(text))
            except Exception as exc:
                problems.append(f"{label} = {arch!r} is not an architecture of space {space.name!r}: {_error(exc)}")
                continue
            if back != text:
                problems.append(f"{label} = {text!r} does not round-trip through space {space.name!r} ({back!r})")
    if problems:
        rec.failed("architectures", "; ".join(problems))
    else:
        rec.passed("architectures")

    evaluations = result.evaluations
    problems = []
    if isinstance(evaluations, bool) or not isinstance(evaluations, int) or evaluations < 0:
        problems.append(f"evaluations = {evaluations!r} ({type(evaluations).__name__}); expected an int >= 0")
    else:
        if counted and scored > evaluations:
            problems.append(
                f"the search had the estimator score {scored} distinct architectures or paths but reported "
                f"evaluations = {evaluations}; expected evaluations >= what it scored (a search is charged by it)"
            )
        if max_evaluations is not None and evaluations > max_evaluations:
            problems.append(f"evaluations = {evaluations} exceeds the budget of {max_evaluations}")
        if max_evaluations is not None and scored > max_evaluations:
            problems.append(f"the estimator scored {scored} distinct architectures, over the budget of "
                            f"{max_evaluations}")  # fmt: skip
    note = "" if counted else "the estimator's calls could not be counted (its instance has no __dict__)"
    if problems:
        rec.failed("budget", "; ".join(problems))
    else:
        rec.passed("budget", note)

    _stir_global_rngs()
    try:
        again = _construct(factory, options).search(est, make_context())
        key_a, key_b = _result_key(result, space), _result_key(again, again.space or ctx.space)
    except Exception as exc:
        rec.failed("deterministic", f"a second instance with the same options and context raised {_error(exc)}")
        return
    if key_a == key_b:
        rec.passed("deterministic")
    else:
        diffs = [
            f"{what} {a!r} vs {b!r}"
            for what, a, b in zip(("best", "front", "evaluations"), key_a, key_b, strict=True)
            if a != b
        ]
        rec.failed(
            "deterministic",
            "two fresh instances searching with the same options, seed, estimator and context returned different "
            f"results: {'; '.join(diffs)}; draw every random choice from ctx.seed (nas_harness.seeding.derived_seed)",
        )
