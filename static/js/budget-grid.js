// Prévisionnel: the grid's totals follow what is typed (the server computes them again on save).
(function () {
  "use strict";
  var grid = document.getElementById("grille-budget");
  if (!grid) { return; }
  var format = new Intl.NumberFormat(document.documentElement.lang || "fr", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  function cents(text) {
    var cleaned = (text || "").replace(/[\s\u00a0\u202f'€]/g, "").replace(",", ".");
    if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(cleaned)) { return 0; }
    return Math.round(parseFloat(cleaned) * 100);
  }
  function show(cell, amount) { if (cell) { cell.textContent = format.format(amount / 100); } }
  function refresh() {
    var balances = {};
    var year = 0;
    grid.querySelectorAll("tbody tr[data-poste]").forEach(function (row) {
      var sign = row.getAttribute("data-charge") === "1" ? -1 : 1;
      var total = 0;
      var any = false;
      row.querySelectorAll("input[data-mois]").forEach(function (input) {
        var month = input.getAttribute("data-mois");
        var amount = cents(input.value);
        if (input.value.trim() !== "") { any = true; }
        total += amount;
        balances[month] = (balances[month] || 0) + sign * amount;
      });
      year += sign * total;
      var cell = row.querySelector("[data-total]");
      if (cell) { cell.textContent = any ? format.format(total / 100) : "—"; }
    });
    grid.querySelectorAll("tfoot [data-mois]").forEach(function (cell) {
      show(cell, balances[cell.getAttribute("data-mois")] || 0);
    });
    show(grid.querySelector("tfoot [data-total]"), year);
  }
  grid.addEventListener("input", refresh);
})();
