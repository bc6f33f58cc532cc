// An event on sale: its availability, in all and per ticket type, follows the sale without a
// reload (the seat map's status answer, shared by every page of the event, every 5 s).
"use strict";
(function () {
  // "1 available" / "2 available" in the page's language (its plural forms, from the page)
  function availableText(holder, count) {
    const form = count === 1 ? holder.dataset.textAvailableOne : holder.dataset.textAvailableOther;
    return form.replace("%(num)s", String(count));
  }

  const box = document.querySelector(".sale-box[data-event]");
  if (!box) return;
  const url = "/event/" + box.dataset.event + "/seat-status";
  const say = (count) => availableText(box, count);
  async function poll() {
    try {
      const answer = await window.boxoffice.send(url);
      if (answer.ok && answer.data.available !== null) {
        const total = box.querySelector("[data-available]");
        if (total) total.textContent = say(answer.data.available);
        for (const [type, count] of Object.entries(answer.data.ticket_types || {})) {
          const text = document.querySelector(`[data-available-of="${type}"]`);
          if (text) text.textContent = say(count);
        }
      }
    } catch (error) {
      // the network blinked: the next poll tries again
    }
    setTimeout(poll, 4000 + Math.random() * 2000);
  }
  setTimeout(poll, 4000 + Math.random() * 2000);
})();
