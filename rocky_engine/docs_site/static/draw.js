/* rocky docs: the graph drawing shared by the lineage and drift views (SVG, no library).
 *
 * ROCKY.draw.drawGraph(host, graph, spec) lays relations out in layers (longest path over
 * the model DAG), draws each as a box, expanded to its columns or not, and the column
 * edges of spec.edges coloured by kind; panZoom(host) adds wheel zoom, drag pan and the
 * zoom buttons.
 */
(function () {
  'use strict';

  var ROW = 18, HEAD = 24, BOX_W = 230, GAP_X = 120, GAP_Y = 18;
  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }

  // spec: {relations: [rel], focus, start, expanded: Set, colClass(node) -> str,
  //        relClass(rel) -> str, edges: [{from, to, kind, cls}], only(node) -> bool, full: Set,
  //        up(rel) -> [rel], down(rel) -> [rel]} (up/down: the model DAG, from the catalog)
  // The columns drawn for relation r: all of them, or (spec.only) only those spec.only keeps
  // (a wide highlight draws the lit columns of each box, not every column of 80 boxes).
  function shown(g, spec, r) {
    var cols = g.columns(r);
    return spec.only && r !== spec.focus && !(spec.full && spec.full.has(r)) ? cols.filter(spec.only) : cols;
  }
  function layout(g, spec) {
    var rels = spec.relations, inSet = new Set(rels), layer = new Map(), indeg = new Map();
    var preds = new Map();
    rels.forEach(function (r) {
      preds.set(r, spec.up(r).filter(function (u) { return inSet.has(u) && u !== r; }));
      indeg.set(r, preds.get(r).length);
    });
    var queue = rels.filter(function (r) { return indeg.get(r) === 0; }), head = 0;
    queue.forEach(function (r) { layer.set(r, 0); });
    while (head < queue.length) {
      var r = queue[head++];
      spec.down(r).forEach(function (d) {
        if (!inSet.has(d) || d === r || !indeg.has(d)) { return; }
        layer.set(d, Math.max(layer.get(d) || 0, layer.get(r) + 1));
        indeg.set(d, indeg.get(d) - 1);
        if (indeg.get(d) === 0) { queue.push(d); }
      });
    }
    rels.forEach(function (r) { if (!layer.has(r)) { layer.set(r, 0); } });  // a cycle: never in a DAG
    var byLayer = [];
    rels.forEach(function (r) { (byLayer[layer.get(r)] = byLayer[layer.get(r)] || []).push(r); });
    var pos = new Map(), y;
    byLayer.forEach(function (list, li) {
      if (!list) { return; }
      var bary = new Map();  // mean height of the predecessors already placed
      list.forEach(function (r) {
        var ys = preds.get(r).filter(function (p) { return pos.has(p); })
          .map(function (p) { return pos.get(p).y; });
        bary.set(r, ys.length ? ys.reduce(function (a, b) { return a + b; }, 0) / ys.length : 1e9);
      });
      list.sort(function (a, b) { return bary.get(a) - bary.get(b) || (a < b ? -1 : 1); });
      y = 0;
      list.forEach(function (r) {
        var n = 0;
        if (spec.expanded.has(r)) {  // a line more for "+ N other columns"
          var k = shown(g, spec, r).length;
          n = k + (k < g.columns(r).length ? 1 : 0);
        }
        var h = HEAD + (spec.expanded.has(r) ? Math.max(n, 1) * ROW + 6 : 18);
        pos.set(r, {x: li * (BOX_W + GAP_X), y: y, h: h});
        y += h + GAP_Y;
      });
    });
    return pos;
  }
  function anchor(g, spec, pos, rows, node, side, toBox) {
    var parts = g.split(node), rel = parts[0], p = pos.get(rel);
    if (!p) { return null; }
    var x = side === 'out' ? p.x + BOX_W : p.x;
    var i = toBox || !spec.expanded.has(rel) ? -1 : rows.get(rel).get(node);
    return {x: x, y: i === undefined || i < 0 ? p.y + HEAD / 2 : p.y + HEAD + i * ROW + ROW / 2 + 2};
  }
  function curve(a, b) {
    var dx = Math.max(40, (b.x - a.x) / 2);
    if (b.x <= a.x) { dx = 80; }
    return 'M' + a.x + ',' + a.y + ' C' + (a.x + dx) + ',' + a.y + ' ' + (b.x - dx) + ',' + b.y + ' ' + b.x + ',' + b.y;
  }
  function drawGraph(host, g, spec) {
    var pos = layout(g, spec), out = [], inSet = new Set(spec.relations);
    // model-level edges first (underneath)
    spec.relations.forEach(function (r) {
      spec.up(r).forEach(function (u) {
        if (!inSet.has(u)) { return; }
        var a = pos.get(u), b = pos.get(r);
        out.push('<path class="medge" d="' + curve({x: a.x + BOX_W, y: a.y + HEAD / 2}, {x: b.x, y: b.y + HEAD / 2}) + '"/>');
      });
    });
    var rows = new Map();  // relation -> node -> row
    spec.relations.forEach(function (r) {
      var m = new Map();
      shown(g, spec, r).forEach(function (n, i) { m.set(n, i); });
      rows.set(r, m);
    });
    // An influence edge (filter/join/group) reaches every column of its model: one line to
    // the model's box says the same without drawing a line per column.
    var drawn = new Set();
    (spec.edges || []).forEach(function (e) {
      var infl = g.influence.has(g.kinds.indexOf(e.kind));
      var key = infl ? e.from + '>' + g.split(e.to)[0] + '>' + e.kind : null;
      if (key !== null) {
        if (drawn.has(key)) { return; }
        drawn.add(key);
      }
      var a = anchor(g, spec, pos, rows, e.from, 'out', false);
      var b = anchor(g, spec, pos, rows, e.to, 'in', infl);
      if (!a || !b) { return; }
      out.push('<path class="cedge k-' + esc(e.kind) + (infl ? ' influence' : '') + (e.cls ? ' ' + e.cls : '') +
        '" data-kind="' + esc(e.kind) + '" d="' + curve(a, b) + '"/>');
    });
    spec.relations.forEach(function (r) {
      var p = pos.get(r), kind = g.relKinds[g.relIndex.get(r)] === 's' ? 'source' : 'model';
      var cls = 'rel ' + kind + (r === spec.focus ? ' focus' : '') + (spec.relClass ? ' ' + spec.relClass(r) : '');
      var all = g.columns(r), cols = spec.expanded.has(r) ? shown(g, spec, r) : all;
      out.push('<g class="' + cls + '" data-rel="' + esc(r) + '" transform="translate(' + p.x + ',' + p.y + ')">' +
        '<rect class="box" width="' + BOX_W + '" height="' + p.h + '" rx="5"/>' +
        '<rect class="head" x="1" y="1" width="' + (BOX_W - 2) + '" height="' + (HEAD - 2) + '" rx="4"/>' +
        '<text class="title" x="8" y="16" data-open="' + esc(r) + '">' + esc(clip(r, 30)) + '<title>' + esc(r) + '</title></text>');
      if (spec.expanded.has(r)) {
        cols.forEach(function (node, i) {
          var name = node.slice(r.length + 1);
          out.push('<g class="col ' + spec.colClass(node) + '" data-node="' + esc(node) + '" transform="translate(0,' + (HEAD + i * ROW + 2) + ')">' +
            '<rect x="1" width="' + (BOX_W - 2) + '" height="' + ROW + '"/>' +
            '<text x="10" y="13">' + esc(clip(name, 32)) + '</text></g>');
        });
        if (cols.length < all.length) {
          out.push('<text class="meta" x="10" y="' + (HEAD + cols.length * ROW + 15) + '" data-expand="' +
            esc(r) + '">+ ' + (all.length - cols.length) + ' other columns · click to show</text>');
        }
        if (!all.length) { out.push('<text class="meta" x="10" y="' + (HEAD + 13) + '">no columns</text>'); }
      } else {
        out.push('<text class="meta" x="10" y="' + (HEAD + 12) + '" data-expand="' + esc(r) + '">' + all.length +
          ' columns · click to expand</text>');
      }
      out.push('</g>');
    });
    var wrap = host.querySelector('.graph-wrap');
    var svg = wrap.querySelector('svg');
    var vp = svg.querySelector('g.viewport');
    // The size is read before the new content exists: reading it after would force a
    // layout of the whole new graph before the browser's own.
    svg._size = {w: svg.clientWidth || 800, h: svg.clientHeight || 600};
    vp.innerHTML = out.join('');
    var box = {x: 0, y: 0, width: 0, height: 0};
    pos.forEach(function (p) {
      box.width = Math.max(box.width, p.x + BOX_W);
      box.height = Math.max(box.height, p.y + p.h);
    });
    svg._box = box;
    svg._focus = pos.get(spec.focus || spec.start);
    fit(svg, vp);
    return pos;
  }
  function clip(s, n) { return s.length > n ? s.slice(0, n - 1) + '…' : s; }
  function fit(svg, vp) {
    var box = svg._box || {x: 0, y: 0, width: 1, height: 1};
    var size = svg._size || {w: svg.clientWidth || 800, h: svg.clientHeight || 600}, w = size.w, h = size.h;
    svg._size = null;
    var k = Math.min(1.2, (w - 40) / Math.max(box.width, 1), (h - 80) / Math.max(box.height, 1));
    if (k < 0.35 && svg._focus) {  // too big to read whole: start readable, at the focus
      k = 0.7;
      setView(svg, vp, {k: k, x: 40 - svg._focus.x * k, y: 60 - svg._focus.y * k});
      return;
    }
    k = Math.max(k, 0.1);
    var tx = (w - box.width * k) / 2 - box.x * k, ty = Math.max(50, (h - box.height * k) / 2) - box.y * k;
    setView(svg, vp, {k: k, x: tx, y: ty});
  }
  function setView(svg, vp, t) {
    svg._t = t;
    vp.setAttribute('transform', 'translate(' + t.x + ',' + t.y + ') scale(' + t.k + ')');
  }
  var KIND_LEGEND = ['copy', 'cast', 'transform', 'window', 'aggregate', 'filter', 'join', 'group']
    .map(function (k) {
      var dash = k === 'filter' || k === 'join' || k === 'group';
      return '<span><i class="' + (dash ? 'dash' : '') + '" style="border-color:var(--' + k + ')"></i>' + k + '</span>';
    }).join('');
  var DRIFT_LEGEND = [['changed', 'changed source column'], ['broken', 'broken (no longer compiles)'],
    ['affected', 'affected (values may change)']].map(function (x) {
    return '<span><i style="border-color:var(--' + x[0] + ')"></i>' + x[1] + '</span>';
  }).join('');
  function graphShell(extraTools, legend) {
    return '<div class="graph-wrap"><div class="graph-tools">' +
      '<button data-zoom="in" title="Zoom in">+</button><button data-zoom="out" title="Zoom out">−</button>' +
      '<button data-zoom="fit" title="Fit">fit</button>' + (extraTools || '') + '</div>' +
      '<svg xmlns="http://www.w3.org/2000/svg"><g class="viewport"></g></svg>' +
      '<div class="legend">' + (legend || KIND_LEGEND) + '</div></div>';
  }
  function panZoom(host) {
    var svg = host.querySelector('svg'), vp = svg.querySelector('g.viewport'), drag = null;
    svg.addEventListener('wheel', function (ev) {
      ev.preventDefault();
      var t = svg._t, f = ev.deltaY < 0 ? 1.15 : 1 / 1.15, r = svg.getBoundingClientRect();
      var mx = ev.clientX - r.left, my = ev.clientY - r.top;
      var k = Math.min(4, Math.max(0.05, t.k * f));
      setView(svg, vp, {k: k, x: mx - (mx - t.x) * k / t.k, y: my - (my - t.y) * k / t.k});
    }, {passive: false});
    svg.addEventListener('mousedown', function (ev) {
      drag = {x: ev.clientX, y: ev.clientY, t: svg._t, moved: false};
    });
    window.addEventListener('mousemove', function (ev) {
      if (!drag) { return; }
      var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; svg.classList.add('panning'); }
      if (drag.moved) { setView(svg, vp, {k: drag.t.k, x: drag.t.x + dx, y: drag.t.y + dy}); }
    });
    window.addEventListener('mouseup', function () {
      if (drag) { svg._dragged = drag.moved; }
      drag = null; svg.classList.remove('panning');
    });
    host.querySelector('.graph-tools').addEventListener('click', function (ev) {
      var z = ev.target.getAttribute && ev.target.getAttribute('data-zoom');
      if (!z) { return; }
      if (z === 'fit') { fit(svg, vp); return; }
      var t = svg._t, f = z === 'in' ? 1.25 : 0.8, w = svg.clientWidth / 2, h = svg.clientHeight / 2;
      setView(svg, vp, {k: t.k * f, x: w - (w - t.x) * f, y: h - (h - t.y) * f});
    });
    return svg;
  }

  window.ROCKY.draw = {drawGraph: drawGraph, graphShell: graphShell, panZoom: panZoom,
                       KIND_LEGEND: KIND_LEGEND, DRIFT_LEGEND: DRIFT_LEGEND};
})();
