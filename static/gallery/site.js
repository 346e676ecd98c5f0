/* Small progressive enhancements; every page works without them. */
(function () {
  "use strict";

  // Copy buttons: shown only when the clipboard API is there to make them work.
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    if (!navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy-target"));
      if (!target) return;
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        button.textContent = "Copied";
        button.setAttribute("aria-live", "polite");
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      });
    });
  });

  // Filter forms submit as soon as a select or checkbox changes.
  document.querySelectorAll("form[data-auto-submit]").forEach(function (form) {
    form.classList.add("auto-submit");
    form.addEventListener("change", function (event) {
      if (event.target.matches("select, input[type=checkbox]")) form.submit();
    });
  });
})();
