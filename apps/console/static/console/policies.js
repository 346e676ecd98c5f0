/* The repository policy and lifecycle policy pages: improvements only; every form
   works without this script. Simulating without reloading (the JSON endpoint beside
   the page), the example and "Format JSON" buttons, pointing the editor at the line
   a parser complained about, asking before a delete, and following a preview that
   is still in progress. */
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }

  // "Format JSON": indent the editor's text when it parses.
  document.querySelectorAll("[data-format-json]").forEach(function (button) {
    var editor = byId(button.getAttribute("data-format-json"));
    if (!editor) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      try {
        editor.value = JSON.stringify(JSON.parse(editor.value), null, 2);
      } catch (error) {
        window.alert("The text is not JSON yet: " + error.message);
      }
    });
  });

  // "Put the example in the editor".
  document.querySelectorAll("[data-use-example]").forEach(function (button) {
    var example = byId(button.getAttribute("data-use-example"));
    var editor = byId(button.getAttribute("data-target"));
    if (!example || !editor) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      if (editor.value.trim() && !window.confirm("Replace the text in the editor with the example?")) return;
      editor.value = example.textContent;
      editor.focus();
    });
  });

  // Deletes ask first.
  document.querySelectorAll("[data-confirm-message]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-confirm-message"))) event.preventDefault();
    });
  });

  // A parser's complaint with a line: select that line in the editor.
  var complaint = byId("policy-error");
  if (complaint && complaint.hasAttribute("data-line")) {
    var editor = complaint.parentNode.querySelector("textarea");
    var line = parseInt(complaint.getAttribute("data-line"), 10);
    if (editor && line > 0) {
      var lines = editor.value.split("\n");
      var start = 0;
      for (var i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
      var end = start + (lines[line - 1] || "").length;
      editor.setSelectionRange(start, end);
      editor.scrollTop = Math.max(0, (line - 3) * parseFloat(getComputedStyle(editor).lineHeight || "18"));
    }
  }

  // The simulator: ask the JSON endpoint, show the answer in place.
  var form = byId("policy-form");
  var result = byId("simulation-result");
  if (form && result && window.fetch && window.FormData) {
    var simulateButton = byId("simulate");
    var simulate = function (event) {
      event.preventDefault();
      var data = new FormData(form);
      data.set("intent", "simulate");
      if (simulateButton) simulateButton.disabled = true;
      fetch(form.getAttribute("data-simulate-url"), {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") === -1) throw new Error("not JSON");
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      }).then(function (answer) {
        clearErrors();
        if (answer.status === 200) {
          showSimulation(answer.body);
        } else {
          showErrors(answer.body.errors || {});
        }
      }).catch(function () {
        // Whatever went wrong, the page's own form gives the answer.
        form.removeEventListener("submit", onSubmit);
        var fallback = document.createElement("input");
        fallback.type = "hidden"; fallback.name = "intent"; fallback.value = "simulate";
        form.appendChild(fallback);
        form.submit();
      }).then(function () {
        if (simulateButton) simulateButton.disabled = false;
      });
    };
    var onSubmit = function (event) {
      var submitter = event.submitter;
      if (submitter && submitter.value === "simulate") simulate(event);
    };
    form.addEventListener("submit", onSubmit);
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clearErrors() {
    document.querySelectorAll(".js-simulation-error").forEach(function (node) { node.remove(); });
  }

  function showErrors(errors) {
    result.textContent = "";
    Object.keys(errors).forEach(function (name) {
      var list = element("ul", "errorlist js-simulation-error");
      errors[name].forEach(function (message) { list.appendChild(element("li", "", message)); });
      var field = name === "__all__" ? null : form.querySelector("[name=" + name + "]");
      if (field && name !== "subject") {
        field.parentNode.appendChild(list);
      } else {
        result.appendChild(list);
      }
    });
  }

  function showSimulation(answer) {
    result.textContent = "";
    var box = element("div", "simulation simulation--" + (answer.allowed ? "allowed" : "denied"));
    box.id = "simulation";
    var verdict = element("p", "simulation__verdict");
    verdict.appendChild(element("strong", "", answer.verdict));
    if (!answer.allowed) {
      var explicit = answer.decision === "explicit_deny";
      verdict.appendChild(element("span", "badge " + (explicit ? "badge--danger" : "badge--warning"),
        explicit ? "explicit deny" : "implicit deny"));
    }
    box.appendChild(verdict);
    var why = answer.explanation.charAt(0).toUpperCase() + answer.explanation.slice(1) + ".";
    box.appendChild(element("p", "simulation__why", why));
    if (answer.matchedStatements.length) {
      box.appendChild(element("p", "simulation__label",
        "Deciding statement" + (answer.matchedStatements.length > 1 ? "s" : "") + ":"));
      var list = element("ul", "simulation__statements");
      answer.matchedStatements.forEach(function (statement) { list.appendChild(element("li", "", statement)); });
      box.appendChild(list);
    }
    var facts = element("dl", "simulation__facts");
    var subjects = { draft: "the draft in the editor", saved: "the saved policy",
      none: "none (the repository has no policy, or the draft was empty)" };
    [["Principal", answer.principal, true], ["Action", answer.action, true], ["Resource", answer.resourceArn, true],
      ["Policy", subjects[answer.simulated], false]].forEach(function (fact) {
      facts.appendChild(element("dt", "", fact[0]));
      var value = element("dd");
      value.appendChild(fact[2] ? element("code", "", fact[1]) : document.createTextNode(fact[1]));
      facts.appendChild(value);
    });
    box.appendChild(facts);
    answer.notes.forEach(function (note) { box.appendChild(element("p", "hint simulation__note", note)); });
    result.appendChild(box);
  }

  // The lifecycle rule builder: appends a rule to the editor's JSON.
  var builder = byId("rule-builder");
  if (builder) {
    builder.hidden = false;
    var target = byId(byId("rule-add").getAttribute("data-target"));
    var field = function (id) { return byId(id); };
    var tagged = function () {
      var on = field("rule-tag-status").value === "tagged";
      builder.querySelectorAll("[data-when-tagged]").forEach(function (node) { node.hidden = !on; });
    };
    var document_ = function () {
      var text = target.value.trim();
      if (!text) return { rules: [] };
      var parsed = JSON.parse(text);
      if (!parsed || !Array.isArray(parsed.rules)) throw new Error("the editor's JSON has no \"rules\" list");
      return parsed;
    };
    var nextPriority = function () {
      try {
        var highest = 0;
        document_().rules.forEach(function (rule) { highest = Math.max(highest, rule.rulePriority || 0); });
        field("rule-priority").value = highest + 1;
      } catch (error) { /* the editor's text is not JSON yet */ }
    };
    field("rule-tag-status").addEventListener("change", tagged);
    field("rule-action").addEventListener("change", function () {
      if (field("rule-action").value === "keep") field("rule-count-type").value = "sinceImagePulled";
    });
    builder.addEventListener("toggle", nextPriority);
    byId("rule-add").addEventListener("click", function () {
      var policy;
      try {
        policy = document_();
      } catch (error) {
        window.alert("The editor's text is not a lifecycle policy yet (" + error.message + "): correct it or empty it first.");
        return;
      }
      var countType = field("rule-count-type").value;
      var selection = { tagStatus: field("rule-tag-status").value };
      if (selection.tagStatus === "tagged") {
        selection[field("rule-tag-kind").value] = field("rule-tags").value.split(",").map(function (tag) {
          return tag.trim();
        }).filter(Boolean);
      }
      selection.countType = countType;
      if (countType !== "imageCountMoreThan") selection.countUnit = "days";
      selection.countNumber = parseInt(field("rule-count-number").value, 10);
      var rule = { rulePriority: parseInt(field("rule-priority").value, 10) };
      if (field("rule-description").value.trim()) rule.description = field("rule-description").value.trim();
      rule.selection = selection;
      rule.action = { type: field("rule-action").value };
      policy.rules.push(rule);
      target.value = JSON.stringify(policy, null, 2);
      nextPriority();
    });
    tagged();
    nextPriority();
  }

  // A preview still in progress: fetch the page again until it is done, and swap the preview in.
  var preview = byId("lifecycle-preview");
  if (preview && preview.getAttribute("data-status") === "IN_PROGRESS" && window.fetch && window.DOMParser) {
    var tries = 0;
    var poll = function () {
      tries += 1;
      fetch(window.location.pathname, { credentials: "same-origin" }).then(function (response) {
        return response.text();
      }).then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("lifecycle-preview");
        if (fresh && fresh.getAttribute("data-status") !== "IN_PROGRESS") {
          preview.replaceWith(fresh);
        } else if (tries < 60) {
          window.setTimeout(poll, 2000);
        }
      }).catch(function () { /* the Refresh link stays */ });
    };
    window.setTimeout(poll, 2000);
  }
})();
