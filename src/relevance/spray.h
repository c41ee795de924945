// relscope/relevance/spray.h — SpRAy (Lapuschkin et al. 2019): the strategies a model uses for one class,
// found by clustering many heatmaps of it; a small cluster of its own is a Clever Hans candidate.
//
// Sections: SprayOptions | SprayResult | spray_features() | spray()
//
// METHODS.md "SpRAy": heatmaps of one class, downsized and flattened -> kNN affinity graph (k = 10, symmetric)
// -> normalised Laplacian -> eigen-decomposition (the eigengap shows the number of strategies) -> clusters and
// a 2-D embedding. Choices relscope makes where the method leaves them open (each documented here so that a
// result can be reproduced elsewhere):
// - a map becomes a feature vector by summing its channels, box-averaging the spatial dims to at most
//   `size` per dim, and scaling to max |value| = 1 (the class score's scale would otherwise dominate);
// - the affinity is kNN connectivity (Euclidean), symmetrised as (C + C^T) / 2 (scikit-learn's
//   kneighbors_graph followed by the symmetrisation SpRAy's code uses);
// - L = I - D^-1/2 A D^-1/2; the number of clusters is the position of the largest gap among the smallest
//   max_clusters + 1 eigenvalues, unless given;
// - clusters: k-means on the rows of the first k eigenvectors, each row scaled to unit length (Ng, Jordan and
//   Weiss), k-means++ seeding with relscope's own generator, 10 restarts, the lowest inertia kept; clusters are
//   then numbered by decreasing size (ties: by their smallest member);
// - the 2-D embedding is eigenvectors 1 and 2 (after the constant one) scaled by D^-1/2.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace relscope::relevance {

// ---- SprayOptions ---------------------------------------------------------------------------------------

struct SprayOptions {
  int size = 32;             // spatial dims box-averaged to at most this many cells each
  int neighbours = 10;       // k of the kNN graph (at most n - 1)
  int clusters = 0;          // 0: from the eigengap
  int max_clusters = 8;      // the eigengap looks at clusters 1..max_clusters
  uint64_t seed = 0;         // k-means seeding
  bool channels_last = false;   // maps are (spatial..., C) instead of (C, spatial...)
};

// ---- SprayResult ----------------------------------------------------------------------------------------

struct SprayResult {
  std::vector<double> eigenvalues;                 // the smallest, ascending (up to max_clusters + 1)
  int clusters = 0;
  std::vector<int> label;                          // per map: its cluster, 0 = the largest
  std::vector<int64_t> sizes;                      // per cluster
  std::vector<std::array<double, 2>> embedding;    // per map
  std::vector<std::vector<float>> centroids;       // per cluster: the mean feature vector (a downsized map)
  Shape feature_shape;                             // of one feature vector (the downsized spatial dims)
};

// ---- spray_features() -----------------------------------------------------------------------------------

// One map (a sample's relevance, without the batch dim) as SpRAy's feature vector; `shape` gets the
// downsized spatial dims. A map of rank 0 or 1 has no channel axis and is averaged along its one axis.
std::vector<float> spray_features(const float* map, const Shape& sample_shape, const SprayOptions& options, Shape* shape);

// ---- spray() --------------------------------------------------------------------------------------------

// `maps`: n samples' relevance, (n, sample dims...). At least 3 maps and at most 4000 (a dense n x n
// eigen-decomposition); BadInput otherwise, for non-finite maps, or options out of range.
SprayResult spray(const Tensor& maps, const SprayOptions& options);

}  // namespace relscope::relevance
