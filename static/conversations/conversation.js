/* The staff conversation page, live: a websocket says "this conversation
 * changed" (a patient's message, a colleague's reply, note or assignment) and
 * the page re-reads its live region. The layer is a notification bus, not
 * storage, so the region is re-read on every (re)connect too. The reply form
 * sits outside the region: what staff are typing is never lost. Without
 * JavaScript the page works with reloads. Messages that arrive while the page
 * is open are highlighted and announced once (a status line, not the region:
 * a screen reader does not read the whole thread again). Also: the saved-reply picker fills
 * the reply box at once (without JavaScript, "Use" reloads the page with it). */
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  function live(region) {
    if (!window.WebSocket || !window.fetch) { return; }
    var fragmentUrl = region.getAttribute("data-fragment-url");
    var socketPath = region.getAttribute("data-socket-path");
    var delay = 1000;
    var pending = null;
    var again = false;
    var status = document.querySelector("[data-live-status]");

    // Messages that arrived while the page was open are marked and announced
    // (ids only are compared; the text is the fragment's).
    function messageIds() {
      var seen = {};
      region.querySelectorAll("[data-message]").forEach(function (item) {
        seen[item.getAttribute("data-message")] = true;
      });
      return seen;
    }

    function replace(html) {
      var before = messageIds();
      var marked = {};
      region.querySelectorAll("[data-message].is-new").forEach(function (item) {
        marked[item.getAttribute("data-message")] = true;
      });
      region.innerHTML = html;
      var arrived = 0;
      region.querySelectorAll("[data-message]").forEach(function (item) {
        var id = item.getAttribute("data-message");
        if (!before[id]) { arrived += 1; }
        if (!before[id] || marked[id]) { item.classList.add("is-new"); }
      });
      if (arrived && status) { status.textContent = status.getAttribute("data-text-new"); }
    }

    function refresh() {
      if (pending) { again = true; return pending; }
      pending = fetch(fragmentUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) { if (html !== null) { replace(html); } })
        .catch(function () {})
        .then(function () {
          pending = null;
          if (again) { again = false; refresh(); }
        });
      return pending;
    }

    function connect() {
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + window.location.host + socketPath);
      socket.onopen = function () { delay = 1000; region.setAttribute("data-live", "connected"); refresh(); };
      socket.onmessage = function (event) {
        var data;
        try { data = JSON.parse(event.data); } catch (e) { return; }
        if (data && data.type === "changed") { refresh(); }
      };
      socket.onclose = function (event) {
        region.setAttribute("data-live", "closed");
        // 4401/4403: not signed in or no access: reconnecting cannot help.
        if (event.code === 4401 || event.code === 4403) { return; }
        window.setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    connect();
  }

  function savedReplies(select) {
    var text = document.querySelector("[data-reply-text]");
    if (!text) { return; }
    var use = select.form ? select.form.querySelector("button[type=submit]") : null;
    if (use) { use.hidden = true; }
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      var value = option ? option.getAttribute("data-text") : null;
      if (value) { text.value = value; text.focus(); }
    });
  }

  ready(function () {
    var region = document.querySelector("[data-conversation-live]");
    if (region) { live(region); }
    var select = document.querySelector("[data-saved-replies]");
    if (select) { savedReplies(select); }
  });
})();
