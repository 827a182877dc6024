// A bulk job's page: re-read its progress every two seconds until the job is done.
// Progressive enhancement only: without JavaScript the page shows the figures of its load
// (and a link to reload it).
(function () {
  "use strict";
  var target = document.getElementById("bulk-progress");
  if (!target || !window.fetch || !window.DOMParser) { return; }
  var timer = window.setInterval(function () {
    if (target.getAttribute("data-done") === "true") { window.clearInterval(timer); return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("bulk-progress");
        if (fresh) {
          target.innerHTML = fresh.innerHTML;
          target.setAttribute("data-done", fresh.getAttribute("data-done"));
        }
      })
      .catch(function () { /* try again at the next tick */ });
  }, 2000);
}());
