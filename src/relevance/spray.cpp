// relscope/relevance/spray.cpp — spectral relevance analysis (spray.h).
//
// Sections: checks | spray_features | affinity | k-means | spray
#include "relevance/spray.h"

// GCC 12 reports Eigen 3.4's AVX-512 double packets as "may be used uninitialized": the false positive
// kernels/cpu/gemm.cpp silences too, in Eigen's headers, not in this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Dense>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>

#include "core/error.h"

namespace relscope::relevance {

namespace {

constexpr int64_t kMaxMaps = 2000;   // a dense n x n eigen-decomposition: seconds natively at 2000

// ---- checks ---------------------------------------------------------------------------------------------

void check_options(const SprayOptions& o) {
  if (o.size < 1 || o.size > 1024) fail_input("spray: size must be 1..1024, not " + std::to_string(o.size));
  if (o.neighbours < 1) fail_input("spray: neighbours must be at least 1, not " + std::to_string(o.neighbours));
  if (o.max_clusters < 1 || o.max_clusters > 64)
    fail_input("spray: max clusters must be 1..64, not " + std::to_string(o.max_clusters));
  if (o.clusters < 0) fail_input("spray: clusters must be 0 (from the eigengap) or more, not " + std::to_string(o.clusters));
}

// A uniform double in [0, 1) from the generator's top 53 bits (the std distributions differ between builds).
double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

// ---- spray_features -------------------------------------------------------------------------------------

std::vector<float> spray_features(const float* map, const Shape& sample_shape, const SprayOptions& o, Shape* shape) {
  const int rank = static_cast<int>(sample_shape.size());
  Shape spatial = sample_shape;
  int64_t channels = 1;
  if (rank >= 2) {
    const int axis = o.channels_last ? rank - 1 : 0;
    channels = sample_shape[axis];
    spatial.erase(spatial.begin() + axis);
  }
  if (spatial.empty()) spatial = {1};
  Shape cells(spatial.size());
  for (size_t d = 0; d < spatial.size(); ++d) cells[d] = std::max<int64_t>(1, std::min<int64_t>(spatial[d], o.size));
  const int64_t positions = shape_numel(spatial), out_size = shape_numel(cells);
  std::vector<double> sum(static_cast<size_t>(out_size), 0.0), count(static_cast<size_t>(out_size), 0.0);
  const Shape strides = shape_strides(spatial), cell_strides = shape_strides(cells);
  for (int64_t p = 0; p < positions; ++p) {
    int64_t cell = 0;
    for (size_t d = 0; d < spatial.size(); ++d) cell += (p / strides[d] % spatial[d]) * cells[d] / spatial[d] * cell_strides[d];
    double v = 0;
    for (int64_t c = 0; c < channels; ++c) v += map[o.channels_last ? p * channels + c : c * positions + p];
    sum[static_cast<size_t>(cell)] += v;
    count[static_cast<size_t>(cell)] += 1;
  }
  double peak = 0;
  for (size_t k = 0; k < sum.size(); ++k) peak = std::max(peak, std::fabs(sum[k] /= std::max(count[k], 1.0)));
  std::vector<float> out(sum.size());
  for (size_t k = 0; k < sum.size(); ++k) out[k] = static_cast<float>(peak > 0 ? sum[k] / peak : 0.0);
  if (shape) *shape = cells;
  return out;
}

namespace {

// ---- affinity -------------------------------------------------------------------------------------------

// (C + C^T) / 2 of the k-nearest-neighbour connectivity C (Euclidean; ties: lower index).
Eigen::MatrixXd knn_affinity(const Eigen::MatrixXd& x, int k) {
  const Eigen::Index n = x.rows();
  const Eigen::VectorXd norms = x.rowwise().squaredNorm();
  Eigen::MatrixXd d2 = -2.0 * (x * x.transpose());
  d2.colwise() += norms;
  d2.rowwise() += norms.transpose();
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(n, n);
  std::vector<Eigen::Index> others;
  for (Eigen::Index i = 0; i < n; ++i) {
    others.resize(static_cast<size_t>(n));
    std::iota(others.begin(), others.end(), 0);
    others.erase(others.begin() + i);
    std::partial_sort(others.begin(), others.begin() + k, others.end(), [&](Eigen::Index p, Eigen::Index q) {
      return d2(i, p) < d2(i, q) || (d2(i, p) == d2(i, q) && p < q);
    });
    for (int j = 0; j < k; ++j) {
      a(i, others[static_cast<size_t>(j)]) += 0.5;
      a(others[static_cast<size_t>(j)], i) += 0.5;
    }
  }
  return a;
}

// ---- k-means --------------------------------------------------------------------------------------------

// Lloyd's k-means with k-means++ seeding, `restarts` times from one generator; the lowest inertia wins.
std::vector<int> kmeans(const Eigen::MatrixXd& u, int k, uint64_t seed, int restarts = 10) {
  const Eigen::Index n = u.rows();
  std::mt19937_64 rng(seed);
  std::vector<int> best;
  double best_inertia = std::numeric_limits<double>::infinity();
  for (int r = 0; r < restarts; ++r) {
    Eigen::MatrixXd centres(k, u.cols());
    centres.row(0) = u.row(static_cast<Eigen::Index>(rng() % static_cast<uint64_t>(n)));
    Eigen::VectorXd nearest = (u.rowwise() - centres.row(0)).rowwise().squaredNorm();
    for (int c = 1; c < k; ++c) {
      const double total = nearest.sum();
      Eigen::Index pick = n - 1;
      if (total > 0) {
        double t = uniform(rng) * total;
        for (Eigen::Index i = 0; i < n; ++i)
          if ((t -= nearest(i)) < 0) {
            pick = i;
            break;
          }
      } else {
        pick = static_cast<Eigen::Index>(rng() % static_cast<uint64_t>(n));
      }
      centres.row(c) = u.row(pick);
      nearest = nearest.cwiseMin((u.rowwise() - centres.row(c)).rowwise().squaredNorm());
    }
    std::vector<int> label(static_cast<size_t>(n), -1);
    double inertia = 0;
    for (int iter = 0; iter < 300; ++iter) {
      bool changed = false;
      inertia = 0;
      for (Eigen::Index i = 0; i < n; ++i) {
        int arg = 0;
        double dmin = std::numeric_limits<double>::infinity();
        for (int c = 0; c < k; ++c) {
          const double d = (u.row(i) - centres.row(c)).squaredNorm();
          if (d < dmin) dmin = d, arg = c;
        }
        inertia += dmin;
        changed |= label[static_cast<size_t>(i)] != arg;
        label[static_cast<size_t>(i)] = arg;
      }
      if (!changed) break;
      Eigen::MatrixXd sums = Eigen::MatrixXd::Zero(k, u.cols());
      std::vector<int64_t> counts(static_cast<size_t>(k), 0);
      for (Eigen::Index i = 0; i < n; ++i) {
        sums.row(label[static_cast<size_t>(i)]) += u.row(i);
        ++counts[static_cast<size_t>(label[static_cast<size_t>(i)])];
      }
      for (int c = 0; c < k; ++c)
        if (counts[static_cast<size_t>(c)] > 0) centres.row(c) = sums.row(c) / static_cast<double>(counts[static_cast<size_t>(c)]);
    }
    if (inertia < best_inertia) best_inertia = inertia, best = label;
  }
  return best;
}

}  // namespace

// ---- spray ----------------------------------------------------------------------------------------------

SprayResult spray(const Tensor& maps, const SprayOptions& o) {
  check_options(o);
  if (maps.dtype != DType::Float32 || maps.rank() < 1) fail_input("spray: the maps must be a float tensor (n, ...)");
  const int64_t n = maps.shape[0];
  if (n < 3) fail_input("spray: " + std::to_string(n) + " maps; clustering needs at least 3");
  if (n > kMaxMaps) fail_input("spray: " + std::to_string(n) + " maps, over " + std::to_string(kMaxMaps) + " (a dense eigen-decomposition); pick a subset");
  if (const size_t bad = first_non_finite(maps.f); bad != maps.f.size())
    fail_input("spray: map " + std::to_string(static_cast<int64_t>(bad) / std::max<int64_t>(1, maps.numel() / n)) + " holds NaN or Inf");
  const Shape sample(maps.shape.begin() + 1, maps.shape.end());
  const int64_t per = maps.numel() / n;
  SprayResult r;
  std::vector<std::vector<float>> features;
  for (int64_t i = 0; i < n; ++i) features.push_back(spray_features(maps.f.data() + i * per, sample, o, &r.feature_shape));
  const auto f = static_cast<Eigen::Index>(features[0].size());
  Eigen::MatrixXd x(n, f);
  for (int64_t i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < f; ++j) x(i, j) = features[static_cast<size_t>(i)][static_cast<size_t>(j)];

  const int k = static_cast<int>(std::min<int64_t>(o.neighbours, n - 1));
  const Eigen::MatrixXd a = knn_affinity(x, k);
  const Eigen::VectorXd inv_sqrt_degree = a.rowwise().sum().cwiseSqrt().cwiseInverse();   // degree >= k / 2 > 0
  const Eigen::MatrixXd laplacian = Eigen::MatrixXd::Identity(n, n) - inv_sqrt_degree.asDiagonal() * a * inv_sqrt_degree.asDiagonal();
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(laplacian);
  if (eig.info() != Eigen::Success) fail(ErrorKind::Internal, "spray: the eigen-decomposition did not converge");
  const Eigen::VectorXd& values = eig.eigenvalues();   // ascending
  const Eigen::MatrixXd& vectors = eig.eigenvectors();
  const int shown = static_cast<int>(std::min<int64_t>(o.max_clusters + 1, n));
  for (int j = 0; j < shown; ++j) r.eigenvalues.push_back(std::max(0.0, values(j)));

  // The number of clusters: given, or where the largest gap among the smallest eigenvalues is.
  int clusters = static_cast<int>(std::min<int64_t>(o.clusters, n));
  if (clusters == 0) {
    clusters = 1;
    double gap = -1;
    for (int j = 1; j < shown && j <= o.max_clusters; ++j)
      if (values(j) - values(j - 1) > gap) gap = values(j) - values(j - 1), clusters = j;
  }
  r.clusters = clusters;

  // Rows of the first `clusters` eigenvectors, scaled to unit length (Ng, Jordan and Weiss), then k-means.
  Eigen::MatrixXd u = vectors.leftCols(clusters);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double len = u.row(i).norm();
    if (len > 0) u.row(i) /= len;
  }
  std::vector<int> raw = clusters == 1 ? std::vector<int>(static_cast<size_t>(n), 0) : kmeans(u, clusters, o.seed);

  // Number clusters by decreasing size, ties by their smallest member.
  std::vector<int64_t> size(static_cast<size_t>(clusters), 0), first(static_cast<size_t>(clusters), n);
  for (int64_t i = 0; i < n; ++i) {
    const auto c = static_cast<size_t>(raw[static_cast<size_t>(i)]);
    ++size[c];
    first[c] = std::min(first[c], i);
  }
  std::vector<int> order(static_cast<size_t>(clusters));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int p, int q) {
    return size[p] != size[q] ? size[p] > size[q] : first[p] < first[q];
  });
  std::vector<int> rank(static_cast<size_t>(clusters));
  for (int c = 0; c < clusters; ++c) rank[static_cast<size_t>(order[static_cast<size_t>(c)])] = c;
  r.label.resize(static_cast<size_t>(n));
  r.sizes.assign(static_cast<size_t>(clusters), 0);
  r.centroids.assign(static_cast<size_t>(clusters), std::vector<float>(static_cast<size_t>(f), 0.0f));
  for (int64_t i = 0; i < n; ++i) {
    const int c = rank[static_cast<size_t>(raw[static_cast<size_t>(i)])];
    r.label[static_cast<size_t>(i)] = c;
    ++r.sizes[static_cast<size_t>(c)];
    for (Eigen::Index j = 0; j < f; ++j) r.centroids[static_cast<size_t>(c)][static_cast<size_t>(j)] += features[static_cast<size_t>(i)][static_cast<size_t>(j)];
  }
  for (int c = 0; c < clusters; ++c)
    for (float& v : r.centroids[static_cast<size_t>(c)]) v /= static_cast<float>(r.sizes[static_cast<size_t>(c)]);

  // The 2-D embedding: eigenvectors 1 and 2 (after the constant one), scaled by D^-1/2.
  r.embedding.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    for (int d = 0; d < 2; ++d)
      r.embedding[static_cast<size_t>(i)][static_cast<size_t>(d)] = vectors(i, 1 + d) * inv_sqrt_degree(i);   // n >= 3
  return r;
}

}  // namespace relscope::relevance
