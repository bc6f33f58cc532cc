"use strict";
(function () {
  const TOKEN_KEY = "boxoffice.access_token";
  const match = location.pathname.match(/\/events\/(\d+)\/waiting-room/);
  const eventId = match ? match[1] : null;
  const $ = (id) => document.getElementById(id);
  let admission = null;   // {token, expires_at}
  let pollTimer = null;
  let joined = false;
  let picking = false;    // the picker is being filled or shown

  function token() { return localStorage.getItem(TOKEN_KEY); }

  async function api(method, path, body, extraHeaders) {
    const headers = Object.assign({"Accept": "application/json"}, extraHeaders || {});
    if (token()) headers["Authorization"] = "Bearer " + token();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {method, headers, cache: "no-store",
                                        body: body === undefined ? undefined : JSON.stringify(body)});
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return {status: response.status, data};
  }

  function problem(result) {
    return (result.data && (result.data.detail || result.data.title)) || ("HTTP " + result.status);
  }

  function money(cents) { return (cents / 100).toFixed(2); }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "unknown";
    if (seconds < 60) return "under a minute";
    const minutes = Math.round(seconds / 60);
    if (minutes < 90) return "about " + minutes + " min";
    return "about " + (minutes / 60).toFixed(1) + " h";
  }

  function when(iso) { return iso ? new Date(iso).toLocaleString() : ""; }

  function showLogin(message) {
    clearTimeout(pollTimer);
    localStorage.removeItem(TOKEN_KEY);
    joined = false;
    picking = false;
    $("queue").hidden = true;
    $("picker").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
  }

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await api("POST", "/auth/login",
                             {email: $("email").value, password: $("password").value});
    if (result.status !== 200) { $("login-error").textContent = problem(result); return; }
    if (result.data.user.role !== "customer") {
      $("login-error").textContent = "Log in with a customer account to buy tickets.";
      return;
    }
    localStorage.setItem(TOKEN_KEY, result.data.access_token);
    $("login").hidden = true;
    start();
  });

  // Polls spread out: the base interval grows with the wait, and each one is jittered by
  // ±50% so thousands of pages do not ask in step.
  function nextPoll(status) {
    let base = 3000;
    if (status && status.eta_seconds) base = Math.min(15000, Math.max(2000, status.eta_seconds * 100));
    if (status && status.state === "sold_out") base = 10000;
    const delay = base * (0.5 + Math.random());
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, delay);
  }

  async function poll() {
    const result = joined ? await api("GET", "/events/" + eventId + "/queue")
                          : await api("POST", "/events/" + eventId + "/queue");
    if (result.status === 401) { showLogin("Your session ended: log in again."); return; }
    if (result.status === 404 && joined) { joined = false; nextPoll(null); return; }
    if (result.status !== 200) {
      $("queue-error").textContent = problem(result);
      nextPoll(null);
      return;
    }
    joined = true;
    $("queue-error").textContent = "";
    render(result.data);
  }

  function render(status) {
    $("state").textContent = status.state.replace("_", " ");
    $("state").dataset.state = status.state;
    const inLine = status.state === "waiting" || (status.state === "sold_out" && status.position);
    $("in-line").hidden = !inLine;
    $("position").textContent = status.position === null ? "drawn at opening" : status.position;
    $("ahead").textContent = status.ahead === null ? "?" : status.ahead;
    $("eta").textContent = duration(status.eta_seconds);
    $("message").textContent = {
      waiting: status.opens_at
        ? "The sale opens " + when(status.opens_at) + ". Everyone who joins before then gets a random place at the opening, so there is no need to hurry."
        : "Keep this page open: it updates itself.",
      admitted: "",
      sold_out: "Everything is sold or reserved right now. If reservations lapse, the queue moves again.",
      closed: "The sale is closed.",
    }[status.state];
    if (status.state === "admitted") { admit(status); return; }
    if (status.state === "closed") { clearTimeout(pollTimer); return; }
    nextPoll(status);
  }

  async function admit(status) {
    clearTimeout(pollTimer);
    admission = {token: status.admission_token, expires_at: status.admission_expires_at};
    $("admission-expires").textContent = admission.expires_at ? when(admission.expires_at) : "the sale ends";
    if (picking) return;
    picking = true;
    const [seats, types] = await Promise.all([
      availableSeats(),
      api("GET", "/events/" + eventId + "/ticket-types?limit=200"),
    ]);
    const seatBox = $("seats");
    seatBox.textContent = "";
    for (const seat of seats) {
      const label = document.createElement("label");
      label.className = "seat";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = seat.id;
      box.dataset.seat = seat.label;
      label.append(box, " " + seat.label + " (" + money(seat.price_cents) + ")");
      seatBox.append(label);
    }
    const typeBox = $("ticket-types");
    typeBox.textContent = "";
    for (const type of (types.data && types.data.items) || []) {
      const row = document.createElement("p");
      const input = document.createElement("input");
      input.type = "number"; input.min = "0"; input.max = String(Math.min(type.available, 100));
      input.value = "0"; input.dataset.ticketType = type.id;
      const label = document.createElement("label");
      label.append(type.name + " (" + money(type.price_cents) + ", " + type.available + " left) ", input);
      row.append(label);
      typeBox.append(row);
    }
    $("picker").hidden = false;  // once it is filled: what is picked now stays picked
  }

  // every available seat, page after page (a list answers at most 200 at a time)
  async function availableSeats() {
    const seats = [];
    let cursor = null;
    do {
      const query = "status=available&limit=200" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      const page = await api("GET", "/events/" + eventId + "/seats?" + query);
      if (page.status !== 200 || !page.data) break;
      seats.push(...page.data.items);
      cursor = page.data.next_cursor;
    } while (cursor);
    return seats;
  }

  // the turn ended before the reservation (the admission lapsed, or its order was paid or
  // cancelled elsewhere): back to the queue, where a new place is taken
  function backToQueue() {
    $("picker").hidden = true;
    picking = false;
    admission = null;
    joined = false;
    $("notice").textContent = "Your turn ended before the reservation was made: you are back in the queue.";
    poll();
  }

  $("reserve").addEventListener("click", async () => {
    const items = [];
    const seatIds = [...document.querySelectorAll("#seats input:checked")].map((box) => Number(box.value));
    if (seatIds.length) items.push({event_id: Number(eventId), seat_ids: seatIds});
    for (const input of document.querySelectorAll("#ticket-types input")) {
      const quantity = Number(input.value);
      if (quantity > 0) items.push({ticket_type_id: Number(input.dataset.ticketType), quantity});
    }
    if (!items.length) { $("reserve-error").textContent = "Pick at least one seat or ticket."; return; }
    $("reserve").disabled = true;
    const headers = admission && admission.token ? {"X-Admission-Token": admission.token} : {};
    const result = await api("POST", "/orders", {items}, headers);
    $("reserve").disabled = false;
    if (result.status === 403 && result.data && result.data.code === "admission_required") { backToQueue(); return; }
    if (result.status !== 201) { $("reserve-error").textContent = problem(result); return; }
    $("reserve-error").textContent = "";
    $("notice").textContent = "";
    showOrder(result.data);
  });

  function showOrder(order) {
    $("picker").hidden = true;
    $("order").hidden = false;
    $("order-id").textContent = order.id;
    $("order-total").textContent = money(order.total_cents);
    $("order-expires").textContent = when(order.expires_at);
    const list = $("order-items");
    list.textContent = "";
    for (const item of order.items) {
      const entry = document.createElement("li");
      entry.textContent = item.label + " · " + money(item.price_cents);
      list.append(entry);
    }
  }

  async function describeEvent() {
    const result = await api("GET", "/events/" + eventId);
    if (result.status === 200) {
      $("event-name").textContent = result.data.name;
      $("event-when").textContent = result.data.venue + " · " + when(result.data.starts_at);
    }
  }

  function start() {
    $("queue").hidden = false;
    poll();
  }

  if (!eventId) { document.body.textContent = "No event in this address."; return; }
  describeEvent();
  if (token()) start(); else showLogin("");
})();
