// lowbit tag --where "<condition>" +tag -tag, and lowbit note RUN "text":
// annotations added after the fact, stored in the database (tags, notes), shown by
// lowbit query and printed as footnotes in reports.
#include <algorithm>
#include <cctype>
#include <iostream>

#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "core/util.h"
#include "tracker/filter.h"
#include "tracker/selectors.h"
#include "tracker/queries.h"
#include "tracker/store.h"

namespace lowbit {

namespace {

constexpr const char* kTagUsage =
    "usage: lowbit tag [--db results.db] --where \"<condition>\" +tag [-tag ...]\n\n"
    "  --where COND   which runs, in the language of lowbit query --where (docs/QUERY.md), e.g.\n"
    "                 \"quant.bits <= 2 and variant = slb\"; \"all\" for every run (repeatable: all must hold)\n"
    "  +NAME          add the tag NAME      -NAME   remove it\n"
    "  --db FILE      results database (default results/results.db)\n";

void check_tag(const std::string& t) {
  const bool ok = !t.empty() && t.size() <= 64 && std::all_of(t.begin(), t.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == ':' || c == '/' || c == '-';
  });
  if (!ok)
    throw ConfigError(fmt::format("tag '{}': expected 1 to 64 letters, digits or _ . : / -",
                                  truncate_for_message(t)));
}

}  // namespace

int cmd_tag(const std::vector<std::string>& args) {
  std::string db = "results/results.db";
  std::vector<std::string> where;
  std::vector<std::string> add, remove;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::cout << kTagUsage;
      return kExitSuccess;
    }
    if (a == "--db" || a == "--where") {
      if (i + 1 == args.size()) throw ConfigError("lowbit tag: " + a + " needs a value (see lowbit tag --help)");
      if (a == "--db")
        db = args[++i];
      else
        where.push_back(args[++i]);
    } else if (a.size() > 1 && a[0] == '+') {
      check_tag(a.substr(1)), add.push_back(a.substr(1));
    } else if (a.size() > 1 && a[0] == '-' && a[1] != '-') {
      check_tag(a.substr(1)), remove.push_back(a.substr(1));
    } else {
      throw ConfigError("lowbit tag: unexpected argument '" + truncate_for_message(a) +
                        "' (tags are +name to add, -name to remove; see lowbit tag --help)");
    }
  }
  if (where.empty())
    throw ConfigError("lowbit tag: --where is required (e.g. --where \"variant = ttq\"; --where all for every run)");
  if (add.empty() && remove.empty()) throw ConfigError("lowbit tag: nothing to do: give +tag or -tag");

  std::vector<int64_t> runs;
  std::string condition;
  {
    auto ro = open_readonly(db);
    const RunFilter filter = compile_run_filter(*ro, where);
    condition = filter.text;
    runs = filtered_runs(*ro, filter);
  }
  if (runs.empty())
    throw ConfigError(fmt::format("--where \"{}\" matches no run; nothing tagged (see lowbit query runs --where ...)",
                                  truncate_for_message(condition)));
  Store store(db, Store::Open::kMigrate);
  auto [added, removed] = store.tag_runs(runs, add, remove);
  fmt::print("{} runs matched; {} tags added, {} removed\n", runs.size(), added, removed);
  return kExitSuccess;
}

namespace {

// lowbit note RUN: the run's notes, oldest first.
int print_notes(const std::string& db, const std::string& run) {
  auto ro = open_readonly(db);
  const RunSelection side = resolve_selector(*ro, run);
  if (side.cell)
    throw ConfigError("lowbit note: '" + truncate_for_message(run) +
                      "' is a cell; notes belong to one run (a run id or a hash prefix)");
  const auto notes = run_notes(*ro, side.runs.at(0));
  fmt::print("{}: {} note{}\n", side.label, notes.size(), notes.size() == 1 ? "" : "s");
  for (const auto& [at, text] : notes) fmt::print("  {}  {}\n", at, text);
  return kExitSuccess;
}

}  // namespace

int cmd_note(const std::vector<std::string>& args) {
  po::options_description desc("options");
  std::string db, run, text;
  desc.add_options()("run", po::value(&run)->required(), "run id or config-hash prefix")(
      "text", po::value(&text), "the note; without it, the run's notes are printed")(
      "db", po::value(&db)->default_value("results/results.db"), "results database");
  po::positional_options_description pos;
  pos.add("run", 1).add("text", 1);
  po::variables_map vm;
  if (!parse_args("note", args, desc, vm, &pos, "RUN [\"text\"] [--db results.db]")) return kExitSuccess;
  if (!vm.count("text")) return print_notes(db, run);
  if (text.find_first_not_of(" \t\n") == std::string::npos) throw ConfigError("lowbit note: the note is empty");
  if (text.size() > 10000)
    throw ConfigError(fmt::format("lowbit note: {} characters; keep a note under 10,000", text.size()));
  if (run.find(':') != std::string::npos)
    throw ConfigError("lowbit note: '" + truncate_for_message(run) +
                      "' is a cell; a note belongs to one run (a run id or a hash prefix)");
  RunSelection side;
  {
    auto ro = open_readonly(db);
    side = resolve_selector(*ro, run);
  }
  Store store(db, Store::Open::kMigrate);
  store.add_note(side.runs.at(0), text);
  fmt::print("note added to {}\n", side.label);
  return kExitSuccess;
}

}  // namespace lowbit
