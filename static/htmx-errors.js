// No silent failures: htmx leaves a 4xx/5xx answer unswapped by default, so a refused test email
// (429), an expired session (401) or a server error looked like a button that does nothing. The
// server answers an htmx request's error with a short message (webapp/errors.py); it is shown
// inside the element the answer was meant for (innerHTML, whatever the element's own swap: an
// inline check's message container must keep its id), or, when the server cannot be reached,
// a message of our own. htmx's documented events: htmx:beforeSwap (shouldSwap, swapOverride)
// and htmx:sendError.
(function () {
  "use strict";

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (detail.xhr.status < 400) { return; }
    if (!detail.serverResponse) {
      detail.serverResponse = message(detail.xhr.status + " " + (detail.xhr.statusText || ""));
    }
    detail.shouldSwap = true;
    // A fragment made for its target (the test-email refusal) goes as the element asked; any
    // other error goes inside the target.
    if (detail.serverResponse.indexOf("data-htmx-error") !== -1) {
      detail.swapOverride = "innerHTML";
    }
  });

  document.addEventListener("htmx:sendError", function (event) {
    var target = event.detail.target;
    if (target) {
      var meta = document.querySelector('meta[name="htmx-offline-message"]');
      target.innerHTML = message(meta ? meta.content : "The server cannot be reached.");
    }
  });

  function message(text) {
    var paragraph = document.createElement("p");
    paragraph.className = "flash flash-error";
    paragraph.setAttribute("role", "alert");
    paragraph.setAttribute("data-htmx-error", "");
    paragraph.textContent = text;
    return paragraph.outerHTML;
  }
}());
