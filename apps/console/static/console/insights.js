/* Insights: choosing a window shows it at once (the Show button does without script). */
(function () {
  "use strict";
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    var select = form.querySelector("select");
    var button = form.querySelector("[data-autosubmit-button]");
    if (!select) return;
    if (button) button.hidden = true;
    select.addEventListener("change", function () { form.submit(); });
  });
})();
