// Countdowns: every element with data-countdown-to="<RFC 3339>" shows the time left in its
// [data-countdown-text] child, each second. At zero, data-reload-at-zero reloads the page
// (a sale that opens), data-expired-text replaces the element's text (a hold that lapsed) and
// data-expired-disables names the controls to turn off.
"use strict";
(function () {
  const clocks = [...document.querySelectorAll("[data-countdown-to]")];
  if (!clocks.length) return;

  function left(ms) {
    const seconds = Math.max(0, Math.round(ms / 1000));
    const d = Math.floor(seconds / 86400);
    const h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    const two = (n) => String(n).padStart(2, "0");
    return (d ? d + "d " : "") + (d || h ? two(h) + ":" : "") + two(m) + ":" + two(s);
  }

  function tick() {
    for (const clock of clocks) {
      const ms = Date.parse(clock.dataset.countdownTo) - Date.now();
      const text = clock.querySelector("[data-countdown-text]");
      if (ms > 0) {
        if (text) text.textContent = left(ms);
        continue;
      }
      if (clock.dataset.done) continue;
      clock.dataset.done = "1";
      if (text) text.textContent = left(0);
      if (clock.dataset.expiredText) {
        clock.textContent = clock.dataset.expiredText;
        clock.classList.add("expired");
      }
      // a lapsed hold cannot be paid: its form's button says so by being off
      if (clock.dataset.expiredDisables) {
        for (const control of document.querySelectorAll(clock.dataset.expiredDisables)) control.disabled = true;
      }
      if (clock.dataset.reloadAtZero) setTimeout(() => location.reload(), 1500);
    }
  }
  tick();
  setInterval(tick, 1000);
})();
