// Live preview of a message template in admin: posts the fields being edited
// and shows them rendered with sample values, with the SMS segment count.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  ready(function () {
    var panel = document.getElementById("template-preview");
    if (!panel) { return; }
    var url = panel.getAttribute("data-preview-url");
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    var fields = ["subject", "body", "body_html", "channel"];
    var timer = null;
    function value(name) {
      var input = document.getElementById("id_" + name);
      return input ? input.value : "";
    }
    function show(name, text) {
      var target = panel.querySelector("[data-preview=" + name + "]");
      if (target) { target.textContent = text || ""; }
    }
    function refresh() {
      var payload = {};
      fields.forEach(function (name) { payload[name] = value(name); });
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.value : "" },
        body: JSON.stringify(payload)
      }).then(function (response) { return response.json(); }).then(function (data) {
        show("subject", data.subject);
        show("body", data.body);
        var frame = panel.querySelector("[data-preview=body_html]");
        if (frame) { frame.srcdoc = data.body_html || ""; }
        var errors = panel.querySelector("[data-preview=errors]");
        errors.textContent = "";
        (data.errors || []).concat(data.clinical && data.clinical.length ? ["Clinical: " + data.clinical.join(", ")] : []).forEach(function (text) {
          var item = document.createElement("li");
          item.textContent = text;
          errors.appendChild(item);
        });
        show("warnings", (data.warnings || []).join(" "));
        show("sms", data.sms ? (data.sms.encoding + " · " + data.sms.length + " chars · " + data.sms.segments + " segment(s)") : "");
      });
    }
    fields.forEach(function (name) {
      var input = document.getElementById("id_" + name);
      if (input) {
        input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 300); });
      }
    });
    refresh();
  });
})();
