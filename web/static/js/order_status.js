// An order page while the order is paid: asks every second how the order stands and shows
// the tickets (reloads) as soon as it is completed.
"use strict";
(function () {
  const box = document.getElementById("order");
  if (!box) return;
  const url = "/account/orders/" + encodeURIComponent(box.dataset.order) + "/status";
  async function poll() {
    try {
      const answer = await window.boxoffice.send(url);
      if (answer.ok && answer.data.status !== box.dataset.status) {
        location.replace(location.pathname);
        return;
      }
    } catch (error) {
      // the network blinked: ask again
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
