"use strict";
// Sortable tables: a click on a header sorts by that column, a second click reverses.
// Numeric columns compare the number in each cell's data-v; text columns compare naturally
// ("3/5" before "12/15"). Cells marked data-na (missing) always go last, in either direction.
(function () {
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  function key(cell, numeric) {
    if (!cell || cell.hasAttribute("data-na")) return null;
    return numeric ? Number(cell.getAttribute("data-v")) : cell.textContent;
  }

  function sortBy(table, th) {
    var numeric = th.getAttribute("data-type") === "num";
    var descending = th.getAttribute("aria-sort") === "ascending";
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute("aria-sort");
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var column = th.cellIndex;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {  // Array.prototype.sort is stable: ties keep the page's order
      var x = key(a.cells[column], numeric), y = key(b.cells[column], numeric);
      if (x === null || y === null) return (x === null) - (y === null);
      var order = numeric ? x - y : collator.compare(x, y);
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  var tables = document.querySelectorAll("table.sortable");
  tables.forEach(function (table) {
    table.tHead.querySelectorAll("th[data-type] button").forEach(function (button) {
      button.addEventListener("click", function () { sortBy(table, button.parentNode); });
    });
  });

  // report.html?sort=<table id>:<header> clicks that header once per occurrence, in order
  // (twice = descending): a link to a sorted view, and the hook the browser tests use.
  new URLSearchParams(location.search).getAll("sort").forEach(function (spec) {
    var cut = spec.indexOf(":");
    var table = document.getElementById(spec.slice(0, cut));
    if (cut < 0 || !table || !table.tHead) return;
    table.tHead.querySelectorAll("th[data-type] button").forEach(function (button) {
      if (button.textContent === spec.slice(cut + 1)) button.click();
    });
  });
})();
