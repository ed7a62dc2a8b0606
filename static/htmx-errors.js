// No silent failures: htmx leaves a 4xx/5xx answer unswapped by default, so a refused test email
// (429), an expired session (401) or a server error looked like a button that does nothing. The
// server answers an htmx request's error with a short message (webapp/errors.py); it is shown
// inside the element the answer was meant for (innerHTML, whatever the element's own swap: an
// inline check's message container must keep its id), or, when the server cannot be reached,
// a message of our own. htmx's documented events: htmx:beforeSwap (shouldSwap, swapOverride)
// and htmx:sendError.
//
// Only the app's own error fragments are inserted as HTML: text/html whose first element carries
// data-htmx-error ("" = a message to put inside the target, "for-target" = a fragment made for
// its target, swapped as the element asked). Anything else (JSON, plain text, a proxy's error
// page) is never inserted: the generic message for its status is shown instead.
(function () {
  "use strict";

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var status = detail.xhr.status;
    if (status < 400) { return; }
    detail.shouldSwap = true;
    var mark = ownFragmentMark(detail.xhr, detail.serverResponse);
    if (mark === null) {
      detail.serverResponse = message(genericText(status));
      detail.swapOverride = "innerHTML";
    } else if (mark !== "for-target") {
      detail.swapOverride = "innerHTML";
    }
  });

  document.addEventListener("htmx:sendError", function (event) {
    var target = event.detail.target;
    if (target) {
      target.innerHTML = message(metaText("htmx-offline-message", "The server cannot be reached."));
    }
  });

  // The data-htmx-error value of an answer that is one of the app's own error fragments, else null.
  function ownFragmentMark(xhr, body) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (!/^text\/html\b/i.test(type) || !body) { return null; }
    var first = new DOMParser().parseFromString(body, "text/html").body.firstElementChild;
    if (!first || !first.hasAttribute("data-htmx-error")) { return null; }
    return first.getAttribute("data-htmx-error");
  }

  function genericText(status) {
    return metaText("htmx-error-message", "The server answered with an error ({status}). Try again.")
      .replace("{status}", String(status));
  }

  function metaText(name, fallback) {
    var meta = document.querySelector('meta[name="' + name + '"]');
    return meta ? meta.content : fallback;
  }

  function message(text) {
    var paragraph = document.createElement("p");
    paragraph.className = "flash flash-error";
    paragraph.setAttribute("role", "alert");
    paragraph.setAttribute("data-htmx-error", "");
    paragraph.textContent = text;
    return paragraph.outerHTML;
  }
}());
