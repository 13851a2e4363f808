// Reading a database that a running lowbit command writes, for tests that interrupt it.
#pragma once
#include <sys/stat.h>

#include <chrono>
#include <string>
#include <thread>
#include <variant>

#include "tracker/queries.h"

namespace lowbit::test {

/// The single integer `sql` returns, on a read-only connection.
inline int64_t scalar(const std::string& db, const std::string& sql) {
  auto conn = open_readonly(db);
  return std::get<int64_t>(run_sql(*conn, sql).rows.at(0).at(0));
}

/// Polls `sql` (a count) on a database that a running command is writing until it reaches
/// `target` or `seconds` pass; returns the last value.
inline int64_t wait_until(const std::string& db, const std::string& sql, int64_t target, int seconds = 60) {
  int64_t v = 0;
  for (int i = 0; i < seconds * 10 && v < target; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    struct stat st;
    if (::stat(db.c_str(), &st) != 0) continue;
    try {
      v = scalar(db, sql);
    } catch (const std::exception&) {
      // the schema may not exist yet
    }
  }
  return v;
}

}  // namespace lowbit::test
