// Passkeys (WebAuthn) for pinpanel: adding one on the two-step login page, and using one at
// the second step of a login. A button with data-passkey="register" or "login" fetches the
// options from data-options-url, asks the browser, and posts its answer to data-finish-url.
// Loaded as a file (the CSP allows no inline script); clicks are delegated, so swapped-in
// buttons work too. Binary values travel as unpadded base64url, as webauthn-rs expects.
(function () {
  "use strict";

  function fromB64url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function post(button, url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": button.getAttribute("data-csrf") || "" },
      body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) throw new Error(data.error || "The server refused it (" + res.status + ").");
        return data;
      });
    });
  }

  function register(button) {
    return post(button, button.getAttribute("data-options-url")).then(function (options) {
      var o = options.publicKey;
      o.challenge = fromB64url(o.challenge);
      o.user.id = fromB64url(o.user.id);
      (o.excludeCredentials || []).forEach(function (c) { c.id = fromB64url(c.id); });
      return navigator.credentials.create({ publicKey: o });
    }).then(function (cred) {
      var r = cred.response;
      return post(button, button.getAttribute("data-finish-url"), {
        id: cred.id,
        rawId: toB64url(cred.rawId),
        type: cred.type,
        response: {
          attestationObject: toB64url(r.attestationObject),
          clientDataJSON: toB64url(r.clientDataJSON),
          transports: typeof r.getTransports === "function" ? r.getTransports() : undefined
        },
        extensions: cred.getClientExtensionResults()
      });
    });
  }

  function login(button) {
    return post(button, button.getAttribute("data-options-url")).then(function (options) {
      var o = options.publicKey;
      o.challenge = fromB64url(o.challenge);
      (o.allowCredentials || []).forEach(function (c) { c.id = fromB64url(c.id); });
      return navigator.credentials.get({ publicKey: o });
    }).then(function (cred) {
      var r = cred.response;
      return post(button, button.getAttribute("data-finish-url"), {
        id: cred.id,
        rawId: toB64url(cred.rawId),
        type: cred.type,
        response: {
          authenticatorData: toB64url(r.authenticatorData),
          clientDataJSON: toB64url(r.clientDataJSON),
          signature: toB64url(r.signature),
          userHandle: r.userHandle ? toB64url(r.userHandle) : null
        },
        extensions: cred.getClientExtensionResults()
      });
    });
  }

  // The first factor comes with new recovery codes: show them here, once, before moving on.
  function showRecoveryCodes(codes, next) {
    var section = document.getElementById("passkey-recovery");
    var list = document.getElementById("passkey-recovery-list");
    if (!section || !list) return false;
    codes.forEach(function (code) {
      var li = document.createElement("li");
      var c = document.createElement("code");
      c.textContent = code;
      li.appendChild(c);
      list.appendChild(li);
    });
    var go = document.getElementById("passkey-recovery-continue");
    if (go && next) go.setAttribute("href", next);
    section.hidden = false;
    var heading = document.getElementById("passkey-recovery-title");
    if (heading) heading.focus();
    return true;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-passkey]");
    if (!button) return;
    event.preventDefault();
    var status = document.getElementById("passkey-status");
    if (!window.PublicKeyCredential) {
      if (status) status.textContent = "This browser cannot use passkeys.";
      return;
    }
    button.disabled = true;
    if (status) status.textContent = "Follow your browser's prompt…";
    var run = button.getAttribute("data-passkey") === "register" ? register : login;
    run(button).then(function (out) {
      if (status) status.textContent = "";
      if (out.recovery_codes && showRecoveryCodes(out.recovery_codes, out.redirect)) return;
      window.location.assign(out.redirect || window.location.href);
    }).catch(function (e) {
      if (status) {
        status.textContent = e && e.name === "NotAllowedError"
          ? "The passkey was not used (cancelled or timed out). Try again."
          : (e && e.message) || "The passkey did not work. Try again.";
      }
    }).then(function () { button.disabled = false; });
  });
})();
