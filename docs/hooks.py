"""MkDocs hooks of this site: the benchmark tables are read from `benchmarks/results/`, and
the command line's help from the command line itself.

The benchmark scripts write a Markdown table beside each JSON result. The Benchmarks page has
a marker where every committed table is inserted at build time (headings moved two levels
down), so the page always shows the numbers in the repository, and never a stale copy; a page
that shows one script's table (Performance) names it: `<!-- benchmark result: speed -->`.
"""

import pathlib
import re
import sys


RESULTS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "results"
MARKER = "<!-- benchmark results -->"
NO_RESULTS = (
    "No full run has been committed yet. Run a script with `--full`; its table then appears here."
)
_HEADING = re.compile(r"^(#{1,4})[ ]", re.MULTILINE)
# `<!-- benchmark result: speed -->` inserts one script's table, as the Performance page does.
_ONE_TABLE = re.compile(r"<!-- benchmark result: (\w+) -->")
# `<!-- readme table: n_body -->` inserts the table the README shows from the same results
# (`benchmarks/_readme_tables.py`); `<!-- readme table: goals only n_body -->` the goals of one
# benchmark.
_README_TABLE = re.compile(r"<!-- readme table: (\w+)(?: only (\w+))? -->")
# `<!-- cli help: train -->` inserts `lagrangian-zoo train --help` (`<!-- cli help -->`: the
# top-level help), as the Command line page does.
_CLI_HELP = re.compile(r"<!-- cli help(?:: (\w+))? -->")


def benchmark_tables(results: pathlib.Path = RESULTS) -> str:
    """The Markdown tables of `results/*.md`, one section each, or a note that none exist."""
    sections = []
    for path in sorted(results.glob("*.md")):
        text = path.read_text(encoding="utf-8").strip()
        if not text.startswith("#"):
            text = f"# {path.stem}\n\n{text}"
        sections.append(_HEADING.sub(lambda m: "#" * (len(m.group(1)) + 2) + " ", text))
    return "\n\n".join(sections) if sections else NO_RESULTS


def benchmark_table(name: str, results: pathlib.Path = RESULTS) -> str:
    """The Markdown table of `results/<name>.md` without its title, or a note that none exists."""
    path = results / f"{name}.md"
    if not path.exists():
        return (
            f"No full run of `{name}` has been committed yet: run `benchmarks/{name}.py --full`."
        )
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("# "):
        text = text.split("\n", 1)[1].strip() if "\n" in text else ""
    return _HEADING.sub(lambda m: "#" * (len(m.group(1)) + 2) + " ", text)


def readme_table(name: str, only: str | None = None, results: pathlib.Path = RESULTS) -> str:
    """A table of `benchmarks/_readme_tables.py`, as the README shows it."""
    if str(results.parent) not in sys.path:
        sys.path.insert(0, str(results.parent))
    import _readme_tables

    if name == "goals":
        return _readme_tables.goals(results, only=only)
    data = _readme_tables.load(_readme_tables.SOURCES.get(name, name), results)
    return _readme_tables.TABLES[name](data)


def cli_help(command: str | None = None) -> str:
    """`lagrangian-zoo [command] --help` as printed at a width of 100 columns, without colour,
    in a fenced text block."""
    from lagrangian_zoo.cli import app
    from typer.testing import CliRunner

    arguments = [command, "--help"] if command else ["--help"]
    result = CliRunner().invoke(
        app, arguments, env={"NO_COLOR": "1", "COLUMNS": "100", "TERM": "dumb"}, color=False
    )
    if result.exit_code != 0:
        raise RuntimeError(f"lagrangian-zoo {' '.join(arguments)} failed: {result.output}")
    lines = [line.rstrip() for line in result.output.strip("\n").splitlines()]
    return "```text\n" + "\n".join(lines) + "\n```"


def on_page_markdown(markdown, page, config, files):
    markdown = _ONE_TABLE.sub(lambda m: benchmark_table(m.group(1)), markdown)
    markdown = _README_TABLE.sub(lambda m: readme_table(m.group(1), m.group(2)), markdown)
    markdown = _CLI_HELP.sub(lambda m: cli_help(m.group(1)), markdown)
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, benchmark_tables())
