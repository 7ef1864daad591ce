"""The frozen-settings rule, checked on a script's text: nothing depends on the clock outside the
explore guard (contract.EXPLORE_GUARD). The LLM engineer's gate calls clock_findings().

What counts as depending on the clock:
  - a call with a time-box keyword (timeout=, time_budget=, ...), unless its value is None
  - the clock's value (time.time(), perf_counter(), datetime.now(), $MLESTAR_TIME_BUDGET, or a name
    assigned from one of them) used for anything but printing: in a test, a comparison, an
    argument, a return value
  - calling a function of the script that does one of those
Reading the clock into a name, and printing durations, is fine. Inside the guard anything goes;
a script with a guard must have a top-level `FROZEN = ...` line and write output/frozen.json.

The check is static and deliberately simple: functions are matched by name (methods by their
attribute name, and a class's methods always count as called), names are tracked per function.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mlestar import syntax
from mlestar.contract import ENV_TIME_BUDGET, EXPLORE_GUARD, FROZEN, FROZEN_FILE, MODE_EXPLORE

TIME_FUNCTIONS = frozenset(
    {"time", "time_ns", "perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "process_time"}
)
"""The clock readers of the time module."""
DATE_NOW = frozenset({"now", "utcnow", "today"})
DATE_TYPES = ("datetime", "date", "Timestamp")
TIME_KEYWORDS = frozenset(
    {
        "timeout",
        "time_budget",
        "time_limit",
        "max_time",
        "max_time_mins",
        "time_left_for_this_task",
        "max_runtime_secs",
    }
)
LOG_CALLS = frozenset({"print", "info", "debug", "warning", "warn", "error", "write"})
"""Calls whose arguments only report (print, logger.info, sys.stdout.write)."""


@dataclass(frozen=True)
class ClockFinding:
    line: int
    what: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.what}"


def clock_findings(script: str) -> tuple[ClockFinding, ...]:
    """Every place the script depends on the clock outside the explore guard, in line order;
    () when it follows the rule. A script that does not parse is one finding."""
    try:
        tree = syntax.parse(script)
    except SyntaxError as e:
        return (ClockFinding(e.lineno or 0, f"the script does not parse: {e.msg}"),)
    facts = _ModuleFacts.read(tree)
    units = _units(tree)
    module_taint = _Walker(facts, set()).taint_of(units[None])
    walkers = {name: _Walker(facts, module_taint) for name in units}
    for name, body in units.items():
        if name is not None:
            walkers[name].taint_of(body)
    results = {name: walkers[name].findings(body) for name, body in units.items()}
    reached = _reached(results, facts.methods)
    found = [f for name in reached for f in results[name].findings]
    found += _guard_findings(tree, facts)
    return tuple(sorted(set(found), key=lambda f: (f.line, f.what)))


@dataclass
class _ModuleFacts:
    clock_functions: set[str] = field(default_factory=set)
    """Names bound by `from time import perf_counter` and the like."""
    time_modules: set[str] = field(default_factory=set)
    explore_names: set[str] = field(default_factory=set)
    """Top-level names assigned the explore condition."""
    methods: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, tree: ast.Module) -> _ModuleFacts:
        facts = cls()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                facts.time_modules.update(a.asname or a.name for a in node.names if a.name == "time")
            elif isinstance(node, ast.ImportFrom) and node.module == "time":
                facts.clock_functions.update(
                    a.asname or a.name for a in node.names if a.name in TIME_FUNCTIONS
                )
        for statement in tree.body:
            if isinstance(statement, ast.Assign) and facts.is_explore(statement.value):
                facts.explore_names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
            elif isinstance(statement, ast.ClassDef):
                facts.methods.update(
                    f"{statement.name}.{s.name}"
                    for s in statement.body
                    if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)
                )
        return facts

    def is_explore(self, test: ast.expr) -> bool:
        """Is `test` the explore condition (or that condition `and` something more)?"""
        if isinstance(test, ast.Name):
            return test.id in self.explore_names
        if not (isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And)):
            return False
        if any(self.is_explore(v) for v in test.values):
            return True
        return any(_is_frozen_none(v) for v in test.values) and any(_is_explore_mode(v) for v in test.values)

    def is_clock_call(self, call: ast.Call) -> bool:
        func = call.func
        if isinstance(func, ast.Name):
            return func.id in self.clock_functions
        if not isinstance(func, ast.Attribute):
            return False
        owner = func.value
        if isinstance(owner, ast.Name) and owner.id in self.time_modules:
            return func.attr in TIME_FUNCTIONS
        return func.attr in DATE_NOW and ast.unparse(owner).endswith(DATE_TYPES)


def _is_frozen_none(e: ast.expr) -> bool:
    return (
        isinstance(e, ast.Compare)
        and isinstance(e.left, ast.Name)
        and e.left.id == FROZEN
        and isinstance(e.ops[0], ast.Is)
        and isinstance(e.comparators[0], ast.Constant)
        and e.comparators[0].value is None
    )


def _is_explore_mode(e: ast.expr) -> bool:
    return isinstance(e, ast.Compare) and any(
        isinstance(n, ast.Constant) and n.value == MODE_EXPLORE for n in ast.walk(e)
    )


def _units(tree: ast.Module) -> dict[str | None, list[ast.stmt]]:
    """The module's top-level code (None), each top-level function, each method ("Class.name")."""
    units: dict[str | None, list[ast.stmt]] = {None: []}
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            units[statement.name] = statement.body
        elif isinstance(statement, ast.ClassDef):
            for s in statement.body:
                if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef):
                    units[f"{statement.name}.{s.name}"] = s.body
                else:
                    units[None].append(s)
        else:
            units[None].append(statement)
    return units


@dataclass
class _UnitResult:
    findings: list[ClockFinding]
    calls: set[str]
    """Names this unit refers to outside the guard (a function referred to may be called)."""


def _reached(results: dict[str | None, _UnitResult], methods: set[str]) -> list[str | None]:
    """Units that run outside the guard: the top level, every method, and what they refer to."""
    todo: list[str | None] = [None, *sorted(methods)]
    seen: set[str | None] = set()
    by_short = {name.split(".")[-1]: name for name in results if name and "." not in name}
    while todo:
        unit = todo.pop()
        if unit in seen or unit not in results:
            continue
        seen.add(unit)
        todo += [by_short[c] for c in results[unit].calls if c in by_short]
    return [u for u in results if u in seen]


class _Walker:
    """Walks one unit's statements, knowing which names hold clock values."""

    def __init__(self, facts: _ModuleFacts, inherited: set[str]) -> None:
        self.facts = facts
        self.tainted = set(inherited)
        self.found: list[ClockFinding] = []
        self.calls: set[str] = set()

    def taint_of(self, body: list[ast.stmt]) -> set[str]:
        """Names that hold clock values: every value the unit assigns them is one (a name also
        assigned something else, such as a loop variable reused, is left out), to a fixed point."""
        inherited = set(self.tainted)
        while True:
            clock, plain = _assignments(body, self._holds_clock)
            tainted = inherited | (clock - plain)
            if tainted == self.tainted:
                return tainted
            self.tainted = tainted

    def findings(self, body: list[ast.stmt]) -> _UnitResult:
        self.found, self.calls = [], set()
        self._statements(body, guarded=False)
        return _UnitResult(self.found, self.calls)

    def _statements(self, body: list[ast.stmt], guarded: bool) -> None:
        for statement in body:
            self._statement(statement, guarded)

    def _statement(self, s: ast.stmt, guarded: bool) -> None:
        if isinstance(s, ast.If):
            self._expr(s.test, guarded)
            self._statements(s.body, guarded or self.facts.is_explore(s.test))
            negated = isinstance(s.test, ast.UnaryOp) and isinstance(s.test.op, ast.Not)
            self._statements(s.orelse, guarded or (negated and self.facts.is_explore(s.test.operand)))  # type: ignore[attr-defined]
        elif isinstance(s, ast.Assign | ast.AugAssign | ast.AnnAssign):
            if s.value is not None:
                self._expr(s.value, guarded, reads_ok=True)
        elif isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self._statements(s.body, guarded)  # a nested function belongs to its enclosing one
        else:
            for child in ast.iter_child_nodes(s):
                if isinstance(child, ast.withitem):
                    self._expr(child.context_expr, guarded)
                elif isinstance(child, ast.ExceptHandler):
                    self._statements(child.body, guarded)
                elif isinstance(child, ast.stmt):
                    self._statement(child, guarded)
                elif isinstance(child, ast.expr):
                    self._expr(child, guarded)

    def _holds_clock(self, e: ast.expr) -> bool:
        return any(self._is_clock_value(n) for n in ast.walk(e))

    def _is_clock_value(self, n: ast.AST) -> bool:
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            return n.id in self.tainted
        if isinstance(n, ast.Constant):
            return n.value == ENV_TIME_BUDGET
        return isinstance(n, ast.Call) and self.facts.is_clock_call(n)

    def _expr(self, e: ast.expr, guarded: bool, reads_ok: bool = False) -> None:
        """Note what e refers to and what in it depends on the clock (one read per expression)."""
        if guarded:
            return
        read: ast.AST | None = None
        boxed = len(self.found)
        for node, reported in _visible(e, not reads_ok, self.facts):
            self._note_call(node)
            if isinstance(node, ast.Call):
                self._time_keywords(node)
            if reported and read is None and self._is_clock_value(node):
                read = node
        if read is not None and len(self.found) == boxed:  # a time box found says it already
            self.found.append(ClockFinding(e.lineno, f"`{_short(e)}` depends on the clock {_OUTSIDE}"))

    def _time_keywords(self, call: ast.Call) -> None:
        for kw in call.keywords:
            if kw.arg in TIME_KEYWORDS and not (
                isinstance(kw.value, ast.Constant) and kw.value.value is None
            ):
                self.found.append(
                    ClockFinding(
                        call.lineno, f"`{kw.arg}=` in `{_short(call)}` time-boxes the work {_OUTSIDE}"
                    )
                )

    def _note_call(self, node: ast.AST) -> None:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            self.calls.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            self.calls.add(node.attr)


_OUTSIDE = f"outside the explore guard ({EXPLORE_GUARD})"


def _visible(e: ast.expr, report: bool, facts: _ModuleFacts) -> Iterator[tuple[ast.AST, bool]]:
    """The nodes of e that run outside the guard (not the guarded side of `x if EXPLORE else y`),
    each with whether a clock read there matters: not inside a print or an f-string."""
    stack: list[tuple[ast.AST, bool]] = [(e, report)]
    while stack:
        node, reported = stack.pop()
        yield node, reported
        quiet = isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Call) and _is_log_call(node))
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.IfExp) and facts.is_explore(node.test):
            children = [node.test, node.orelse]
        stack += [(child, reported and not quiet) for child in children]


def _is_log_call(call: ast.Call) -> bool:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name in LOG_CALLS


def _assignments(body: list[ast.stmt], holds_clock: Callable[[ast.expr], bool]) -> tuple[set[str], set[str]]:
    """(names assigned a clock value somewhere, names assigned anything else somewhere) in body."""
    clock: set[str] = set()
    plain: set[str] = set()
    for node in (n for s in body for n in ast.walk(s)):
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [n for t in targets for n in _assigned_names(t)]
            (clock if holds_clock(node.value) else plain).update(names)
        elif isinstance(node, ast.AugAssign) and holds_clock(node.value):
            clock.update(_assigned_names(node.target))
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            plain.update(_assigned_names(node.target))
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            plain.update(_assigned_names(node.optional_vars))
        elif isinstance(node, ast.arg):
            plain.add(node.arg)
    return clock, plain


def _assigned_names(target: ast.expr) -> list[str]:
    """Plain names only: `self.t0 = time.time()` taints nothing (`self` is used for much else)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List | ast.Starred):
        elts = target.elts if isinstance(target, ast.Tuple | ast.List) else [target.value]
        return [n for t in elts for n in _assigned_names(t)]
    return []


def _short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _guard_findings(tree: ast.Module, facts: _ModuleFacts) -> list[ClockFinding]:
    """A guarded script carries `FROZEN = ...` at the top level and writes output/frozen.json."""
    guards = [n for n in ast.walk(tree) if isinstance(n, ast.If | ast.IfExp) and _guards(facts, n.test)]
    if not guards:
        return []
    line = guards[0].lineno
    found = []
    assigned = any(
        isinstance(s, ast.Assign | ast.AnnAssign)
        and any(
            isinstance(t, ast.Name) and t.id == FROZEN
            for t in (s.targets if isinstance(s, ast.Assign) else [s.target])
        )
        for s in tree.body
    )
    if not assigned:
        found.append(
            ClockFinding(
                line,
                f'expected a top-level line "{FROZEN} = None" in a script with an explore guard, found none',
            )
        )
    if not any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and FROZEN_FILE in n.value
        for n in ast.walk(tree)
    ):
        found.append(
            ClockFinding(
                line,
                f"expected the explore guard to write what it found to output/{FROZEN_FILE}, found no {FROZEN_FILE}",
            )
        )
    return found


def _guards(facts: _ModuleFacts, test: ast.expr) -> bool:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return facts.is_explore(test.operand)
    return facts.is_explore(test)
