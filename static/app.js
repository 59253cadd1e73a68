// pinpanel's own script: progressive enhancement only. Every link and form here works without
// it; with it, confirmation links open real modal dialogs and focus lands where it should after
// htmx swaps. Loaded as a file, so the CSP needs no 'unsafe-inline'.
(function () {
  "use strict";

  // The element that opened the current dialog, to return focus to when it closes.
  var opener = null;

  // A link with data-dialog="ID" opens <dialog id="ID"> as a modal instead of navigating to its
  // confirmation page. showModal() moves focus into the dialog, makes the rest of the page inert
  // and closes on Escape.
  document.addEventListener("click", function (event) {
    // A link with data-confirm="KIND" fills the page's one shared dialog from the
    // <template data-question="KIND"> (its {who} replaced by the data-who of the link or of its
    // row) and posts to the link's own address: a long list carries one dialog, not one per row
    // and action.
    var confirmLink = event.target.closest("[data-confirm]");
    if (confirmLink) {
      var shared = document.getElementById("confirm-dialog");
      var kind = confirmLink.getAttribute("data-confirm");
      var question = document.querySelector("template[data-question='" + kind + "']");
      if (shared && question && typeof shared.showModal === "function") {
        event.preventDefault();
        var url = confirmLink.getAttribute("href");
        var form = shared.querySelector("form");
        form.setAttribute("action", url);
        form.setAttribute("hx-post", url);
        if (window.htmx) window.htmx.process(form);
        var holder = confirmLink.closest("[data-who]");
        var who = holder ? holder.getAttribute("data-who") : "";
        shared.querySelector("h3").textContent = question.getAttribute("data-title");
        shared.querySelector("p").textContent =
          question.content.textContent.split("{who}").join(who);
        var submit = form.querySelector("button[type=submit]");
        submit.textContent = question.getAttribute("data-button");
        submit.className = question.hasAttribute("data-danger") ? "button-danger" : "button-primary";
        opener = confirmLink;
        shared.showModal();
      }
      return;
    }
    var link = event.target.closest("[data-dialog]");
    if (link) {
      var dialog = document.getElementById(link.getAttribute("data-dialog"));
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        opener = link;
        dialog.showModal();
      }
      return;
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open) open.close();
    }
  });

  // Focus goes back to the opener when a dialog closes (Cancel, Escape), if it is still there.
  document.addEventListener("close", function (event) {
    if (event.target.tagName === "DIALOG" && opener && document.contains(opener)) {
      opener.focus();
    }
  }, true);

  // Recovery codes: Print and Copy buttons exist only for scripts (without JavaScript the codes
  // are plain text to copy, and the browser prints the page).
  document.querySelectorAll("[data-print], [data-copy]").forEach(function (b) { b.hidden = false; });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) {
      window.print();
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (!copy) return;
    var source = document.getElementById(copy.getAttribute("data-copy"));
    var status = document.getElementById("copy-status");
    if (!source || !navigator.clipboard) return;
    var text = Array.prototype.map.call(source.querySelectorAll("li"), function (li) {
      return li.textContent.trim();
    }).join("\n");
    navigator.clipboard.writeText(text).then(function () {
      if (status) status.textContent = "Copied.";
    }, function () {
      if (status) status.textContent = "Copying failed: select the codes and copy them.";
    });
  });

  // The Support menu: Escape closes the open drop-down and returns focus to its summary; a
  // click elsewhere closes it.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var menu = document.querySelector(".menu details[open]");
    if (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    }
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll(".menu details[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  // After htmx swaps content in: close a dialog the swap removed the need for, then move focus
  // to what the person should read or type next: a field marked autofocus, else a message
  // marked data-focus, else the heading of the swapped region.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target) return;
    var region = document.getElementById(target.id) || target;
    if (!document.contains(region)) region = document.getElementById("main");
    if (!region) return;
    document.querySelectorAll("dialog[open]").forEach(function (d) { d.close(); });
    opener = null;
    var next = region.querySelector("[autofocus]") ||
      region.querySelector("[data-focus]") ||
      region.querySelector("h1, h2");
    if (next) {
      if (!next.hasAttribute("tabindex") && !/^(INPUT|BUTTON|A|SELECT|TEXTAREA)$/.test(next.tagName)) {
        next.setAttribute("tabindex", "-1");
      }
      next.focus();
    }
  });
})();
