// The dashboard's charts (ECharts from static/): drawn from the page's JSON; a click on a
// bar, slice or point opens the case list behind it (each point carries its list URL).
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || !window.echarts) return;
  var data = JSON.parse(source.textContent);
  var palette = ["#1d5fa8", "#e08a1e", "#2e8b57", "#b03a2e", "#6a4c93", "#5c6b73"];
  // The page's own faces (the served Noto Sans SC first): the canvas has no CSS of its own.
  var font = window.getComputedStyle(document.body).fontFamily;

  function option(chart) {
    // A line over bars (the Pareto's cumulative share) or a series marked axis 1 (counts
    // beside percentages) reads against the right-hand axis.
    function axisOf(s) { return s.axis === 1 || (s.type === "line" && chart.type === "bar") ? 1 : 0; }
    var twoAxes = chart.series.some(axisOf);
    var yAxes = [{ type: "value", minInterval: 1 }];
    if (twoAxes) yAxes.push({ type: "value", minInterval: 1, splitLine: { show: false } });
    return {
      color: palette,
      textStyle: { fontFamily: font },
      animation: false,
      grid: { left: 48, right: twoAxes ? 48 : 16, top: 36, bottom: 64 },
      legend: { top: 0, type: "scroll" },
      // Drawn on the canvas: an HTML tooltip would need inline styles the CSP refuses.
      tooltip: { trigger: "item", renderMode: "richText" },
      xAxis: { type: "category", data: chart.categories, axisLabel: { interval: 0, rotate: chart.categories.length > 6 ? 35 : 0 } },
      yAxis: yAxes,
      series: chart.series.map(function (s, i) {
        var type = s.type || chart.type;
        return {
          name: s.name, type: type, data: s.data,
          yAxisIndex: axisOf(s),
          cursor: "pointer", symbolSize: 8,
          markLine: i === 0 && chart.target ? { symbol: "none", silent: true, data: [{ yAxis: chart.target, name: "target" }],
                                                 label: { formatter: chart.target + "%" }, lineStyle: { type: "dashed", color: "#b03a2e" } } : undefined
        };
      })
    };
  }

  data.charts.forEach(function (chart) {
    var el = document.getElementById("chart-" + chart.id);
    if (!el) return;
    var c = echarts.init(el, null, { renderer: "canvas" });
    c.setOption(option(chart));
    c.on("click", function (params) {
      if (params.data && params.data.url) window.location.href = params.data.url;
    });
    window.addEventListener("resize", function () { c.resize(); });
    // Drawn with the placeholder face until webfont.js has the Chinese slices: draw again.
    document.addEventListener("portal:fonts-added", function () { c.setOption(option(chart), true); });
  });
})();
