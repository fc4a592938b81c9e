// Idle session warning (issue 5). The server ends a session after
// SESSION_IDLE_TIMEOUT seconds without activity; a minute before, this offers
// to stay signed in. Settings and translated strings come from the script
// tag's data attributes (no inline script: CSP).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var data = script.dataset;
  var WARN_BEFORE = 60;
  var timer = null;
  var box = null;

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function schedule(seconds) {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, Math.max(1, seconds) * 1000);
  }

  function signedOut() {
    window.location.href = data.loginUrl;
  }

  function check() {
    fetch(data.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        // Signed out already: the server redirects to the sign-in page.
        if (!response.ok || response.redirected) return { remaining: 0 };
        return response.json();
      })
      .then(function (state) {
        var remaining = state.remaining || 0;
        if (remaining <= 0) return signedOut();
        if (remaining <= WARN_BEFORE) {
          warn();
          schedule(remaining + 1);
        } else {
          hide();
          schedule(remaining - WARN_BEFORE);
        }
      })
      .catch(function () { schedule(30); });
  }

  function stay() {
    fetch(data.keepaliveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok || response.redirected) return signedOut();
        return response.json().then(function (state) {
          hide();
          schedule(state.remaining - WARN_BEFORE);
        });
      })
      .catch(function () { schedule(5); });
  }

  function warn() {
    if (box) return;
    box = document.createElement("div");
    box.className = "session-warning";
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-live", "assertive");
    var text = document.createElement("p");
    text.textContent = data.warning;
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = data.stay;
    button.addEventListener("click", stay);
    box.appendChild(text);
    box.appendChild(button);
    document.body.appendChild(box);
    button.focus();
  }

  function hide() {
    if (box) {
      box.remove();
      box = null;
    }
  }

  schedule(Number(data.timeout) - WARN_BEFORE);
})();
