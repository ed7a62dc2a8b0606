// A live view (htmx-ext-sse) whose stream the server refused (429: too many open) or that lost
// its connection: until its stream opens again, its notice says it is waiting.
//
// A refused answer closes the browser's EventSource for good; htmx-ext-sse then opens a new one
// after a growing pause (0.5 s doubling to 64 s). A new EventSource sends no Last-Event-ID, so the
// server would replay the run from its start and the steps already shown would be appended
// again: the new one's URL carries the id of the last event this page received instead
// (webapp/event_streams.py reads it when there is no Last-Event-ID).
(function () {
  var lastIds = {};  // sse-connect URL -> id of the last event received from it

  function showWaiting(event, waiting) {
    var notice = event.target.querySelector(":scope > .stream-waiting");
    if (notice) notice.hidden = !waiting;
  }
  document.addEventListener("htmx:sseError", function (event) { showWaiting(event, true); });
  document.addEventListener("htmx:sseOpen", function (event) { showWaiting(event, false); });

  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    var source = event.target.closest("[sse-connect]");
    if (source && event.detail && event.detail.lastEventId) {
      lastIds[source.getAttribute("sse-connect")] = event.detail.lastEventId;
    }
  });

  var create = window.htmx && htmx.createEventSource;
  if (create) {
    htmx.createEventSource = function (url) {
      var last = lastIds[url];
      if (last) {
        url += (url.indexOf("?") === -1 ? "?" : "&") + "last_event_id=" + encodeURIComponent(last);
      }
      return create(url);
    };
  }
})();
