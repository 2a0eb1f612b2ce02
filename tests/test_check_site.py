"""The judgement of docs/check_site.py, on small rendered pages: no browser needed.

The browser part (`make docs-check`) needs Chromium, which the test suite does not install;
what it hands over (the rendered DOM, the page's width, failed requests, images, console
errors) is made up here, and `judge` must name what a reader would trip over, and only that.
"""

import importlib.util
import pathlib
import urllib.error
import urllib.request

import pytest


DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def _load_check_site():
    spec = importlib.util.spec_from_file_location("docs_check_site", DOCS / "check_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_site = _load_check_site()
PHONE = check_site.Viewport("phone", 390, 844)
PROSE = "The pendulum swings with a period that depends on its amplitude."


def page(body: str, title: str = "Pendulum") -> str:
    """A rendered page as mkdocs-material lays it out, with `body` as its main content."""
    return (
        "<html><head><script>var x = '$$';</script></head><body>"
        '<nav class="md-nav"><a href="../">Home</a></nav>'
        '<main class="md-main"><article class="md-content__inner md-typeset">'
        f'<h1 id="t">{title}<a class="headerlink" href="#t">¶</a></h1>{body}'
        "</article></main></body></html>"
    )


def problems(html: str, **facts) -> list[str]:
    facts = {"status": 200, "scroll_width": 390, **facts}
    return check_site.judge(check_site.PageFacts(url="/", viewport=PHONE, html=html, **facts))


def test_a_page_that_looks_right_has_no_problem():
    typeset = '<span class="arithmatex"><mjx-container><mjx-math>θ</mjx-math></mjx-container>'
    code = (
        "<pre><code>print('$$ and \\( stay in code')</code></pre><p>Inline <code>\\[</code>.</p>"
    )
    assert problems(page(f"<p>{PROSE} Here {typeset}</span> swings.</p>{code}")) == []


@pytest.mark.parametrize(
    "raw, places",
    [
        ("\\(\\theta\\)", 1),
        ("$$E = T + V$$", 1),
        ("$$ left open", 1),
        ("\\(a\\) and \\(b\\)", 2),
        ("\\[ \\ddot q = 0 \\]", 1),
        ("\\begin{aligned} a \\end{aligned}", 1),
    ],
)
def test_math_left_as_source_is_found(raw, places):
    found = problems(page(f"<p>{PROSE}</p><p>The angle {raw} grows.</p>"))
    assert len(found) == 1
    assert found[0].startswith(f"math left as TeX source in {places} places")
    assert raw[:6] in found[0]


def test_math_errors_are_reported_with_their_message():
    error = '<mjx-merror data-mjx-error="Undefined control sequence \\thetaa"></mjx-merror>'
    # The same error again without its attribute (MathJax draws some twice): its text is read.
    text = "<mjx-merror><mjx-mtext><mjx-utext> Undefined control sequence \\thetaa</mjx-utext>"
    other = "<mjx-merror><mjx-mtext>Missing close brace</mjx-mtext></mjx-merror>"
    body = (
        f"<p>{PROSE} <mjx-container>{error}{text}</mjx-mtext></mjx-merror>{other}</mjx-container>"
    )
    assert problems(page(body + "</p>")) == [
        "MathJax error: Undefined control sequence \\thetaa",
        "MathJax error: Missing close brace",
    ]


@pytest.mark.parametrize("width, broken", [(390, False), (392, False), (393, True), (480, True)])
def test_a_page_wider_than_the_window_is_broken(width, broken):
    found = problems(page(f"<p>{PROSE}</p>"), scroll_width=width, overflowing=("<table> x",))
    assert bool(found) == broken
    if broken:
        assert f"{width} px wide in a 390 px window" in found[0]
        assert "<table> x" in found[0]


def test_an_empty_page_is_broken():
    # The title and its permalink sign are not content.
    assert problems(page("<p> </p>")) == ["the main content is empty (title: Pendulum)"]
    assert problems(f"<html><body><p>{PROSE}</p></body></html>") == [
        "no main content (<article>) on the page"
    ]


def test_failures_seen_by_the_browser_are_listed():
    found = problems(
        page(f"<p>{PROSE}</p>"),
        status=404,
        failed_requests=("HTTP 404 http://127.0.0.1/figures/a.png",),
        broken_images=("../figures/a.png",),
        missing_links=("../trainin/",),
        console_errors=("ReferenceError: MathJax is not defined",),
    )
    assert found == [
        "the page answered HTTP 404",
        "request failed: HTTP 404 http://127.0.0.1/figures/a.png",
        "image not shown: ../figures/a.png",
        "link to a missing page or file: ../trainin/",
        "JavaScript error: ReferenceError: MathJax is not defined",
    ]


def test_pages_of_a_built_site_are_served(tmp_path):
    (tmp_path / "systems" / "kepler").mkdir(parents=True)
    (tmp_path / "index.html").write_text("<p>home</p>")
    (tmp_path / "systems" / "kepler" / "index.html").write_text("<p>kepler</p>")
    (tmp_path / "404.html").write_text("<p>missing</p>")
    pages = check_site.site_pages(tmp_path)
    assert pages == ["", "systems/kepler/"]
    assert [check_site.screenshot_name(p) for p in pages] == ["index.png", "systems-kepler.png"]
    with check_site.serve(tmp_path) as base:
        assert base.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(base + "systems/kepler/", timeout=10) as response:
            assert response.read() == b"<p>kepler</p>"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(base + "figures/none.png", timeout=10)
        assert missing.value.code == 404


def test_links_to_missing_pages_are_found(tmp_path):
    for folder in ("systems/kepler", "training"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "index.html").write_text("<p>page</p>")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "kepler.png").write_bytes(b"png")
    links = [
        "../../training/",  # there
        "../../training/#fit",  # there, at an anchor
        "../../figures/kepler.png",  # there
        "#energy",  # the same page
        "https://docs.kidger.site/diffrax/",  # another host
        "mailto:someone@example.org",
        "../../trainin/",  # a typo
        "../../figures/kepler.svg",  # no such file
        "../spring/",  # no such page
    ]
    body = f"<p>{PROSE}</p>" + "".join(f'<a href="{href}">link</a>' for href in links)
    html = page(body).replace("</article>", '</article><a href="../../nowhere/">footer</a>')
    assert check_site.missing_links(html, "systems/kepler/", tmp_path) == [
        "../../trainin/",
        "../../figures/kepler.svg",
        "../spring/",
    ]
