// Show the follow-up question that fits the chosen score's band.
(function () {
  "use strict";
  var prompt = document.getElementById("followup-prompt");
  if (!prompt) return;
  document.querySelectorAll(".options input[type=radio]").forEach(function (input) {
    input.addEventListener("change", function () {
      var band = input.closest("label").getAttribute("data-band");
      var text = prompt.getAttribute("data-" + band);
      if (text) prompt.textContent = text;
    });
  });
})();
