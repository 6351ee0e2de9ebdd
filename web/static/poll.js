// Polls a code submission's status and reloads the page once grading has finished.
(function () {
  "use strict";
  var badge = document.getElementById("status");
  if (!badge || !window.fetch) { return; }
  var url = badge.getAttribute("data-status-url");
  var delay = 1000;
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && data.done) { window.location.reload(); return; }
        if (data) { badge.textContent = data.status; }
        delay = Math.min(delay * 1.5, 5000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, delay);
})();
