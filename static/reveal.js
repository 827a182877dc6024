// One-time reveal: a "Copy" button next to a new API key or signing secret. Progressive
// enhancement only: without JavaScript (or without the Clipboard API) the button stays hidden and
// the value is in a read-only field that selects and copies as usual.
(function () {
  "use strict";
  var status = document.getElementById("copy-status");

  function say(text) {
    if (status) { status.textContent = text; }
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-copy-from]"), function (button) {
    var field = document.getElementById(button.getAttribute("data-copy-from"));
    if (!field || !navigator.clipboard || !window.isSecureContext) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(
        function () { say("Copied to the clipboard."); },
        function () {
          field.select();
          say("Could not copy: the value is selected, press Ctrl+C (or ⌘C).");
        }
      );
    });
  });
  // A click in the field selects the whole value, ready for a manual copy.
  Array.prototype.forEach.call(document.querySelectorAll("[data-reveal]"), function (field) {
    field.addEventListener("focus", function () { field.select(); });
  });
})();
