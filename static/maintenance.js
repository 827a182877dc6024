// Progressive enhancement of the maintenance page: refresh "who will still be able to sign in"
// when the selection changes (the same server-side preview as the form's "Preview" button),
// count the message's characters against the limit the server applies (its maxlength), and
// keep the restriction's hint in step with its checkbox.
(function () {
  "use strict";
  var form = document.getElementById("maintenance-form");
  if (!form) return;

  // "123 / 2000 characters": a line break counts as one, as the server counts it.
  var message = form.querySelector("textarea[name=message][maxlength]");
  if (message) {
    var limit = message.getAttribute("maxlength");
    var counter = document.createElement("p");
    counter.id = "message-counter";
    counter.className = "help message-counter";
    message.insertAdjacentElement("afterend", counter);
    var describedBy = message.getAttribute("aria-describedby");
    message.setAttribute("aria-describedby", (describedBy ? describedBy + " " : "") + counter.id);
    var count = function () {
      counter.textContent = message.value.length + " / " + limit + " characters";
    };
    message.addEventListener("input", count);
    count();
  }

  // The restriction's hint says what the checkbox means as it is ticked or cleared (the server
  // renders both texts; the first render already matches the checkbox).
  var restrict = form.querySelector("input[name=restrict_event_processor]");
  var effect = document.getElementById("restrict-effect");
  if (restrict && effect) {
    restrict.addEventListener("change", function () {
      var text = effect.getAttribute(restrict.checked ? "data-ticked" : "data-unticked");
      if (text) effect.textContent = text;
    });
  }

  var target = document.getElementById("who-can-sign-in");
  if (!target || !window.fetch || !window.DOMParser) return;

  function refresh() {
    var data = new FormData(form);
    data.delete("review");
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
