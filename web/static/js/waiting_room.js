// The waiting room: takes the customer's place (POST .../join), then polls the place
// (GET .../status) with jitter so thousands of pages do not ask in step; once admitted, goes
// straight to the seat selection. The signed-in session is the cookie; the CSRF token rides
// in a header (boxoffice.send, site.js).
"use strict";
(function () {
  const room = document.getElementById("room");
  if (!room) return;
  const $ = (id) => document.getElementById(id);
  const eventId = room.dataset.event;
  const base = "/events/" + eventId + "/waiting-room/";
  const names = {};
  const template = $("state-names");
  if (template) {
    for (const item of template.content.querySelectorAll("[data-name]")) names[item.dataset.name] = item.textContent;
  }
  let joined = false;
  let timer = null;

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return room.dataset.textUnknown;
    if (seconds < 60) return room.dataset.textUnderMinute;
    return room.dataset.textMinutes.replace("%(count)s", String(Math.round(seconds / 60)));
  }

  // the base interval grows with the wait, each poll jittered by ±50%
  function next(status) {
    let wait = 3000;
    if (status && status.eta_seconds) wait = Math.min(15000, Math.max(2000, status.eta_seconds * 100));
    if (status && status.state === "sold_out") wait = 10000;
    clearTimeout(timer);
    timer = setTimeout(poll, wait * (0.5 + Math.random()));
  }

  async function poll() {
    let answer;
    try {
      answer = joined ? await window.boxoffice.send(base + "status")
                      : await window.boxoffice.send(base + "join", { method: "POST" });
    } catch (error) {
      next(null);
      return;
    }
    if (answer.status === 404 && joined) { joined = false; poll(); return; }
    if (!answer.ok) {
      $("queue-error").hidden = false;
      $("queue-error").textContent = (answer.data && (answer.data.detail || answer.data.title)) || ("HTTP " + answer.status);
      next(null);
      return;
    }
    joined = true;
    $("queue-error").hidden = true;
    show(answer.data);
  }

  function show(status) {
    $("state").textContent = names[status.state] || status.state;
    $("state").dataset.state = status.state;
    const inLine = status.state === "waiting" || (status.state === "sold_out" && status.position);
    $("in-line").hidden = !inLine;
    const drawn = status.position === null;  // joined before the opening: no place yet
    $("position").textContent = drawn ? room.dataset.textDrawn : status.position;
    $("position").classList.toggle("pending", drawn);
    $("ahead-line").hidden = drawn;
    $("ahead").textContent = status.ahead === null ? "?" : status.ahead;
    $("eta").textContent = duration(status.eta_seconds);
    const messages = {
      waiting: status.opens_at ? room.dataset.textPrequeue : room.dataset.textWaiting,
      admitted: room.dataset.textAdmitted,
      sold_out: room.dataset.textSoldOut,
      closed: room.dataset.textClosed,
    };
    $("message").textContent = messages[status.state] || "";
    if (status.state === "admitted") {
      location.assign("/event/" + eventId + "/seats");
      return;
    }
    if (status.state === "closed") return;
    next(status);
  }

  poll();
})();
