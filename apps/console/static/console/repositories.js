/* Repository forms: the exclusion filters show only with the tag mutability settings
   that take them ("..., except tags matching a filter"); hidden, they are not sent.
   Without this script the field is always there and the server says when it is misplaced. */
(function () {
  "use strict";

  document.querySelectorAll("[data-mutability]").forEach(function (fieldset) {
    var filters = fieldset.querySelector("[data-exclusion-filters]");
    var input = filters && filters.querySelector("textarea");
    var choices = fieldset.querySelectorAll("input[type=radio]");
    if (!filters || !input || !choices.length) return;
    var sync = function () {
      var chosen = fieldset.querySelector("input[type=radio]:checked");
      var takesFilters = !!chosen && /_WITH_EXCLUSION$/.test(chosen.value);
      filters.hidden = !takesFilters;
      input.disabled = !takesFilters;
    };
    choices.forEach(function (choice) { choice.addEventListener("change", sync); });
    sync();
  });
})();
