// Password strength meter: "Faible / Moyen / Fort" under a new password field as the person types.
// A rough estimate in the browser, to guide; the server's policy (portal/accounts/passwords.py) decides.
// The field names its meter: <input data-password-meter="id-of-the-meter">; the meter carries its words
// in data-weak, data-fair, data-strong and data-label (translated by the page). No inline script (CSP).
(function () {
  "use strict";
  var MIN_LENGTH = 12;
  var COMMON = ["password", "motdepasse", "azerty", "qwerty", "123456", "soleil", "bonjour", "admin", "portail", "cabinet"];

  function pool(text) {
    var size = 0;
    if (/[a-z]/.test(text)) { size += 26; }
    if (/[A-Z]/.test(text)) { size += 26; }
    if (/[0-9]/.test(text)) { size += 10; }
    if (/[^A-Za-z0-9]/.test(text)) { size += 33; }
    return size || 1;
  }

  // Characters that repeat or follow the one before (aaaa, abcd, 4321) add almost nothing.
  function effectiveLength(text) {
    var length = text.length ? 1 : 0;
    for (var i = 1; i < text.length; i += 1) {
      var step = text.charCodeAt(i) - text.charCodeAt(i - 1);
      if (step !== 0 && Math.abs(step) !== 1) { length += 1; } else { length += 0.25; }
    }
    return length;
  }

  function level(text) {
    var lowered = text.toLowerCase();
    if (text.length < MIN_LENGTH) { return "weak"; }
    var distinct = {};
    for (var i = 0; i < text.length; i += 1) { distinct[text.charAt(i)] = true; }
    if (Object.keys(distinct).length < 5) { return "weak"; }
    var bits = effectiveLength(text) * Math.log2(pool(text));
    for (var j = 0; j < COMMON.length; j += 1) {
      if (lowered.indexOf(COMMON[j]) !== -1) { bits -= COMMON[j].length * 4; }
    }
    if (bits < 55) { return "weak"; }
    return bits < 80 ? "fair" : "strong";
  }

  function update(input) {
    var meter = document.getElementById(input.getAttribute("data-password-meter"));
    if (!meter) { return; }
    if (!input.value) {
      meter.hidden = true;
      return;
    }
    var found = level(input.value);
    meter.hidden = false;
    meter.setAttribute("data-level", found);
    meter.textContent = (meter.getAttribute("data-label") || "") + " " + meter.getAttribute("data-" + found);
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("input[data-password-meter]")) { update(event.target); }
  });
})();
