// Where this binary came from: captured at build time by cmake/provenance.cmake, so a run
// records the source it was really built from, not the tree as it is when the run starts.
#pragma once
#include <string>

namespace lowbit {

const char* build_git_commit();  ///< 40 hex digits, or "unknown" outside a git checkout
bool build_git_dirty();          ///< uncommitted changes to tracked files at build time
const char* build_git_diff();    ///< `git diff HEAD` at build time ("" when clean)

}  // namespace lowbit
