// Live updates for `ocsrun serve` pages: the only script, served as a file (the page's
// Content-Security-Policy forbids inline script). Pages work without it; it refreshes the
// element marked data-live-url from the server's own escaped HTML fragment, once a second,
// while the server says the content is live (header X-Ocsrun-Live: 1).
"use strict";
(function () {
  var box = document.querySelector("[data-live-url]");
  if (!box) {
    return;
  }
  var PERIOD_MS = 1000;
  function schedule() {
    window.setTimeout(tick, PERIOD_MS);
  }
  function tick() {
    if (box.getAttribute("data-live") !== "1") {
      return;
    }
    fetch(box.getAttribute("data-live-url"), {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/html" }
    }).then(function (response) {
      if (!response.ok) {
        schedule();
        return null;
      }
      box.setAttribute("data-live", response.headers.get("X-Ocsrun-Live") === "0" ? "0" : "1");
      return response.text().then(function (html) {
        if (html !== box.getAttribute("data-last")) {
          box.setAttribute("data-last", html);
          box.innerHTML = html;  // escaped by the server's templates; scripts in it never run
        }
        box.setAttribute("data-updated", String(Date.now()));
        schedule();
      });
    }).catch(schedule);
  }
  schedule();
})();
