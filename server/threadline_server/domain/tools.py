"""The tools built into the server, and the one place a run's tool call is resolved.

Tools run inside the server process on whatever a client or an agent sends, so
each one is written to be safe on hostile input: no network, no ``eval``, and
hard limits on how much work one call can cause. Every expected failure comes
back as a ToolOutcome with an error code rather than an exception, so the run
records the failure as a tool result the agent can react to.
"""

from __future__ import annotations

import ast
import math
import operator
import zoneinfo
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from threadline_server.domain.agents import ToolOutcome, ToolSpec
from threadline_server.jsonvalue import JsonValue

UNKNOWN_TOOL = "UNKNOWN_TOOL"
TOOL_NOT_ALLOWED = "TOOL_NOT_ALLOWED"
TOOL_ERROR = "TOOL_ERROR"

# Long enough for any arithmetic a person types, short enough that parsing
# and walking the tree are trivially cheap.
MAX_EXPRESSION_CHARS = 200
# Integers may not grow past this many bits anywhere in a calculation (about
# 308 decimal digits, what a JSON double can still hold), which is what keeps
# ``9**9**9`` from running for hours and eating the server's memory.
MAX_INT_BITS = 1024
DEFAULT_TIME_ZONE = "UTC"

Number = int | float
ToolFunction = Callable[[Mapping[str, JsonValue]], Awaitable[ToolOutcome]]


@dataclass(frozen=True)
class Tool:
    """A tool the server can run for an agent."""

    name: str
    description: str
    call: ToolFunction

    @property
    def spec(self) -> ToolSpec:
        """Describe the tool the way an agent sees it, without the means to call it."""
        return ToolSpec(name=self.name, description=self.description)


def tool_error(message: str) -> ToolOutcome:
    """Return the outcome of a tool that ran but could not do what was asked."""
    return ToolOutcome(error_code=TOOL_ERROR, error_message=message)


def _unexpected_arguments(arguments: Mapping[str, JsonValue], known: set[str]) -> str | None:
    # A misspelt argument silently ignored would make a tool quietly do the
    # wrong thing, so anything the tool does not know is an error.
    extra = sorted(set(arguments) - known)
    if extra:
        return f"unexpected argument(s): {', '.join(extra)}"
    return None


# -- calculator ----------------------------------------------------------------


class _CalculationError(Exception):
    """Why an expression has no answer; its text goes back to the agent."""


_BINARY_OPERATORS: Mapping[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


def _checked(value: object) -> Number:
    # Every intermediate result passes through here, so no single step can
    # start from a number that makes the next one expensive.
    if isinstance(value, complex):
        raise _CalculationError("the result is not a real number")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _CalculationError("the result is not a number")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _CalculationError("the result is too big")
    if isinstance(value, float) and not math.isfinite(value):
        raise _CalculationError("the result is too big")
    return value


def _power(base: Number, exponent: Number) -> Number:
    # Integer powers are exact and can need unbounded time and memory, so the
    # size of the result is bounded from below before computing it: a base of
    # b bits to the power e has at least (b - 1) * e + 1 bits. Float powers
    # are constant-time and overflow on their own.
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and abs(base) > 1
        and (base.bit_length() - 1) * exponent + 1 > MAX_INT_BITS
    ):
        raise _CalculationError("the result is too big")
    return _checked(base**exponent)


def _evaluate(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant):
        # bool is an int subclass, and True is a Constant: exclude it by type.
        if type(node.value) in {int, float}:
            return _checked(node.value)
        raise _CalculationError(f"{node.value!r} is not a number")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _evaluate(node.operand)
        return _checked(-operand if isinstance(node.op, ast.USub) else operand)
    if isinstance(node, ast.BinOp):
        left = _evaluate(node.left)
        right = _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        function = _BINARY_OPERATORS.get(type(node.op))
        if function is not None:
            return _checked(function(left, right))
    if isinstance(node, ast.Name):
        raise _CalculationError(f"names such as {node.id!r} are not allowed")
    if isinstance(node, ast.Call):
        raise _CalculationError("function calls are not allowed")
    if isinstance(node, ast.Attribute):
        raise _CalculationError("attribute access is not allowed")
    raise _CalculationError(f"{ast.unparse(node)!r} is not plain arithmetic")


def calculate(expression: str) -> Number:
    """Evaluate arithmetic without eval, so untrusted text can only ever compute a number.

    Raises ValueError, with a message fit for the agent, when the expression
    is not plain arithmetic or has no finite answer within the limits.
    """
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    if not expression.strip():
        raise ValueError("the expression is empty")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise ValueError(f"the expression is not valid: {error.msg}") from None
    except (ValueError, RecursionError, MemoryError):
        # Null bytes, or nesting deep enough to exhaust the parser.
        raise ValueError("the expression is not valid") from None
    try:
        return _evaluate(tree.body)
    except _CalculationError as error:
        raise ValueError(str(error)) from None
    except ZeroDivisionError:
        raise ValueError("division by zero") from None
    except OverflowError:
        raise ValueError("the result is too big") from None
    except RecursionError:
        raise ValueError("the expression is nested too deeply") from None


async def _calculator(arguments: Mapping[str, JsonValue]) -> ToolOutcome:
    problem = _unexpected_arguments(arguments, {"expression"})
    if problem:
        return tool_error(problem)
    expression = arguments.get("expression")
    if not isinstance(expression, str):
        return tool_error("the argument 'expression' must be a string")
    try:
        result = calculate(expression)
    except ValueError as error:
        return tool_error(str(error))
    return ToolOutcome(output={"expression": expression, "result": result})


# -- clock ---------------------------------------------------------------------


def _time_zone(name: str) -> zoneinfo.ZoneInfo | None:
    # zoneinfo treats keys as relative file paths and would accept "../x"
    # style names (or raise odd errors on them); refuse those outright, as the
    # thread's locale validation does.
    if name.startswith(("/", ".")) or ".." in name or "\0" in name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


async def _clock(arguments: Mapping[str, JsonValue]) -> ToolOutcome:
    problem = _unexpected_arguments(arguments, {"time_zone"})
    if problem:
        return tool_error(problem)
    name = arguments.get("time_zone")
    if name is None or name == "":
        name = DEFAULT_TIME_ZONE
    if not isinstance(name, str):
        return tool_error("the argument 'time_zone' must be a string")
    zone = _time_zone(name)
    if zone is None:
        return tool_error(f"{name!r} is not an IANA time zone (such as Europe/Paris)")
    now = datetime.now(zone)
    return ToolOutcome(
        output={
            "time_zone": name,
            "iso_time": now.isoformat(timespec="seconds"),
            "weekday": now.strftime("%A"),
        }
    )


CALCULATOR = Tool(
    name="calculator",
    description=(
        "Evaluates arithmetic: + - * / // % **, unary minus, parentheses, integers and "
        'decimals. Arguments: {"expression": "2+3*4"}. '
        'Returns {"expression": ..., "result": number}.'
    ),
    call=_calculator,
)

CLOCK = Tool(
    name="clock",
    description=(
        'Tells the current time. Arguments: {"time_zone": "Europe/Paris"} (an IANA '
        'name; UTC when left out). Returns {"time_zone": ..., "iso_time": ISO 8601, '
        '"weekday": ...}.'
    ),
    call=_clock,
)

BUILTIN_TOOLS: Mapping[str, Tool] = MappingProxyType({t.name: t for t in (CALCULATOR, CLOCK)})


async def run_tool(
    name: str,
    arguments: Mapping[str, JsonValue],
    allowed: Collection[str],
    *,
    registry: Mapping[str, Tool] = BUILTIN_TOOLS,
) -> ToolOutcome:
    """Run one tool call of a run, turning every refusal into an outcome the agent can read.

    ``allowed`` is the resolved set of tools this run may use: the caller turns
    a run's empty tool list into "every tool the agent has" before calling, so
    an empty ``allowed`` here really allows nothing. An unknown name is
    reported before a disallowed one, so a typo is never mistaken for policy.
    """
    tool = registry.get(name)
    if tool is None:
        return ToolOutcome(error_code=UNKNOWN_TOOL, error_message=f"there is no tool {name!r}")
    if name not in allowed:
        return ToolOutcome(
            error_code=TOOL_NOT_ALLOWED,
            error_message=f"this run may not use the tool {name!r}",
        )
    return await tool.call(arguments)
