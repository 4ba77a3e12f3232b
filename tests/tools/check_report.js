// Runs the chart code of a ptc-plot HTML report under node with a stub DOM and a recording stand-in
// for uPlot (the real library needs a browser), and prints what each chart would get as JSON:
// series labels, point counts, bands, x tick labels at full zoom, and the event markers drawn.
// Usage: node check_report.js report.html
"use strict";
const fs = require("fs");
const vm = require("vm");

const htmlText = fs.readFileSync(process.argv[2], "utf8");
const scripts = [];
const re = /<script([^>]*)>([\s\S]*?)<\/script>/g;
let m;
while ((m = re.exec(htmlText)) !== null) scripts.push({ attrs: m[1], text: m[2] });
const config = scripts.find((s) => /id="ptc-config"/.test(s.attrs));
const blocks = scripts.filter((s) => /class="ptc-run-data"/.test(s.attrs));
const plain = scripts.filter((s) => !/type=/.test(s.attrs));
const app = plain[plain.length - 1];  // the report's own code comes after the inlined library

const charts = [];
const elements = {};
function FakePlot(opts, data, el) {
  const n = data[0].length;
  data.forEach((col, i) => { if (col.length !== n) throw new Error("column " + i + " has " + col.length + " != " + n); });
  if (opts.series.length !== data.length) throw new Error("series " + opts.series.length + " != data " + data.length);
  const xs = data[0].filter((x) => x !== null);
  const min = Math.min(...xs), max = Math.max(...xs);
  this.scales = { x: { min: min, max: max } };
  this.bbox = { left: 0, top: 0, width: 1000, height: 300 };
  let markers = 0;
  this.ctx = { save() {}, restore() {}, beginPath() {}, rect() {}, clip() {}, moveTo() {}, lineTo() {}, closePath() {},
               stroke() { markers++; }, fill() { markers++; } };
  this.valToPos = (v) => (v - min) / (max - min || 1) * 1000;
  this.setScale = () => {};
  if (opts.scales.y) {  // the accuracy chart leaves room below the curves for the marker rows
    const yr = opts.scales.y.range(this, 60, 88);
    if (!(yr[0] < 60 - 2 && yr[1] >= 88 && yr[1] <= 100.5)) throw new Error("y range " + yr);
  }
  const ticks = opts.axes[0].splits(this, 0, min, max);
  // As uPlot does: a log axis's default filter nulls every split that is not a power of 10.
  const decade = (t) => Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9;
  const filt = opts.axes[0].filter || ((u, sp) => (opts.scales.x.distr === 3 ? sp.map((t) => (decade(t) ? t : null)) : sp));
  const labels = opts.axes[0].values(this, filt(this, ticks));
  // Y-axis labels on five splits across the data (as uPlot would ask for them).
  const ys = [].concat(...data.slice(1).map((c) => c.filter((v) => v !== null && v !== undefined)));
  const ymin = Math.min(...ys), ymax = Math.max(...ys);
  const ysplits = [0, 1, 2, 3, 4].map((k) => ymin + (ymax - ymin) * k / 4);
  const ylabels = opts.axes[1].values ? opts.axes[1].values(this, ysplits) : ysplits.map(String);
  (opts.hooks.draw || []).forEach((f) => f(this));
  charts.push({ el: el.id, series: opts.series.slice(1).map((s) => s.label), points: n,
                nonnull: data.slice(1).map((c) => c.filter((v) => v !== null && v !== undefined).length),
                bands: opts.bands.length, log: opts.scales.x.distr === 3, ticks: labels, markers: markers,
                yticks: ylabels, inst: this, labels: opts.series.map((s) => s.label) });
}
FakePlot.pxRatio = 1;
FakePlot.join = function (tables) {  // outer join on the x column
  const xs = Array.from(new Set([].concat(...tables.map((t) => t[0])))).sort((a, b) => a - b);
  const out = [xs];
  tables.forEach((t) => {
    const idx = new Map(t[0].map((x, i) => [x, i]));
    t.slice(1).forEach((col) => out.push(xs.map((x) => (idx.has(x) ? col[idx.get(x)] : undefined))));
  });
  return out;
};
const document = {
  getElementById(id) {
    if (id === "ptc-config") return { textContent: config.text };
    if (!elements[id]) elements[id] = { id: id, clientWidth: 900, textContent: "" };
    return elements[id];
  },
  querySelectorAll(sel) {
    if (sel !== "script.ptc-run-data") throw new Error("unexpected selector " + sel);
    return blocks.map((b) => ({ textContent: b.text }));
  },
};
const window = { addEventListener() {} };
vm.runInNewContext(app.text, { document: document, window: window, uPlot: FakePlot, Map: Map, JSON: JSON,
                                Math: Math, Array: Array, Number: Number, String: String, isFinite: isFinite });
// The legend: every series the report does not hide (band edges), known once the chart exists.
charts.forEach((c) => {
  const hidden = c.inst.ptcHiddenSeries || [];
  c.legend = c.labels.slice(1).filter((_, i) => !hidden.includes(i + 1));
  delete c.inst; delete c.labels;
});
const empty = Object.values(elements).filter((e) => e.textContent).map((e) => e.id);
console.log(JSON.stringify({ runs: blocks.length, charts: charts, empty: empty }));
