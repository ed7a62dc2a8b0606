// Mail settings page: provider presets and port/security suggestions. A suggestion never
// overwrites a port or security the user set by hand on this visit. The table comes from the
// page (webapp/mailsettings/presets.py), so it exists once.
(function () {
  "use strict";
  var form = document.getElementById("mail-settings");
  if (!form) { return; }
  var table = JSON.parse(form.getAttribute("data-presets"));
  var host = form.elements.host, port = form.elements.port, security = form.elements.security;
  var picker = document.getElementById("preset");
  var deliberate = { port: false, security: false };

  function setIfNotDeliberate(name, element, value) {
    if (!deliberate[name] && value !== undefined && String(element.value) !== String(value)) {
      element.value = value;
    }
  }

  function presetFor(name) {
    return table.presets[(name || "").trim().replace(/\.$/, "").toLowerCase()];
  }

  // Setting .value fires no events, so every input/change event here is the user's own.
  port.addEventListener("input", function () { deliberate.port = true; });
  port.addEventListener("change", function () {
    setIfNotDeliberate("security", security, table.securityForPort[port.value.trim()]);
  });
  security.addEventListener("change", function () {
    deliberate.security = true;
    setIfNotDeliberate("port", port, table.portForSecurity[security.value]);
  });
  host.addEventListener("change", function () {
    var preset = presetFor(host.value);
    if (preset) {
      setIfNotDeliberate("port", port, preset.port);
      setIfNotDeliberate("security", security, preset.security);
    }
    if (picker) { picker.value = preset ? host.value.trim().toLowerCase() : ""; }
  });

  if (picker) {
    document.getElementById("preset-picker").hidden = false;
    picker.value = presetFor(host.value) ? host.value.trim().toLowerCase() : "";
    picker.addEventListener("change", function () {
      var preset = presetFor(picker.value);
      if (!preset) { return; }
      // Picking a provider is itself a deliberate choice of all three fields.
      host.value = picker.value;
      port.value = preset.port;
      security.value = preset.security;
      deliberate.port = deliberate.security = false;
      // Let htmx check the host and show the provider's notes.
      host.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  // An inline check's answer, or a refused test's out of band, replaces a field's message
  // container; the field itself then shows whether it is wrong (aria-invalid, which Pico colours).
  function markFields() {
    var containers = document.querySelectorAll(".field-message[id$='-message']");
    for (var i = 0; i < containers.length; i += 1) {
      var field = form.querySelector("[aria-describedby~='" + containers[i].id + "']");
      if (!field) { continue; }
      if (containers[i].querySelector(".field-error")) {
        field.setAttribute("aria-invalid", "true");
      } else {
        field.removeAttribute("aria-invalid");
      }
    }
  }
  document.addEventListener("htmx:afterSettle", markFields);
  document.addEventListener("htmx:oobAfterSwap", markFields);

  // A hint's "go to the field to change" link ends in #field: put the cursor there.
  function focusFieldOfHash() {
    var field = location.hash && document.getElementById(location.hash.slice(1));
    if (field && field.form === form) { field.focus(); }
  }
  window.addEventListener("hashchange", focusFieldOfHash);
  focusFieldOfHash();
}());
