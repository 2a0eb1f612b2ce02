window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    // An unknown command is an error (docs/check_site.py finds it), not quiet red text.
    packages: {"[-]": ["noundefined"]}
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex"
  }
};

// MathJax 3 cannot break a formula inside a line of text, so one wider than its column (a
// long formula on a phone) would make the whole page scroll sideways. Such a formula is
// marked `arithmatex--wide` (stylesheets/extra.css gives it a line of its own that scrolls),
// again whenever the window changes size.
function markWideInlineMath() {
  for (const math of document.querySelectorAll("span.arithmatex")) {
    math.classList.remove("arithmatex--wide");
  }
  for (const math of document.querySelectorAll("span.arithmatex")) {
    let column = math.parentElement;
    while (column && getComputedStyle(column).display.startsWith("inline")) {
      column = column.parentElement;
    }
    if (column && math.getBoundingClientRect().width > column.clientWidth) {
      math.classList.add("arithmatex--wide");
    }
  }
}

let resizing = false;
window.addEventListener("resize", () => {
  if (resizing) return;
  resizing = true;
  requestAnimationFrame(() => {
    resizing = false;
    markWideInlineMath();
  });
});

document$.subscribe(() => {
  MathJax.typesetPromise().then(markWideInlineMath)
})
