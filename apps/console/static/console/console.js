/* The console's progressive enhancements; every page works without them.
   Copy buttons ([data-copy-target]) are site.js's. */
(function () {
  "use strict";

  // A destructive form asks the user to type a word first: the button wakes when it matches.
  document.querySelectorAll("form[data-confirm-word]").forEach(function (form) {
    var word = form.getAttribute("data-confirm-word");
    var input = form.querySelector("input[name=confirm]");
    var button = form.querySelector("button[type=submit]");
    if (!input || !button) return;
    var check = function () { button.disabled = input.value.trim() !== word; };
    input.addEventListener("input", check);
    check();
  });
})();
