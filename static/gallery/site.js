/* Small progressive enhancements; every page works without them. */
(function () {
  "use strict";

  // Copy buttons: shown only when the clipboard API is there to make them work. A
  // button copies the text of the element data-copy-target names, or its data-copy-text.
  document.querySelectorAll("[data-copy-target], [data-copy-text]").forEach(function (button) {
    if (!navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy-text");
      if (text === null) {
        var target = document.getElementById(button.getAttribute("data-copy-target"));
        if (!target) return;
        text = target.textContent.trim();
      }
      navigator.clipboard.writeText(text).then(function () {
        button.textContent = "Copied";
        button.setAttribute("aria-live", "polite");
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      });
    });
  });

  // The search filters: folded on a phone (results first), unfolded beside the results on a wide screen.
  var wide = window.matchMedia("(min-width: 861px)");
  document.querySelectorAll("details.filter-disclosure").forEach(function (details) {
    function follow() { if (wide.matches) details.open = true; }
    follow();
    wide.addEventListener("change", follow);
  });

  // Filter forms submit as soon as a select or checkbox changes.
  document.querySelectorAll("form[data-auto-submit]").forEach(function (form) {
    form.classList.add("auto-submit");
    form.addEventListener("change", function (event) {
      if (event.target.matches("select, input[type=checkbox]")) form.submit();
    });
  });
})();
