// Times are shown in the viewer's time zone (portal/core/timefmt.py): tell the server the zone
// this browser is in (a cookie it reads on the next request). A page drawn before the server
// knew it (in UTC) is loaded once more, if it shows times and the clocks differ.
// Without JavaScript (or cookies) the pages show UTC, or the zone set on the account page.
(function () {
  "use strict";
  var NAME = "portal_tz";
  var body = document.body;
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
  // IANA names are letters, digits and _ / + -: a cookie value as they are (no encoding).
  if (!/^[A-Za-z0-9_\/+-]{1,64}$/.test(zone)) { return; }

  function saved() {
    var found = document.cookie.split("; ").filter(function (part) {
      return part.indexOf(NAME + "=") === 0;
    })[0];
    return found ? found.slice(NAME.length + 1) : null;
  }

  if (saved() === zone) { return; }
  document.cookie = NAME + "=" + zone + "; path=/; max-age=31536000; SameSite=Lax" +
    (window.location.protocol === "https:" ? "; Secure" : "");
  if (saved() !== zone) { return; }  // cookies are off: stay with what the server shows
  var drawnIn = parseInt(body.getAttribute("data-time-zone-offset"), 10);
  var here = -new Date().getTimezoneOffset();
  if (body.getAttribute("data-time-zone-reload") === "true" && drawnIn !== here &&
      document.querySelector("time[datetime]")) {
    window.location.reload();
  }
})();
