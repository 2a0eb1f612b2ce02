"""The documentation site checked in a browser: every page, at a desktop and a phone width.

Builds the site (`mkdocs build --strict`) into a temporary folder, serves it on localhost and
opens every page in headless Chromium (Debian's `/usr/bin/chromium`, driven by Playwright's
Python package; no browser is downloaded), at 1280x900 and at 390x844. Each page gets a full
screenshot, `site-check/<width name>/<page>.png`, and is judged broken when

- it or a resource it loads answers with an HTTP error, or a request fails (a request to
  another host is refused: the site must work offline);
- its text links to a page or file that the site does not have;
- an image is not shown (`naturalWidth` 0);
- JavaScript reports an error;
- MathJax reports an error (`mjx-merror`), or TeX is left as source in the text (`$$`, `\\(`,
  `\\[`, `\\begin{`) outside code;
- the page is wider than the window (a table or code block that scrolls inside its own box is
  fine, a body that scrolls sideways is not);
- its main content is empty.

The list of broken pages is printed and written to `site-check/report.txt`; the exit code is 1
when there is one. Run it with `make docs-check`, or:

    python docs/check_site.py                       # build, check every page
    python docs/check_site.py --site site           # check a site already built
    python docs/check_site.py --pages index systems/kepler

mkdocs excludes `*.py` under `docs/`, so this script is not part of the site. `judge`, which
turns what the browser saw into the list of problems, needs no browser (tests/test_check_site.py).
"""

import argparse
import contextlib
import dataclasses
import functools
import html.parser
import http.server
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator


ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
INSTALL_CHROMIUM = "apt-get install -y chromium"
# Pixels a page may exceed the window by before it counts as scrolling sideways (rounding).
OVERFLOW_SLACK = 2
# A main content with less text than this, its title aside, counts as empty.
MIN_CONTENT_CHARS = 20
PAGE_TIMEOUT_MS = 30_000


@dataclasses.dataclass(frozen=True)
class Viewport:
    """A browser window: the name of its screenshot folder and its size in CSS pixels."""

    name: str
    width: int
    height: int


VIEWPORTS = (Viewport("desktop", 1280, 900), Viewport("phone", 390, 844))


@dataclasses.dataclass(frozen=True)
class PageFacts:
    """What the browser saw of one page at one viewport, once its scripts and math had run.

    `html` is the rendered DOM (`document.documentElement.outerHTML`), `scroll_width` the width
    of the page's scrolling area, `failed_requests` one line per request that failed or
    answered with an HTTP error, and `overflowing` a description of each element that sticks
    out of the window (used only to explain an overflow).
    """

    url: str
    viewport: Viewport
    status: int | None
    html: str
    scroll_width: int
    broken_images: tuple[str, ...] = ()
    failed_requests: tuple[str, ...] = ()
    console_errors: tuple[str, ...] = ()
    overflowing: tuple[str, ...] = ()
    missing_links: tuple[str, ...] = ()


# Text in these elements is code or machinery, never prose that should show rendered math.
_NOT_PROSE = frozenset(
    {"pre", "code", "kbd", "samp", "script", "style", "textarea", "mjx-container", "svg"}
)
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
# Math that MathJax did not typeset: a whole `$$...$$`, `\(...\)`, `\[...\]` counts once, and
# so does a lone opening or a `\begin{`.
_RAW_TEX = re.compile(r"\$\$.+?\$\$|\\\(.+?\\\)|\\\[.+?\\\]|\$\$|\\\(|\\\[|\\begin\{", re.DOTALL)


class _RenderedPage(html.parser.HTMLParser):
    """Reads a rendered page: the text of its prose, of its main content, and math errors."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.prose: list[str] = []
        self.main: list[str] | None = None
        self.title: list[str] = []
        self.math_errors: list[str] = []
        self.links: list[str] = []
        self.headerlink_depth = 0
        self.error_depth = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "mjx-merror":
            # The message, else (filled in by `handle_data`) the error's text.
            self.math_errors.append(attributes.get("data-mjx-error") or "")
            self.error_depth = len(self.stack) + 1
        if tag in _VOID:
            return
        self.stack.append(tag)
        classes = (attributes.get("class") or "").split()
        if self.main is None and tag == "article":
            self.main = []
        if "headerlink" in classes and not self.headerlink_depth:
            self.headerlink_depth = len(self.stack)
        if tag == "a" and attributes.get("href") and "article" in self.stack:
            self.links.append(attributes["href"])

    def handle_endtag(self, tag):
        if tag not in self.stack:
            return
        while self.stack:
            closed = self.stack.pop()
            if len(self.stack) < self.headerlink_depth:
                self.headerlink_depth = 0
            if len(self.stack) < self.error_depth:
                self.error_depth = 0
            if closed == tag:
                break

    def handle_data(self, data):
        if self.error_depth and not self.math_errors[-1].strip():
            self.math_errors[-1] += data
        if any(tag in _NOT_PROSE for tag in self.stack):
            return
        self.prose.append(data)
        if self.main is not None and "article" in self.stack and not self.headerlink_depth:
            if "h1" in self.stack:
                self.title.append(data)
            else:
                self.main.append(data)


def _read(page_html: str) -> _RenderedPage:
    reader = _RenderedPage()
    reader.feed(page_html)
    reader.close()
    return reader


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def judge(facts: PageFacts) -> list[str]:
    """The problems a reader of the page would trip over; none for a page that looks right."""
    problems = []
    if facts.status is None:
        problems.append("the page did not load")
    elif facts.status >= 400:
        problems.append(f"the page answered HTTP {facts.status}")
    problems += [f"request failed: {line}" for line in facts.failed_requests]
    problems += [f"image not shown: {src}" for src in facts.broken_images]
    problems += [f"link to a missing page or file: {href}" for href in facts.missing_links]
    problems += [f"JavaScript error: {message}" for message in facts.console_errors]
    page = _read(facts.html)
    for message in dict.fromkeys(_squeeze(error) for error in page.math_errors):
        problems.append(f"MathJax error: {message or '(no message)'}")
    prose = "\n".join(page.prose)
    raw = list(_RAW_TEX.finditer(prose))
    if raw:
        start, end = max(raw[0].start() - 30, 0), min(raw[0].end() + 40, len(prose))
        problems.append(
            f"math left as TeX source in {len(raw)} places, the first: "
            f"...{_squeeze(prose[start:end])}..."
        )
    limit = facts.viewport.width + OVERFLOW_SLACK
    if facts.scroll_width > limit:
        culprits = "; ".join(facts.overflowing) or "no single element found"
        problems.append(
            f"the page is {facts.scroll_width} px wide in a {facts.viewport.width} px window "
            f"(scrolls sideways); sticking out: {culprits}"
        )
    if page.main is None:
        problems.append("no main content (<article>) on the page")
    elif len(_squeeze("".join(page.main))) < MIN_CONTENT_CHARS:
        title = _squeeze("".join(page.title)) or "(no title)"
        problems.append(f"the main content is empty (title: {title})")
    return problems


# In the page, once loaded: wait for MathJax to have typeset (each `typesetPromise` call chains
# onto `startup.promise`), for the fonts, and for every image, lazy ones included.
_SETTLE = """async () => {
  const mathjax = window.MathJax;
  if (mathjax && mathjax.startup && mathjax.startup.promise) {
    let promise;
    do { promise = mathjax.startup.promise; await promise; }
    while (promise !== mathjax.startup.promise);
  }
  await document.fonts.ready;
  const images = [...document.images];
  for (const image of images) { if (image.loading === "lazy") image.loading = "eager"; }
  await Promise.all(images.map((image) => image.complete ? null : new Promise((done) => {
    image.addEventListener("load", done);
    image.addEventListener("error", done);
    setTimeout(done, 10000);
  })));
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
}"""

# In the page: its width, the images not shown, and which elements stick out of the window
# (the outermost ones, not counting those inside a box that scrolls or clips).
_MEASURE = """(slack) => {
  const root = document.documentElement;
  const scrollWidth = Math.max(root.scrollWidth, document.body.scrollWidth);
  const limit = root.clientWidth + slack;
  const brokenImages = [...document.images]
    .filter((image) => !image.complete || image.naturalWidth === 0)
    .map((image) => image.getAttribute("src"));
  const describe = (element) => {
    const classes = [...element.classList].slice(0, 2).map((name) => "." + name).join("");
    const text = (element.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 50);
    const width = Math.round(element.getBoundingClientRect().right);
    return `<${element.tagName.toLowerCase()}${classes}> to x=${width}: "${text}"`;
  };
  const clipped = (element) => {
    for (let up = element.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") return true;
    }
    return false;
  };
  const overflowing = [];
  if (scrollWidth > limit) {
    for (const element of document.body.querySelectorAll("*")) {
      const box = element.getBoundingClientRect();
      if (box.width === 0 || box.right <= limit) continue;
      const parent = element.parentElement;
      if (parent && parent !== document.body && parent.getBoundingClientRect().right > limit)
        continue;
      if (clipped(element)) continue;
      overflowing.push(describe(element));
      if (overflowing.length === 5) break;
    }
  }
  return { scrollWidth, brokenImages, overflowing, html: root.outerHTML };
}"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve(site: pathlib.Path) -> Iterator[str]:
    """Serves the folder `site` on localhost in a thread; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def site_pages(site: pathlib.Path) -> list[str]:
    """The pages of a built site as URL paths relative to its root: `""`, `"systems/kepler/"`."""
    pages = []
    for path in sorted(site.rglob("index.html")):
        folder = path.parent.relative_to(site).as_posix()
        pages.append("" if folder == "." else folder + "/")
    return pages


def screenshot_name(page: str) -> str:
    """The screenshot file of a page: `index.png`, `systems-kepler.png`."""
    return (page.strip("/").replace("/", "-") or "index") + ".png"


def _visit(page, url: str, viewport: Viewport, base: str) -> PageFacts:
    """Opens `url` in the Playwright page `page` and gathers what `judge` needs."""
    failed, errors = [], []

    def on_response(response):
        if response.status >= 400:
            failed.append(f"HTTP {response.status} {response.url}")

    def on_request_failed(request):
        if request.url.startswith(base):
            failed.append(f"{request.failure} {request.url}")
        else:
            failed.append(
                f"needs another host, refused (the site must work offline): {request.url}"
            )

    def on_console(message):
        # A failed resource is reported with its URL by `on_response`/`on_request_failed`.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def on_page_error(error):
        errors.append(str(error))

    page.on("response", on_response)
    page.on("requestfailed", on_request_failed)
    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    try:
        response = page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        page.evaluate(_SETTLE)
        seen = page.evaluate(_MEASURE, OVERFLOW_SLACK)
    except Exception as error:  # a page that does not load is a finding, not a crash
        failed.append(f"loading {url}: {error}".splitlines()[0])
        response = None
        seen = {"html": "", "scrollWidth": 0, "brokenImages": [], "overflowing": []}
    finally:
        page.remove_listener("response", on_response)
        page.remove_listener("requestfailed", on_request_failed)
        page.remove_listener("console", on_console)
        page.remove_listener("pageerror", on_page_error)
    return PageFacts(
        url=url.removeprefix(base) or "/",
        viewport=viewport,
        status=None if response is None else response.status,
        html=seen["html"],
        scroll_width=int(seen["scrollWidth"]),
        broken_images=tuple(seen["brokenImages"]),
        failed_requests=tuple(failed),
        console_errors=tuple(errors),
        overflowing=tuple(seen["overflowing"]),
    )


def check_site(
    site: pathlib.Path, pages: list[str], out: pathlib.Path, chromium: str
) -> dict[tuple[str, str], list[str]]:
    """Visits `pages` of the built `site` at every viewport, screenshots them into `out`.

    **Returns:** the problems of each `(page, viewport name)` that has some.
    """
    from playwright.sync_api import sync_playwright

    found = {}
    with serve(site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        local = urllib.parse.urlsplit(base).netloc
        for viewport in VIEWPORTS:
            (out / viewport.name).mkdir(parents=True, exist_ok=True)
            context = browser.new_context(
                viewport={"width": viewport.width, "height": viewport.height},
                device_scale_factor=1,
            )

            # The site must work offline: a request to another host is refused (and reported).
            def only_local(route, request, local=local):
                if urllib.parse.urlsplit(request.url).netloc == local:
                    route.continue_()
                else:
                    route.abort("blockedbyclient")

            context.route("**/*", only_local)
            tab = context.new_page()
            for page in pages:
                facts = _visit(tab, base + page, viewport, base)
                facts = dataclasses.replace(
                    facts, missing_links=tuple(missing_links(facts.html, page, site))
                )
                problems = judge(facts)
                try:
                    tab.screenshot(
                        path=out / viewport.name / screenshot_name(page),
                        full_page=True,
                        animations="disabled",
                        caret="hide",
                    )
                except Exception as error:  # reported with the page, the check goes on
                    problems.append(f"no screenshot: {error}".splitlines()[0])
                mark = "BROKEN" if problems else "ok"
                print(f"  {viewport.name:8s} /{page:40s} {mark}", flush=True)
                if problems:
                    found[page or "/", viewport.name] = problems
            context.close()
        browser.close()
    return found


def missing_links(page_html: str, page: str, site: pathlib.Path) -> list[str]:
    """The links of a page's main content to pages or files that the built `site` lacks.

    `page` is the page's URL path in the site (`"systems/kepler/"`); links to other hosts and
    to a place in the same page are not followed.
    """
    missing = []
    for href in _read(page_html).links:
        parts = urllib.parse.urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        target = urllib.parse.unquote(urllib.parse.urljoin("/" + page, parts.path))
        path = site / target.lstrip("/")
        if target.endswith("/"):
            path = path / "index.html"
        if not path.is_file():
            missing.append(href)
    return missing


def build_site(folder: pathlib.Path) -> None:
    """`mkdocs build --strict` of this repository into `folder`."""
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(folder)]
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    subprocess.run(command, cwd=ROOT, check=True, env=environment)


def report(found: dict[tuple[str, str], list[str]], pages: int, seconds: float) -> str:
    """The text of the report: every broken page and its problems, or that none is broken."""
    shots = pages * len(VIEWPORTS)
    head = f"{pages} pages, {shots} screenshots, {seconds:.0f} s: "
    if not found:
        return head + "no page looks broken.\n"
    lines = [head + f"{len(found)} page views look broken:"]
    for (page, viewport), problems in sorted(found.items()):
        lines.append(f"{page} ({viewport}):")
        lines += [f"  - {problem}" for problem in problems]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=pathlib.Path, help="a built site (default: build one)")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "site-check")
    parser.add_argument("--chromium", default=CHROMIUM, help="the Chromium executable")
    parser.add_argument("--pages", nargs="*", help="only these pages, e.g. index systems/kepler")
    args = parser.parse_args(argv)
    if not pathlib.Path(args.chromium).exists():
        print(f"no Chromium at {args.chromium}: install it with `{INSTALL_CHROMIUM}`")
        return 2
    try:
        import playwright  # noqa: F401
    except ImportError:
        print("the check needs Playwright: pip install -e '.[docs-check]' (no browser download)")
        return 2
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="site-") as temporary:
        site = args.site
        if site is None:
            site = pathlib.Path(temporary)
            print(f"building the site into {site}", flush=True)
            try:
                build_site(site)
            except subprocess.CalledProcessError:
                print("the site does not build: see mkdocs' messages above")
                return 1
        pages = site_pages(site)
        if args.pages:
            wanted = {name.strip("/") for name in args.pages}
            pages = [page for page in pages if (page.strip("/") or "index") in wanted]
            missing = wanted - {page.strip("/") or "index" for page in pages}
            if missing:
                print(f"no such page in the site: {', '.join(sorted(missing))}")
                return 2
        for viewport in VIEWPORTS:  # the screenshots of an earlier run, nothing else
            shutil.rmtree(args.out / viewport.name, ignore_errors=True)
        print(f"checking {len(pages)} pages at {len(VIEWPORTS)} widths", flush=True)
        found = check_site(site, pages, args.out, args.chromium)
    text = report(found, len(pages), time.perf_counter() - start)
    partial = args.out / "report.txt.partial"
    partial.write_text(text, encoding="utf-8")
    partial.replace(args.out / "report.txt")
    print(text + f"screenshots and report.txt in {args.out}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
