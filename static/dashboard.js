// Live dashboard: refresh the counters and latest rows from the stats JSON every few seconds.
// Progressive enhancement only: without JavaScript the page shows the figures of its load.
(function () {
  "use strict";
  var root = document.getElementById("live-dashboard");
  if (!root || !window.fetch) { return; }
  var url = root.getAttribute("data-stats-url");
  var seconds = Math.max(parseFloat(root.getAttribute("data-refresh-seconds")) || 5, 1);
  var timer = null;

  function setText(el, text) {
    if (el && el.textContent !== text) { el.textContent = text; }
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) { td.className = className; }
    row.appendChild(td);
  }

  // A time as the server wrote it (portal.core.timefmt: escaped markup, in the viewer's zone).
  function setTime(el, before, markup, after) {
    if (!el) { return; }
    var html = before + markup + after;
    if (el.innerHTML !== html) { el.innerHTML = html; }
  }

  function fillTable(id, rows, columns, emptyText) {
    var table = document.getElementById(id);
    if (!table) { return; }
    var body = table.tBodies[0];
    var showClient = table.getAttribute("data-show-client") === "true";
    var fresh = document.createDocumentFragment();
    rows.forEach(function (item) {
      var tr = document.createElement("tr");
      if (showClient) { cell(tr, item.client); }
      columns.forEach(function (column) { column(tr, item); });
      fresh.appendChild(tr);
    });
    if (!rows.length) {
      var tr = document.createElement("tr");
      tr.className = "empty";
      cell(tr, emptyText);
      tr.firstChild.colSpan = 6;
      fresh.appendChild(tr);
    }
    body.replaceChildren(fresh);
  }

  function update(data) {
    var state = document.getElementById("processor-state");
    if (state) {
      state.setAttribute("data-state", data.processor.state);
      setText(state, data.processor.label);
    }
    var held = document.getElementById("webhooks-held");
    if (held) {
      setText(held, data.webhooks_held);
      held.hidden = !data.webhooks_held;
    }
    Array.prototype.forEach.call(root.querySelectorAll("[data-label=queued]"), function (label) {
      setText(label, data.queued_label);
    });
    data.clients.forEach(function (client) {
      ["queued", "processed_5m", "failed", "purged"].forEach(function (key) {
        setText(document.getElementById("counter-" + client.id + "-" + key), String(client[key]));
      });
      var purge = document.getElementById("last-purge-" + client.id);
      if (client.last_purge) {
        setTime(purge, "Retention last purged at ", client.last_purge_html, ".");
      } else {
        setText(purge, "Retention has purged nothing yet.");
      }
    });
    fillTable("latest-events", data.events, [
      function (tr, e) { cell(tr, e.type); },
      function (tr, e) { cell(tr, e.status, "status-" + e.status); },
      function (tr, e) { cell(tr, ""); tr.lastChild.innerHTML = e.received_html; }
    ], "No events yet.");
    fillTable("latest-deliveries", data.deliveries, [
      function (tr, d) { cell(tr, d.workflow); },
      function (tr, d) { cell(tr, d.event_type); },
      function (tr, d) { cell(tr, d.status, "status-" + d.status); },
      function (tr, d) { cell(tr, String(d.attempts)); },
      function (tr, d) { cell(tr, d.response_code === null ? "\u2014" : String(d.response_code)); }
    ], "No deliveries yet.");
    setTime(document.getElementById("stats-updated"), "Figures as of ", data.generated_html, ".");
  }

  function signedOut() {
    // The session has ended (signed out elsewhere, or blocked by maintenance, e.g. after a
    // change of roles that the maintenance state's poll cannot see): go where the user can
    // sign in again and read why, as an open page does when the maintenance state changes.
    window.clearInterval(timer);
    setText(document.getElementById("stats-updated"), "Your session has ended.");
    var login = document.body.getAttribute("data-login-url");
    if (login) { window.location.assign(login); }
  }

  function refresh() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        // A redirect to the sign-in page, or the hook's 503 during maintenance: the session
        // has ended. Anything else that is not JSON (a proxy's error page): try again later.
        if (response.redirected) { signedOut(); return null; }
        if (type.indexOf("json") === -1) { return null; }
        return response.json().then(function (data) {
          if (response.status === 503 && data.error === "maintenance") { signedOut(); return null; }
          return response.ok ? data : null;
        });
      })
      .then(function (data) { if (data) { update(data); } })
      .catch(function () { /* network hiccup: keep the last figures and try again */ });
  }

  timer = window.setInterval(refresh, seconds * 1000);
  // The maintenance state changed (static/live.js): the queued figure's label follows at once.
  document.addEventListener("maintenance:changed", refresh);
})();
