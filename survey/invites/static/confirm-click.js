// A score link's page: record the clicked score with a POST from this page.
// Link scanners fetch the link (GET) without running this, so they record nothing.
(function () {
  "use strict";
  var status = document.getElementById("click-status");
  var form = document.querySelector("form.answer");
  if (!status || !form || !window.fetch) return;
  var body = new URLSearchParams();
  body.set("score", status.getAttribute("data-score"));
  var csrf = form.querySelector("input[name=csrf_token]");
  if (csrf) body.set("csrf_token", csrf.value);
  fetch(status.getAttribute("data-url"), {
    method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "application/json" }
  }).then(function (response) {
    return response.json().then(function (data) {
      if (!response.ok) throw new Error(data.error ? data.error.message : "not saved");
      status.textContent = data.message;
      status.classList.add("saved");
    });
  }).catch(function () {
    status.textContent = status.getAttribute("data-fallback");
  });
})();
