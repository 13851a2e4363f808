// Claims in an experiment definition (docs/CLAIMS.md): what a question asserts about two of
// its cells, tested by lowbit report and settled by --settle.
//
//   "claims": [{"name": "slb_beats_ste", "a": "slb", "b": "ste:quant.bits=2",
//               "metric": "test_acc", "kind": "greater" | "noninferior" | "equivalent",
//               "margin": 0.5, "source": "the sentence it tests", "prior_sd": 0.8}]
//
// a and b name cells as lowbit diff does, without the experiment: "variant[:key=value...]".
// Every axis of the variant's own must be pinned; a global axis left unpinned makes the claim
// one test per value of that axis (A and B at the same value), e.g. one per model.
// The claim is about A - B. margin and prior_sd are in the metric's table units (percentage
// points for accuracies and other fractions).
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace lowbit {

enum class ClaimKind { kGreater, kNoninferior, kEquivalent };
const char* claim_kind_name(ClaimKind k);
std::vector<std::string> claim_kind_names();

/// "variant[:key=value...]".
struct ClaimCell {
  std::string text, variant;
  std::vector<std::pair<std::string, std::string>> filters;  ///< config key path, value text
};

struct ClaimSpec {
  std::string name;
  ClaimCell a, b;
  std::string metric = "test_acc";  ///< as report --metric: key[:final|best|last-K-mean]
  ClaimKind kind = ClaimKind::kGreater;
  /// noninferior, equivalent: required, > 0. greater: optional, the smallest difference worth
  /// detecting (power and --settle plan for it); the test is still of A - B > 0.
  std::optional<double> margin;
  std::string source;              ///< the sentence of the paper or review it tests
  std::optional<double> prior_sd;  ///< the SD to plan with before any run exists
  /// "claims[2] (slb_beats_ste)": how errors and reports name it.
  std::string where(size_t index) const;
};

/// Parses a definition's "claims" list: its shape, the kinds, margins and cell syntax.
/// Throws ConfigError "<source>: claims[i] (name): <field>: ..." with did-you-mean for
/// unknown fields and kinds. The cells' variants and keys and the metric are checked against
/// the definition by the caller (experiments/spec.cpp).
std::vector<ClaimSpec> parse_claims(const nlohmann::json& claims, const std::string& source);

}  // namespace lowbit
