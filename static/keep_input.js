// Unsaved form input survives a sign-out by maintenance. When live.js learns that this user is
// blocked, it calls window.portalKeepInput.beforeSignOut(leave): if a form of the page holds
// input not yet saved, the page says so, keeps that input in sessionStorage (this tab only,
// keyed by the page's path and each field's name) and leaves a few seconds later. The next
// signed-in load of the same path fills the same form in again and forgets the copy.
// Never kept: passwords, hidden fields (CSRF tokens among them), and any field whose name
// speaks of a password, secret or token.
(function () {
  "use strict";
  var PREFIX = "portal:unsaved:";
  var GRACE_MS = 5000;
  var SKIPPED_TYPES = ["password", "hidden", "file", "submit", "button", "reset", "image"];
  var SECRET_NAME = /password|passphrase|secret|token|csrf|api_?key|otp/i;
  var SECRET_AUTOCOMPLETE = /password|one-time-code/i;

  function storage() {
    try { return window.sessionStorage; } catch (error) { return null; }
  }

  function keyFor(path) { return PREFIX + path; }

  function kept(field) {
    if (!field.name || field.disabled) { return false; }
    var type = (field.type || "").toLowerCase();
    if (SKIPPED_TYPES.indexOf(type) !== -1) { return false; }
    return !SECRET_NAME.test(field.name) && !SECRET_AUTOCOMPLETE.test(field.autocomplete || "");
  }

  function changed(field) {
    var type = (field.type || "").toLowerCase();
    if (type === "checkbox" || type === "radio") { return field.checked !== field.defaultChecked; }
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (option) {
        return option.selected !== option.defaultSelected;
      });
    }
    return field.value !== field.defaultValue;
  }

  // A form is told apart from the page's other forms by its id, else by its action and place.
  function formKey(form, index) {
    return form.id ? "#" + form.id : (form.getAttribute("action") || "") + "@" + index;
  }

  function fieldsOf(form) {
    return Array.prototype.filter.call(form.elements, kept);
  }

  // {fieldName: value}: text as a string, a checkbox list or multi-select as its chosen values.
  function snapshot(form) {
    var values = {};
    fieldsOf(form).forEach(function (field) {
      var type = (field.type || "").toLowerCase();
      if (type === "checkbox" || type === "radio") {
        values[field.name] = values[field.name] || { chosen: [] };
        if (field.checked) { values[field.name].chosen.push(field.value); }
      } else if (field.tagName === "SELECT") {
        values[field.name] = {
          chosen: Array.prototype.filter.call(field.options, function (option) {
            return option.selected;
          }).map(function (option) { return option.value; })
        };
      } else {
        values[field.name] = field.value;
      }
    });
    return values;
  }

  // Keep every form that holds unsaved input; return whether there was any.
  function keep() {
    var store = storage();
    if (!store) { return false; }
    var forms = {};
    var any = false;
    Array.prototype.forEach.call(document.forms, function (form, index) {
      if (fieldsOf(form).some(changed)) {
        forms[formKey(form, index)] = snapshot(form);
        any = true;
      }
    });
    var key = keyFor(window.location.pathname);
    try {
      if (any) { store.setItem(key, JSON.stringify(forms)); } else { store.removeItem(key); }
    } catch (error) { return false; }  // storage full or refused: nothing is promised
    return any;
  }

  function fill(form, values) {
    fieldsOf(form).forEach(function (field) {
      if (!Object.prototype.hasOwnProperty.call(values, field.name)) { return; }
      var value = values[field.name];
      var type = (field.type || "").toLowerCase();
      if (type === "checkbox" || type === "radio") {
        field.checked = value.chosen.indexOf(field.value) !== -1;
      } else if (field.tagName === "SELECT") {
        Array.prototype.forEach.call(field.options, function (option) {
          option.selected = value.chosen.indexOf(option.value) !== -1;
        });
      } else if (typeof value === "string") {
        field.value = value;
      }
      field.dispatchEvent(new Event("input", { bubbles: true }));
      field.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  function notice(id, text) {
    var box = document.createElement("div");
    box.id = id;
    box.className = "warning-box keep-input-notice";
    box.setAttribute("role", "alert");
    box.textContent = text;
    var main = document.getElementById("main") || document.body;
    main.insertBefore(box, main.firstChild);
  }

  function restore() {
    var store = storage();
    if (!store || document.body.getAttribute("data-signed-in") !== "true") { return; }
    var key = keyFor(window.location.pathname);
    var saved = store.getItem(key);
    if (!saved) { return; }
    store.removeItem(key);  // once: a reload afterwards shows the page as the server has it
    var forms;
    try { forms = JSON.parse(saved); } catch (error) { return; }
    var filled = false;
    Array.prototype.forEach.call(document.forms, function (form, index) {
      var values = forms[formKey(form, index)];
      if (values) { fill(form, values); filled = true; }
    });
    if (filled) {
      notice("keep-input-restored", "What you typed before maintenance signed you out is " +
        "filled in again. Nothing of it is saved yet: check it and save.");
    }
  }

  var leaving = false;

  window.portalKeepInput = {
    // Call leave(keptInput) now, or after a notice when the page holds unsaved input.
    beforeSignOut: function (leave, byMaintenance) {
      if (leaving) { return; }
      if (!keep()) { leave(false); return; }
      leaving = true;
      notice("keep-input-leaving", (byMaintenance
        ? "Maintenance has started; you will be signed out. "
        : "Your session has ended; you will be signed out. ") + "What you typed on this " +
        "page is kept in this browser tab and filled in again when you sign in again.");
      document.addEventListener("input", keep);  // typing on in the grace period is kept too
      window.setTimeout(function () { keep(); leave(true); }, GRACE_MS);
    }
  };

  restore();
})();
