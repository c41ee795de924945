// relscope/kernels/webgpu/prune.wgsl — pruned LRP's choice per sample (kernels.h: prune_relevance and
// prune_keep_mask, program.h: Prune), one 256-wide workgroup per sample.
// Bindings [r, keep]; words: 0 count = samples, 1 per (values per sample), 2 p_pos, 3 p_neg (floats), 4 mode
// (0: prune r in place; 1: keep = 0 where an entry would go, 1 elsewhere; r unchanged).
//
// Sections: double-float arithmetic | workgroup reduction | one sign's entries | main
//
// Why no sort: the entries of a sign that go are the first L in the order of (|r|, index). The kernel finds
// that boundary by a search instead: on |r|'s bit pattern (a positive float's bits order like its value), 4
// bits per pass over the sample (a 16-bin histogram of mass and count, summed by the workgroup: 8 passes),
// then, only where several entries tie at the boundary value, by bisection on their index. Every pass reads
// the sample in the same lane stride, so each lane reads and writes only its own entries. The CPU sums in
// double; here sums are double-float (two f32, ~44 bits), on values scaled by a power of two (exact) so that
// the largest is about 1: no product can overflow, and the comparisons with the budget agree with the CPU's
// but for a running sum within ~1e-13 of it.
@group(0) @binding(1) var<storage, read_write> r : array<f32>;
@group(0) @binding(2) var<storage, read_write> keep : array<f32>;

const LANES : u32 = 256u;   // per sample: the lanes that stream it and the width of the reductions

// ---- double-float arithmetic ------------------------------------------------------------------------------
// A value is hi + lo (x, y of a vec2) with |lo| <= ulp(hi) / 2. Needs correctly rounded f32 + - * (WGSL's).
fn two_sum(a : f32, b : f32) -> vec2<f32> {
  let s = a + b;
  let bb = s - a;
  return vec2<f32>(s, (a - (s - bb)) + (b - bb));
}
fn fast_two_sum(a : f32, b : f32) -> vec2<f32> {   // |a| >= |b|
  let s = a + b;
  return vec2<f32>(s, b - (s - a));
}
fn dd_add(x : vec2<f32>, y : vec2<f32>) -> vec2<f32> {
  let s = two_sum(x.x, y.x);
  let t = two_sum(x.y, y.y);
  let u = fast_two_sum(s.x, s.y + t.x);
  return fast_two_sum(u.x, u.y + t.y);
}
fn dd_add_f(x : vec2<f32>, b : f32) -> vec2<f32> {
  let s = two_sum(x.x, b);
  return fast_two_sum(s.x, s.y + x.y);
}
// Dekker's split and exact product (WGSL's fma may round twice, so it cannot give the product's error).
fn split(a : f32) -> vec2<f32> {
  let c = 4097.0 * a;
  let hi = c - (c - a);
  return vec2<f32>(hi, a - hi);
}
fn two_prod(a : f32, b : f32) -> vec2<f32> {
  let p = a * b;
  let sa = split(a);
  let sb = split(b);
  return vec2<f32>(p, ((sa.x * sb.x - p) + sa.x * sb.y + sa.y * sb.x) + sa.y * sb.y);
}
fn dd_mul_f(x : vec2<f32>, b : f32) -> vec2<f32> {
  let p = two_prod(x.x, b);
  return fast_two_sum(p.x, p.y + x.y * b);
}
// a / b; f32 division is only 2.5 ulp in WGSL, so two correction steps on the exact residual.
fn dd_div(a : vec2<f32>, b : vec2<f32>) -> vec2<f32> {
  let q1 = a.x / b.x;
  let r1 = dd_add(a, -dd_mul_f(b, q1));
  let q2 = r1.x / b.x;
  let r2 = dd_add(r1, -dd_mul_f(b, q2));
  return dd_add_f(fast_two_sum(q1, q2), r2.x / b.x);
}
fn dd_le(x : vec2<f32>, y : vec2<f32>) -> bool {
  let d = dd_add(y, -x);
  return d.x > 0.0 || (d.x == 0.0 && d.y >= 0.0);
}

// ---- workgroup reduction ------------------------------------------------------------------------------------
// Every lane brings a sum, a count and a key; all get back the totals and the largest key. Called in
// uniform control flow only; the result is uniform (workgroupUniformLoad), so callers may branch on it.
struct Total { sum : vec2<f32>, count : u32, key : u32 }
var<workgroup> red_sum : array<vec2<f32>, LANES>;
var<workgroup> red_count : array<u32, LANES>;
var<workgroup> red_key : array<u32, LANES>;
var<workgroup> total : Total;

fn reduce(lane : u32, sum : vec2<f32>, count : u32, key : u32) -> Total {
  red_sum[lane] = sum;
  red_count[lane] = count;
  red_key[lane] = key;
  workgroupBarrier();
  for (var o = LANES / 2u; o > 0u; o = o >> 1u) {
    if (lane < o) {
      red_sum[lane] = dd_add(red_sum[lane], red_sum[lane + o]);
      red_count[lane] += red_count[lane + o];
      red_key[lane] = max(red_key[lane], red_key[lane + o]);
    }
    workgroupBarrier();
  }
  if (lane == 0u) { total = Total(red_sum[0], red_count[0], red_key[0]); }
  return workgroupUniformLoad(&total);
}

// ---- one sign's entries -----------------------------------------------------------------------------------------
fn of_sign(v : f32, positive : bool) -> bool { return select((v < 0.0), (v > 0.0), positive); }
fn bits_of(v : f32) -> u32 { return bitcast<u32>(abs(v)); }

// How many of the sign's entries tie at `bits` and sit before index `limit`.
fn ties_before(lane : u32, base : u32, per : u32, positive : bool, bits : u32, limit : u32) -> u32 {
  var c = 0u;
  for (var j = lane; j < per && j < limit; j += LANES) {
    let v = r[base + j];
    if (of_sign(v, positive) && bits_of(v) == bits) { c += 1u; }
  }
  return reduce(lane, vec2<f32>(0.0, 0.0), c, 0u).count;
}

// ---- main ---------------------------------------------------------------------------------------------------
@compute @workgroup_size(LANES)
fn main(@builtin(local_invocation_index) lane : u32, @builtin(workgroup_id) wid : vec3<u32>,
        @builtin(num_workgroups) nwg : vec3<u32>) {
  let sample = wid.x + wid.y * nwg.x;
  if (sample >= word(0u)) { return; }
  let per = word(1u);
  let base = sample * per;
  let mask_mode = word(4u) != 0u;
  if (mask_mode) {
    for (var j = lane; j < per; j += LANES) { keep[base + j] = 1.0; }
  }
  for (var sg = 0u; sg < 2u; sg++) {
    let positive = sg == 0u;
    let p = word_f32(2u + sg);
    // The sign's entries: how many, and the largest |r| (whose exponent sets the scale).
    var c = 0u;
    var biggest = 0u;
    for (var j = lane; j < per; j += LANES) {
      let v = r[base + j];
      if (of_sign(v, positive)) {
        c += 1u;
        biggest = max(biggest, bits_of(v));
      }
    }
    let found = reduce(lane, vec2<f32>(0.0, 0.0), c, biggest);
    if (!(p > 0.0) || found.count < 2u) { continue; }
    let shift = clamp(-frexp(bitcast<f32>(found.key)).exp, -126, 126);
    // The largest bit pattern whose entries (all of them, |r| at or below it) fit in the budget, 4 bits at a
    // time: each level histograms the sign's entries of one range of bit patterns into 16 bins (mass and
    // count), takes the bins that still fit and descends into the first that does not. At the last level
    // that bin is a single value: the next one up, its count the ties. (The first level's bins hold every
    // entry, so their sum is the mass that sets the budget.)
    var lo = 0u;                            // the range searched: [lo, lo + 16 << shift_bits)
    var mass = vec2<f32>(0.0, 0.0);
    var budget = vec2<f32>(0.0, 0.0);
    var under_mass = vec2<f32>(0.0, 0.0);   // the entries below the range, all of which fit
    var under_count = 0u;
    var next_bits = 0u;
    var tied = 0u;
    var capped = false;
    for (var level = 0u; level < 8u; level++) {
      let shift_bits = 28u - 4u * level;
      // (zeroed explicitly: a `var` without initializer in a loop body kept the last iteration's values
      // on SwiftShader)
      var hs = array<vec2<f32>, 16>();
      var hc = array<u32, 16>();
      for (var j = lane; j < per; j += LANES) {
        let v = r[base + j];
        let b = bits_of(v);
        if (!of_sign(v, positive) || b < lo) { continue; }
        let bin = (b - lo) >> shift_bits;
        if (bin < 16u) {
          hs[bin] = dd_add_f(hs[bin], ldexp(abs(v), shift));
          hc[bin] += 1u;
        }
      }
      var sums = array<vec2<f32>, 16>();
      var counts = array<u32, 16>();
      for (var bin = 0u; bin < 16u; bin++) {
        let t = reduce(lane, hs[bin], hc[bin], 0u);
        sums[bin] = t.sum;
        counts[bin] = t.count;
        if (level == 0u) { mass = dd_add(mass, t.sum); }
      }
      if (level == 0u) { budget = dd_mul_f(mass, p); }
      var fit = 16u;   // the first bin that does not fit (it holds entries: an empty one always fits)
      var last = 0u;   // the last bin with entries
      for (var bin = 0u; bin < 16u; bin++) {
        if (counts[bin] > 0u) { last = bin; }
        if (fit < 16u) { continue; }
        let with_bin = dd_add(under_mass, sums[bin]);
        if (dd_le(with_bin, budget)) {
          under_mass = with_bin;
          under_count += counts[bin];
        } else {
          fit = bin;
          tied = counts[bin];
        }
      }
      if (fit == 16u) {
        if (level == 0u) {   // everything fits (the first level's bins hold every entry)
          capped = true;
          break;
        }
        // The range's bins, summed in another grouping than the bin above them that did not fit, may fit
        // within the last bits of the budget: trust the level above and descend into the last bin with entries.
        fit = last;
        under_mass = dd_add(under_mass, -sums[last]);
        under_count -= counts[last];
        tied = counts[last];
      }
      lo += fit << shift_bits;
      next_bits = lo;
    }
    // The boundary: entries below (bits, index) = (cut_bits, cut_index) go; `removed` is their mass.
    var cut_bits = 0u;
    var cut_index = 0u;
    var removed = vec2<f32>(0.0, 0.0);
    if (!capped) {
      // Of the ties at the next value, the first `k` (in index order) still fit.
      let value = ldexp(bitcast<f32>(next_bits), shift);
      var k = 0u;
      for (var bit = 32u; bit > 0u; bit--) {
        let candidate = k | (1u << (bit - 1u));
        if (candidate <= tied && dd_le(dd_add(under_mass, two_prod(f32(candidate), value)), budget)) { k = candidate; }
      }
      if (under_count + k >= found.count) {
        capped = true;   // everything fits: all but the last entry go, as below
      } else {
        if (under_count + k == 0u) { continue; }
        cut_bits = next_bits;
        if (k > 0u) {   // index of the k-th tie: the largest i with fewer than k ties before it
          var i = 0u;
          for (var bit = 32u - countLeadingZeros(per); bit > 0u; bit--) {
            let candidate = i | (1u << (bit - 1u));
            if (candidate < per && ties_before(lane, base, per, positive, next_bits, candidate) < k) { i = candidate; }
          }
          cut_index = i + 1u;
        }
        removed = dd_add(under_mass, two_prod(f32(k), value));
      }
    }
    if (capped) {   // at least one entry stays: the last in (|r|, index) order
      var last = 0u;
      for (var j = lane; j < per; j += LANES) {
        let v = r[base + j];
        if (of_sign(v, positive) && bits_of(v) == found.key) { last = max(last, j); }
      }
      cut_bits = found.key;
      cut_index = reduce(lane, vec2<f32>(0.0, 0.0), 0u, last).key;
      removed = dd_add_f(mass, -ldexp(bitcast<f32>(found.key), shift));
    }
    let scale = dd_div(mass, dd_add(mass, -removed));
    for (var j = lane; j < per; j += LANES) {
      let v = r[base + j];
      if (!of_sign(v, positive)) { continue; }
      let b = bits_of(v);
      let goes = b < cut_bits || (b == cut_bits && j < cut_index);
      if (mask_mode) {
        if (goes) { keep[base + j] = 0.0; }
      } else {
        let scaled = dd_mul_f(scale, v);
        r[base + j] = select(scaled.x + scaled.y, 0.0, goes);
      }
    }
  }
}
