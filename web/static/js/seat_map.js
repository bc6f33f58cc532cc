// The seat map: pick seats (click, or Enter / Space on a focused seat) and general-admission
// quantities up to the per-customer limit; every two seconds the map asks which seats are
// held or sold and recolours them (one shared Redis read a second on the server, however many
// maps are open). Reserving posts the pick; a seat someone took first is shown as taken at
// once and named.
"use strict";
(function () {
  const picker = document.getElementById("picker");
  if (!picker) return;
  // "1 available" / "2 available" in the page's language (its plural forms, from the page)
  function availableText(holder, count) {
    const form = count === 1 ? holder.dataset.textAvailableOne : holder.dataset.textAvailableOther;
    return form.replace("%(num)s", String(count));
  }

  const eventId = picker.dataset.event;
  const limit = Number(picker.dataset.limit || 10);
  const seats = new Map();
  for (const seat of document.querySelectorAll("#seat-map .seat")) seats.set(Number(seat.dataset.seat), seat);
  const picked = new Set();
  const errorBox = document.getElementById("pick-error");
  const pickedText = document.getElementById("picked");
  const nothingYet = pickedText.textContent;
  let timer = null;

  function say(message) {
    errorBox.hidden = !message;
    errorBox.textContent = message || "";
  }

  function quantities() {
    const wanted = {};
    let total = 0;
    for (const row of document.querySelectorAll(".stepper")) {
      const quantity = Math.max(0, Math.floor(Number(row.querySelector(".qty").value) || 0));
      if (quantity) { wanted[row.dataset.type] = quantity; total += quantity; }
    }
    return { wanted, total };
  }

  function summarise() {
    const labels = [...picked].map((id) => seats.get(id).dataset.label);
    const { total } = quantities();
    if (total) labels.push("+" + total);
    pickedText.textContent = labels.length ? labels.join(", ") : nothingYet;
  }

  function toggle(seat) {
    const id = Number(seat.dataset.seat);
    if (picked.has(id)) {
      picked.delete(id);
      seat.classList.remove("selected");
      seat.setAttribute("aria-checked", "false");
    } else {
      if (!seat.classList.contains("available")) return;
      if (picked.size + quantities().total >= limit) { say(picker.dataset.textLimit); return; }
      picked.add(id);
      seat.classList.add("selected");
      seat.setAttribute("aria-checked", "true");
    }
    say("");
    summarise();
  }

  document.getElementById("seat-map")?.addEventListener("click", (event) => {
    const seat = event.target.closest(".seat");
    if (seat) toggle(seat);
  });
  document.getElementById("seat-map")?.addEventListener("keydown", (event) => {
    const seat = event.target.closest(".seat");
    if (seat && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); toggle(seat); }
  });

  for (const row of document.querySelectorAll(".stepper")) {
    const input = row.querySelector(".qty");
    for (const button of row.querySelectorAll(".step")) {
      button.addEventListener("click", () => {
        const value = Math.max(0, (Number(input.value) || 0) + Number(button.dataset.step));
        if (Number(button.dataset.step) > 0 && picked.size + quantities().total >= limit) { say(picker.dataset.textLimit); return; }
        input.value = String(Math.min(value, Number(input.max) || value));
        say("");
        summarise();
      });
    }
    input.addEventListener("change", summarise);
  }

  // held or sold by someone else: shown so, and out of the pick (named when it was in it)
  function mark(held, sold) {
    const taken = new Map();
    for (const id of held) taken.set(id, "held");
    for (const id of sold) taken.set(id, "sold");
    const lost = [];
    for (const [id, seat] of seats) {
      const status = taken.get(id) || "available";
      if (status !== "available" && picked.has(id)) {
        picked.delete(id);
        seat.classList.remove("selected");
        seat.setAttribute("aria-checked", "false");
        lost.push(seat.dataset.label);
      }
      seat.classList.toggle("available", status === "available");
      seat.classList.toggle("held", status === "held");
      seat.classList.toggle("sold", status === "sold");
      seat.setAttribute("aria-disabled", status === "available" ? "false" : "true");
    }
    if (lost.length) {
      say(picker.dataset.textTaken.replace("%(label)s", lost.join(", ")));
      summarise();
    }
  }

  // general admission: what is left of each type now, and no more than that can be asked
  function showTypes(available) {
    for (const [type, count] of Object.entries(available)) {
      const text = document.querySelector(`[data-available-of="${type}"]`);
      if (text) text.textContent = availableText(picker, count);
      const input = document.querySelector(`.stepper[data-type="${type}"] .qty`);
      if (input) input.max = String(Math.min(count, 100));
    }
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const answer = await window.boxoffice.send("/event/" + eventId + "/seat-status");
      if (answer.ok) {
        mark(answer.data.held, answer.data.sold);
        showTypes(answer.data.ticket_types || {});
        const updated = document.getElementById("map-updated");
        const time = new Date().toLocaleTimeString(document.documentElement.lang);
        if (updated) updated.textContent = picker.dataset.textUpdated.replace("%(time)s", time);
      }
    } catch (error) {
      // the network blinked: the next poll tries again
    }
    timer = setTimeout(refresh, 1600 + Math.random() * 800);
  }

  document.getElementById("reserve").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    const { wanted } = quantities();
    button.disabled = true;
    let answer;
    try {
      answer = await window.boxoffice.send("/event/" + eventId + "/reserve", {
        method: "POST",
        body: { seat_ids: [...picked], ticket_types: wanted },
      });
    } catch (error) {
      button.disabled = false;
      say(picker.dataset.textFailed);
      return;
    }
    if (answer.status === 201) { location.assign(answer.data.checkout); return; }
    button.disabled = false;
    const data = answer.data || {};
    if (data.seats && data.seats.length) {
      const named = [];
      for (const id of data.seats) {
        const seat = seats.get(Number(id));
        if (!seat) continue;
        named.push(seat.dataset.label);
        picked.delete(Number(id));
        seat.classList.remove("selected", "available");
        seat.classList.add("held");
        seat.setAttribute("aria-checked", "false");
      }
      summarise();
      say(picker.dataset.textTaken.replace("%(label)s", named.join(", ")));
      refresh();
      return;
    }
    say(data.message || picker.dataset.textFailed);
    if (data.code === "admission_required") setTimeout(() => location.assign("/events/" + eventId + "/waiting-room"), 2000);
  });

  refresh();
})();
