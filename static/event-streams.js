// A live view (htmx-ext-sse) that the server refused (429: too many open) or that lost its
// connection retries by itself; until its stream opens again, its notice says so.
(function () {
  function showWaiting(event, waiting) {
    var notice = event.target.querySelector(":scope > .stream-waiting");
    if (notice) notice.hidden = !waiting;
  }
  document.addEventListener("htmx:sseError", function (event) { showWaiting(event, true); });
  document.addEventListener("htmx:sseOpen", function (event) { showWaiting(event, false); });
})();
