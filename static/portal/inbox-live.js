/* Live inbox: a websocket says "something changed", the page re-reads the
 * list fragment. The layer is a notification bus, not storage, so the list is
 * re-read on every (re)connect too. Without JavaScript the page still works. */
(function () {
  "use strict";
  var region = document.querySelector("[data-inbox-live]");
  if (!region || !window.WebSocket || !window.fetch) {
    return;
  }
  var fragmentUrl = region.getAttribute("data-fragment-url");
  var socketPath = region.getAttribute("data-socket-path");
  var delay = 1000;
  var pending = null;

  function refresh() {
    if (pending) {
      return pending;
    }
    pending = fetch(fragmentUrl, {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) {
          region.innerHTML = html;
        }
      })
      .catch(function () {})
      .then(function () {
        pending = null;
      });
    return pending;
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + socketPath);
    socket.onopen = function () {
      delay = 1000;
      refresh();
    };
    socket.onmessage = function (event) {
      var data;
      try {
        data = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (data && data.type === "message") {
        region.setAttribute("data-unread", String(data.unread));
        refresh();
      }
    };
    socket.onclose = function (event) {
      // 4401/4403: not signed in or no access: reconnecting cannot help.
      if (event.code === 4401 || event.code === 4403) {
        return;
      }
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  connect();
})();
