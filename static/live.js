// Open pages follow the maintenance state: ask every few seconds whether it changed (a
// conditional GET that the server answers with 304 while nothing did). A blocked user's
// page goes to the login page; everyone's page shows or drops the banners.
// Before it leaves, keep_input.js keeps (and says it keeps) any unsaved form input.
// Progressive enhancement only: without JavaScript a page shows the state of its last load.
(function () {
  "use strict";
  var body = document.body;
  var url = body.getAttribute("data-live-url");
  if (!url || !window.fetch) { return; }
  var version = body.getAttribute("data-live-version") || "";
  var loginUrl = body.getAttribute("data-login-url");
  var signedIn = body.getAttribute("data-signed-in") === "true";
  var seconds = Math.max(parseFloat(body.getAttribute("data-live-seconds")) || 3, 1);
  var busy = false;

  // byMaintenance: the hook refused this user (503), rather than the session having ended.
  function toLogin(byMaintenance) {
    if (window.location.pathname === new URL(loginUrl, window.location.href).pathname) {
      return;
    }
    var keep = signedIn && window.portalKeepInput;
    if (!keep) { window.location.assign(loginUrl); return; }
    // keep_input.js warns first when the page holds unsaved input; then back here after sign-in
    keep.beforeSignOut(function (kept) {
      var here = window.location.pathname + window.location.search;
      window.location.assign(kept ? loginUrl + "?next=" + encodeURIComponent(here) : loginUrl);
    }, byMaintenance);
  }

  function apply(data) {
    version = data.version;
    if (signedIn && !data.signed_in) { toLogin(false); return; }
    var target = document.getElementById("live-banners");
    if (target && target.innerHTML.trim() !== data.banners.trim()) {
      target.innerHTML = data.banners;
    }
    document.dispatchEvent(new CustomEvent("maintenance:changed", { detail: data }));
  }

  function poll() {
    if (busy) { return; }
    busy = true;
    fetch(url, {
      headers: { "Accept": "application/json", "If-None-Match": '"' + version + '"' },
      credentials: "same-origin",
      cache: "no-store",
      redirect: "follow"
    }).then(function (response) {
      if (response.status === 304) { return null; }
      if (response.status === 503 || response.status === 401) {
        toLogin(response.status === 503);
        return null;
      }
      var type = response.headers.get("Content-Type") || "";
      return response.ok && type.indexOf("json") !== -1 ? response.json() : null;
    }).then(function (data) {
      if (data) { apply(data); }
    }).catch(function () { /* network hiccup: try again at the next tick */ })
      .then(function () { busy = false; });
  }

  window.setInterval(function () { if (!document.hidden) { poll(); } }, seconds * 1000);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { poll(); } });
})();
