// Dashboard: keep the maintenance window's elapsed time, held count and drain progress current
// by re-reading that part of the page every few seconds while a window or a drain is on, and
// the maintenance state's sentence whenever the state changes.
// Progressive enhancement only: without JavaScript the page shows the figures of its load.
(function () {
  "use strict";
  var target = document.getElementById("maintenance-window");
  if (!target || !window.fetch || !window.DOMParser) { return; }

  function refresh() {
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("maintenance-window");
        if (fresh) {
          target.innerHTML = fresh.innerHTML;
          target.setAttribute("data-refresh", fresh.getAttribute("data-refresh"));
        }
        var sentence = document.getElementById("maintenance-state");
        var freshSentence = page.getElementById("maintenance-state");
        if (sentence && freshSentence && sentence.innerHTML !== freshSentence.innerHTML) {
          sentence.innerHTML = freshSentence.innerHTML;
        }
      })
      .catch(function () { /* try again at the next tick */ });
  }

  window.setInterval(function () {
    if (!document.hidden && target.getAttribute("data-refresh") === "true") { refresh(); }
  }, 5000);
  // A window that starts while the page is open: the live poll tells us.
  document.addEventListener("maintenance:changed", refresh);
})();
