// Ticket codes in the browser: the same reading as engine/ticket_codes.py `parse`, and the
// Ed25519 signature check a gate makes offline with the event's public keys.
// A code is the decimal form of one big-endian integer whose bytes are:
//   version (1 byte: 2, or 1 without tag) | key id (LEB128) | event id (LEB128)
//   | ticket ref (8 bytes) | server tag (6 bytes, version 2) | Ed25519 signature (64 bytes)
// The signature covers every byte before it.
"use strict";

(function () {
  const REF_BYTES = 8;
  const TAG_BYTES = 6;
  const SIGNATURE_BYTES = 64;
  const MAX_DIGITS = 240;
  const MAX_VARINT = (1n << 63n) - 1n;

  function bytesOf(code) {
    let hex = BigInt(code).toString(16);
    if (hex.length % 2) hex = "0" + hex;
    const bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.substr(i * 2, 2), 16);
    return bytes;
  }

  function readVarint(data, at) {
    let value = 0n;
    let shift = 0n;
    for (let index = at; index < Math.min(at + 10, data.length); index++) {
      const byte = data[index];
      value |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) {
        if (byte === 0 && index > at) return null;
        return value <= MAX_VARINT ? [value, index + 1] : null;
      }
      shift += 7n;
    }
    return null;
  }

  // {version, keyId, eventId, ref, signed, signature} or null when not well formed
  function parse(code) {
    if (!/^[1-9][0-9]*$/.test(code) || code.length > MAX_DIGITS) return null;
    const data = bytesOf(code);
    const version = data[0];
    if (version !== 1 && version !== 2) return null;
    const key = readVarint(data, 1);
    const event = key ? readVarint(data, key[1]) : null;
    if (!key || !event || key[0] < 1n || event[0] < 1n) return null;
    const refEnd = event[1] + REF_BYTES;
    const signedEnd = refEnd + (version === 2 ? TAG_BYTES : 0);
    if (data.length !== signedEnd + SIGNATURE_BYTES) return null;
    return {
      version: version,
      keyId: Number(key[0]),
      eventId: Number(event[0]),
      ref: data.slice(event[1], refEnd),
      signed: data.slice(0, signedEnd),
      signature: data.slice(signedEnd),
    };
  }

  function fromBase64Url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  let noble = null; // the vendored @noble/ed25519, loaded only where WebCrypto lacks Ed25519
  let webCrypto = null; // true / false once tried

  async function verifyWithWebCrypto(publicKey, signature, message) {
    const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  }

  // true when `signature` over `message` is by the raw 32-byte `publicKey`
  async function verify(publicKey, signature, message, nobleUrl) {
    if (webCrypto !== false) {
      try {
        const ok = await verifyWithWebCrypto(publicKey, signature, message);
        webCrypto = true;
        return ok;
      } catch (error) {
        if (webCrypto === true) return false; // WebCrypto works: this key or signature is bad
        webCrypto = false;
      }
    }
    if (!noble) noble = await import(nobleUrl);
    try {
      return await noble.verifyAsync(signature, message, publicKey);
    } catch (error) {
      return false;
    }
  }

  // Called while online with one of the event's keys: finds out whether WebCrypto has
  // Ed25519 and, if not, loads the vendored library now, since offline it cannot be fetched.
  async function prepare(publicKey, nobleUrl) {
    if (webCrypto === null) {
      try {
        await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
        webCrypto = true;
      } catch (error) {
        webCrypto = false;
      }
    }
    if (webCrypto === false && !noble) noble = await import(nobleUrl);
    return webCrypto ? "WebCrypto" : "@noble/ed25519";
  }

  window.boxofficeTicketCode = {
    parse: parse,
    verify: verify,
    prepare: prepare,
    fromBase64Url: fromBase64Url,
  };
})();
