// The menu's disclosures (<details>) work without JavaScript; this only closes them the way
// menus do: an open group closes when another opens, on a click elsewhere, and on Escape.
(function () {
  "use strict";
  var menus = Array.prototype.slice.call(document.querySelectorAll(".site-header details"));
  if (!menus.length) { return; }

  function closeAll(except) {
    menus.forEach(function (menu) {
      if (menu !== except && !menu.contains(except) && menu.open) { menu.open = false; }
    });
  }

  menus.forEach(function (menu) {
    menu.addEventListener("toggle", function () {
      if (menu.open) { closeAll(menu); }
    });
  });

  document.addEventListener("click", function (event) {
    var inside = event.target.closest && event.target.closest(".site-header details");
    if (!inside) { closeAll(null); }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var open = menus.filter(function (menu) { return menu.open; }).pop();
    if (open) {
      open.open = false;
      open.querySelector("summary").focus();
    }
  });
})();
