// boxoffice pages: what every page's script may use (loaded by base.html on every page).
//  - boxoffice.send(url, options): fetch with the page's CSRF token and JSON in and out;
//    a 401 (the session ended) takes the browser to the sign-in page and back.
//  - <form data-confirm="Question?">: asks before submitting (the CSP allows no inline
//    handlers, so pages declare it instead of writing onsubmit).
"use strict";

(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');

  function csrfToken() {
    return meta ? meta.content : "";
  }

  function signInAgain() {
    const here = location.pathname + location.search;
    location.assign("/sign-in?next=" + encodeURIComponent(here));
  }

  async function send(url, options) {
    const settings = Object.assign({ method: "GET" }, options || {});
    const headers = Object.assign({ Accept: "application/json" }, settings.headers || {});
    if (settings.method !== "GET" && settings.method !== "HEAD") {
      headers["X-CSRF-Token"] = csrfToken();
    }
    let body = settings.body;
    if (body !== undefined && !(body instanceof FormData) && typeof body !== "string") {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    const response = await fetch(url, {
      method: settings.method,
      headers: headers,
      body: body,
      credentials: "same-origin",
      signal: settings.signal,
    });
    if (response.status === 401 && !settings.keepOn401) {
      signInAgain();
    }
    const type = response.headers.get("content-type") || "";
    const data = type.includes("json") ? await response.json() : await response.text();
    return { ok: response.ok, status: response.status, data: data };
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const question = form.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  window.boxoffice = { send: send, csrfToken: csrfToken };
})();
