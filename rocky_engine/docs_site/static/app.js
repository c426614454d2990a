/* rocky docs: the whole site in one script (no library, no network).
 *
 * graph.js (the column graph) and draw.js (the SVG drawing) are loaded first.
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
  var MAX_ROWS = 200;         // catalog rows drawn at once
  var MAX_RELATIONS = 80;     // relations drawn in one graph (the rest are listed)
  var MAX_LISTED = 1000;      // nodes listed per direction in the lineage panel
  var COMPACT_ABOVE = 16;     // more lit boxes than this: each shows its lit columns only
  var TALL_ROWS = 160;        // lit boxes with more rows than this in all: compact too
  var MAX_ROWS_DRAWN = 600;   // column rows drawn at most (a wide highlight is listed in full)
  var MAX_IMPACT_ROWS = 2000; // impact table rows listed (whole models at a time)
  var draw = R.draw, drawGraph = draw.drawGraph, graphShell = draw.graphShell, panZoom = draw.panZoom;

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

  var graphPromise = null;
  function graph() {
    if (!graphPromise) {
      graphPromise = load('lineage', 'data/lineage.js').then(function (p) {
        R.graph = new R.Graph(p);
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
        relations: rels, focus: rel, expanded: expanded, edges: edges, up: upstreamOf, down: downstreamOf,
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
  var driftFull = new Set();  // boxes whose every column the reader asked to see
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
        '</div><div class="drift-graph">' + graphShell('<span class="note" id="graph-note"></span>', draw.DRIFT_LEGEND) + '</div></div>';
      panZoom(view);
      if (rels.length) {
        var marked = function (n) { return status.has(n) || changed.has(n); };
        drawGraph(view, g, {
          relations: rels, focus: null, start: rels[0], expanded: new Set(rels), edges: edges,
          up: upstreamOf, down: downstreamOf,
          only: compact ? marked : null, full: new Set([rels[0]].concat(Array.from(driftFull))),
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
        var el = ev.target.closest ? ev.target.closest('[data-node],[data-open],[data-expand]') : null;
        if (!el) { return; }
        if (el.hasAttribute('data-expand')) {
          driftFull.add(el.getAttribute('data-expand'));
          route();
        } else if (el.hasAttribute('data-node')) {
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
