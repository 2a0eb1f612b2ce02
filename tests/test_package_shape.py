"""The package stays readable: no function in `lagrangian_zoo/` has a body over 100 lines.

A body is counted from its first statement after the docstring to its last line, so a long
signature or docstring does not count, and a nested function counts within its parent as well
as alone.
"""

import ast
import pathlib
import textwrap


ROOT = pathlib.Path(__file__).resolve().parents[1]
LIMIT = 100


def body_lengths(source: str) -> dict[str, int]:
    """The body length in lines of every function in `source`, by qualified-ish name."""
    lengths = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        body = node.body
        first = body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            if isinstance(first.value.value, str) and len(body) > 1:
                body = body[1:]
        lengths[f"{node.name}:{node.lineno}"] = body[-1].end_lineno - body[0].lineno + 1
    return lengths


def test_body_length_counts_statements_not_signature_or_docstring():
    source = textwrap.dedent(
        '''
        def f(
            a,
            b,
        ):
            """A docstring
            of three
            lines."""
            x = a
            if x:
                y = b
            return x
        '''
    )
    assert body_lengths(source) == {"f:2": 4}


def test_no_function_body_over_the_limit():
    long = []
    for path in sorted((ROOT / "lagrangian_zoo").rglob("*.py")):
        for name, length in body_lengths(path.read_text()).items():
            if length > LIMIT:
                long.append(f"{path.relative_to(ROOT)}:{name} ({length} lines)")
    assert not long, f"function bodies over {LIMIT} lines: {long}"
