"""google.api.http path templates, parsed and matched as grpc-gateway v2 does.

The grammar (google/api/http.proto, grpc-gateway's internal/httprule):

    Template = "/" Segments [ ":" Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
    FieldPath = IDENT { "." IDENT } ;

A template compiles to the same small stack program as grpc-gateway's
(runtime/pattern.go): push a literal, push any one segment (``*``), push the
rest but a fixed tail (``**``), join the last n pushed values with ``/``, and
capture the top of the stack as a field's value. So a variable's value keeps
its literal parts (``{name=shelves/*}`` captures ``shelves/1``), and ``**`` may
be followed by literals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# RFC 3986 pchar: unreserved, sub-delims, ":", "@", and percent-encoded octets.
_PCHARS = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+\Z")

# Operations of the compiled program.
_LITERAL, _PUSH, _PUSH_REST, _CONCAT, _CAPTURE = range(5)


@dataclass(frozen=True)
class _Op:
    code: int
    text: str = ""
    count: int = 0


class TemplateError(ValueError):
    """A path template that does not follow the google.api.http grammar."""


@dataclass(frozen=True)
class Segment:
    """One segment of a simple template: a literal, or a variable over exactly one segment."""

    literal: str = ""
    field: str = ""


@dataclass(frozen=True)
class PathTemplate:
    """A compiled path template: match it against a request's path segments."""

    template: str
    ops: tuple[_Op, ...]
    verb: str
    fields: tuple[str, ...]
    tail_length: int

    @classmethod
    def parse(cls, template: str) -> PathTemplate:
        """Parse and compile a template such as ``/v1/{name=shelves/*}/books:list``."""
        if not template.startswith("/"):
            raise TemplateError(f"no leading /: {template}")
        body, verb = _split_verb(template[1:])
        if verb and not _PCHARS.match(verb):
            raise TemplateError(f"invalid verb {verb!r}: {template}")
        parser = _Parser(body, template)
        ops = parser.segments(top_level=True)
        fields = tuple(op.text for op in ops if op.code == _CAPTURE)
        if len(set(fields)) != len(fields):
            raise TemplateError(f"a field is bound twice: {template}")
        tail, seen_rest = 0, False
        for op in ops:
            if op.code == _PUSH_REST:
                if seen_rest:
                    raise TemplateError(f"more than one ** : {template}")
                seen_rest = True
            elif op.code in (_LITERAL, _PUSH) and seen_rest:
                tail += 1
        return cls(template, tuple(ops), verb, fields, tail)

    def segments(self) -> tuple[Segment, ...]:
        """Return the template as literals and one-segment variables, as an OpenAPI path.

        Raise a TemplateError for a template with ``*`` or ``**`` outside a variable, or
        a variable over more (or other) than one ``*`` segment, which no
        OpenAPI path parameter can express.
        """
        segments: list[Segment] = []
        ops = list(self.ops)
        index = 0
        while index < len(ops):
            op = ops[index]
            if op.code == _LITERAL:
                segments.append(Segment(literal=op.text))
                index += 1
                continue
            tail = ops[index + 1 : index + 3]
            one_variable = (
                op.code == _PUSH
                and len(tail) == 2
                and tail[0].code == _CONCAT
                and tail[0].count == 1
                and tail[1].code == _CAPTURE
            )
            if not one_variable:
                raise TemplateError(
                    f"not a path of literals and one-segment variables: {self.template}"
                )
            segments.append(Segment(field=tail[1].text))
            index += 3
        return tuple(segments)

    def match(self, components: list[str], verb: str) -> dict[str, str] | None:
        """Return the captured fields when the path's segments and verb match, else None."""
        if self.verb != verb:
            if self.verb:
                return None
            # A verb split off for another pattern belongs to the last segment here.
            suffix = ":" + verb
            components = [*components[:-1], components[-1] + suffix] if components else [suffix]
        position = 0
        stack: list[str] = []
        captured: dict[str, str] = {}
        count = len(components)
        for op in self.ops:
            if op.code in (_LITERAL, _PUSH):
                if position >= count:
                    return None
                value = components[position]
                if op.code == _LITERAL and value != op.text:
                    return None
                stack.append(value)
                position += 1
            elif op.code == _PUSH_REST:
                end = count - self.tail_length
                if end < position:
                    return None
                stack.append("/".join(components[position:end]))
                position = end
            elif op.code == _CONCAT:
                joined = "/".join(stack[len(stack) - op.count :])
                del stack[len(stack) - op.count :]
                stack.append(joined)
            else:  # _CAPTURE
                captured[op.text] = stack.pop()
        if position < count:
            return None
        return captured


def _split_verb(path: str) -> tuple[str, str]:
    """Split ``a/b:verb`` into the segments and the verb, as httprule's tokenizer does.

    The verb is after the last ``:`` of the last segment, or after its first
    ``:`` when the last segment closes a variable (``{name=*}:verb``).
    """
    if not path:
        return path, ""
    last_slash = path.rfind("/")
    last_brace = path.rfind("}")
    start = max(last_slash, last_brace) + 1
    tail = path[start:]
    after_variable = last_brace >= last_slash and last_brace != -1
    index = tail.find(":") if after_variable else tail.rfind(":")
    if index < 0:
        return path, ""
    return path[: start + index], tail[index + 1 :]


class _Parser:
    """A recursive-descent parser over the template's text."""

    def __init__(self, text: str, template: str) -> None:
        self.text = text
        self.position = 0
        self.template = template

    def error(self, message: str) -> TemplateError:
        return TemplateError(f"{message}: {self.template}")

    def segments(self, *, top_level: bool = False) -> list[_Op]:
        if top_level and not self.text:
            return [_Op(_LITERAL, "")]
        ops: list[_Op] = []
        while True:
            ops.extend(self.segment(nested=not top_level))
            if self.position < len(self.text) and self.text[self.position] == "/":
                self.position += 1
                continue
            break
        if top_level and self.position != len(self.text):
            raise self.error(f"unexpected {self.text[self.position :]!r}")
        return ops

    def segment(self, *, nested: bool) -> list[_Op]:
        end = len(self.text)
        for index in range(self.position, len(self.text)):
            if self.text[index] in "/}" or (self.text[index] == "{" and index == self.position):
                end = index
                break
        token = self.text[self.position : end]
        if token == "" and self.position < len(self.text) and self.text[self.position] == "{":
            if nested:
                raise self.error("a variable inside a variable")
            return self.variable()
        self.position = end
        if token == "*":  # noqa: S105
            return [_Op(_PUSH)]
        if token == "**":  # noqa: S105
            return [_Op(_PUSH_REST)]
        if not _PCHARS.match(token):
            raise self.error(f"invalid segment {token!r}")
        return [_Op(_LITERAL, token)]

    def variable(self) -> list[_Op]:
        close = self.text.find("}", self.position)
        if close < 0:
            raise self.error("unterminated variable")
        inside = self.text[self.position + 1 : close]
        field, equals, pattern = inside.partition("=")
        if not all(_IDENT.match(part) for part in field.split(".")):
            raise self.error(f"invalid field path {field!r}")
        if equals:
            nested = _Parser(pattern, self.template)
            ops = nested.segments()
            if nested.position != len(pattern):
                raise self.error(f"invalid segment in variable {field!r}")
            pushes = sum(1 for op in ops if op.code in (_LITERAL, _PUSH, _PUSH_REST))
        else:
            ops, pushes = [_Op(_PUSH)], 1
        self.position = close + 1
        return [*ops, _Op(_CONCAT, count=pushes), _Op(_CAPTURE, field)]
