// A table wider than the text column scrolls sideways (the theme wraps it so), but the browser
// first squeezes every column to its longest word: a column of sentences becomes a narrow
// strip many lines tall, and so does every row. In a table that scrolls anyway, a cell of
// text gets room for its text on about three lines (at most 20em), so rows stay short.
function widenSqueezedTables() {
  for (const table of document.querySelectorAll(".md-typeset__scrollwrap table")) {
    const scroller = table.closest(".md-typeset__scrollwrap");
    const cells = table.querySelectorAll("td");
    for (const cell of cells) cell.style.minWidth = "";
    if (scroller.scrollWidth <= scroller.clientWidth) continue;
    for (const cell of cells) {
      const characters = cell.textContent.trim().length;
      if (characters > 30) cell.style.minWidth = `${Math.min(20, characters / 6)}em`;
    }
  }
}

let tablesResizing = false;
window.addEventListener("resize", () => {
  if (tablesResizing) return;
  tablesResizing = true;
  requestAnimationFrame(() => {
    tablesResizing = false;
    widenSqueezedTables();
  });
});

document$.subscribe(widenSqueezedTables);
