// The live audience count of a campaign being written: on each change of the
// topic or an audience field (debounced), posts those fields to the campaign
// admin's audience-count endpoint and shows who will receive it and who will
// not, and why. A static file: the CSP allows no inline script.
(function () {
  "use strict";
  var FIELDS = ["organization", "topic", "site", "age_min", "age_max", "language", "tags",
    "last_visit_before", "last_visit_after", "upcoming_appointment_kind", "require_opt_in"];
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  ready(function () {
    var panel = document.getElementById("audience-live");
    var form = document.getElementById("campaign_form");
    if (!panel || !form) { return; }
    var url = panel.getAttribute("data-url");
    var timer = null;
    var sent = 0;
    function part(name) { return panel.querySelector("[data-audience=" + name + "]"); }
    function lines(target, items) {
      if (!target) { return; }
      target.textContent = "";
      items.forEach(function (text) {
        var item = document.createElement("li");
        item.textContent = text;
        target.appendChild(item);
      });
    }
    function refresh() {
      var body = new FormData();
      var token = form.querySelector("input[name=csrfmiddlewaretoken]");
      body.append("csrfmiddlewaretoken", token ? token.value : "");
      FIELDS.forEach(function (name) {
        var input = form.elements.namedItem(name);
        if (!input) { return; }
        if (input.type === "checkbox") {
          if (input.checked) { body.append(name, "on"); }
        } else {
          body.append(name, input.value);
        }
      });
      var mine = ++sent;
      panel.setAttribute("aria-busy", "true");
      fetch(url, { method: "POST", credentials: "same-origin", body: body })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          if (mine !== sent) { return; } // an answer to an older edit
          panel.removeAttribute("aria-busy");
          var problems = [];
          if (data.errors) {
            Object.keys(data.errors).forEach(function (field) {
              data.errors[field].forEach(function (text) { problems.push(text); });
            });
            part("summary").textContent = "";
            lines(part("excluded"), []);
          } else {
            problems = data.problems || [];
            part("summary").textContent = data.summary;
            lines(part("excluded"), data.excluded.map(function (row) {
              return row.label + ": " + row.count;
            }));
          }
          lines(part("problems"), problems);
          // The saved lists (with their links) no longer match the fields.
          var saved = document.querySelector("[data-audience=saved]");
          if (saved) { saved.hidden = true; }
          part("excluded").hidden = false;
          var unsaved = part("unsaved");
          if (unsaved && unsaved.textContent) { unsaved.hidden = false; }
        });
    }
    FIELDS.forEach(function (name) {
      var input = form.elements.namedItem(name);
      if (!input || !input.addEventListener) { return; }
      ["input", "change"].forEach(function (kind) {
        input.addEventListener(kind, function () { clearTimeout(timer); timer = setTimeout(refresh, 400); });
      });
    });
  });
})();
