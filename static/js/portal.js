// Portail Cabinet — the few behaviours htmx does not cover. No inline scripts (CSP 'self').
// Loaded in <head>, not deferred: the page is marked as scripted before its first paint (the phone's menu folds
// behind its button only then), and every listener below is on the document, which already exists.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // The menu button (a phone): it folds and unfolds the menu, and says which through aria-expanded.
  function setMenu(toggle, open) {
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    toggle.closest(".topbar").classList.toggle("menu-open", open);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".menu-toggle, [data-camera-for]").forEach(function (button) { button.hidden = false; });
    labelCards(document);
    // Tabs scroll inside their box on a narrow screen: the current one is brought into it (the page stays put).
    document.querySelectorAll(".tabs").forEach(function (tabs) {
      var current = tabs.querySelector('[aria-current="page"]');
      if (current && tabs.scrollWidth > tabs.clientWidth) {
        tabs.scrollLeft = current.offsetLeft - tabs.offsetLeft - (tabs.clientWidth - current.offsetWidth) / 2;
      }
    });
  });
  function closeDrawer() {
    var drawer = document.getElementById("volet");
    if (drawer && drawer.firstElementChild) {
      drawer.innerHTML = "";
      var row = document.querySelector("tr.row-open");
      if (row) { row.classList.remove("row-open"); }
    }
  }
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".menu-toggle");
    if (toggle) {
      setMenu(toggle, toggle.getAttribute("aria-expanded") !== "true");
      return;
    }
    var camera = event.target.closest("[data-camera-for]");
    if (camera) { takePhoto(document.getElementById(camera.getAttribute("data-camera-for"))); }
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
    if (event.key === "Escape") {
      closeDrawer();
      var toggle = document.querySelector('.menu-toggle[aria-expanded="true"]');
      if (toggle) { setMenu(toggle, false); toggle.focus(); }
    }
  });
  // The panel takes the focus when it opens, so keyboard and screen-reader users land in it.
  // New rows (a live search, a refreshed list) get their cards' labels.
  document.addEventListener("htmx:afterSettle", function () { labelCards(document); });
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

  // A receipt from the camera: the same file field, opened once on the camera (accept="image/*" capture), then
  // given back its usual choice (a photo, an image or a PDF) whether a photo was taken or not.
  function takePhoto(input) {
    if (!input) { return; }
    var accept = input.getAttribute("accept");
    function restore() {
      input.setAttribute("accept", accept);
      input.removeAttribute("capture");
      input.removeEventListener("change", restore);
      input.removeEventListener("cancel", restore);
    }
    input.addEventListener("change", restore);
    input.addEventListener("cancel", restore);
    input.setAttribute("accept", "image/*");
    input.setAttribute("capture", "environment");
    input.click();
  }

  // Tables marked .table-cards become one card a row on a phone (portal.css): each cell is labelled with its
  // column's heading. Without a script they stay tables, scrolling inside their box.
  function labelCards(root) {
    Array.prototype.forEach.call(root.querySelectorAll("table.table-cards"), function (table) {
      var headings = [];
      var head = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
      if (!head) { return; }
      Array.prototype.forEach.call(head.cells, function (cell) {
        var copy = cell.cloneNode(true);
        copy.querySelectorAll(".visually-hidden, .sort-mark").forEach(function (hidden) { hidden.remove(); });
        var label = copy.textContent.replace(/[↑↓]/g, "").replace(/\s+/g, " ").trim();
        for (var span = 0; span < (cell.colSpan || 1); span += 1) { headings.push(label); }
      });
      Array.prototype.forEach.call(table.querySelectorAll("tbody tr, tfoot tr"), function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          if (headings[column] && (cell.colSpan || 1) === 1) { cell.setAttribute("data-label", headings[column]); }
          column += cell.colSpan || 1;
        });
      });
    });
  }
})();
