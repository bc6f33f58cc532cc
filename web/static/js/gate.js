// The gate scanner: camera or typed codes, a full-screen answer, and an offline mode.
//
// Online, each code goes to the server (the engine's Gate.validate). When the network is
// down (or a request fails), the code is checked here: well formed, for this event, signed
// by one of the event's gate keys (Ed25519), not in the revoked list, not already admitted on
// this device; then it is admitted and written to this device's log. Logged scans are
// uploaded when the connection returns; a ticket the server had already admitted elsewhere,
// or that was cancelled meanwhile, is listed as a conflict.
"use strict";

(function () {
  const root = document.getElementById("scanner");
  if (!root) return;
  const codes = window.boxofficeTicketCode;
  const eventId = Number(root.dataset.eventId);
  const scanUrl = root.dataset.scanUrl;
  const offlineUrl = root.dataset.offlineUrl;
  const store = "boxoffice.gate." + eventId + ".";
  const form = document.getElementById("code-form");
  const input = document.getElementById("code");
  const gateName = document.getElementById("gate-name");
  const answer = document.getElementById("answer");
  const history = document.getElementById("history");
  let serverReachable = true;
  let uploading = false;
  let busy = false;

  const ANSWERS = {
    admitted: ["green", "Admitted"],
    admitted_offline: ["green", "Admitted (offline)"],
    already_used: ["amber", "Already used"],
    void: ["red", "Void: ticket cancelled"],
    invalid: ["red", "Invalid ticket"],
    wrong_event: ["amber", "Ticket for another event"],
  };

  // --- storage on this device ---

  function load(name, fallback) {
    try {
      const raw = localStorage.getItem(store + name);
      return raw ? JSON.parse(raw) : fallback;
    } catch (error) {
      return fallback;
    }
  }

  function save(name, value) {
    localStorage.setItem(store + name, JSON.stringify(value));
  }

  gateName.value = localStorage.getItem("boxoffice.gate.name") || "";
  gateName.addEventListener("change", () => localStorage.setItem("boxoffice.gate.name", gateName.value.trim()));

  // --- connection state ---

  function online() {
    return navigator.onLine && serverReachable;
  }

  function showConnection() {
    const box = document.getElementById("connection");
    const text = document.getElementById("connection-text");
    const mode = online() ? "online" : "offline";
    box.dataset.mode = mode;
    box.querySelector(".dot").className = "dot " + (mode === "online" ? "dot-live" : "dot-down");
    text.textContent = mode === "online" ? "Online" : "Offline: checking tickets on this device";
  }

  // --- offline data: keys and revoked codes ---

  function describeOfflineData() {
    const data = load("offline", null);
    const element = document.getElementById("offline-data");
    if (!data) {
      element.textContent = "Offline data not downloaded yet: this device cannot check tickets offline.";
      return;
    }
    const at = new Date(data.fetched_at).toLocaleString();
    const checker = root.dataset.verifier ? " (signatures checked with " + root.dataset.verifier + ")" : "";
    element.textContent = "Ready for offline checks" + checker + ": " + data.keys.length + " gate key(s), " +
      data.revoked.length + " cancelled ticket(s), downloaded " + at +
      (data.complete ? "." : " (revoked list incomplete).");
  }

  async function refreshOfflineData() {
    try {
      const reply = await window.boxoffice.send(offlineUrl);
      if (reply.ok) {
        save("offline", reply.data);
        const key = reply.data.keys[0];
        if (key) {
          const checker = await codes.prepare(codes.fromBase64Url(key.public_key), root.dataset.noble);
          root.dataset.verifier = checker;
        }
      }
    } catch (error) {
      // keep the copy we have
    }
    describeOfflineData();
  }

  // --- the answer on screen ---

  function beep(colour) {
    try {
      const context = new (window.AudioContext || window.webkitAudioContext)();
      const tone = context.createOscillator();
      const gain = context.createGain();
      tone.frequency.value = colour === "green" ? 880 : colour === "amber" ? 520 : 220;
      gain.gain.value = 0.15;
      tone.connect(gain).connect(context.destination);
      tone.start();
      tone.stop(context.currentTime + (colour === "green" ? 0.15 : 0.45));
    } catch (error) {
      // no sound on this device
    }
    if (navigator.vibrate) navigator.vibrate(colour === "green" ? 80 : [200, 80, 200]);
  }

  function timeOf(value) {
    return value ? new Date(value).toLocaleString() : "an unknown time";
  }

  function show(result, details) {
    const [colour, title] = ANSWERS[result] || ["red", result];
    answer.className = "answer answer-" + colour;
    answer.dataset.result = result;
    document.getElementById("answer-title").textContent = title;
    document.getElementById("answer-label").textContent = details.label || "";
    document.getElementById("answer-detail").textContent = details.detail || "";
    answer.hidden = false;
    answer.focus();
    beep(colour);
    const line = document.createElement("li");
    line.className = "history-" + colour;
    line.textContent = new Date().toLocaleTimeString() + " · " + title +
      (details.label ? " · " + details.label : "") + (details.detail ? " · " + details.detail : "");
    history.prepend(line);
    while (history.children.length > 20) history.lastChild.remove();
  }

  function dismiss() {
    answer.hidden = true;
    input.value = "";
    input.focus();
  }

  document.getElementById("answer-next").addEventListener("click", dismiss);
  answer.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === "Escape") {
      event.preventDefault();
      dismiss();
    }
  });

  // --- checking a code ---

  function fromServer(data) {
    const details = { label: data.label };
    if (data.result === "already_used") details.detail = "First scanned " + timeOf(data.used_at);
    if (data.result === "void") details.detail = "This ticket's order was cancelled.";
    if (data.result === "invalid") details.detail = "Not a ticket of this partner, or forged.";
    if (data.result === "wrong_event") details.detail = "Not admitted: the code is for another event.";
    show(data.result, details);
  }

  async function checkOffline(code) {
    const data = load("offline", null);
    const parsed = codes.parse(code);
    if (!parsed) return show("invalid", { detail: "Not a ticket code." });
    if (parsed.eventId !== eventId) {
      return show("wrong_event", { detail: "Not admitted: the code is for another event." });
    }
    if (!data) return show("invalid", { detail: "Cannot check offline: no offline data on this device." });
    const key = data.keys.find((k) => k.key_id === parsed.keyId);
    let genuine = false;
    try {
      genuine = key && (await codes.verify(
        codes.fromBase64Url(key.public_key), parsed.signature, parsed.signed, root.dataset.noble));
    } catch (error) {
      // no Ed25519 in this browser and the library was not loaded while online
      return show("invalid", { detail: "This device cannot check signatures offline: not admitted." });
    }
    if (!genuine) return show("invalid", { detail: "Forged or unknown signature (checked offline)." });
    if (data.revoked.includes(code)) {
      return show("void", { detail: "Cancelled (list of " + timeOf(data.fetched_at) + ")." });
    }
    const log = load("log", {});
    if (log[code]) {
      return show("already_used", { detail: "Already admitted on this device at " + timeOf(log[code].at) + " (offline)." });
    }
    log[code] = { at: new Date().toISOString(), gate: gateName.value.trim() || null, uploaded: false };
    save("log", log);
    showPending();
    show("admitted_offline", { detail: "Genuine ticket. Seat and other gates' scans are checked when back online." });
  }

  async function check(code) {
    code = code.replace(/\s+/g, "");
    if (!code || busy) return;
    busy = true;
    try {
      if (online()) {
        try {
          const reply = await window.boxoffice.send(scanUrl, {
            method: "POST",
            body: { code: code, gate: gateName.value.trim() || null },
          });
          if (reply.ok) return fromServer(reply.data);
          if (reply.status === 422) return show("invalid", { detail: "Not a ticket code." });
          return show("invalid", { detail: (reply.data && reply.data.detail) || "Refused (" + reply.status + ")" });
        } catch (error) {
          serverReachable = false; // the request never got an answer: check it here
          showConnection();
        }
      }
      await checkOffline(code);
    } finally {
      busy = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    check(input.value);
  });

  // --- uploading offline scans ---

  function showPending() {
    const log = load("log", {});
    const waiting = Object.values(log).filter((entry) => !entry.uploaded).length;
    document.getElementById("pending").textContent = waiting
      ? waiting + " offline scan(s) waiting to be uploaded."
      : "";
    const conflicts = load("conflicts", []);
    const list = document.getElementById("conflicts");
    list.replaceChildren(...conflicts.map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }));
    document.getElementById("conflicts-box").hidden = !conflicts.length;
  }

  async function upload() {
    if (uploading || !navigator.onLine) return;
    uploading = true;
    try {
      const log = load("log", {});
      for (const [code, entry] of Object.entries(log)) {
        if (entry.uploaded) continue;
        const reply = await window.boxoffice.send(scanUrl, {
          method: "POST",
          body: { code: code, gate: entry.gate },
        });
        if (!reply.ok) break;
        serverReachable = true;
        const result = reply.data.result;
        entry.uploaded = true;
        entry.server = result;
        if (result !== "admitted") {
          const label = reply.data.label ? " (" + reply.data.label + ")" : "";
          const conflicts = load("conflicts", []);
          const why = result === "already_used"
            ? "was already admitted elsewhere at " + timeOf(reply.data.used_at)
            : result === "void" ? "had been cancelled" : "was refused by the server (" + result + ")";
          conflicts.push("Ticket …" + code.slice(-8) + label + " admitted offline at " +
            timeOf(entry.at) + " " + why + ".");
          save("conflicts", conflicts);
        }
        save("log", log);
      }
    } catch (error) {
      serverReachable = false;
    } finally {
      uploading = false;
      showConnection();
      showPending();
    }
  }

  window.addEventListener("online", () => {
    serverReachable = true;
    showConnection();
    upload().then(refreshOfflineData);
  });
  window.addEventListener("offline", showConnection);
  setInterval(() => {
    if (navigator.onLine) upload();
  }, 10000);

  // --- the camera ---

  let stream = null;
  let jsQRLoaded = null;

  function loadJsQR() {
    if (!jsQRLoaded) {
      jsQRLoaded = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = root.dataset.jsqr;
        script.onload = resolve;
        script.onerror = reject;
        document.head.append(script);
      });
    }
    return jsQRLoaded;
  }

  async function decoder() {
    if ("BarcodeDetector" in window) {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        return async (video) => {
          const found = await detector.detect(video);
          return found.length ? found[0].rawValue : null;
        };
      }
    }
    await loadJsQR();
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    return async (video) => {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      if (!canvas.width) return null;
      context.drawImage(video, 0, 0);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      const found = window.jsQR(image.data, image.width, image.height);
      return found ? found.data : null;
    };
  }

  async function startCamera() {
    const box = document.getElementById("camera");
    const status = document.getElementById("camera-status");
    const video = document.getElementById("camera-video");
    const button = document.getElementById("camera-button");
    if (stream) {
      stream.getTracks().forEach((track) => track.stop());
      stream = null;
      box.hidden = true;
      button.textContent = "Start camera";
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (error) {
      box.hidden = false;
      status.textContent = "No camera available (" + error.name + "): type or paste codes instead.";
      return;
    }
    video.srcObject = stream;
    await video.play();
    box.hidden = false;
    button.textContent = "Stop camera";
    const read = await decoder();
    status.textContent = "BarcodeDetector" in window ? "Scanning (built-in decoder)" : "Scanning (jsQR)";
    let last = "";
    const tick = async () => {
      if (!stream) return;
      if (answer.hidden && !busy) {
        const code = await read(video).catch(() => null);
        if (code && code !== last) {
          last = code;
          await check(code);
          setTimeout(() => { last = ""; }, 3000);
        }
      }
      requestAnimationFrame(tick);
    };
    tick();
  }

  document.getElementById("camera-button").addEventListener("click", startCamera);

  // --- start ---

  showConnection();
  describeOfflineData();
  showPending();
  if (navigator.onLine) {
    refreshOfflineData();
    upload();
  }
})();
