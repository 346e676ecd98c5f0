/* The catalog data editor's live preview: as one types in a Markdown text, the page
   asks the server for its rendering (the gallery's own sanitizer) and shows it in the
   pane beside it. Without this script the form's Preview button does the same. */
(function () {
  "use strict";

  var form = document.querySelector("form[data-preview-url]");
  if (!form || !window.fetch) return;
  var url = form.getAttribute("data-preview-url");
  var tokenInput = form.querySelector("input[name=csrfmiddlewaretoken]");
  var DELAY = 350;

  form.querySelectorAll("textarea[data-preview]").forEach(function (textarea) {
    var key = textarea.getAttribute("data-preview");
    var pane = document.querySelector("[data-preview-pane='" + key + "']");
    var state = document.querySelector("[data-preview-state='" + key + "']");
    if (!pane) return;
    var timer = null;
    var inFlight = null;
    var asked = 0;

    var show = function (text) { if (state) state.textContent = text; };

    var refresh = function () {
      if (inFlight) inFlight.abort();
      inFlight = window.AbortController ? new AbortController() : null;
      var ticket = ++asked;
      var body = new FormData();
      body.append("text", textarea.value);
      show("(updating…)");
      fetch(url, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": tokenInput ? tokenInput.value : "", "X-Requested-With": "fetch" },
        signal: inFlight ? inFlight.signal : undefined
      }).then(function (response) {
        return response.text().then(function (text) { return { ok: response.ok, status: response.status, text: text }; });
      }).then(function (answer) {
        if (ticket !== asked) return;
        if (answer.ok) {
          // The server's answer is the gallery's sanitized HTML (nh3), safe to insert as it is.
          pane.innerHTML = answer.text || "<p class=\"empty\">Nothing to show yet.</p>";
          pane.setAttribute("data-rendered", String(ticket));
          show("");
        } else if (answer.status === 400) {
          show("(" + answer.text.slice(0, 200) + ")");
        } else {
          show("(the preview is unavailable: HTTP " + answer.status + ")");
        }
      }).catch(function (error) {
        if (error && error.name === "AbortError") return;
        show("(the preview is unavailable)");
      });
    };

    textarea.addEventListener("input", function () {
      if (timer) window.clearTimeout(timer);
      timer = window.setTimeout(refresh, DELAY);
    });
  });
})();
