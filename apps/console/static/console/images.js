/* The image pages' enhancements; both pages work without them.
   Copy buttons ([data-copy-target]) are site.js's, typed confirmations console.js's. */
(function () {
  "use strict";

  // Choosing another order applies it at once (the Apply button still works).
  var filters = document.querySelector("form.images-filters");
  if (filters) {
    var sort = filters.querySelector("select[name=sort]");
    if (sort) sort.addEventListener("change", function () { filters.submit(); });
  }

  // One open list of pull commands at a time.
  var folds = document.querySelectorAll("details.pull-commands");
  folds.forEach(function (fold) {
    fold.addEventListener("toggle", function () {
      if (!fold.open) return;
      folds.forEach(function (other) { if (other !== fold) other.open = false; });
    });
  });
})();
