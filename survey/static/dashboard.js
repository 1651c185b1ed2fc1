// Rapport dashboard behaviour. Loaded with `defer` on every signed-in page; no inline scripts
// anywhere (the CSP forbids them). Sections: == copy buttons ==, == confirmations ==.
// Results pages append their own section at the end.
(function () {
  "use strict";

  // == copy buttons ==
  // <button data-copy="#id"> copies the value (or text) of the element #id.
  function copyBySelection(text) {
    // Without the Clipboard API (plain HTTP, or permission refused): select a scratch textarea and copy.
    var scratch = document.createElement("textarea");
    scratch.value = text;
    scratch.setAttribute("readonly", "");
    scratch.className = "visually-hidden";
    document.body.appendChild(scratch);
    scratch.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(scratch);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return copyBySelection(text); });
    }
    return copyBySelection(text);
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) return;
      var text = "value" in source ? source.value : source.textContent;
      var label = button.textContent;
      copyText(text).then(function () {
        button.textContent = "Copied";
        button.classList.add("copied");
      }, function () {
        if (source.select) source.select();
        button.textContent = "Press Ctrl+C";
      }).then(function () {
        window.setTimeout(function () {
          button.textContent = label;
          button.classList.remove("copied");
        }, 2000);
      });
    });
  });

  // == confirmations ==
  // <form data-confirm="Really?"> asks before it submits.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
})();

// == results: label corrections ==
// A correction form saves in place (JSON) instead of reloading the page; without
// JavaScript the same form posts and the server redirects back to the comment.
(function () {
  "use strict";

  function showLabels(comment, saved) {
    ["sentiment", "theme"].forEach(function (field) {
      var label = comment.querySelector('.label[data-field="' + field + '"]');
      if (!label) return;
      var value = saved[field];
      var changed = saved.changed.indexOf(field) !== -1;
      var confirmed = (saved.confirmed || []).indexOf(field) !== -1;
      var oldMark = label.querySelector(".corrected-mark");
      var markText = changed ? " ✎ corrected" : confirmed ? " ✓ confirmed" : oldMark && " " + oldMark.textContent.trim();
      label.className = "label " + field + "-" + (value || "none") + (markText ? " corrected" : "");
      label.textContent = value || "not labelled";
      if (markText) {
        var mark = document.createElement("span");
        mark.className = "corrected-mark";
        mark.textContent = markText;
        label.appendChild(mark);
      }
      if (changed) label.title = field + " corrected by you just now";
      if (confirmed) label.title = field + " confirmed by you just now";
    });
  }

  document.querySelectorAll("form.correction-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.FormData) return;
      event.preventDefault();
      var buttons = form.querySelectorAll("button[type=submit]");
      var status = form.querySelector(".correction-status");
      form.classList.add("saving");
      buttons.forEach(function (button) { button.disabled = true; });
      var data = new FormData(form);
      // FormData leaves out the button pressed: "Confirm both" is its value (confirm=both).
      var pressed = event.submitter;
      if (pressed && pressed.name) data.append(pressed.name, pressed.value);
      fetch(form.action, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error && body.error.message || "The correction was not saved.");
          return body;
        });
      }).then(function (saved) {
        showLabels(form.closest(".comment"), saved);
        status.textContent = saved.changed.length ? "Saved." : (saved.confirmed || []).length ? "Confirmed."
          : pressed && pressed.value === "both" ? "Nothing changed: already corrected or confirmed."
          : "Nothing changed. If the labels are right, press Confirm both.";
        status.classList.remove("error");
      }).catch(function (error) {
        status.textContent = error.message || "The correction was not saved; please try again.";
        status.classList.add("error");
      }).then(function () {
        form.classList.remove("saving");
        buttons.forEach(function (button) { button.disabled = false; });
      });
    });
  });
})();

// == analysis progress ==
// While an analysis runs, the pain-point panel's bar polls its status and reloads the page when it ends.
(function () {
  "use strict";
  var bar = document.querySelector(".analysis-bar[data-status='running']");
  if (!bar || !window.fetch) return;
  var step = bar.querySelector("[data-analysis-step]");
  var meter = bar.querySelector("[data-analysis-meter]");
  function poll() {
    fetch(bar.getAttribute("data-analysis-status"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (job) {
        if (job.status !== "running") { window.location.reload(); return; }
        step.textContent = "Analysis running: " + job.step + (job.total ? " (" + job.done + " of " + job.total + ")" : "");
        if (job.total) { meter.max = job.total; meter.value = job.done; }
        window.setTimeout(poll, 1500);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();

// == results: filters on a phone ==
// Below 44rem the filter fields fold behind a "Filters" button (showing how many are in use),
// so the score is on the first screen; the chips of the filters in use stay visible.
(function () {
  "use strict";
  var toggle = document.querySelector(".filter-toggle");
  if (!toggle) return;
  var fields = document.getElementById(toggle.getAttribute("aria-controls"));
  var phone = window.matchMedia("(max-width: 44rem)");

  function show(open) {
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    fields.hidden = !open;
  }

  function fit() {
    toggle.hidden = !phone.matches;
    show(!phone.matches);
  }

  toggle.addEventListener("click", function () {
    var open = toggle.getAttribute("aria-expanded") !== "true";
    show(open);
    if (open) {
      var first = fields.querySelector("input, select");
      if (first) first.focus();
    }
  });
  if (phone.addEventListener) phone.addEventListener("change", fit);
  fit();
})();
