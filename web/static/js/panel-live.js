// The live dashboard: polls the event's figures every few seconds, fills the numbers and
// draws the last minutes as small SVG line charts. Rates are computed here from two
// successive totals, on the server's clock: claims that reserved (orders placed) and claims
// refused (the refusals stream's entries); claims per second is their sum.
"use strict";

(function () {
  const root = document.getElementById("live");
  if (!root) return;
  const source = root.dataset.source;
  const pollMs = Number(root.dataset.pollMs) || 2000;
  const KEEP = Math.round((10 * 60 * 1000) / pollMs); // ten minutes of samples
  const samples = [];
  const statusText = document.getElementById("live-status");
  const dot = document.getElementById("live-dot");
  const number = new Intl.NumberFormat();
  const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const rate = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

  function setFigure(key, text) {
    const element = root.querySelector('[data-figure="' + key + '"]');
    if (element) element.textContent = text;
  }

  function fillList(id, counts) {
    const list = document.getElementById(id);
    list.replaceChildren();
    const entries = Object.entries(counts || {}).sort((a, b) => b[1] - a[1]);
    if (!entries.length) {
      const none = document.createElement("dd");
      none.className = "muted";
      none.textContent = "none yet";
      list.append(none);
    }
    for (const [name, count] of entries) {
      const term = document.createElement("dt");
      term.textContent = name.replace(/_/g, " ");
      const value = document.createElement("dd");
      value.textContent = number.format(count);
      list.append(term, value);
    }
  }

  function perSecond(key, latest, previous) {
    if (!previous) return 0;
    const seconds = (latest.at_ms - previous.at_ms) / 1000;
    return seconds > 0 ? Math.max(0, (latest[key] - previous[key]) / seconds) : 0;
  }

  // x is time: the chart spans what it has, at least a minute and at most ten
  function draw(key) {
    const svg = root.querySelector('svg[data-chart="' + key + '"]');
    const values = samples.map((sample) => sample[key]);
    const high = Math.max(1, ...values);
    const end = samples[samples.length - 1].at_ms;
    const span = Math.min(10 * 60 * 1000, Math.max(60 * 1000, end - samples[0].at_ms));
    const points = samples.map((sample) => {
      const x = 300 - ((end - sample.at_ms) / span) * 300;
      const y = 98 - (sample[key] / high) * 94;
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    svg.querySelector(".series").setAttribute("points", points.join(" "));
    const last = root.querySelector('[data-chart-last="' + key + '"]');
    const value = values[values.length - 1] || 0;
    last.textContent = "(" + (Number.isInteger(value) ? number.format(value) : rate.format(value)) +
      ", peak " + (Number.isInteger(high) ? number.format(high) : rate.format(high)) + ")";
  }

  function remember(sample) {
    const previous = samples[samples.length - 1];
    if (previous && sample.at_ms <= previous.at_ms) return previous;
    sample.reservations_rate = perSecond("orders_placed", sample, previous);
    sample.refusals_rate = perSecond("refusals_total", sample, previous);
    samples.push(sample);
    if (samples.length > KEEP) samples.shift();
    return sample;
  }

  function show(snapshot) {
    const live = snapshot.live;
    const report = snapshot.report;
    // the server's samples of the last minutes, on the first answer: charts start full
    for (const [at, sold, placed, refused, waiting] of snapshot.history || []) {
      remember({ at_ms: at, sold: sold, orders_placed: placed, refusals_total: refused, waiting: waiting });
    }
    const sample = remember({
      at_ms: live.at_ms,
      sold: live.live ? live.sold : report.sold,
      orders_placed: live.orders_placed,
      refusals_total: live.refusals_total,
      waiting: live.waiting,
    });

    setFigure("available", number.format(live.live ? live.available : report.available));
    setFigure("held", number.format(live.live ? live.held : report.held));
    setFigure("sold", number.format(sample.sold));
    setFigure("revenue", money.format(report.revenue_cents / 100));
    setFigure("orders_placed", number.format(live.orders_placed));
    setFigure("reservations_rate", rate.format(sample.reservations_rate));
    setFigure("refusals_rate", rate.format(sample.refusals_rate));
    setFigure("claims_rate", rate.format(sample.reservations_rate + sample.refusals_rate));
    setFigure("waiting", number.format(live.waiting));
    setFigure("shopping", number.format(live.shopping));
    setFigure("admitted", number.format(Math.max(0, live.joined - live.waiting)));
    setFigure("checked_in", number.format(report.checked_in));
    fillList("orders-by-status", report.orders_by_status);
    fillList("refusals-by-reason", report.failures_by_reason);
    ["sold", "reservations_rate", "waiting"].forEach(draw);

    const time = new Date(live.at_ms).toLocaleTimeString();
    statusText.textContent = (live.live ? "Live" : "Not on sale") + " · updated " + time;
    dot.className = "dot " + (live.live ? "dot-live" : "dot-idle");
  }

  async function poll() {
    try {
      const answer = await window.boxoffice.send(samples.length ? source : source + "?history=true");
      if (answer.ok) {
        show(answer.data);
      } else {
        statusText.textContent = "Refused: " + (answer.data.detail || answer.status);
        dot.className = "dot dot-down";
      }
    } catch (error) {
      statusText.textContent = "Connection lost; trying again…";
      dot.className = "dot dot-down";
    }
    setTimeout(poll, pollMs);
  }

  poll();
})();
