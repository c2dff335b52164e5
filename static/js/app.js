/* The app shell's only script: sheets, confirmations, self-submitting selects, charts. Pages carry data-
   attributes (JSON in data-chart-json); no <script> blocks at all, so a Content-Security-Policy can forbid them. */
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  var zh = lang.indexOf("zh") === 0;

  /* Numbers the Chinese way on axes: 1.2万 / 3亿 in Chinese, 12k / 3M otherwise. */
  function wan(value) {
    var n = Number(value), a = Math.abs(n);
    if (zh) {
      if (a >= 1e8) return +(n / 1e8).toFixed(2) + "亿";
      if (a >= 1e4) return +(n / 1e4).toFixed(1) + "万";
    } else {
      if (a >= 1e6) return +(n / 1e6).toFixed(1) + "M";
      if (a >= 1e4) return +(n / 1e3).toFixed(0) + "k";
    }
    return String(n);
  }
  window.crmWan = wan;

  function openSheet(id) {
    var sheet = document.getElementById(id);
    if (!sheet) return;
    if (typeof sheet.showModal === "function") { if (!sheet.open) sheet.showModal(); } else sheet.setAttribute("open", "");
  }
  function closeSheet(sheet) {
    if (typeof sheet.close === "function") sheet.close(); else sheet.removeAttribute("open");
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof Element)) return;
    var opener = t.closest("[data-sheet-open]");
    if (opener) { openSheet(opener.getAttribute("data-sheet-open")); return; }
    var closer = t.closest("[data-sheet-close]");
    if (closer) { closeSheet(closer.closest("dialog")); return; }
    if (t.tagName === "DIALOG" && t.classList.contains("sheet")) { closeSheet(t); return; } /* backdrop */
    var confirmer = t.closest("button[data-confirm], a[data-confirm]");
    if (confirmer && !window.confirm(confirmer.getAttribute("data-confirm"))) { ev.preventDefault(); }
  });
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-confirm") && !window.confirm(form.getAttribute("data-confirm"))) {
      ev.preventDefault();
    }
  });
  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t instanceof HTMLSelectElement && t.hasAttribute("data-autosubmit") && t.form) t.form.submit();
  });

  /* Charts: <div class="chart" data-chart="bar|line|stack" data-chart-json="{{ data|to_json }}"
     data-chart-x="key" data-chart-y="key" (bar/line) or data-chart-series="key" data-chart-matrix="key" (stack)
     data-chart-money="1" data-chart-empty="what to do instead">. Sized to their card, resized with the window. */
  var charts = [];
  function readSource(el) {
    var json = el.getAttribute("data-chart-json");
    return json ? JSON.parse(json) : {};
  }
  function isEmpty(series) {
    return !series.length || series.every(function (s) { return !s.data.length || s.data.every(function (v) { return !Number(v); }); });
  }
  function drawChart(el) {
    var d = readSource(el), type = el.getAttribute("data-chart") || "bar";
    var x = d[el.getAttribute("data-chart-x")] || [];
    var series;
    if (type === "stack") {
      var names = d[el.getAttribute("data-chart-series")] || [], matrix = d[el.getAttribute("data-chart-matrix")] || [];
      series = names.map(function (name, i) { return { name: name, type: "bar", stack: "s", data: matrix[i] || [] }; });
    } else {
      series = [{ type: type, data: d[el.getAttribute("data-chart-y")] || [], smooth: type === "line", areaStyle: type === "line" ? { opacity: 0.12 } : undefined }];
    }
    if (isEmpty(series)) {
      el.classList.add("chart-empty");
      var p = document.createElement("p");
      p.className = "empty-state";
      p.setAttribute("data-testid", "chart-empty");
      p.textContent = el.getAttribute("data-chart-empty") || "";
      el.replaceChildren(p);
      return;
    }
    if (!window.echarts) return;
    var money = el.hasAttribute("data-chart-money");
    var chart = window.echarts.init(el);
    chart.setOption({
      animation: false,
      color: ["#0172ad", "#2e9e6b", "#d9822b", "#8e59c4", "#c0362c", "#5b6b7f"],
      grid: { left: 8, right: 12, top: type === "stack" ? 36 : 16, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return money ? (zh ? "¥" : "¥") + Number(v).toLocaleString(lang, { minimumFractionDigits: 2 }) : v; } },
      legend: type === "stack" ? { type: "scroll", top: 0 } : undefined,
      xAxis: { type: "category", data: x, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", minInterval: 1, axisLabel: { formatter: wan } },
      series: series
    });
    charts.push(chart);
  }
  function drawCharts() {
    document.querySelectorAll("[data-chart]").forEach(function (el) { if (!el.hasAttribute("data-chart-done")) { el.setAttribute("data-chart-done", ""); drawChart(el); } });
  }
  var resizeTimer;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 120);
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawCharts); else drawCharts();
})();
