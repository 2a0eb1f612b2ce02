"""MkDocs hooks of this site: the benchmark tables are read from `benchmarks/results/`.

The benchmark scripts write a Markdown table beside each JSON result. The Benchmarks page has
a marker where every committed table is inserted at build time (headings moved two levels
down), so the page always shows the numbers in the repository, and never a stale copy.
"""

import pathlib
import re


RESULTS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "results"
MARKER = "<!-- benchmark results -->"
NO_RESULTS = (
    "No full run has been committed yet. Run a script with `--full`; its table then appears here."
)
_HEADING = re.compile(r"^(#{1,4})[ ]", re.MULTILINE)


def benchmark_tables(results: pathlib.Path = RESULTS) -> str:
    """The Markdown tables of `results/*.md`, one section each, or a note that none exist."""
    sections = []
    for path in sorted(results.glob("*.md")):
        text = path.read_text(encoding="utf-8").strip()
        if not text.startswith("#"):
            text = f"# {path.stem}\n\n{text}"
        sections.append(_HEADING.sub(lambda m: "#" * (len(m.group(1)) + 2) + " ", text))
    return "\n\n".join(sections) if sections else NO_RESULTS


def on_page_markdown(markdown, page, config, files):
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, benchmark_tables())
