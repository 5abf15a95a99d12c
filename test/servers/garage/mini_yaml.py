"""A small YAML subset loader, enough for Garage's OpenAPI v1 document.

Python's standard library has no YAML parser and the project's test tools use the
standard library only, so this reads the subset that document uses: block mappings and
sequences (including mappings inside sequence items), flow sequences of scalars, literal
block scalars (`|`, `|-`, `|+`), single- and double-quoted scalars, plain scalars resolved
as in the YAML 1.2 core schema (null, booleans, integers, floats, strings) and comments.
Anything outside that subset (flow mappings, folded scalars, anchors, tags, multi-line
plain scalars, tabs in indentation, several documents) raises YamlError with the line
number rather than being guessed at.
"""

import re


class YamlError(Exception):
    def __init__(self, lineno, message):
        super().__init__(f"line {lineno}: {message}")
        self.lineno = lineno


_INT = re.compile(r"[-+]?[0-9]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_UNSUPPORTED_START = ("&", "*", "!", "{", ">", "%", "@", "`")


def load(text):
    """Parses one YAML document and returns plain dicts, lists and scalars."""
    return _Parser(text).parse_document()


class _Parser:
    def __init__(self, text):
        self.lines = text.replace("\r\n", "\n").split("\n")
        self.pos = 0  # index of the next raw line to read
        self.pushed = None  # a synthetic (indent, text, lineno) line, read first

    # ---- line access ----

    def peek(self):
        """Returns (indent, text, lineno) of the next meaningful line, or None."""
        if self.pushed is not None:
            return self.pushed
        while self.pos < len(self.lines):
            raw = self.lines[self.pos]
            stripped = raw.lstrip(" ")
            if stripped == "" or stripped.startswith("#"):
                self.pos += 1
                continue
            indent = len(raw) - len(stripped)
            if stripped.startswith("\t"):
                raise YamlError(self.pos + 1, "tab in indentation")
            if indent == 0 and (stripped.startswith("---") or stripped.startswith("...")):
                raise YamlError(self.pos + 1, "document markers are not supported")
            return (indent, stripped.rstrip(" "), self.pos + 1)
        return None

    def consume(self):
        line = self.peek()
        if self.pushed is not None:
            self.pushed = None
        else:
            self.pos += 1
        return line

    # ---- structure ----

    def parse_document(self):
        first = self.peek()
        if first is None:
            return None
        value = self.parse_block(first[0])
        rest = self.peek()
        if rest is not None:
            raise YamlError(rest[2], "unexpected content after the document's top level")
        return value

    def parse_block(self, indent):
        line = self.peek()
        if _is_sequence_item(line[1]):
            return self.parse_sequence(indent)
        return self.parse_mapping(indent)

    def parse_mapping(self, indent):
        result = {}
        while True:
            line = self.peek()
            if line is None or line[0] < indent:
                return result
            if line[0] > indent:
                raise YamlError(line[2], "unexpected indentation")
            if _is_sequence_item(line[1]):
                raise YamlError(line[2], "sequence item where a mapping key was expected")
            self.consume()
            key, rest = _split_key(line[1], line[2])
            if key in result:
                raise YamlError(line[2], f"duplicate key {key!r}")
            result[key] = self.parse_value(rest, indent, line[2], in_mapping=True)

    def parse_sequence(self, indent):
        result = []
        while True:
            line = self.peek()
            if line is None or line[0] < indent:
                return result
            if line[0] > indent:
                raise YamlError(line[2], "unexpected indentation")
            if not _is_sequence_item(line[1]):
                return result  # a mapping key at the same indent ends the sequence
            self.consume()
            body = line[1][1:]
            content = body.lstrip(" ")
            column = indent + 1 + (len(body) - len(content))
            if _is_sequence_item(content):
                # "- - item": a sequence whose first item sits at `column`
                self.pushed = (column, content, line[2])
                result.append(self.parse_sequence(column))
            elif content and not content.startswith("#") and _looks_like_key(content):
                # "- key: value": a mapping whose first key sits at `column`
                self.pushed = (column, content, line[2])
                result.append(self.parse_mapping(column))
            else:
                result.append(self.parse_value(content, indent, line[2], in_mapping=False))

    def parse_value(self, rest, indent, lineno, in_mapping):
        """Parses what follows `key:` or `-` on a line whose own indent is `indent`."""
        rest = _strip_comment(rest, lineno)
        if rest == "":
            nxt = self.peek()
            if nxt is None:
                return None
            if nxt[0] > indent:
                return self.parse_block(nxt[0])
            if in_mapping and nxt[0] == indent and _is_sequence_item(nxt[1]):
                return self.parse_sequence(indent)  # "key:\n- item" at the key's indent
            return None
        if rest[0] == "|":
            return self.parse_literal(rest, indent, lineno)
        value = _parse_inline(rest, lineno)
        nxt = self.peek()
        if nxt is not None and nxt[0] > indent and nxt[2] > lineno:
            raise YamlError(nxt[2], "multi-line scalars are not supported")
        return value

    def parse_literal(self, header, indent, lineno):
        m = re.fullmatch(r"\|([-+]?)([1-9]?)|\|([1-9])([-+])", header)
        if not m:
            raise YamlError(lineno, f"unsupported block scalar header {header!r}")
        chomp = m.group(1) or m.group(4) or ""
        explicit = m.group(2) or m.group(3)
        if self.pushed is not None:
            raise YamlError(lineno, "block scalar in an inline sequence mapping")
        block_indent = indent + int(explicit) if explicit else None
        collected = []
        while self.pos < len(self.lines):
            raw = self.lines[self.pos]
            stripped = raw.lstrip(" ")
            this_indent = len(raw) - len(stripped)
            if stripped == "":
                collected.append(raw)
                self.pos += 1
                continue
            if block_indent is None:
                if this_indent <= indent:
                    break
                block_indent = this_indent
            if this_indent < block_indent:
                break
            collected.append(raw)
            self.pos += 1
        if block_indent is None:
            block_indent = indent + 1
        body = [line[block_indent:] if len(line) > block_indent else line.strip(" ")
                for line in collected]
        # Trailing blank lines belong to the chomping, not the content.
        while body and body[-1] == "":
            body.pop()
        text = "\n".join(body)
        if chomp == "-":
            return text
        if chomp == "+":
            blank_count = len(collected) - len(body)
            return text + "\n" + "\n" * blank_count if body else "\n" * blank_count
        return text + "\n" if body else ""


# ---- line-level helpers ----


def _is_sequence_item(text):
    return text == "-" or text.startswith("- ")


def _looks_like_key(text):
    """Whether `text` starts a `key: value` entry (rather than being a scalar)."""
    if text[0] in "\"'":
        end = _quoted_end(text, 0)
        return end is not None and text[end:].lstrip(" ").startswith(":") and _colon_ok(
            text, end + len(text[end:]) - len(text[end:].lstrip(" ")))
    if text[0] == "[":
        return False
    return _find_key_colon(text) is not None


def _colon_ok(text, index):
    return index < len(text) and text[index] == ":" and (
        index + 1 == len(text) or text[index + 1] == " ")


def _find_key_colon(text):
    for i, ch in enumerate(text):
        if ch == "#" and i > 0 and text[i - 1] == " ":
            return None
        if _colon_ok(text, i):
            return i
    return None


def _split_key(text, lineno):
    if text[0] in "\"'":
        end = _quoted_end(text, 0)
        if end is None:
            raise YamlError(lineno, "unterminated quoted key")
        key = _unquote(text[:end], lineno)
        rest = text[end:].lstrip(" ")
        if not rest.startswith(":") or not (len(rest) == 1 or rest[1] == " "):
            raise YamlError(lineno, "expected ':' after a quoted key")
        return key, rest[1:].lstrip(" ")
    colon = _find_key_colon(text)
    if colon is None:
        raise YamlError(lineno, f"expected 'key: value', got {text!r}")
    key = text[:colon].rstrip(" ")
    if key.startswith(_UNSUPPORTED_START) or key.startswith("? "):
        raise YamlError(lineno, f"unsupported key syntax {key!r}")
    return key, text[colon + 1:].lstrip(" ")


def _quoted_end(text, start):
    """Index just past the closing quote of the quoted scalar starting at `start`."""
    quote = text[start]
    i = start + 1
    while i < len(text):
        ch = text[i]
        if quote == '"' and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if quote == "'" and i + 1 < len(text) and text[i + 1] == "'":
                i += 2
                continue
            return i + 1
        i += 1
    return None


def _strip_comment(text, lineno):
    """Removes a trailing ` # comment` outside quotes."""
    if text.startswith("#"):
        return ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'" and (i == 0 or text[i - 1] in " [,"):
            end = _quoted_end(text, i)
            if end is None:
                raise YamlError(lineno, "unterminated quoted scalar")
            i = end
            continue
        if ch == "#" and i > 0 and text[i - 1] == " ":
            return text[:i].rstrip(" ")
        i += 1
    return text


def _parse_inline(text, lineno):
    if text[0] in "\"'":
        end = _quoted_end(text, 0)
        if end is None:
            raise YamlError(lineno, "unterminated quoted scalar")
        if text[end:].strip(" "):
            raise YamlError(lineno, f"unexpected text after quoted scalar: {text[end:]!r}")
        return _unquote(text, lineno)
    if text[0] == "[":
        return _parse_flow_sequence(text, lineno)
    if text.startswith(_UNSUPPORTED_START) or text[0] in "|":
        raise YamlError(lineno, f"unsupported YAML syntax {text!r}")
    if _find_key_colon(text) is not None:
        raise YamlError(lineno, f"unexpected mapping in a scalar position: {text!r}")
    return _resolve_plain(text)


def _parse_flow_sequence(text, lineno):
    if not text.endswith("]"):
        raise YamlError(lineno, "flow sequences must end on their line")
    inner = text[1:-1]
    items, current, i, depth = [], "", 0, 0
    while i < len(inner):
        ch = inner[i]
        if ch in "\"'" and current.strip() == "":
            end = _quoted_end(inner, i)
            if end is None:
                raise YamlError(lineno, "unterminated quoted scalar")
            current += inner[i:end]
            i = end
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "{":
            raise YamlError(lineno, "flow mappings are not supported")
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
        i += 1
    items.append(current)
    items = [item.strip(" ") for item in items]
    if items[-1] == "":
        items.pop()  # "[ ]" and a trailing comma
    if any(item == "" for item in items):
        raise YamlError(lineno, "empty entry in flow sequence")
    return [_parse_inline(item, lineno) for item in items]


def _resolve_plain(text):
    if text in ("null", "Null", "NULL", "~"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v",
            "f": "\f", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
            "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"}


def _unquote(text, lineno):
    body = text[1:-1]
    if text[0] == "'":
        return body.replace("''", "'")
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        esc = body[i + 1] if i + 1 < len(body) else ""
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            i += 2
            continue
        width = {"x": 2, "u": 4, "U": 8}.get(esc)
        digits = body[i + 2:i + 2 + width] if width else ""
        if not width or len(digits) != width or not re.fullmatch(r"[0-9a-fA-F]+", digits):
            raise YamlError(lineno, f"invalid escape in double-quoted scalar: {body[i:i + 4]!r}")
        out.append(chr(int(digits, 16)))
        i += 2 + width
    return "".join(out)
