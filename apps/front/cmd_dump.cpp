// lowbit dump / lowbit restore: a results database as compact, committable JSON lines
// (tracker/archive.h), and back.
#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "tracker/archive.h"

namespace lowbit {

namespace {

std::string row_counts(const DumpSummary& s) {
  std::string out;
  for (const auto& [table, n] : s.rows)
    if (n > 0) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", n, table);
  return out.empty() ? "no rows" : out;
}

}  // namespace

int cmd_dump(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string db, out;
  desc.add_options()("db", po::value(&db)->required(), "results database to dump")(
      "out,o", po::value(&out)->required(), "the dump to write (gzip-compressed JSON lines, e.g. runs.jsonl.gz)");
  po::variables_map vm;
  if (!parse_args("dump", args, desc, vm, nullptr, "--db results.db --out runs.jsonl.gz")) return kExitSuccess;
  const DumpSummary s = dump_database(db, out);
  fmt::print("wrote {} ({:.2f} MB; data sha256 {}): {}\n", out, double(s.bytes) / 1e6, s.sha256.substr(0, 16),
             row_counts(s));
  return kExitSuccess;
}

int cmd_restore(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string dump, into;
  desc.add_options()("dump", po::value(&dump)->required(), "a dump written by lowbit dump")(
      "into", po::value(&into)->required(), "the new results database to create");
  po::positional_options_description pos;
  pos.add("dump", 1);
  po::variables_map vm;
  if (!parse_args("restore", args, desc, vm, &pos, "DUMP --into results.db")) return kExitSuccess;
  const DumpSummary s = restore_database(dump, into);
  fmt::print("restored {} into {} (data sha256 {}): {}\n", dump, into, s.sha256.substr(0, 16), row_counts(s));
  return kExitSuccess;
}

}  // namespace lowbit
