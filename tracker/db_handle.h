// What the rooms above tracker/ may know of the database: a handle to a connection and the
// type of a SQL value. The connection itself (tracker/sqlite.h) and every SQL statement stay in
// tracker/: the build refuses sqlite.h in any other room (docs/ARCHITECTURE.md: rooms).
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below tracker/
#ifndef LOWBIT_MAY_INCLUDE_TRACKER
#error "this room may not include tracker/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <cstdint>
#include <memory>
#include <string>
#include <variant>

namespace lowbit {

/// A SQL value: NULL, integer, real or text.
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

/// A connection to a results database (tracker/sqlite.h); above tracker/ only a handle.
class Db;
struct DbCloser {
  void operator()(Db* db) const;
};
/// An open connection, closed when the handle goes.
using DbHandle = std::unique_ptr<Db, DbCloser>;

/// Text of a SqlValue for tables and CSV ("" for NULL; reals with up to 6 significant digits).
std::string sql_value_text(const SqlValue& v, bool full_precision = false);

}  // namespace lowbit
