// Portail Cabinet — the few behaviours htmx does not cover. No inline scripts (CSP 'self').
(function () {
  "use strict";
  function closeDrawer() {
    var drawer = document.getElementById("volet");
    if (drawer && drawer.firstElementChild) {
      drawer.innerHTML = "";
      var row = document.querySelector("tr.row-open");
      if (row) { row.classList.remove("row-open"); }
    }
  }
  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-close-drawer]");
    if (close && document.getElementById("volet")) {
      event.preventDefault();
      closeDrawer();
    }
    var manage = event.target.closest("tr[data-dossier] .row-actions a");
    if (manage) {
      document.querySelectorAll("tr.row-open").forEach(function (row) { row.classList.remove("row-open"); });
      manage.closest("tr").classList.add("row-open");
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { closeDrawer(); }
  });
  // The panel takes the focus when it opens, so keyboard and screen-reader users land in it.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "volet") {
      var title = document.getElementById("volet-titre");
      if (title) { title.setAttribute("tabindex", "-1"); title.focus(); }
    }
    // Rows refreshed while the panel is open: the open dossier's row stays marked.
    if (event.detail.target && event.detail.target.id === "resultats") {
      var panel = document.querySelector("#volet [data-dossier]");
      var row = panel && document.querySelector('tr[data-dossier="' + panel.getAttribute("data-dossier") + '"]');
      if (row) { row.classList.add("row-open"); }
    }
  });
})();
