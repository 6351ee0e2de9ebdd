// Polls a code submission's status: keeps the badge and the place in line current, and reloads
// the page once grading has finished.
(function () {
  "use strict";
  var badge = document.getElementById("status");
  if (!badge || !window.fetch) { return; }
  var url = badge.getAttribute("data-status-url");
  var delay = 1000;

  function describePlace(data) {
    var depth = data.queue_depth || 0;
    var text = data.queue_position ? "Your submission is number " + data.queue_position + " in line; " : "";
    return text + depth + " submission" + (depth === 1 ? "" : "s") + " waiting or being graded right now.";
  }

  function showPlace(data) {
    var place = document.getElementById("queue-place");
    if (!place) { return; }
    place.textContent = describePlace(data);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && data.done) { window.location.reload(); return; }
        if (data) { badge.textContent = data.status; showPlace(data); }
        delay = Math.min(delay * 1.5, 5000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, delay);
})();
