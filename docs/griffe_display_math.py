"""A griffe extension for the documentation build: display math gets its own paragraph.

Docstrings write display equations as `$$...$$` inside a paragraph, as one would in LaTeX:

    Solves
    $$\\ddot q = M^{-1} f$$
    for any Lagrangian.

Markdown's arithmatex extension recognises display math only as a paragraph of its own, so this
extension puts blank lines around every `$$...$$` of a docstring before it is rendered, with the
indentation of the line it starts on (so that equations inside list items stay there). The
docstrings themselves are left as they are.
"""

import re

import griffe


_DISPLAY = re.compile(r"\$\$(?P<body>.+?)\$\$", re.DOTALL)
_LIST_ITEM = re.compile(r"^(?P<indent>[ ]*)(?:[-*+]|\d+\.)[ ]+")
_FENCE = re.compile(r"^[ ]*(```|~~~)", re.MULTILINE)


def _indent_of(line: str) -> str:
    """The indentation a block needs to continue the paragraph or list item of `line`."""
    item = _LIST_ITEM.match(line)
    if item:
        return item.group("indent") + "    "
    return line[: len(line) - len(line.lstrip(" "))]


def _separate(text: str) -> str:
    pieces = []
    position = 0
    for match in _DISPLAY.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        lead = text[line_start : match.start()]
        indent = _indent_of(lead)
        head = text[position:line_start]
        if lead.strip():
            head += lead.rstrip() + "\n\n"
        elif head and not head.endswith("\n\n"):
            head += "\n"
        line_end = text.find("\n", match.end())
        line_end = len(text) if line_end == -1 else line_end
        tail = text[match.end() : line_end].strip()
        pieces.append(head + indent + match.group(0) + "\n\n")
        if tail:
            pieces.append(indent + tail + "\n")
        position = min(line_end + 1, len(text))
    pieces.append(text[position:])
    return "".join(pieces)


def separate_display_math(text: str) -> str:
    """`text` with every `$$...$$` outside code fences turned into a paragraph of its own."""
    if "$$" not in text:
        return text
    out, chunk, fenced = [], [], False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            if not fenced:
                out.append(_separate("".join(chunk)))
                chunk = []
            fenced = not fenced
            out.append(line)
        elif fenced:
            out.append(line)
        else:
            chunk.append(line)
    out.append(_separate("".join(chunk)))
    return "".join(out)


class DisplayMath(griffe.Extension):
    """Applies `separate_display_math` to the docstring of every object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = separate_display_math(obj.docstring.value)
