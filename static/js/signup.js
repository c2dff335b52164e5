// Progressive enhancement: without script the form still works (modules then follow the sales modes).
(function () {
  var form = document.getElementById("signup-form");
  if (!form) return;
  form.elements["modules_touched"].value = "1";
  var slug = form.elements["slug"], preview = document.getElementById("slug-preview");
  slug.addEventListener("input", function () {
    preview.textContent = slug.value.trim().toLowerCase() || "your-company";
  });
  var total = document.getElementById("signup-total");
  function updateTotal() {
    var cents = 0;
    form.querySelectorAll("input[name=modules]:checked").forEach(function (box) { cents += parseInt(box.dataset.cents, 10); });
    var amount = cents % 100 ? (cents / 100).toFixed(2) : String(cents / 100);
    total.querySelector("strong").textContent = total.dataset.format.replace("%(price)s", total.dataset.symbol + amount);
    total.hidden = false;
  }
  form.querySelectorAll("input[name=sales_modes]").forEach(function (box) {
    box.addEventListener("change", function () {
      var module = form.querySelector('input[name=modules][value="' + box.dataset.module + '"]');
      if (module) module.checked = box.checked;
      updateTotal();
    });
  });
  form.querySelectorAll("input[name=modules]").forEach(function (box) { box.addEventListener("change", updateTotal); });
  updateTotal();
})();
