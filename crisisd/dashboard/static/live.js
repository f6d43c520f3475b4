// Live parts of a page: every element with data-live="<url>" is refreshed from that URL
// every data-every seconds (an HTML fragment, same origin, the session cookie). No
// framework, no build step. Paused while the tab is hidden.
"use strict";
(function () {
  function refresh(el) {
    if (document.hidden) return Promise.resolve();
    return fetch(el.dataset.live, { credentials: "same-origin", headers: { "X-Live": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null && html !== el.dataset.last) {
          el.innerHTML = html;
          el.dataset.last = html;
          el.dispatchEvent(new CustomEvent("live:updated", { bubbles: true }));
        }
      })
      .catch(function () { /* the next tick tries again */ });
  }
  function start() {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      var every = Math.max(1, Number(el.dataset.every || 5)) * 1000;
      setInterval(function () { refresh(el); }, every);
    });
    document.body.dataset.ready = "1";
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
