/* rocky docs: the whole site in one script (no library, no network).
 *
 * Data come from data/*.js files that call ROCKY.put(key, value): the catalog at start,
 * a shard of model records when a model page opens, the column graph (lineage.js) with the
 * first lineage or drift view. Views are hash routes:
 *   #/                      catalog (the search box filters it)
 *   #/model/NAME            a model      #/source/SCHEMA.TABLE   a source table
 *   #/lineage/REL[/COLUMN]  the lineage neighbourhood of a relation, a column highlighted
 *   #/drift                 the last `rocky drift` and its blast radius
 * The lineage walk is rocky's own (rocky_engine/lineage/graph.py, LineageGraph.query) over
 * the same packed graph, so a highlight is exactly what `rocky lineage --format json` says.
 */
(function () {
  'use strict';

  var R = window.ROCKY;
  var cat = R.data.catalog;
  var view = document.getElementById('view');
  var search = document.getElementById('search');
  var MAX_ROWS = 200;       // catalog rows drawn at once
  var MAX_RELATIONS = 80;   // relations drawn in one graph (the rest are listed)
  var MAX_LISTED = 1000;
  var COMPACT_ABOVE = 16;   // more lit boxes than this: each shows its lit columns only
  var TALL_ROWS = 160;      // lit boxes with more rows than this in all: compact too
  var MAX_ROWS_DRAWN = 600;
  var MAX_IMPACT_ROWS = 2000; // impact table rows listed (whole models at a time) // column rows drawn at most (a wide highlight is listed in full)    // nodes listed per direction in the lineage panel
  var ROW = 18, HEAD = 24, BOX_W = 230, GAP_X = 120, GAP_Y = 18;

  // -- small helpers ----------------------------------------------------------------------
  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  function enc(s) { return encodeURIComponent(s); }
  function link(href, text, cls) {
    return '<a href="' + esc(href) + '"' + (cls ? ' class="' + cls + '"' : '') + '>' + esc(text) + '</a>';
  }
  function modelHref(name) { return '#/model/' + enc(name); }
  function sourceHref(key) { return '#/source/' + enc(key); }
  function relHref(rel) { return kindOf(rel) === 'source' ? sourceHref(rel) : modelHref(rel); }
  function lineageHref(rel, col) { return '#/lineage/' + enc(rel) + (col ? '/' + enc(col) : ''); }
  function badge(text, cls) { return '<span class="badge ' + esc(cls || text) + '">' + esc(text) + '</span>'; }
  function counts(obj) {
    var parts = [];
    for (var k in obj) { parts.push(badge(obj[k] + ' ' + k, k)); }
    return parts.join('');
  }

  var loading = {};
  function load(key, src) {
    if (key in R.data) { return Promise.resolve(R.data[key]); }
    if (!loading[key]) {
      loading[key] = new Promise(function (resolve, reject) {
        var s = document.createElement('script');
        s.src = src;
        s.onload = function () { resolve(R.data[key]); };
        s.onerror = function () { reject(new Error('cannot load ' + src)); };
        document.head.appendChild(s);
      });
    }
    return loading[key];
  }

  // -- catalog indexes ----------------------------------------------------------------------
  var models = new Map(), sources = new Map(), downstream = new Map();
  cat.models.forEach(function (m) { models.set(m.name.toLowerCase(), m); });
  cat.sources.forEach(function (s) { sources.set(s.key.toLowerCase(), s); });
  cat.models.forEach(function (m) {
    m.depends_on.concat(m.sources).forEach(function (up) {
      var k = up.toLowerCase();
      if (!downstream.has(k)) { downstream.set(k, []); }
      downstream.get(k).push(m.name);
    });
  });
  function kindOf(rel) { return sources.has(String(rel).toLowerCase()) ? 'source' : 'model'; }
  function upstreamOf(rel) {
    var m = models.get(rel);
    return m ? m.depends_on.concat(m.sources).map(function (x) { return x.toLowerCase(); }) : [];
  }
  function downstreamOf(rel) {
    return (downstream.get(rel) || []).map(function (x) { return x.toLowerCase(); });
  }
  function modelRecord(name) {
    var m = models.get(name.toLowerCase());
    if (!m) { return Promise.resolve(null); }
    return load('shard:' + m.shard, 'data/models/' + m.shard + '.js').then(function (shard) {
      for (var i = 0; i < shard.length; i++) {
        if (shard[i].name === m.name) { return shard[i]; }
      }
      return null;
    });
  }

  // -- the column graph: LineageGraph (rocky_engine/lineage/graph.py) ported --------------
  function u32(b64) {
    var bin = atob(b64), n = bin.length, bytes = new Uint8Array(n);
    for (var i = 0; i < n; i++) { bytes[i] = bin.charCodeAt(i); }
    return new Uint32Array(bytes.buffer, 0, n >> 2);
  }
  function Graph(p) {
    this.nodes = p.nodes ? p.nodes.split('\n') : [];
    this.relations = p.relations ? p.relations.split('\n') : [];
    this.relIndex = new Map();
    for (var i = 0; i < this.relations.length; i++) { this.relIndex.set(this.relations[i], i); }
    this.relKinds = p.rel_kinds;
    this.kinds = p.kinds;
    this.influence = new Set(p.influence.map(function (k) { return p.kinds.indexOf(k); }));
    var a = {};
    ['rel_start', 'vin_off', 'vin', 'vout_off', 'vout', 'inf_off', 'inf', 'iout_off', 'iout']
      .forEach(function (k) { a[k] = u32(p[k]); });
    this.a = a;
  }
  Graph.prototype.relationOf = function (n) {  // bisect_right(rel_start, n) - 1
    var s = this.a.rel_start, lo = 0, hi = s.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (n < s[mid]) { hi = mid; } else { lo = mid + 1; } }
    return lo - 1;
  };
  Graph.prototype.columns = function (rel) {
    var r = this.relIndex.get(rel);
    return r === undefined ? [] : this.nodes.slice(this.a.rel_start[r], this.a.rel_start[r + 1]);
  };
  Graph.prototype.split = function (node) {  // split_node: the longest known relation prefix
    var i = node.lastIndexOf('.');
    while (i > 0) {
      if (this.relIndex.has(node.slice(0, i))) { return [node.slice(0, i), node.slice(i + 1)]; }
      i = node.lastIndexOf('.', i - 1);
    }
    i = node.lastIndexOf('.');
    return [node.slice(0, Math.max(i, 0)), node.slice(i + 1)];
  };
  Graph.prototype.nodeId = function (node) {
    var r = this.relIndex.get(this.split(node)[0]);
    if (r === undefined) { return -1; }
    for (var i = this.a.rel_start[r]; i < this.a.rel_start[r + 1]; i++) {
      if (this.nodes[i] === node) { return i; }
    }
    return -1;
  };
  Graph.prototype.triples = function (off, flat, i, out, fn) {
    for (var j = off[i] * 3, end = off[i + 1] * 3; j < end; j += 3) { fn(flat[j], flat[j + 1]); }
  };
  Graph.prototype.query = function (root, direction) {
    var self = this, a = this.a, text = root.trim().toLowerCase(), start = [];
    if (this.relIndex.has(text)) {
      var r0 = this.relIndex.get(text);
      for (var c = a.rel_start[r0]; c < a.rel_start[r0 + 1]; c++) { start.push(c); }
    } else {
      var id = this.nodeId(text);
      if (id >= 0) { start.push(id); }
    }
    var seen = new Map(), edges = new Map(), queue = start.slice(), head = 0;
    start.forEach(function (n) { seen.set(n, 0); });
    var up = direction === 'upstream';
    function visit(node, other, kind) {
      var key = up ? other + ',' + node + ',' + kind : node + ',' + other + ',' + kind;
      if (!edges.has(key)) { edges.set(key, up ? [other, node, kind] : [node, other, kind]); }
      if (!seen.has(other)) { seen.set(other, 0); queue.push(other); }
    }
    while (head < queue.length) {
      var node = queue[head++];
      if (up) {
        this.triples(a.vin_off, a.vin, node, null, function (o, k) { visit(node, o, k); });
        this.triples(a.inf_off, a.inf, this.relationOf(node), null,
                     function (o, k) { visit(node, o, k); });
      } else {
        this.triples(a.vout_off, a.vout, node, null, function (o, k) { visit(node, o, k); });
        this.triples(a.iout_off, a.iout, node, null, function (rel, k) {
          for (var t = a.rel_start[rel]; t < a.rel_start[rel + 1]; t++) { visit(node, t, k); }
        });
      }
    }
    var nodes = [];
    seen.forEach(function (_, n) { nodes.push(self.nodes[n]); });
    var list = [];
    edges.forEach(function (e) {
      list.push({from: self.nodes[e[0]], to: self.nodes[e[1]], kind: self.kinds[e[2]]});
    });
    return {root: root, direction: direction, nodes: nodes, edges: list};
  };

  var graphPromise = null;
  function graph() {
    if (!graphPromise) {
      graphPromise = load('lineage', 'data/lineage.js').then(function (p) {
        R.graph = new Graph(p);
        return R.graph;
      });
    }
    return graphPromise;
  }
  R.lineage = function (root, direction) {  // for scripts and tests: the CLI's query
    return graph().then(function (g) { return g.query(root, direction || 'upstream'); });
  };

  // -- router -------------------------------------------------------------------------------
  var routes = [
    [/^#\/model\/(.+)$/, function (m) { return showModel(decodeURIComponent(m[1])); }],
    [/^#\/source\/(.+)$/, function (m) { return showSource(decodeURIComponent(m[1])); }],
    [/^#\/lineage\/([^/]+)(?:\/(.+))?$/, function (m) {
      return showLineage(decodeURIComponent(m[1]), m[2] ? decodeURIComponent(m[2]) : null);
    }],
    [/^#\/lineage\/?$/, function () { return showLineage(null, null); }],
    [/^#\/drift\/?$/, function () { return showDrift(); }],
  ];
  function route() {
    var hash = location.hash || '#/';
    view.classList.remove('full');
    var nav = hash.indexOf('#/lineage') === 0 ? 'lineage' : hash.indexOf('#/drift') === 0 ? 'drift'
      : hash === '#/' || hash === '#' ? 'catalog' : '';
    document.querySelectorAll('header nav a').forEach(function (a) {
      a.classList.toggle('active', a.getAttribute('data-nav') === nav);
    });
    for (var i = 0; i < routes.length; i++) {
      var m = hash.match(routes[i][0]);
      if (m) {
        Promise.resolve(routes[i][1](m)).catch(fail);
        return;
      }
    }
    showCatalog();
  }
  function fail(err) {
    view.innerHTML = '<h1>Cannot show this page</h1><p class="muted">' + esc(err && err.message) + '</p>';
  }
  function done(name) { document.body.setAttribute('data-view', name); }

  // -- catalog ------------------------------------------------------------------------------
  function matches(q) {
    var found = [];
    q = q.trim().toLowerCase();
    var i, m, s;
    if (!q) {
      for (i = 0; i < cat.models.length; i++) { found.push({m: cat.models[i], rank: 0}); }
      for (i = 0; i < cat.sources.length; i++) { found.push({s: cat.sources[i], rank: 0}); }
      return found;
    }
    for (i = 0; i < cat.models.length; i++) {
      m = cat.models[i];
      var name = m.name.toLowerCase(), at = name.indexOf(q);
      if (at === 0) { found.push({m: m, rank: name === q ? 0 : 1}); }
      else if (at > 0) { found.push({m: m, rank: 2}); }
      else if (m.purpose && m.purpose.toLowerCase().indexOf(q) >= 0) { found.push({m: m, rank: 3}); }
    }
    for (i = 0; i < cat.sources.length; i++) {
      s = cat.sources[i];
      var key = s.key.toLowerCase(), pos = key.indexOf(q);
      if (pos >= 0) { found.push({s: s, rank: pos === 0 || key.indexOf('.' + q) >= 0 ? 1 : 2}); }
      else if (s.description && s.description.toLowerCase().indexOf(q) >= 0) { found.push({s: s, rank: 3}); }
    }
    found.sort(function (a, b) { return a.rank - b.rank; });
    return found;
  }
  function catalogRows(q) {
    var found = matches(q), rows = [];
    for (var i = 0; i < found.length && i < MAX_ROWS; i++) {
      var f = found[i];
      if (f.m) {
        var m = f.m;
        rows.push('<tr data-model="' + esc(m.name) + '"><td>' + link(modelHref(m.name), m.name) +
          '</td><td>' + badge(m.materialized, 'model') + '</td><td>' + m.columns + '</td><td>' +
          (m.status === 'ok' ? badge('ok') : badge('error')) +
          (m.warnings ? badge(m.warnings + ' warnings', 'warning') : '') + '</td><td>' +
          counts(m.tests) + '</td><td class="purpose">' + esc(m.purpose) + '</td></tr>');
      } else {
        var s = f.s;
        rows.push('<tr data-source="' + esc(s.key) + '"><td>' + link(sourceHref(s.key), s.key) +
          '</td><td>' + badge('source') + '</td><td>' + s.columns.length + '</td><td></td><td></td>' +
          '<td class="purpose">' + esc(s.description || '') + '</td></tr>');
      }
    }
    var more = found.length > MAX_ROWS
      ? '<p class="more">' + (found.length - MAX_ROWS) + ' more: refine the search</p>' : '';
    return {html: rows.join(''), more: more, count: found.length};
  }
  function showCatalog() {
    var st = cat.stats || {}, drift = cat.drift, tests = cat.tests;
    var rows = catalogRows(search.value);
    view.innerHTML =
      '<h1>' + esc(cat.project) + '</h1>' +
      '<p class="muted">Generated ' + esc(cat.generated_at) + ' · dialect ' + esc(cat.dialect) + '</p>' +
      '<div class="cards">' +
      '<div class="card"><b>' + cat.models.length + '</b>models</div>' +
      '<div class="card"><b>' + cat.sources.length + '</b>source tables</div>' +
      '<div class="card"><b>' + (st.columns || 0) + '</b>columns</div>' +
      '<div class="card"><b>' + (st.errors || 0) + ' / ' + (st.warnings || 0) + '</b>errors / warnings</div>' +
      '<div class="card"><b>' + (drift ? drift.changes : '–') + '</b>' +
      (drift ? link('#/drift', 'drift changes') + ' (' + drift.broken + ' broken, ' + drift.affected + ' affected)'
        : 'no <code>rocky drift</code> recorded') + '</div>' +
      '<div class="card"><b>' + (tests ? Object.values(tests.counts).reduce(function (a, b) { return a + b; }, 0) : '–') +
      '</b>' + (tests ? 'tests ' + counts(tests.counts) : 'no <code>rocky test</code> recorded') + '</div>' +
      '</div>' +
      (cat.diagnostics.length ? '<h2>Project diagnostics</h2>' + diagList(cat.diagnostics) : '') +
      '<h2 id="catalog-title">Catalog <span class="muted" id="catalog-count">' + rows.count + '</span></h2>' +
      '<table id="catalog"><thead><tr><th>Name</th><th>Kind</th><th>Columns</th><th>Compile</th>' +
      '<th>Tests</th><th>Purpose</th></tr></thead><tbody>' + rows.html + '</tbody></table>' +
      '<div id="catalog-more">' + rows.more + '</div>';
    done('catalog');
  }
  var searchTimer = null;
  search.addEventListener('input', function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () {
      if (location.hash && location.hash !== '#/') { location.hash = '#/'; return; }
      var body = document.querySelector('#catalog tbody');
      if (!body) { showCatalog(); return; }
      var rows = catalogRows(search.value);
      body.innerHTML = rows.html;
      document.getElementById('catalog-count').textContent = rows.count;
      document.getElementById('catalog-more').innerHTML = rows.more;
    }, 60);
  });
  search.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter') {  // open the best match of what is typed now
      clearTimeout(searchTimer);
      var best = matches(search.value)[0];
      if (best) { location.hash = best.m ? modelHref(best.m.name) : sourceHref(best.s.key); }
    }
  });

  function diagList(diags) {
    return '<ul class="plain">' + diags.map(function (d) {
      return '<li class="diag ' + esc(d.severity) + '">' + esc(d.file) + ':' + esc(d.line) + ':' +
        esc(d.col) + ': ' + esc(d.severity) + '[' + esc(d.code) + ']: ' + esc(d.message) +
        (d.hint ? ' <span class="muted">(' + esc(d.hint) + ')</span>' : '') + '</li>';
    }).join('') + '</ul>';
  }
  function relList(names) {
    if (!names.length) { return '<p class="muted">none</p>'; }
    return '<ul class="plain">' + names.map(function (n) {
      return '<li>' + link(relHref(n.toLowerCase()), n) + (kindOf(n) === 'source' ? ' ' + badge('source') : '') + '</li>';
    }).join('') + '</ul>';
  }

  // -- model and source pages ---------------------------------------------------------------
  function showModel(name) {
    return modelRecord(name).then(function (m) {
      if (!m) { throw new Error('no model named ' + name); }
      var docs = m.column_docs || {}, intent = m.intent, key = m.name.toLowerCase();
      var results = new Map();
      (m.test_results || []).forEach(function (r) { results.set(r.name, r); });
      var cols = m.columns.map(function (c) {
        var d = docs[c.name.toLowerCase()] || {};
        var contract = d.type ? d.type + (d.nullable === false ? ' NOT NULL' : '') : (d.nullable === false ? 'NOT NULL' : '');
        return '<tr data-column="' + esc(c.name) + '"><td class="mono">' +
          link(lineageHref(key, c.name.toLowerCase()), c.name) + '</td><td class="mono col-type">' + esc(c.type) +
          '</td><td>' + (c.nullable === false ? 'not null' : c.nullable === true ? 'nullable' : '?') +
          '</td><td>' + esc(d.intent || d.description || '') + '</td><td class="mono">' + esc(contract) + '</td></tr>';
      }).join('');
      var declared = (m.tests || []).map(function (t) {
        var r = results.get(t.name);
        var detail = Object.keys(t).filter(function (k) { return k !== 'name' && k !== 'type'; })
          .map(function (k) { return k + '=' + JSON.stringify(t[k]); }).join(' ');
        return '<tr><td class="mono">' + esc(t.name) + '</td><td>' + esc(t.type) + '</td><td class="mono">' +
          esc(detail) + '</td><td>' + (r ? badge(r.status) + esc(r.message || '') : '<span class="muted">not run</span>') + '</td></tr>';
      });
      (m.unit_tests || []).forEach(function (u) {
        var r = results.get(u);
        declared.push('<tr><td class="mono">' + esc(u) + '</td><td>unit</td><td></td><td>' +
          (r ? badge(r.status) + esc(r.message || '') : '<span class="muted">not run</span>') + '</td></tr>');
      });
      var down = downstream.get(key) || [];
      view.innerHTML =
        '<h1>' + esc(m.name) + ' ' + badge(m.materialized, 'model') + (m.status === 'ok' ? badge('ok') : badge('error')) + '</h1>' +
        '<p class="muted mono">' + esc(m.path) + (m.sidecar_path ? ' · ' + esc(m.sidecar_path) : '') +
        ' · ' + link(lineageHref(key), 'lineage view') + '</p>' +
        (intent ? '<h2>Intent</h2><p id="purpose">' + esc(intent.purpose) + '</p>' +
          (intent.grain && intent.grain.length ? '<p><b>Grain:</b> <span class="mono">' + esc(intent.grain.join(', ')) + '</span></p>' : '') +
          (intent.rules && intent.rules.length ? '<p><b>Rules:</b></p><ul>' + intent.rules.map(function (r) { return '<li>' + esc(r) + '</li>'; }).join('') + '</ul>' : '')
          : (m.description ? '<p>' + esc(m.description) + '</p>' : '<p class="muted">No intent recorded (add [intent] to the sidecar).</p>')) +
        (m.diagnostics.length ? '<h2>Diagnostics</h2>' + diagList(m.diagnostics) : '') +
        '<h2>Columns <span class="muted">' + m.columns.length + '</span></h2>' +
        '<table id="columns"><thead><tr><th>Column</th><th>Type</th><th>Nullability</th><th>Intent</th><th>Contract</th></tr></thead><tbody>' +
        cols + '</tbody></table>' +
        '<h2>Tests</h2>' + (declared.length ? '<table id="tests"><thead><tr><th>Test</th><th>Kind</th><th>Details</th><th>Last result</th></tr></thead><tbody>' +
          declared.join('') + '</tbody></table>' : '<p class="muted">none declared</p>') +
        '<div class="two"><div><h2>Upstream</h2>' + relList(m.depends_on.concat(m.sources)) +
        '</div><div><h2>Downstream</h2>' + relList(down) + '</div></div>' +
        (m.sql != null ? '<h2>SQL</h2><pre class="sql">' + esc(m.sql) + '</pre>' : '');
      done('model');
    });
  }
  function showSource(key) {
    var s = sources.get(key.toLowerCase());
    if (!s) { throw new Error('no source table ' + key); }
    view.innerHTML =
      '<h1>' + esc(s.key) + ' ' + badge('source') + '</h1>' +
      '<p class="muted mono">' + esc(s.file) + ' · ' + link(lineageHref(s.key.toLowerCase()), 'lineage view') + '</p>' +
      (s.description ? '<p>' + esc(s.description) + '</p>' : '') +
      '<h2>Columns</h2><table id="columns"><thead><tr><th>Column</th><th>Type</th><th>Nullability</th><th>Description</th></tr></thead><tbody>' +
      s.columns.map(function (c) {
        return '<tr data-column="' + esc(c.name) + '"><td class="mono">' + link(lineageHref(s.key.toLowerCase(), c.name.toLowerCase()), c.name) +
          '</td><td class="mono col-type">' + esc(c.type) + '</td><td>' + (c.nullable ? 'nullable' : 'not null') +
          '</td><td>' + esc(c.description || '') + '</td></tr>';
      }).join('') + '</tbody></table>' +
      '<h2>Read by</h2>' + relList(downstream.get(s.key.toLowerCase()) || []);
    done('source');
  }

  // -- graph drawing (lineage and drift views) ----------------------------------------------
  // spec: {relations: [rel], focus, expanded: Set, colClass(node) -> str, relClass(rel) -> str,
  //        edges: [{from, to, kind, cls}], note}
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
      preds.set(r, upstreamOf(r).filter(function (u) { return inSet.has(u) && u !== r; }));
      indeg.set(r, preds.get(r).length);
    });
    var queue = rels.filter(function (r) { return indeg.get(r) === 0; }), head = 0;
    queue.forEach(function (r) { layer.set(r, 0); });
    while (head < queue.length) {
      var r = queue[head++];
      downstreamOf(r).forEach(function (d) {
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
      upstreamOf(r).forEach(function (u) {
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
      var p = pos.get(r), kind = g.relKinds[g.relIndex.get(r)] === 's' || kindOf(r) === 'source' ? 'source' : 'model';
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

  // -- lineage view ---------------------------------------------------------------------------
  var lineageState = {depth: 1, expanded: new Set()};
  function neighbourhood(focus, depth) {
    var seen = new Set([focus]), frontier = [focus];
    for (var d = 0; d < depth; d++) {
      var next = [];
      frontier.forEach(function (r) {
        upstreamOf(r).concat(downstreamOf(r)).forEach(function (x) {
          if (!seen.has(x) && seen.size < MAX_RELATIONS) { seen.add(x); next.push(x); }
        });
      });
      frontier = next;
    }
    return Array.from(seen);
  }
  function showLineage(rel, col) {
    var t0 = R.clickedAt || performance.now();
    R.clickedAt = null;
    return graph().then(function (g) {
      if (!rel) {
        rel = cat.models.length ? cat.models[cat.models.length - 1].name.toLowerCase()
          : (cat.sources.length ? cat.sources[0].key.toLowerCase() : null);
        if (!rel) { view.innerHTML = '<p class="muted">Nothing to draw: the project has no models.</p>'; return; }
      }
      rel = rel.toLowerCase();
      if (!g.relIndex.has(rel)) { throw new Error('no model or source named ' + rel); }
      var node = col ? rel + '.' + col.toLowerCase() : null;
      if (node && g.nodeId(node) < 0) { throw new Error(rel + ' has no column ' + col); }
      var up = node ? g.query(node, 'upstream') : null, down = node ? g.query(node, 'downstream') : null;
      var upSet = new Set(up ? up.nodes : []), downSet = new Set(down ? down.nodes : []);
      var rels = neighbourhood(rel, lineageState.depth), inSet = new Set(rels), hidden = new Set();
      var lit = function (n) { return litNodes.has(n); };
      var litRows = new Map();  // relation -> its lit columns
      var litNodes = new Set(upSet);
      downSet.forEach(function (n) { litNodes.add(n); });
      litNodes.forEach(function (n) {
        var r = g.split(n)[0];
        litRows.set(r, (litRows.get(r) || 0) + 1);
      });
      // Lit relations nearest first, within a budget of boxes and of drawn rows: a wide
      // blast radius is drawn as far as it stays quick, and listed in full in the panel.
      var tall = 0;
      litRows.forEach(function (_, r) { tall += g.columns(r).length; });
      var compact = litRows.size > COMPACT_ABOVE || tall > TALL_ROWS, rows = 0;
      rels.forEach(function (r) { rows += compact ? (litRows.get(r) || 1) : g.columns(r).length; });
      [up, down].forEach(function (res) {
        if (!res) { return; }
        res.nodes.forEach(function (n) {
          var r = g.split(n)[0];
          if (inSet.has(r) || hidden.has(r)) { return; }
          var cost = compact ? litRows.get(r) : g.columns(r).length;
          if (rels.length < MAX_RELATIONS && rows + cost <= MAX_ROWS_DRAWN) {
            rels.push(r); inSet.add(r); rows += cost;
          } else {
            hidden.add(r);
          }
        });
      });
      var expanded = new Set([rel]);
      lineageState.expanded.forEach(function (r) { if (inSet.has(r)) { expanded.add(r); } });
      litRows.forEach(function (_, r) { if (inSet.has(r)) { expanded.add(r); } });
      var edges = (up ? up.edges : []).concat(down ? down.edges : []);
      if (!document.querySelector('#view .graph-wrap[data-for="lineage"]')) {
        view.classList.add('full');
        view.innerHTML = graphShell('<button data-depth="less" title="Fewer neighbours">− context</button>' +
          '<button data-depth="more" title="More neighbours">+ context</button><span class="note" id="graph-note"></span>') +
          '<aside class="panel" id="lineage-panel"></aside>';
        view.querySelector('.graph-wrap').setAttribute('data-for', 'lineage');
        var svg = panZoom(view);
        svg.addEventListener('click', onGraphClick);
        view.querySelector('.graph-tools').addEventListener('click', function (ev) {
          var d = ev.target.getAttribute && ev.target.getAttribute('data-depth');
          if (!d) { return; }
          lineageState.depth = Math.max(0, Math.min(6, lineageState.depth + (d === 'more' ? 1 : -1)));
          route();
        });
        view.querySelector('#lineage-panel').addEventListener('click', onGraphClick);
      }
      view.classList.add('full');
      view.querySelector('.graph-wrap').setAttribute('data-focus', rel);
      drawGraph(view, g, {
        relations: rels, focus: rel, expanded: expanded, edges: edges,
        only: compact ? lit : null, full: lineageState.expanded,
        colClass: function (n) {
          return (upSet.has(n) ? 'hl-up ' : '') + (downSet.has(n) ? 'hl-down ' : '') + (n === node ? 'hl-root' : '');
        },
        relClass: function (r) {
          return node && !expanded.has(r) ? 'dim' : '';
        },
      });
      document.getElementById('graph-note').textContent = rels.length + ' relations drawn' +
        (hidden.size ? ', ' + hidden.size + ' more reached (listed)' : '') + ' · depth ' + lineageState.depth;
      lineagePanel(g, rel, node, up, down);
      view.setAttribute('data-selected', node || '');
      done('lineage');
      requestAnimationFrame(function () {
        R.lastHighlightMs = performance.now() - t0;
        document.body.setAttribute('data-lineage-ready', node || rel);
      });
    });
  }
  function lineagePanel(g, rel, node, up, down) {
    var panel = document.getElementById('lineage-panel'), html = [];
    html.push('<h1 class="mono">' + esc(node || rel) + '</h1>');
    html.push('<p>' + link(relHref(rel), (kindOf(rel) === 'source' ? 'source' : 'model') + ' page') + '</p>');
    var m = models.get(rel);
    if (m && m.status !== 'ok') {
      html.push('<p class="diag error" id="incomplete">' + esc(m.name) + ' did not compile: its lineage ' +
        'may be incomplete (see its page).</p>');
    }
    if (!node) {
      html.push('<p class="muted">Click a column to see everything it comes from and everything it feeds. ' +
        'Click a box title to focus on it; drag to pan, wheel to zoom.</p>');
      html.push('<h2>Columns</h2><ul class="plain mono">' + g.columns(rel).map(function (n) {
        return '<li data-node="' + esc(n) + '">' + esc(n.slice(rel.length + 1)) + '</li>';
      }).join('') + '</ul>');
    } else {
      [['Comes from', up, 'up'], ['Feeds', down, 'down']].forEach(function (x) {
        var res = x[1], others = res.nodes.filter(function (n) { return n !== node; });
        var kindsOf = new Map();
        res.edges.forEach(function (e) {
          var other = x[2] === 'up' ? e.from : e.to;
          if (!kindsOf.has(other)) { kindsOf.set(other, new Set()); }
          kindsOf.get(other).add(e.kind);
        });
        html.push('<h2>' + x[0] + ' <span class="muted">' + others.length + '</span></h2>');
        html.push('<ul class="plain mono" id="hl-' + x[2] + '">' + others.slice(0, MAX_LISTED).map(function (n) {
          return '<li class="' + x[2] + '" data-node="' + esc(n) + '">' + esc(n) +
            ' <span class="muted">' + esc(Array.from(kindsOf.get(n) || []).join(', ')) + '</span></li>';
        }).join('') + '</ul>' + (others.length > MAX_LISTED
          ? '<p class="more">and ' + (others.length - MAX_LISTED) + ' more (nearest first)</p>' : ''));
      });
    }
    panel.innerHTML = html.join('');
  }
  function onGraphClick(ev) {
    var svg = view.querySelector('svg');
    if (svg && svg._dragged) { svg._dragged = false; return; }
    var el = ev.target.closest ? ev.target.closest('[data-node],[data-open],[data-expand]') : null;
    if (!el) { return; }
    var g = R.graph;
    if (el.hasAttribute('data-node')) {
      var n = el.getAttribute('data-node'), parts = g.split(n);
      R.clickedAt = performance.now();
      location.hash = lineageHref(parts[0], parts[1]);
    } else if (el.hasAttribute('data-open')) {
      location.hash = lineageHref(el.getAttribute('data-open'));
    } else if (el.hasAttribute('data-expand')) {
      lineageState.expanded.add(el.getAttribute('data-expand'));
      route();
    }
  }

  // -- drift view -------------------------------------------------------------------------------
  var KNOWN = {
    column_added: function (c) { return 'added (' + (c.new_type || '?') + ')'; },
    column_removed: function () { return 'removed'; },
    column_renamed: function (c) { return 'renamed to ' + c.new_column; },
    column_type_changed: function (c) { return c.old_type + ' → ' + c.new_type + (c.change ? ' (' + c.change + ')' : ''); },
    column_nullability_changed: function (c) { return (c.nullable_to ? 'now allows NULL' : 'now NOT NULL') + (c.change ? ' (' + c.change + ')' : ''); },
    table_added: function (c) { return 'added (' + (c.columns || []).length + ' columns, not declared)'; },
    table_removed: function () { return 'removed'; },
    table_renamed: function (c) { return 'renamed to ' + c.new_table; },
  };
  var SHOWN = new Set(['kind', 'table', 'column', 'recorded_at']);
  function details(c) {  // every other field that says something: unknown kinds stay readable
    return Object.keys(c).filter(function (k) {
      var v = c[k];
      return !SHOWN.has(k) && v !== null && v !== undefined && v !== '' && v !== false &&
        !(Array.isArray(v) && !v.length);
    }).map(function (k) {
      var v = c[k];
      return '<span class="mono">' + esc(k) + '</span>=' + esc(typeof v === 'object' ? JSON.stringify(v) : v);
    }).join(' · ');
  }
  function showDrift() {
    return Promise.all([load('drift', 'data/drift.js'), graph()]).then(function (x) {
      var d = x[0], g = x[1];
      if (!d) {
        view.innerHTML = '<h1>Drift</h1><p class="muted">No drift recorded: run <code>rocky drift</code>, ' +
          'then <code>rocky docs</code> again.</p>';
        done('drift');
        return;
      }
      var impact = d.impact || [], changes = d.changes || [];
      var status = new Map(), brokenModels = new Set();
      impact.forEach(function (i) {
        if (i.column) { status.set((i.model + '.' + i.column).toLowerCase(), i.status); }
        else if (i.status === 'broken') { brokenModels.add(i.model.toLowerCase()); }
        if (i.status === 'broken') { brokenModels.add(i.model.toLowerCase()); }
      });
      var changed = new Set();
      changes.forEach(function (c) { if (c.column) { changed.add((c.table + '.' + c.column).toLowerCase()); } });
      var markedRows = new Map();  // relation -> its marked columns
      status.forEach(function (_, n) { var r = g.split(n)[0]; markedRows.set(r, (markedRows.get(r) || 0) + 1); });
      changed.forEach(function (n) { var r = g.split(n)[0]; markedRows.set(r, (markedRows.get(r) || 0) + 1); });
      var tall = 0;
      markedRows.forEach(function (_, r) { tall += g.columns(r).length; });
      var compact = tall > TALL_ROWS;
      var rels = [], inSet = new Set(), hidden = new Set(), rows = 0;
      function add(r) {
        r = r.toLowerCase();
        if (inSet.has(r) || hidden.has(r) || !g.relIndex.has(r)) { return; }
        var cost = compact && rels.length ? (markedRows.get(r) || 1) : g.columns(r).length;
        if (rels.length >= MAX_RELATIONS || (rels.length && rows + cost > MAX_ROWS_DRAWN)) {
          hidden.add(r);
          return;
        }
        rels.push(r); inSet.add(r); rows += cost;
      }
      changes.forEach(function (c) { add(c.table); });
      impact.forEach(function (i) { (i.path || []).forEach(function (n) { add(g.split(n.toLowerCase())[0]); }); add(i.model); });
      var edges = [], seenEdge = new Set();
      impact.forEach(function (i) {
        var p = i.path || [];
        for (var k = 1; k < p.length; k++) {
          var key = p[k - 1] + '>' + p[k];
          if (seenEdge.has(key)) { continue; }
          seenEdge.add(key);
          edges.push({from: p[k - 1].toLowerCase(), to: p[k].toLowerCase(), kind: 'path',
                      cls: 's-' + (status.get(p[k].toLowerCase()) || 'affected')});
        }
      });
      var byModel = new Map();
      impact.forEach(function (i) {
        if (!byModel.has(i.model)) { byModel.set(i.model, []); }
        byModel.get(i.model).push(i);
      });
      var impactRows = [];
      var listed = 0;
      byModel.forEach(function (items, model) {
        if (listed >= MAX_IMPACT_ROWS) { return; }
        listed += items.length;
        var diag = items.map(function (i) { return i.diagnostic; }).filter(Boolean)[0];
        items.forEach(function (i, j) {
          impactRows.push('<tr class="' + esc(i.status) + '" data-impact="' + esc((i.model + '.' + (i.column || '')).toLowerCase()) +
            '"><td>' + (j === 0 ? link(modelHref(model), model) : '') + '</td><td class="mono">' +
            (i.column ? link(lineageHref(i.model.toLowerCase(), i.column.toLowerCase()), i.column) : '(whole model)') +
            '</td><td>' + badge(i.status) + '</td><td>' + esc(i.reason || '') + '</td><td class="mono">' +
            esc((i.path || []).join(' → ')) + '</td></tr>');
        });
        if (diag) {
          impactRows.push('<tr class="broken"><td></td><td colspan="4">' + diagList([diag]) + '</td></tr>');
        }
      });
      view.classList.add('full');
      view.innerHTML = '<div class="drift-layout"><div class="drift-top">' +
        '<h1>Drift <span class="muted">' + esc(d.recorded_at || '') + '</span></h1>' +
        '<div class="cards"><div class="card"><b>' + changes.length + '</b>changes</div>' +
        '<div class="card"><b>' + impact.filter(function (i) { return i.status === 'broken'; }).length + '</b>broken columns</div>' +
        '<div class="card"><b>' + impact.filter(function (i) { return i.status === 'affected'; }).length + '</b>affected columns</div></div>' +
        (changes.length ? '' : '<p>No drift: the warehouse matches <code>sources/</code>.</p>') +
        (changes.length ? '<h2>Changes</h2><table id="changes"><thead><tr><th>Kind</th><th>Where</th><th>What</th><th>Details</th></tr></thead><tbody>' +
          changes.map(function (c) {
            var what = KNOWN[c.kind] ? KNOWN[c.kind](c) : (c.change || c.kind);
            return '<tr data-kind="' + esc(c.kind) + '"><td>' + esc(c.kind) + '</td><td class="mono">' +
              (sources.has(String(c.table).toLowerCase()) ? link(sourceHref(c.table.toLowerCase()), c.table + (c.column ? '.' + c.column : ''))
                : esc(c.table + (c.column ? '.' + c.column : ''))) +
              '</td><td>' + esc(what) + '</td><td class="muted">' + details(c) + '</td></tr>';
          }).join('') + '</tbody></table>' : '') +
        (impact.length ? '<h2>Blast radius</h2><table id="impact"><thead><tr><th>Model</th><th>Column</th><th>Status</th><th>Why</th><th>Path</th></tr></thead><tbody>' +
          impactRows.join('') + '</tbody></table>' + (impact.length > listed ? '<p class="more">and ' +
          (impact.length - listed) + ' more impacted columns: see <code>rocky drift --format json</code></p>' : '') : '') +
        ((d.notes || []).length ? '<h2>Notes</h2><ul>' + d.notes.map(function (n) { return '<li>' + esc(n) + '</li>'; }).join('') + '</ul>' : '') +
        '</div><div class="drift-graph">' + graphShell('<span class="note" id="graph-note"></span>', DRIFT_LEGEND) + '</div></div>';
      panZoom(view);
      if (rels.length) {
        var marked = function (n) { return status.has(n) || changed.has(n); };
        drawGraph(view, g, {
          relations: rels, focus: null, start: rels[0], expanded: new Set(rels), edges: edges,
          only: compact ? marked : null, full: new Set([rels[0]]),
          colClass: function (n) {
            var s = status.get(n);
            return (s ? 'drift-' + s + ' ' : '') + (changed.has(n) ? 'drift-changed' : '');
          },
          relClass: function (r) { return brokenModels.has(r) ? 'drift-model-broken' : ''; },
        });
      }
      document.getElementById('graph-note').textContent = rels.length + ' relations drawn' +
        (hidden.size ? ', ' + hidden.size + ' more impacted (listed above)' : '');
      view.querySelector('svg').addEventListener('click', function (ev) {
        var el = ev.target.closest ? ev.target.closest('[data-node],[data-open]') : null;
        if (!el) { return; }
        if (el.hasAttribute('data-node')) {
          var parts = g.split(el.getAttribute('data-node'));
          location.hash = lineageHref(parts[0], parts[1]);
        } else {
          location.hash = relHref(el.getAttribute('data-open'));
        }
      });
      done('drift');
    });
  }

  window.addEventListener('hashchange', route);
  route();
})();
