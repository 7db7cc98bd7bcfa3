// pingd's one script. Every page works without it; it only adds three things:
// live refresh (every 10 s, of the parts marked data-live), copy buttons (on
// every element with class "copy") and instant filtering (the search box).
"use strict";

(function () {
  const REFRESH_MS = 10000;

  // Copy buttons: one after each element with class "copy".
  function copyText(text, button) {
    const done = function () {
      const label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
      return;
    }
    // Plain HTTP on a LAN has no clipboard API: select a hidden copy instead.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    try { if (document.execCommand("copy")) { done(); } } finally { area.remove(); }
  }

  function addCopyButtons(root) {
    root.querySelectorAll(".copy").forEach(function (el) {
      if (el.nextElementSibling && el.nextElementSibling.classList.contains("copy-button")) {
        return;
      }
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy-button";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy " + (el.dataset.label || "this"));
      button.addEventListener("click", function () { copyText(el.textContent.trim(), button); });
      el.insertAdjacentElement("afterend", button);
    });
  }

  // Instant filtering, as the server's q does: a row stays shown when its name, its slug
  // or its UUID (in the link) holds the typed text. A slug is always the name slugified
  // (pingd.domain.checks.slugify) or, for a check a ping created, the name itself.
  function slugOf(text) {
    return text.normalize("NFKD").replace(/[^\x00-\x7f]/g, "").toLowerCase()
      .replace(/[^\w\s-]/g, "").replace(/[-\s]+/g, "-").replace(/^[-_]+|[-_]+$/g, "");
  }

  function applyFilter(input) {
    const table = document.querySelector(input.dataset.filter);
    if (!table) { return; }
    const needle = input.value.trim().toLowerCase();
    table.querySelectorAll("tbody tr").forEach(function (row) {
      const link = row.querySelector("td:nth-child(2) a");
      const name = link ? link.textContent : "";
      const hay = [name, slugOf(name), link ? link.getAttribute("href").split("/").pop() : ""]
        .join("\n").toLowerCase();
      row.hidden = needle !== "" && hay.indexOf(needle) === -1;
    });
  }

  function setUpFilters() {
    document.querySelectorAll("input[data-filter]").forEach(function (input) {
      input.addEventListener("input", function () {
        applyFilter(input);
        const url = new URL(window.location.href);
        if (input.value) { url.searchParams.set(input.name, input.value); }
        else { url.searchParams.delete(input.name); }
        window.history.replaceState(null, "", url);
      });
    });
  }

  function refilter() {
    document.querySelectorAll("input[data-filter]").forEach(applyFilter);
  }

  // Live refresh: fetch this page again and swap in its data-live parts.
  async function refresh() {
    if (document.hidden) { return; }
    const active = document.activeElement;
    if (active && active.closest("[data-live] form")) { return; }  // someone is using a form
    let answer;
    try {
      answer = await fetch(window.location.href, { credentials: "same-origin",
                                                   headers: { "Accept": "text/html" } });
    } catch (error) {
      return;  // the server is away; try again at the next tick
    }
    if (!answer.ok || answer.redirected) { return; }  // e.g. signed out: leave the page be
    const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
    document.querySelectorAll("[data-live][id]").forEach(function (part) {
      const replacement = fresh.getElementById(part.id);
      if (replacement) {
        part.replaceChildren(...Array.from(replacement.childNodes, function (node) {
          return document.importNode(node, true);
        }));
        addCopyButtons(part);
      }
    });
    document.title = fresh.title;
    const icon = fresh.querySelector("link[data-live-icon]");
    const ours = document.querySelector("link[data-live-icon]");
    if (icon && ours && icon.getAttribute("href") !== ours.getAttribute("href")) {
      ours.setAttribute("href", icon.getAttribute("href"));
    }
    refilter();
    document.documentElement.dataset.refreshed = String(Date.now());
  }

  document.addEventListener("DOMContentLoaded", function () {
    addCopyButtons(document);
    setUpFilters();
    refilter();
    if (document.querySelector("[data-live]")) {
      setInterval(refresh, REFRESH_MS);
      document.addEventListener("visibilitychange", function () {
        if (!document.hidden) { refresh(); }
      });
    }
  });
})();
