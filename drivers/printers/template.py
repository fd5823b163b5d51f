"""Label templates: ZPL files a site can edit, with named placeholders, checked when they are loaded.

A template is one label, ``^XA`` ... ``^XZ``, written in plain ZPL plus three kinds of tags:

- ``{{name}}`` - a value, inside a field's ``^FD`` data: ``^FO40,176^BCN,160,Y,N,N,A^FD{{waybill_no}}^FS``;
- ``{{text:name size=48 width=732 lines=3}}`` - a text box that may hold Chinese, in place of a field's font
  and ``^FD``: ``^FO40,610{{text:address size=48 width=732 lines=3}}^FS``. It becomes a printer-font field
  with ``^CI28`` or a rasterised ``^GF`` picture, depending on the CJK mode; ``{{text:"收件人" size=32
  width=140}}`` prints a fixed caption the same way. ``size`` is the character height in dots,
  ``width`` the box width in dots, ``lines`` the most lines (default 1), ``align`` L, C or R;
- ``{{#name}}`` ... ``{{/name}}`` - a section kept only when ``name`` is true (``gift``, ``priority``).

Checked on load, each with the file name and line in the message: unknown tag names, tags outside the
places above, unbalanced sections, a missing or nested ``^XA``/``^XZ``, a field opened with ``^FO`` and not
closed with ``^FS``, anything outside the label, literal non-ASCII text (Chinese must go through a
``text`` tag so it prints in both modes), and fields or boxes that fall off the label (``^PW`` x ``^LL``, or
812 x 1218 dots when the template does not say). What depends on the data (how wide a waybill's barcode is)
is checked again when a label is rendered.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from drivers.printers.errors import LabelRenderError, TemplateError
from drivers.printers.raster import line_height
from drivers.printers.zpl import Command, code128_modules, estimate_text_width, qr_modules, tokenize

#: 100 x 150 mm at 203 dpi (8 dots/mm).
DEFAULT_WIDTH_DOTS = 812
DEFAULT_HEIGHT_DOTS = 1218

_TAG = re.compile(r"\{\{([^{}\n]*)\}\}")
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_TEXT_TAG = re.compile(r'text:(?:(?P<name>[a-z_][a-z0-9_]*)|"(?P<literal>[^"]*)")(?P<opts>(?:\s+[a-z]+=\S+)*)\s*')
_FIELD_START = ("FO", "FT")
_FONT_COMMANDS = ("A0", "A@", "CF")
_ALIGNMENTS = ("L", "C", "R")
_INTERPRETATION_LINE_DOTS = 40  # room the ^BC human-readable line needs under the bars


@dataclass(frozen=True)
class TextSpec:
    """A text box from a ``{{text:...}}`` tag."""

    source: str  # placeholder name, or the literal text
    literal: bool
    size: int
    width: int
    lines: int = 1
    align: str = "L"

    @property
    def height(self) -> int:
        """The most dots the box can take downwards."""
        return self.lines * line_height(self.size)


@dataclass(frozen=True)
class _Literal:
    text: str
    offset: int


@dataclass(frozen=True)
class _Value:
    name: str
    offset: int


@dataclass(frozen=True)
class _Text:
    spec: TextSpec
    offset: int


@dataclass(frozen=True)
class _Section:
    name: str
    opening: bool
    offset: int


_Part = _Literal | _Value | _Text | _Section

#: Makes the ZPL for a text box: (spec, text) -> the field body that replaces the tag.
TextRenderer = Callable[[TextSpec, str], str]


@dataclass
class _FieldState:
    command: Command
    line: int
    x: int
    y: int
    has_data: bool = False
    has_text: bool = False
    has_font: bool = False


@dataclass
class Template:
    """A parsed and validated label template; build one with :meth:`load` or :meth:`from_text`."""

    name: str
    parts: list[_Part]
    width_dots: int
    height_dots: int
    values: frozenset[str]
    sections: frozenset[str]
    text_specs: list[TextSpec] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path, *, values: frozenset[str], sections: frozenset[str]) -> "Template":
        """Read and validate a template file; raises :class:`TemplateError` naming file, line and problem."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise TemplateError(f"{path}: cannot read the template: {err}") from err
        return cls.from_text(text, name=str(path), values=values, sections=sections)

    @classmethod
    def from_text(cls, text: str, *, name: str, values: frozenset[str], sections: frozenset[str]) -> "Template":
        """Parse and validate template text (see the module docstring for the rules)."""
        checker = _Checker(text, name, values, sections)
        parts = checker.run()
        return cls(
            name=name,
            parts=parts,
            width_dots=checker.width,
            height_dots=checker.height,
            values=values,
            sections=sections,
            text_specs=[part.spec for part in parts if isinstance(part, _Text)],
        )

    def expand(self, values: Mapping[str, str], flags: Mapping[str, bool], text_renderer: TextRenderer) -> str:
        """Fill the template: sections by ``flags``, values (already made ZPL-safe), text boxes by the renderer."""
        out: list[str] = []
        skipping: list[bool] = []
        after_section = False
        for part in self.parts:
            if isinstance(part, _Section):
                if part.opening:
                    skipping.append(not flags.get(part.name, False))
                else:
                    skipping.pop()
                after_section = True
                continue
            # A section tag on a line of its own leaves no empty line behind.
            strip = after_section
            after_section = False
            if any(skipping):
                continue
            if isinstance(part, _Literal):
                out.append(part.text[1:] if strip and part.text.startswith("\n") else part.text)
            elif isinstance(part, _Value):
                out.append(values[part.name])
            else:
                text = part.spec.source if part.spec.literal else values[part.spec.source]
                out.append(text_renderer(part.spec, text) if text.strip() else "")
        zpl = "".join(out)
        check_geometry(zpl, self.width_dots, self.height_dots)
        return zpl


class _Checker:
    """Walks a template once, building its parts and collecting the first error with its line."""

    def __init__(self, text: str, name: str, values: frozenset[str], sections: frozenset[str]) -> None:
        self.text = text
        self.name = name
        self.values = values
        self.sections = sections
        self.width = DEFAULT_WIDTH_DOTS
        self.height = DEFAULT_HEIGHT_DOTS
        self.home_x = 0
        self.home_y = 0
        self.format_line: int | None = None
        self.format_seen = False
        self.field: _FieldState | None = None
        self.last_command: Command | None = None
        self.section_stack: list[_Section] = []
        self.checks: list[Callable[[], None]] = []

    def line_of(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def fail(self, offset: int, message: str) -> TemplateError:
        return TemplateError(f"{self.name}, line {self.line_of(offset)}: {message}")

    def run(self) -> list[_Part]:
        parts = self.split()
        for part in parts:
            if isinstance(part, _Literal):
                self.literal(part)
            elif isinstance(part, _Value):
                self.value(part)
            elif isinstance(part, _Text):
                self.text_tag(part)
            else:
                self.section(part)
        end = len(self.text)
        if self.section_stack:
            opened = self.section_stack[-1]
            raise self.fail(
                opened.offset, f"section {{{{#{opened.name}}}}} is never closed with {{{{/{opened.name}}}}}"
            )
        if self.field is not None:
            raise self.fail(self.field.command.offset, f"^{self.field.command.name} opens a field never closed by ^FS")
        if self.format_line is not None:
            raise self.fail(end, f"^XA on line {self.format_line} has no closing ^XZ")
        if not self.format_seen:
            raise TemplateError(f"{self.name}: no label in the template: it must hold one ^XA ... ^XZ")
        # Geometry waits for ^PW/^LL, which may come after the first fields.
        for check in self.checks:
            check()
        return parts

    def split(self) -> list[_Part]:
        parts: list[_Part] = []
        position = 0
        for match in _TAG.finditer(self.text):
            if match.start() > position:
                parts.append(_Literal(self.text[position : match.start()], position))
            parts.append(self.parse_tag(match.group(1).strip(), match.start()))
            position = match.end()
        rest = self.text[position:]
        if rest:
            parts.append(_Literal(rest, position))
        for part in parts:
            if isinstance(part, _Literal) and "{{" in part.text:
                raise self.fail(part.offset + part.text.index("{{"), "'{{' without a closing '}}' on its line")
            if isinstance(part, _Literal) and "}}" in part.text:
                raise self.fail(part.offset + part.text.index("}}"), "'}}' without an opening '{{'")
        return parts

    def parse_tag(self, body: str, offset: int) -> _Part:
        if body.startswith(("#", "/")):
            name = body[1:].strip()
            if name not in self.sections:
                known = ", ".join(sorted(self.sections))
                raise self.fail(offset, f"unknown section {{{{{body}}}}} (sections: {known})")
            return _Section(name, body.startswith("#"), offset)
        if body.startswith("text:"):
            return _Text(self.parse_text_tag(body, offset), offset)
        if not _NAME.fullmatch(body):
            raise self.fail(offset, f"cannot read the tag {{{{{body}}}}}")
        if body not in self.values:
            raise self.fail(
                offset, f"unknown placeholder {{{{{body}}}}} (placeholders: {', '.join(sorted(self.values))})"
            )
        return _Value(body, offset)

    def parse_text_tag(self, body: str, offset: int) -> TextSpec:
        match = _TEXT_TAG.fullmatch(body)
        if match is None:
            raise self.fail(offset, f"cannot read {{{{{body}}}}}: write {{{{text:name size=N width=N lines=N}}}}")
        name, literal = match.group("name"), match.group("literal")
        if name is not None and name not in self.values:
            raise self.fail(offset, f"unknown placeholder {name!r} in a text tag")
        options: dict[str, str] = dict(item.split("=", 1) for item in match.group("opts").split())
        unknown = set(options) - {"size", "width", "lines", "align"}
        if unknown:
            raise self.fail(offset, f"unknown text option(s) {', '.join(sorted(unknown))} (size, width, lines, align)")
        try:
            size = int(options["size"])
            width = int(options["width"])
            lines = int(options.get("lines", "1"))
        except KeyError as err:
            raise self.fail(offset, f"a text tag needs {err.args[0]}=") from err
        except ValueError as err:
            raise self.fail(offset, f"text tag sizes must be whole dots: {err}") from err
        align = options.get("align", "L").upper()
        if size < 8 or width < size or lines < 1 or align not in _ALIGNMENTS:
            raise self.fail(offset, "text tag needs size >= 8, width >= size, lines >= 1, align L/C/R")
        return TextSpec(name if name is not None else literal, name is None, size, width, lines, align)

    # ------------------------------------------------------------------------------------ parts

    def literal(self, part: _Literal) -> None:
        text = part.text
        commands = tokenize(text)
        first = commands[0].offset if commands else len(text)
        self.stray(text[:first], part.offset, self.last_command)
        for command in commands:
            absolute = Command(command.prefix, command.name, command.params, part.offset + command.offset)
            self.command(absolute)
            self.last_command = absolute

    def stray(self, text: str, offset: int, previous: Command | None) -> None:
        """Text between tags and commands: parameters of the previous command, or whitespace."""
        if not text.strip():
            return
        if previous is None or self.format_line is None:
            raise self.fail(offset, f"text outside the label: {text.strip()[:30]!r}")
        self.check_ascii(previous, text, offset)

    def check_ascii(self, command: Command, params: str, offset: int) -> None:
        if command.name == "FX":
            return
        bad = next((ch for ch in params if ord(ch) > 0x7E), None)
        if bad is not None:
            raise self.fail(offset, f'non-ASCII text {bad!r} in ^{command.name}: write it as {{{{text:"..." ...}}}}')

    def command(self, command: Command) -> None:
        name = command.name
        offset = command.offset
        if command.prefix == "~":
            raise self.fail(offset, f"control command ~{name} does not belong in a label template")
        if name == "XA":
            if self.format_line is not None:
                raise self.fail(offset, f"^XA inside the label opened on line {self.format_line}")
            if self.format_seen:
                raise self.fail(offset, "a template holds one label; a second ^XA starts another")
            self.format_line = self.line_of(offset)
            self.format_seen = True
            return
        if self.format_line is None:
            where = "after the label's ^XZ" if self.format_seen else "before ^XA (is ^XA missing?)"
            raise self.fail(offset, f"^{name} {where}")
        self.check_ascii(command, command.params, offset)
        if name == "XZ":
            if self.field is not None:
                raise self.fail(
                    self.field.command.offset, f"^{self.field.command.name} field not closed by ^FS before ^XZ"
                )
            self.format_line = None
        elif name in _FIELD_START:
            self.field_start(command)
        elif name == "FS":
            if self.field is None:
                raise self.fail(offset, "^FS without a field opened by ^FO")
            self.field = None
        elif name == "FD":
            self.field_data(command)
        else:
            self.setting(command)

    def field_start(self, command: Command) -> None:
        if self.field is not None:
            opened = self.field.command
            raise self.fail(
                command.offset,
                f"^{command.name} before the field of line {self.line_of(opened.offset)} was closed by ^FS",
            )
        x, y = self.ints(command, 2)
        self.field = _FieldState(command, self.line_of(command.offset), x + self.home_x, y + self.home_y)
        state = self.field
        self.checks.append(lambda: self.check_origin(state))

    def setting(self, command: Command) -> None:
        """Label size and home, fonts, boxes and barcodes: what the geometry checks need to know."""
        name = command.name
        state = self.field
        if name == "PW":
            self.width = self.ints(command, 1)[0]
        elif name == "LL":
            self.height = self.ints(command, 1)[0]
        elif name == "LH":
            self.home_x, self.home_y = self.ints(command, 2)
        elif state is None:
            return
        elif name in _FONT_COMMANDS:
            state.has_font = True
        elif name == "GB":
            width, height = self.ints(command, 2)
            self.checks.append(lambda: self.check_box(state, width, height, "^GB box"))
        elif name == "BC":
            args = command.args
            height = int(args[1]) if len(args) > 1 and args[1].strip().isdigit() else 10
            below = _INTERPRETATION_LINE_DOTS if len(args) > 2 and args[2].strip().upper() == "Y" else 0
            self.checks.append(lambda: self.check_box(state, 1, height + below, "^BC barcode"))

    def field_data(self, command: Command) -> None:
        if self.field is None:
            raise self.fail(command.offset, "^FD outside a field: start the field with ^FO")
        if self.field.has_text:
            raise self.fail(command.offset, "^FD in a field that already has a {{text:...}} tag")
        self.field.has_data = True

    def value(self, part: _Value) -> None:
        if self.field is None or self.last_command is None or self.last_command.name != "FD":
            raise self.fail(part.offset, f"{{{{{part.name}}}}} must be inside a field's ^FD data")

    def text_tag(self, part: _Text) -> None:
        field_state = self.field
        if field_state is None or field_state.command.name != "FO":
            raise self.fail(part.offset, "a {{text:...}} tag must follow ^FOx,y (and field options like ^FR)")
        if field_state.has_data or field_state.has_font or field_state.has_text:
            raise self.fail(part.offset, "a {{text:...}} field takes no ^FD, font or second text tag of its own")
        field_state.has_text = True
        spec = part.spec
        self.checks.append(lambda: self.check_box(field_state, spec.width, spec.height, "text box"))

    def section(self, part: _Section) -> None:
        if self.field is not None:
            raise self.fail(
                part.offset, f"section tag {{{{{'#' if part.opening else '/'}{part.name}}}}} inside a field"
            )
        if part.opening:
            self.section_stack.append(part)
            return
        if not self.section_stack:
            raise self.fail(part.offset, f"{{{{/{part.name}}}}} closes no open section")
        opened = self.section_stack.pop()
        if opened.name != part.name:
            raise self.fail(
                part.offset, f"{{{{/{part.name}}}}} closes {{{{#{opened.name}}}}} of line {self.line_of(opened.offset)}"
            )

    # -------------------------------------------------------------------------------- geometry

    def ints(self, command: Command, count: int) -> list[int]:
        args = command.args
        try:
            values = [int(args[i].strip()) for i in range(count)]
        except (ValueError, IndexError) as err:
            raise self.fail(
                command.offset, f"^{command.name} needs {count} whole number(s): {command.params!r}"
            ) from err
        if any(v < 0 for v in values):
            raise self.fail(command.offset, f"^{command.name} has a negative position or size: {command.params!r}")
        return values

    def check_origin(self, state: _FieldState) -> None:
        if state.x >= self.width or state.y >= self.height:
            raise TemplateError(
                f"{self.name}, line {state.line}: field at {state.x},{state.y} is off the "
                f"{self.width} x {self.height} dot label"
            )

    def check_box(self, state: _FieldState, width: int, height: int, what: str) -> None:
        if state.x + width > self.width or state.y + height > self.height:
            raise TemplateError(
                f"{self.name}, line {state.line}: {what} at {state.x},{state.y} of {width} x {height} dots "
                f"runs off the {self.width} x {self.height} dot label"
            )


def check_geometry(zpl: str, width: int, height: int) -> None:
    """Check what only the data decides: barcode widths, QR sizes, graphic fields and Latin text must fit.

    Raises :class:`LabelRenderError` naming the field and by how much it overflows.
    """
    module = 2
    home_x = home_y = 0
    x = y = 0
    kind: tuple[str, list[str]] | None = None
    block = False
    for command in tokenize(zpl):
        name, args = command.name, command.args
        if name == "LH":
            home_x, home_y = (_int(args, 0), _int(args, 1))
        elif name == "BY":
            module = _int(args, 0) or module
        elif name in _FIELD_START:
            x, y = _int(args, 0) + home_x, _int(args, 1) + home_y
            kind, block = None, False
        elif name in ("BC", "BQ", "A0", "A@"):
            kind = (name, args)
        elif name == "FB":
            block = True  # a field block wraps its text inside its own width
        elif name == "GF":
            bytes_per_row = _int(args, 3)
            rows = _int(args, 2) // bytes_per_row if bytes_per_row else 0
            _fits(x + bytes_per_row * 8, y + rows, width, height, "graphic field")
        elif name == "FD" and kind is not None and not (block and kind[0] in ("A0", "A@")):
            _check_field(kind, command.params, x, y, module, width, height)
        elif name == "FS":
            kind, block = None, False


def _int(args: list[str], index: int) -> int:
    try:
        return int(float(args[index]))
    except (ValueError, IndexError):
        return 0


def _fits(right: int, bottom: int, width: int, height: int, what: str) -> None:
    if right > width or bottom > height:
        raise LabelRenderError(
            f"{what} reaches {right},{bottom}, past the {width} x {height} dot label: "
            "shorten the data or move the field"
        )


def _check_field(kind: tuple[str, list[str]], data: str, x: int, y: int, module: int, width: int, height: int) -> None:
    name, args = kind
    if name == "BC":
        gs1 = len(args) > 5 and args[5].strip().upper() == "D"
        bars = code128_modules(data, gs1=gs1) * module
        _fits(x + bars, y, width, height, f"Code 128 of {data!r} ({bars} dots wide at x={x})")
    elif name == "BQ":
        magnification = _int(args, 2) or 2
        payload = data.split(",", 1)[1] if "," in data else data
        side = qr_modules(payload) * magnification
        _fits(x + side, y + side, width, height, f"QR code of {payload!r} ({side} dots square)")
    else:
        text_height = _int(args, 1) or 30
        text_width = _int(args, 2) or None
        _fits(x + estimate_text_width(data, text_height, text_width), y + text_height, width, height, f"text {data!r}")
