// The shape the build enforces (docs/ARCHITECTURE.md): the room guard refuses an include
// across rooms and tracker/sqlite.h outside tracker/, and apps/commands.def gives every
// subcommand to exactly one binary.
#include <doctest/doctest.h>

#include <cstdio>
#include <set>
#include <string>

#include "apps/commands.h"
#include "tests/test_util.h"

namespace {

// Compiles `#include "header"` as the room `room` would (its generated lowbit_room.h).
lowbit::test::RunOutput include_in_room(const std::string& room, const std::string& header) {
  lowbit::test::TempDir dir;
  lowbit::test::write_file(dir / "probe.cpp", "#include \"" + header + "\"\n");
  return lowbit::test::compile_in_room(room, dir / "probe.cpp");
}

}  // namespace

TEST_CASE("architecture: only tracker/ may include tracker/sqlite.h; the rooms above hold a handle") {
  for (const char* room : {"experiments", "reports", "apps"}) {
    CAPTURE(room);
    auto r = include_in_room(room, "tracker/sqlite.h");
    CHECK(r.code != 0);
    CHECK(r.out.find("only tracker/ speaks SQL") != std::string::npos);
    CHECK(include_in_room(room, "tracker/db_handle.h").code == 0);
  }
  auto tracker = include_in_room("tracker", "tracker/sqlite.h");
  CHECK_MESSAGE(tracker.code == 0, tracker.out);
}

TEST_CASE("architecture: a room may not include the rooms above it") {
  struct Case {
    const char* room;
    const char* header;
    const char* refused;
  };
  for (const Case& c : {Case{"core", "tracker/queries.h", "may not include tracker/"},
                        Case{"tracker", "reports/stats.h", "may not include reports/"},
                        Case{"reports", "experiments/slurm.h", "may not include experiments/"},
                        Case{"experiments", "apps/commands.h", "may not include apps/"}}) {
    CAPTURE(c.room);
    auto r = include_in_room(c.room, c.header);
    CHECK(r.code != 0);
    CHECK(r.out.find(c.refused) != std::string::npos);
  }
}

TEST_CASE("architecture: every subcommand belongs to one binary; the front forwards the torch ones") {
  const auto& front = lowbit::front_commands();
  const auto& torch = lowbit::torch_commands();
  REQUIRE(front.size() == torch.size());
  std::set<std::string> names;
  for (size_t i = 0; i < front.size(); ++i) {
    CAPTURE(front[i].name);
    CHECK(names.insert(front[i].name).second);  // one row per name
    CHECK(std::string(front[i].name) == torch[i].name);
    const bool torch_has = torch[i].handler != nullptr, front_has = front[i].handler != nullptr;
    CHECK(torch_has);
    // The front runs its own commands and has no handler for a LibTorch one (it execs).
    CHECK(front_has == (front[i].binary == lowbit::Binary::kFront));
  }
  // The internal commands are hidden from --help; the rest are listed.
  auto help = lowbit::test::run_lowbit("--help");
  for (const auto& c : front)
    CHECK((help.out.find(std::string("  ") + c.name + " ") != std::string::npos) ==
          (c.listing == lowbit::Listing::kListed));
}
