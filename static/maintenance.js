// Progressive enhancement: refresh "who will still be able to sign in" when the selection
// changes, using the same server-side preview as the form's "Preview" button.
(function () {
  "use strict";
  var form = document.getElementById("maintenance-form");
  var target = document.getElementById("who-can-sign-in");
  if (!form || !target || !window.fetch || !window.DOMParser) return;

  function refresh() {
    var data = new FormData(form);
    data.delete("submit");
    data.set("preview", "1");
    fetch(form.action || window.location.href, {
      method: "POST", body: data, credentials: "same-origin", headers: {"Accept": "text/html"}
    }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (!html) return;
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("who-can-sign-in");
      if (fresh) target.innerHTML = fresh.innerHTML;
    }).catch(function () { /* the Preview button still works */ });
  }

  // One listener for every checkbox of the two lists (a tick or a keyboard Space alike).
  form.addEventListener("change", function (event) {
    var name = event.target && event.target.name;
    if (name === "bypass_roles" || name === "bypass_groups") refresh();
  });
})();
