// The explorer's only script: pages work without it. It re-renders a verdict in place when a context
// field changes (the server renders the same section the full page has) and copies texts to the clipboard.
"use strict";

function queryOf(form) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (String(value).trim() !== "") params.append(name, value);
  }
  return params.toString();
}

function liveVerdict(form) {
  let pending = null;
  const update = async () => {
    const url = form.getAttribute("action") + "?" + queryOf(form);
    if (pending) pending.abort();
    pending = new AbortController();
    try {
      const response = await fetch(url, {headers: {"X-Explorer-Fragment": "verdict"}, signal: pending.signal});
      const html = await response.text();
      const current = document.getElementById("verdict");
      if (current) current.outerHTML = html;
      history.replaceState(null, "", url);
    } catch (error) {
      if (error.name !== "AbortError") form.submit();
    }
  };
  form.addEventListener("change", update);
}

async function copyText(button) {
  const target = document.getElementById(button.dataset.copy);
  const status = button.parentElement.querySelector(".copy-status");
  try {
    await navigator.clipboard.writeText(target.textContent);
    if (status) status.textContent = "Copied.";
  } catch (error) {
    const range = document.createRange();
    range.selectNodeContents(target);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    if (status) status.textContent = "Selected: press Ctrl+C to copy.";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const element of document.querySelectorAll(".js-only")) element.hidden = false;
  for (const form of document.querySelectorAll("form[data-live]")) liveVerdict(form);
  for (const button of document.querySelectorAll("[data-copy]")) button.addEventListener("click", () => copyText(button));
});
