/* The IAM pages' enhancements; every page works without them (the server checks
   every policy document and says what is wrong). */
(function () {
  "use strict";

  // A policy document's JSON is checked as it is typed; the server's policy check still decides.
  document.querySelectorAll("[data-json-status-for]").forEach(function (status) {
    var area = document.getElementById(status.getAttribute("data-json-status-for"));
    if (!area) return;
    var check = function () {
      var text = area.value.trim();
      status.hidden = text === "";
      if (status.hidden) return;
      try {
        JSON.parse(text);
        status.textContent = "Well-formed JSON; its statements are checked when you save.";
        status.className = "iam-json-status hint iam-json-status--good";
      } catch (error) {
        status.textContent = "Not JSON yet: " + error.message;
        status.className = "iam-json-status hint iam-json-status--bad";
      }
    };
    area.addEventListener("input", check);
    check();
  });
})();
