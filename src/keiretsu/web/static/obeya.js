/* The obeya's script: log in, draw the charts from the JSON each page carries, and reload the
   parts of a page that show counts when the node accepts a document (server-sent events). */
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }
  function shortId(text) { return String(text).replace("https://id.gs1.org/", ""); }
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  // --- login: the token goes once, in a header; the answer sets an HttpOnly cookie ----------
  function login() {
    var form = byId("login");
    if (!form) { return; }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var token = byId("token").value.trim();
      var error = byId("login-error");
      error.textContent = "";
      fetch("/obeya/login", { method: "POST", headers: { "Authorization": "Bearer " + token },
                              credentials: "same-origin" })
        .then(function (r) {
          if (r.status === 204) { window.location.assign(form.dataset.next || "/obeya/"); return; }
          error.textContent = r.status === 429 ? "Too many failed attempts from here: wait a while."
            : "That token is not one of this node's local users' tokens.";
        })
        .catch(function () { error.textContent = "The node did not answer."; });
    });
  }

  // --- forms sent as a POST with their fields in the query string (the node reads no body of
  //     a request that carries no Authorization header, and a session's requests carry none) --
  function postForms() {
    document.querySelectorAll("form[data-post]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var query = new URLSearchParams(new FormData(form)).toString();
        var button = form.querySelector("button[type=submit]");
        if (button) { button.disabled = true; }
        fetch(form.action + "?" + query, { method: "POST", credentials: "same-origin" })
          .then(function (r) { window.location.assign(r.url); })
          .catch(function () { if (button) { button.disabled = false; } });
      });
    });
  }

  // --- charts ------------------------------------------------------------------------------
  var makers = {
    network: function (data) {
      return {
        tooltip: { formatter: function (p) { return p.dataType === "edge" ? (p.data.label || "") : p.data.label; } },
        legend: [{ data: ["company", "site"], bottom: 0 }],
        series: [{
          type: "graph", layout: "force", roam: true, draggable: true,
          force: { repulsion: 320, edgeLength: 150 },
          categories: [{ name: "company", symbol: "roundRect" }, { name: "site", symbol: "circle" }],
          symbolSize: 34, label: { show: true, position: "bottom", formatter: "{b}" },
          edgeSymbol: ["none", "arrow"], edgeSymbolSize: 10,
          edgeLabel: { show: true, formatter: function (p) { return p.data.label || ""; }, fontSize: 11 },
          data: data.nodes.map(function (n) { return { id: n.id, name: n.name, label: n.label, category: n.category }; }),
          links: data.links.map(function (l) {
            return { source: l.source, target: l.target, label: l.label,
                     lineStyle: { color: l.colour || "#8aa0b8", width: l.colour ? 4 : 2, type: l.colour ? "solid" : "dashed" } };
          })
        }]
      };
    },
    pareto: function (rows) {
      return {
        tooltip: { trigger: "axis" },
        grid: { left: 60, right: 50, bottom: 40, top: 30 },
        xAxis: { type: "category", data: rows.map(function (r) { return r.waste; }) },
        yAxis: [{ type: "value", name: "cost" }, { type: "value", name: "cumulative", min: 0, max: 1,
                  axisLabel: { formatter: function (v) { return Math.round(v * 100) + " %"; } } }],
        series: [
          { type: "bar", name: "cost", data: rows.map(function (r) { return r.money; }), itemStyle: { color: "#c62828" } },
          { type: "line", name: "cumulative share", yAxisIndex: 1, data: rows.map(function (r) { return r.cumulative_share; }) }
        ]
      };
    },
    process: function (data) {
      var max = Math.max.apply(null, [1].concat(data.nodes.map(function (n) { return n.value; })));
      return {
        tooltip: { formatter: function (p) { return p.dataType === "edge" ? p.data.label : p.name + ": " + p.value + " events"; } },
        series: [{
          type: "graph", layout: "force", roam: true, draggable: true,
          force: { repulsion: 500, edgeLength: 170 },
          label: { show: true, position: "inside", fontSize: 12 },
          edgeSymbol: ["none", "arrow"], edgeSymbolSize: 10,
          edgeLabel: { show: true, formatter: function (p) { return p.data.label; }, fontSize: 11 },
          data: data.nodes.map(function (n) {
            return { id: n.id, name: n.name, value: n.value, symbol: "roundRect",
                     symbolSize: [Math.max(90, n.name.length * 8), 30 + 20 * n.value / max],
                     itemStyle: { color: "#2d6aa3" }, label: { color: "#fff" } };
          }),
          links: data.links.map(function (l) { return { source: l.source, target: l.target, value: l.value, label: l.label,
                                                       lineStyle: { width: 1 + 4 * Math.sqrt(l.value / max), curveness: 0.15 } }; })
        }]
      };
    },
    stock: function (series) {
      return {
        tooltip: { trigger: "axis" }, legend: { type: "scroll", bottom: 0, formatter: shortId },
        grid: { left: 50, right: 20, bottom: 50, top: 20 },
        xAxis: { type: "time" }, yAxis: { type: "value", name: "on hand" },
        series: series.map(function (s) { return { type: "line", step: "end", name: s.name, data: s.data, showSymbol: false }; })
      };
    },
    differences: function (data) {
      var rows = data.rows;
      function fmt(v) { return v === null || v === undefined ? "—" : Number(v).toPrecision(4); }
      return {
        tooltip: { trigger: "item", formatter: function (p) {
          var r = rows[p.seriesIndex === 0 ? p.data[0] : p.data.value[1]];
          return r.label + ": " + fmt(r.difference) + " " + data.unit + " (" + fmt(r.ci_low) + " … " + fmt(r.ci_high) + ")";
        } },
        grid: { left: 190, right: 30, bottom: 40, top: 20 },
        xAxis: { type: "value", name: data.unit, nameLocation: "middle", nameGap: 26 },
        yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.label; }) },
        series: [
          { type: "custom", name: "interval",
            encode: { x: [1, 2], y: 0 },
            data: rows.map(function (r, i) {
              return [i, r.ci_low === null ? r.difference : r.ci_low, r.ci_high === null ? r.difference : r.ci_high];
            }),
            renderItem: function (params, api) {
              var lo = api.coord([api.value(1), api.value(0)]);
              var hi = api.coord([api.value(2), api.value(0)]);
              var h = api.size([0, 1])[1] * 0.3;
              var style = { stroke: "#44505c", lineWidth: 2 };
              return { type: "group", children: [
                { type: "line", shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style: style },
                { type: "line", shape: { x1: lo[0], y1: lo[1] - h / 2, x2: lo[0], y2: lo[1] + h / 2 }, style: style },
                { type: "line", shape: { x1: hi[0], y1: hi[1] - h / 2, x2: hi[0], y2: hi[1] + h / 2 }, style: style }
              ] };
            } },
          { type: "scatter", name: "difference", symbolSize: 11,
            data: rows.map(function (r, i) {
              return { value: [r.difference, i], itemStyle: { color: r.significant ? "#c62828" : "#8a96a3" } };
            }),
            markLine: { silent: true, symbol: "none", data: [{ xAxis: 0 }], lineStyle: { type: "dashed", color: "#44505c" } } }
        ]
      };
    },
    bullwhip: function (rows) {
      return {
        tooltip: { trigger: "axis" }, legend: { bottom: 0 },
        grid: { left: 60, right: 20, bottom: 50, top: 20 },
        xAxis: { type: "category", data: rows.map(function (r) { return r.name; }) },
        yAxis: { type: "value", name: "variance" },
        series: [
          { type: "bar", name: "orders placed", data: rows.map(function (r) { return r.orders_variance; }) },
          { type: "bar", name: "demand seen", data: rows.map(function (r) { return r.demand_variance; }) }
        ]
      };
    }
  };

  function points(kind, data) {
    if (kind === "network" || kind === "process") { return data.nodes.length; }
    if (kind === "differences") { return data.rows.length; }
    if (kind === "stock") { return data.reduce(function (n, s) { return n + s.data.length; }, 0); }
    return data.length;
  }

  function charts() {
    if (typeof echarts === "undefined") { return; }
    var drawn = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var kind = el.dataset.chart;
      var source = byId(el.dataset.source);
      if (!source || !makers[kind]) { return; }
      var data = JSON.parse(source.textContent);
      var n = points(kind, data);
      el.dataset.points = String(n);
      if (n === 0) {
        el.classList.add("empty");
        el.textContent = "Nothing to draw: the log holds no data for this chart.";
        return;
      }
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(makers[kind](data));
      el.dataset.rendered = "true";
      drawn.push(chart);
    });
    window.addEventListener("resize", function () { drawn.forEach(function (c) { c.resize(); }); });
    window.addEventListener("beforeprint", function () { drawn.forEach(function (c) { c.resize(); }); });
  }

  // --- live updates: server-sent events → an htmx trigger the page's parts listen to --------
  function live() {
    var url = document.body.dataset.live;
    if (!url || typeof EventSource === "undefined") { return; }
    var source = new EventSource(url);
    source.addEventListener("capture", function (ev) {
      document.body.dataset.lastCapture = ev.data;
      if (window.htmx) { window.htmx.trigger(document.body, "obeya:capture", JSON.parse(ev.data)); }
    });
    source.addEventListener("open", function () { document.body.dataset.liveOpen = "true"; });
    document.body.addEventListener("htmx:afterSwap", function (ev) {
      ev.detail.target.classList.add("live-flash");
    });
  }

  ready(function () { login(); postForms(); charts(); live(); });
})();
