/* rocky docs: the column graph of rocky_engine/lineage/graph.py (LineageGraph), ported.
 *
 * data/lineage.js holds the graph's own packed state: node and relation names, and CSR
 * arrays (base64 of little-endian uint32) of value edges in and out of each node and of
 * influence edges (filter/join/group) stored once per model. query() walks it exactly as
 * LineageGraph.query does, so the page's answer is the CLI's answer.
 */
(function () {
  'use strict';

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


  window.ROCKY.Graph = Graph;
})();
